import Support

/// Fields of Flowhound's own layout (`FlowhoundColumns`) as byte spans, and the record they make.
/// An empty span stands for an absent field: every rule below reads the two alike.
struct NormalisedFields {
    typealias Span = UnsafeBufferPointer<UInt8>

    /// Fixed storage, filled again for every line. A class with raw pointers rather than two arrays:
    /// no copy-on-write check on each store.
    private final class Storage {
        let values: UnsafeMutablePointer<Span>
        let escaped: UnsafeMutablePointer<Bool>
        let count = FlowhoundColumns.names.count

        init() {
            values = .allocate(capacity: count)
            values.initialize(repeating: Span(start: nil, count: 0), count: count)
            escaped = .allocate(capacity: count)
            escaped.initialize(repeating: false, count: count)
        }

        deinit {
            values.deallocate()
            escaped.deallocate()
        }
    }

    private let storage = Storage()

    static let slots: [String: Int] = Dictionary(
        uniqueKeysWithValues: FlowhoundColumns.names.enumerated().map { ($1, $0) })

    /// Sets a field. (The storage is shared by copies of this value.)
    @inline(__always)
    func set(_ slot: Int, _ value: Span) {
        storage.values[slot] = value
    }

    /// Sets a field from a JSON string, which has escapes to undo when `escaped`.
    @inline(__always)
    func set(_ slot: Int, _ value: Span, escaped: Bool) {
        storage.values[slot] = value
        storage.escaped[slot] = escaped
    }

    func reset() {
        for i in 0..<storage.count {
            storage.values[i] = Span(start: nil, count: 0)
            storage.escaped[i] = false
        }
    }

    func assign(to record: inout FlowRecord, interner: inout StringInterner, dates: inout DateTimeCache) throws(LineError) {
        let values = storage.values, escaped = storage.escaped
        @inline(__always) func required(_ i: Int) throws(LineError) -> Span {
            let v = values[i]
            guard !v.isEmpty else { throw .malformed("missing \(FlowhoundColumns.names[i])") }
            return v
        }
        @inline(__always) func number(_ i: Int) throws(LineError) -> UInt64 {
            let v = values[i]
            guard !v.isEmpty else { return 0 }
            guard let n = ByteParsing.unsigned(v) else {
                throw .malformed("bad \(FlowhoundColumns.names[i]) '\(ByteParsing.excerpt(v))'")
            }
            return n
        }
        @inline(__always) func text(_ i: Int) -> String? {
            let v = values[i]
            guard !v.isEmpty else { return nil }
            return escaped[i] ? FlatJSON.unescape(v) : interner.string(v)
        }
        let tsText = try required(0)
        guard let start = ByteParsing.timestamp(tsText, cache: &dates) else { throw .malformed("bad ts '\(ByteParsing.excerpt(tsText))'") }
        var end = start
        if !values[1].isEmpty {
            let e = values[1]
            guard let v = ByteParsing.timestamp(e, cache: &dates) else { throw .malformed("bad end '\(ByteParsing.excerpt(e))'") }
            end = try validatedEnd(start: start, end: v)
        }
        guard let source = IPAddress(bytes: try required(2)) else { throw .malformed("bad address in src") }
        guard let destination = IPAddress(bytes: try required(4)) else { throw .malformed("bad address in dst") }
        let sport = try number(3), dport = try number(5)
        guard sport <= 65535, dport <= 65535 else { throw .malformed("port out of range") }
        guard let transport = Transport(bytes: try required(6)) else { throw .malformed("unknown proto") }
        // Plain bytes are matched against the names directly; escaped (JSON) text is unescaped first.
        // (`Outcome(String)` compares canonically equivalent strings as equal, but no other string
        // is canonically equivalent to these ASCII names.)
        let outcome: Outcome
        if let plain = escaped[12] ? nil : values[12], let match = Outcome(name: plain) {
            outcome = match
        } else {
            let outcomeText = text(12) ?? "other"
            guard let match = Outcome(outcomeText) else { throw .malformed("unknown outcome '\(outcomeText.excerpt())'") }
            outcome = match
        }
        record.assign(
            start: start, end: end, source: source, destination: destination,
            sourcePort: UInt16(sport), destinationPort: UInt16(dport), transport: transport,
            sourcePackets: try number(7), sourceBytes: try number(8),
            destinationPackets: try number(9), destinationBytes: try number(10),
            tcpFlags: TCPFlags(letters: values[11]),
            outcome: outcome, state: text(13) ?? "", label: text(14), detailedLabel: text(15))
        // The log's record identifier (a Zeek uid kept by `flows convert`); one no log could hold is
        // left out, as the Zeek reader does, not an error.
        if !values[16].isEmpty, !escaped[16], let uid = RecordUID(values[16]) { record.uid = uid }
    }
}

extension Outcome {
    /// The outcome whose `description` these bytes spell, or nil (also for empty bytes).
    @inline(__always)
    init?(name bytes: UnsafeBufferPointer<UInt8>) {
        switch bytes.count {
        case 5 where ByteParsing.equals(bytes, "other"): self = .other
        case 7 where ByteParsing.equals(bytes, "partial"): self = .partial
        case 8 where ByteParsing.equals(bytes, "rejected"): self = .rejected
        case 10 where ByteParsing.equals(bytes, "unanswered"): self = .unanswered
        case 11 where ByteParsing.equals(bytes, "established"): self = .established
        default: return nil
        }
    }
}

/// Flowhound JSON lines, as `flows convert --to jsonl` writes them. Unknown keys are ignored.
struct FlowhoundJSONLParser: LineParser {
    private let fields = NormalisedFields()
    private var interner = StringInterner()
    private var dates = DateTimeCache()

    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, into record: inout FlowRecord) throws(LineError) -> LineKind {
        let fields = self.fields
        fields.reset()
        try FlatJSON.forEachMember(line) { (key, value) throws(LineError) in
            guard let slot = NormalisedFields.slots[String(decoding: key, as: UTF8.self)] else { return }
            switch value {
            case .string(let content, let escaped):
                fields.set(slot, content, escaped: escaped)
            case .literal(let text):
                fields.set(slot, text)
            case .null, .nested:
                break
            }
        }
        try fields.assign(to: &record, interner: &interner, dates: &dates)
        return .record
    }
}

/// Flowhound CSV, as `flows convert --to csv` writes it (RFC 4180 quoting for text fields).
struct FlowhoundCSVParser: LineParser {
    private var columns: [Int?] = []
    /// The columns that hold a field, with its slot.
    private var wanted: [(column: Int, slot: Int)] = []
    private var splitter = FieldSplitter()
    private let fields = NormalisedFields()
    private var interner = StringInterner()
    private var dates = DateTimeCache()

    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, into record: inout FlowRecord) throws(LineError) -> LineKind {
        if columns.isEmpty {
            columns = splitter.split(line, on: UInt8(ascii: ",")).strings().map { NormalisedFields.slots[$0.trimmingCharacters()] }
            guard columns.contains(where: { $0 == 0 }), columns.contains(where: { $0 == 2 }),
                columns.contains(where: { $0 == 4 })
            else {
                throw .fatal("expected a Flowhound CSV header (\(FlowhoundColumns.header)), found '\(ByteParsing.excerpt(line))'")
            }
            wanted = columns.enumerated().compactMap { column, slot in slot.map { (column, $0) } }
            return .metadata
        }
        // No `fields.reset()`: every line sets the same slots (those of `wanted`, after checking that
        // it has every column), and the others are never set.
        // memchr rather than `contains`: this runs over every line, and the generic loop cost more
        // than all the splitting.
        if memchr(line.baseAddress!, Int32(UInt8(ascii: "\"")), line.count) != nil {
            // Quoted fields: unquote into owned bytes, then parse from those.
            let unquoted = try FlowhoundCSVParser.splitQuoted(line)
            guard unquoted.count == columns.count else {
                throw .malformed("expected \(columns.count) fields, found \(unquoted.count)")
            }
            let flat = unquoted.flatMap { $0 }
            return try flat.withUnsafeBufferPointer { (buffer) throws(LineError) -> LineKind in
                var offset = 0
                for (i, field) in unquoted.enumerated() {
                    if let slot = columns[i] {
                        fields.set(slot, UnsafeBufferPointer(rebasing: buffer[offset..<(offset + field.count)]))
                    }
                    offset += field.count
                }
                try fields.assign(to: &record, interner: &interner, dates: &dates)
                return .record
            }
        }
        let values = splitter.split(line, on: UInt8(ascii: ","))
        guard values.count == columns.count else {
            throw .malformed("expected \(columns.count) fields, found \(values.count)")
        }
        for (column, slot) in wanted { fields.set(slot, values[column]) }
        try fields.assign(to: &record, interner: &interner, dates: &dates)
        return .record
    }

    static func splitQuoted(_ line: UnsafeBufferPointer<UInt8>) throws(LineError) -> [[UInt8]] {
        var result: [[UInt8]] = []
        var current: [UInt8] = []
        var i = 0
        var quoted = false
        while i < line.count {
            let b = line[i]
            if quoted {
                if b == 0x22 {
                    if i + 1 < line.count, line[i + 1] == 0x22 {
                        current.append(0x22)
                        i += 1
                    } else {
                        quoted = false
                    }
                } else {
                    current.append(b)
                }
            } else if b == 0x22 {
                quoted = true
            } else if b == 0x2C {
                result.append(current)
                current = []
            } else {
                current.append(b)
            }
            i += 1
        }
        guard !quoted else { throw .malformed("unterminated quoted field") }
        result.append(current)
        return result
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
