import Support

/// The conn.log fields Flowhound reads, as byte spans into the current line (nil when absent or unset).
///
/// The spans live in fixed storage indexed by `Slot`, which a parser keeps and refills for every
/// line: setting a field is one store, with no switch over the slots and no optionals to build.
struct ZeekConnFields {
    typealias Span = UnsafeBufferPointer<UInt8>

    private final class Storage {
        /// An absent field has no base address (a present one always has: it points into the line).
        let spans: UnsafeMutablePointer<Span>

        init() {
            spans = .allocate(capacity: Slot.allCases.count)
            spans.initialize(repeating: Span(start: nil, count: 0), count: Slot.allCases.count)
        }

        deinit { spans.deallocate() }
    }

    private let storage = Storage()
    /// Set when a label span holds JSON escapes.
    var labelEscaped = false, detailedLabelEscaped = false

    /// Field name → slot, for both encodings. `label`/`detailedlabel` are the Stratosphere columns.
    enum Slot: Int, CaseIterable {
        case ts, origH, origP, respH, respP, proto, duration, origBytes, respBytes, connState, history
        case origPkts, origIPBytes, respPkts, respIPBytes, label, detailedLabel, uid

        static func named(_ name: String) -> Slot? {
            switch name {
            case "ts": .ts
            case "id.orig_h": .origH
            case "id.orig_p": .origP
            case "id.resp_h": .respH
            case "id.resp_p": .respP
            case "proto": .proto
            case "duration": .duration
            case "orig_bytes": .origBytes
            case "resp_bytes": .respBytes
            case "conn_state": .connState
            case "history": .history
            case "orig_pkts": .origPkts
            case "orig_ip_bytes": .origIPBytes
            case "resp_pkts": .respPkts
            case "resp_ip_bytes": .respIPBytes
            case "label": .label
            case "detailedlabel", "detailed-label", "detailed_label": .detailedLabel
            case "uid": .uid
            default: nil
            }
        }
    }

    /// Clears every field, for the next line.
    mutating func reset() {
        for i in 0..<Slot.allCases.count { storage.spans[i] = Span(start: nil, count: 0) }
        labelEscaped = false
        detailedLabelEscaped = false
    }

    @inline(__always)
    func set(_ slot: Slot, _ value: Span) {
        storage.spans[slot.rawValue] = value
    }

    @inline(__always)
    subscript(_ slot: Slot) -> Span? {
        let span = storage.spans[slot.rawValue]
        return span.baseAddress == nil ? nil : span
    }

    @inline(__always)
    private static func count(_ span: Span?, _ name: StaticString) throws(LineError) -> UInt64 {
        guard let span else { return 0 }
        guard let v = ByteParsing.unsigned(span) else {
            throw .malformed("bad \(name) '\(ByteParsing.excerpt(span))'")
        }
        return v
    }

    @inline(__always)
    private static func address(_ span: Span?, _ name: StaticString) throws(LineError) -> IPAddress {
        guard let span else { throw .malformed("missing \(name)") }
        guard let a = IPAddress(bytes: span) else { throw .malformed("bad address '\(ByteParsing.excerpt(span))' in \(name)") }
        return a
    }

    @inline(__always)
    private static func port(_ span: Span?, _ name: StaticString) throws(LineError) -> UInt16 {
        guard let span else { return 0 }
        guard let p = ByteParsing.port(span) else { throw .malformed("bad port '\(ByteParsing.excerpt(span))' in \(name)") }
        return p
    }

    /// Writes the record into `record`; every problem is a `malformed` error naming the field.
    func assign(to record: inout FlowRecord, interner: inout StringInterner, dates: inout DateTimeCache) throws(LineError) {
        guard let tsSpan = self[.ts] else { throw .malformed("missing ts") }
        guard let start = ByteParsing.timestamp(tsSpan, cache: &dates) else {
            throw .malformed("bad timestamp '\(ByteParsing.excerpt(tsSpan))' in ts")
        }
        var duration = 0.0
        if let d = self[.duration] {
            guard let v = ByteParsing.duration(d) else {
                throw .malformed("bad duration '\(ByteParsing.excerpt(d))'")
            }
            duration = v
        }
        let source = try Self.address(self[.origH], "id.orig_h")
        let destination = try Self.address(self[.respH], "id.resp_h")
        let sourcePort = try Self.port(self[.origP], "id.orig_p")
        let destinationPort = try Self.port(self[.respP], "id.resp_p")
        guard let protoSpan = self[.proto] else { throw .malformed("missing proto") }
        let transport: Transport
        if let t = Transport(bytes: protoSpan) {
            transport = t
        } else if ByteParsing.equals(protoSpan, "unknown_transport") {
            transport = Transport(rawValue: 255)
        } else {
            throw .malformed("unknown proto '\(ByteParsing.excerpt(protoSpan))'")
        }
        let origPkts = try Self.count(self[.origPkts], "orig_pkts")
        let respPkts = try Self.count(self[.respPkts], "resp_pkts")
        // IP-level byte counts match what NetFlow-style exporters count; payload bytes are the fallback.
        let origIPBytes = self[.origIPBytes], respIPBytes = self[.respIPBytes], payloadOutSpan = self[.origBytes]
        let origBytes = try origIPBytes != nil ? Self.count(origIPBytes, "orig_ip_bytes") : Self.count(payloadOutSpan, "orig_bytes")
        let respBytes = try respIPBytes != nil ? Self.count(respIPBytes, "resp_ip_bytes") : Self.count(self[.respBytes], "resp_bytes")
        let payloadOut = try Self.count(payloadOutSpan, "orig_bytes")
        let empty = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
        let stateSpan = self[.connState] ?? empty
        let historySpan = self[.history] ?? empty
        let outcome = OutcomeRules.zeek(
            state: stateSpan, history: historySpan, transport: transport,
            sourcePort: sourcePort, sourceBytes: payloadOut, destinationPackets: respPkts)
        record.assign(
            start: start, end: start + duration,
            source: source, destination: destination,
            sourcePort: sourcePort, destinationPort: destinationPort, transport: transport,
            sourcePackets: origPkts, sourceBytes: origBytes,
            destinationPackets: respPkts, destinationBytes: respBytes,
            tcpFlags: transport == .tcp ? OutcomeRules.zeekFlags(history: historySpan) : [],
            outcome: outcome,
            state: interner.string(stateSpan),
            label: self[.label].map { labelEscaped ? FlatJSON.unescape($0) : interner.string($0) },
            detailedLabel: self[.detailedLabel].map { detailedLabelEscaped ? FlatJSON.unescape($0) : interner.string($0) })
        // Kept when it is one (letters and digits, as Zeek writes it); a record is never refused for it.
        if let uidSpan = self[.uid], let uid = RecordUID(uidSpan) { record.uid = uid }
    }
}

/// Zeek conn.log in its default tab-separated form. Header lines (`#separator`, `#fields`,
/// `#unset_field`, ...) set the layout and may appear again mid-file, as when logs are concatenated.
struct ZeekTSVParser: LineParser {
    private var separator: UInt8 = 0x09
    private var unset: [UInt8] = Array("-".utf8)
    private var emptyField: [UInt8] = Array("(empty)".utf8)
    /// Slot for each column, nil for columns Flowhound does not read.
    private var columns: [ZeekConnFields.Slot?] = []
    /// The columns Flowhound reads, with their slots.
    private var wanted: [(slot: ZeekConnFields.Slot, column: Int)] = []
    /// Whether two columns have the same slot (as `detailedlabel` and `detailed-label` would).
    private var repeatsSlots = false
    private var splitter = FieldSplitter()
    private var fields = ZeekConnFields()
    private var interner = StringInterner()
    private var dates = DateTimeCache()

    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, into record: inout FlowRecord) throws(LineError) -> LineKind {
        if line[0] == UInt8(ascii: "#") {
            try header(line)
            return .metadata
        }
        guard !columns.isEmpty else {
            throw .fatal("expected Zeek's '#fields' header line before the first record, found '\(ByteParsing.excerpt(line))'")
        }
        let values = splitter.split(line, on: separator)
        guard values.count == columns.count else {
            throw .malformed("expected \(columns.count) tab-separated fields, found \(values.count)")
        }
        // Each line sets every slot it has a column for (to nil when unset), so clearing the others
        // is needed only when a name repeats: then an unset column must not hide a set one.
        if repeatsSlots { fields.reset() }
        // The markers' lengths, read once: the stores below could alias the arrays, as far as the
        // compiler can tell, and would make it read them again for every value.
        let unsetLength = unset.count, emptyLength = emptyField.count
        let unsetByte = unset.first ?? 0
        @inline(__always) func isUnset(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
            switch value.count {
            case 0: return true
            case 1: return unsetLength == 1 && value[0] == unsetByte
            case unsetLength: return memcmp(value.baseAddress!, unset, unsetLength) == 0
            case emptyLength: return memcmp(value.baseAddress!, emptyField, emptyLength) == 0
            default: return false
            }
        }
        for (slot, column) in wanted {
            let value = values[column]
            if !isUnset(value) {
                fields.set(slot, value)
            } else if !repeatsSlots {
                fields.set(slot, UnsafeBufferPointer(start: nil, count: 0))
            }
        }
        try fields.assign(to: &record, interner: &interner, dates: &dates)
        return .record
    }

    private mutating func header(_ line: UnsafeBufferPointer<UInt8>) throws(LineError) {
        let text = String(decoding: line, as: UTF8.self)
        if text.hasPrefix("#separator") {
            // "#separator \x09": the only header line whose value follows a space.
            let value = text.dropFirst("#separator".count).trimmingSpaces
            if value.hasPrefix("\\x"), let code = UInt8(value.dropFirst(2), radix: 16) {
                separator = code
            } else if let first = value.utf8.first {
                separator = first
            }
            return
        }
        let parts = text.split(separator: Character(UnicodeScalar(separator)), omittingEmptySubsequences: false)
        guard let key = parts.first else { return }
        let values = parts.dropFirst().map(String.init)
        switch key {
        case "#unset_field": if let v = values.first { unset = Array(v.utf8) }
        case "#empty_field": if let v = values.first { emptyField = Array(v.utf8) }
        case "#fields":
            columns = values.map { ZeekConnFields.Slot.named($0) }
            wanted = columns.enumerated().compactMap { i, slot in slot.map { ($0, i) } }
            repeatsSlots = Set(wanted.map(\.slot)).count < wanted.count
            fields.reset()
            let found = Set(columns.compactMap { $0 })
            for required in [ZeekConnFields.Slot.ts, .origH, .respH, .proto] where !found.contains(required) {
                throw .fatal(
                    "the #fields line has no '\(required == .origH ? "id.orig_h" : required == .respH ? "id.resp_h" : String(describing: required))' column: not a conn.log"
                )
            }
        default: break  // #set_separator, #path, #open, #close, #types
        }
    }
}

/// Zeek conn.log as JSON lines. `ts` may be an epoch number or an ISO 8601 string.
struct ZeekJSONParser: LineParser {
    private let fields = ZeekConnFields()
    private var interner = StringInterner()
    private var dates = DateTimeCache()

    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, into record: inout FlowRecord) throws(LineError) -> LineKind {
        var fields = self.fields
        fields.reset()
        try FlatJSON.forEachMember(line) { (key, value) throws(LineError) in
            guard let slot = ZeekJSONParser.slot(key) else { return }
            switch value {
            case .string(let content, let escaped):
                fields.set(slot, content)
                if slot == .label { fields.labelEscaped = escaped }
                if slot == .detailedLabel { fields.detailedLabelEscaped = escaped }
            case .literal(let text):
                fields.set(slot, text)
            case .null, .nested:
                break
            }
        }
        try fields.assign(to: &record, interner: &interner, dates: &dates)
        return .record
    }

    /// Matches keys without building strings: the key set is small and fixed.
    @inline(__always)
    static func slot(_ key: UnsafeBufferPointer<UInt8>) -> ZeekConnFields.Slot? {
        switch key.count {
        case 2: return ByteParsing.equals(key, "ts") ? .ts : nil
        case 3: return ByteParsing.equals(key, "uid") ? .uid : nil
        case 5: return ByteParsing.equals(key, "proto") ? .proto : ByteParsing.equals(key, "label") ? .label : nil
        case 7: return ByteParsing.equals(key, "history") ? .history : nil
        case 8: return ByteParsing.equals(key, "duration") ? .duration : nil
        case 9:
            if ByteParsing.equals(key, "id.orig_h") { return .origH }
            if ByteParsing.equals(key, "id.orig_p") { return .origP }
            if ByteParsing.equals(key, "id.resp_h") { return .respH }
            if ByteParsing.equals(key, "id.resp_p") { return .respP }
            if ByteParsing.equals(key, "orig_pkts") { return .origPkts }
            if ByteParsing.equals(key, "resp_pkts") { return .respPkts }
            return nil
        default:
            return ZeekConnFields.Slot.named(String(decoding: key, as: UTF8.self))
        }
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs, in one pass over the bytes at each end (dropping
    /// characters one at a time from the end recounts the text each time: quadratic on a padded header).
    var trimmingSpaces: Substring {
        let bytes = utf8
        let isSpace = { (b: UInt8) in b == 0x20 || b == 0x09 }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else {
            return self[endIndex...]
        }
        return self[first..<bytes.index(after: last)]
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
