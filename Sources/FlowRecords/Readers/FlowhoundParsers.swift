/// Fields of Flowhound's own layout (`FlowhoundColumns`) as byte spans, and the record they make.
struct NormalisedFields {
    typealias Span = UnsafeBufferPointer<UInt8>
    var values = [Span?](repeating: nil, count: FlowhoundColumns.names.count)
    var escaped = [Bool](repeating: false, count: FlowhoundColumns.names.count)

    static let slots: [String: Int] = Dictionary(
        uniqueKeysWithValues: FlowhoundColumns.names.enumerated().map { ($1, $0) })

    mutating func reset() {
        for i in values.indices {
            values[i] = nil
            escaped[i] = false
        }
    }

    func record(interner: inout StringInterner) throws(LineError) -> FlowRecord {
        func required(_ i: Int) throws(LineError) -> Span {
            guard let v = values[i], !v.isEmpty else { throw .malformed("missing \(FlowhoundColumns.names[i])") }
            return v
        }
        func number(_ i: Int) throws(LineError) -> UInt64 {
            guard let v = values[i], !v.isEmpty else { return 0 }
            guard let n = ByteParsing.unsigned(v) else {
                throw .malformed("bad \(FlowhoundColumns.names[i]) '\(ByteParsing.excerpt(v))'")
            }
            return n
        }
        func text(_ i: Int) -> String? {
            guard let v = values[i], !v.isEmpty else { return nil }
            return escaped[i] ? FlatJSON.unescape(v) : interner.string(v)
        }
        let tsText = try required(0)
        guard let start = ByteParsing.timestamp(tsText) else { throw .malformed("bad ts '\(ByteParsing.excerpt(tsText))'") }
        var end = start
        if let e = values[1], !e.isEmpty {
            guard let v = ByteParsing.timestamp(e) else { throw .malformed("bad end '\(ByteParsing.excerpt(e))'") }
            end = try validatedEnd(start: start, end: v)
        }
        guard let source = IPAddress(bytes: try required(2)) else { throw .malformed("bad address in src") }
        guard let destination = IPAddress(bytes: try required(4)) else { throw .malformed("bad address in dst") }
        let sport = try number(3), dport = try number(5)
        guard sport <= 65535, dport <= 65535 else { throw .malformed("port out of range") }
        guard let transport = Transport(bytes: try required(6)) else { throw .malformed("unknown proto") }
        let outcomeText = text(12) ?? "other"
        guard let outcome = Outcome(outcomeText) else { throw .malformed("unknown outcome '\(outcomeText)'") }
        return FlowRecord(
            start: start, end: end, source: source, destination: destination,
            sourcePort: UInt16(sport), destinationPort: UInt16(dport), transport: transport,
            sourcePackets: try number(7), sourceBytes: try number(8),
            destinationPackets: try number(9), destinationBytes: try number(10),
            tcpFlags: values[11].map { TCPFlags(letters: $0) } ?? [],
            outcome: outcome, state: text(13) ?? "", label: text(14), detailedLabel: text(15))
    }
}

/// Flowhound JSON lines, as `flows convert --to jsonl` writes them. Unknown keys are ignored.
struct FlowhoundJSONLParser: LineParser {
    private var fields = NormalisedFields()
    private var interner = StringInterner()

    mutating func parse(_ line: UnsafeBufferPointer<UInt8>) throws(LineError) -> ParsedLine {
        fields.reset()
        var collected = fields
        try FlatJSON.forEachMember(line) { (key, value) throws(LineError) in
            guard let slot = NormalisedFields.slots[String(decoding: key, as: UTF8.self)] else { return }
            switch value {
            case .string(let content, let escaped):
                collected.values[slot] = content
                collected.escaped[slot] = escaped
            case .literal(let text):
                collected.values[slot] = text
            case .null, .nested:
                break
            }
        }
        fields = collected
        return .record(try fields.record(interner: &interner))
    }
}

/// Flowhound CSV, as `flows convert --to csv` writes it (RFC 4180 quoting for text fields).
struct FlowhoundCSVParser: LineParser {
    private var columns: [Int?] = []
    private var splitter = FieldSplitter()
    private var fields = NormalisedFields()
    private var interner = StringInterner()

    mutating func parse(_ line: UnsafeBufferPointer<UInt8>) throws(LineError) -> ParsedLine {
        if columns.isEmpty {
            splitter.split(line, on: UInt8(ascii: ","))
            columns = splitter.strings(in: line).map { NormalisedFields.slots[$0.trimmingCharacters()] }
            guard columns.contains(where: { $0 == 0 }), columns.contains(where: { $0 == 2 }),
                  columns.contains(where: { $0 == 4 }) else {
                throw .fatal("expected a Flowhound CSV header (\(FlowhoundColumns.header)), found '\(ByteParsing.excerpt(line))'")
            }
            return .metadata
        }
        fields.reset()
        if line.contains(UInt8(ascii: "\"")) {
            // Quoted fields: unquote into owned bytes, then parse from those.
            let unquoted = try FlowhoundCSVParser.splitQuoted(line)
            guard unquoted.count == columns.count else {
                throw .malformed("expected \(columns.count) fields, found \(unquoted.count)")
            }
            let flat = unquoted.flatMap { $0 }
            return try flat.withUnsafeBufferPointer { (buffer) throws(LineError) -> ParsedLine in
                var offset = 0
                for (i, field) in unquoted.enumerated() {
                    if let slot = columns[i] {
                        fields.values[slot] = UnsafeBufferPointer(rebasing: buffer[offset..<(offset + field.count)])
                    }
                    offset += field.count
                }
                return .record(try fields.record(interner: &interner))
            }
        }
        splitter.split(line, on: UInt8(ascii: ","))
        guard splitter.count == columns.count else {
            throw .malformed("expected \(columns.count) fields, found \(splitter.count)")
        }
        for (i, slot) in columns.enumerated() {
            if let slot { fields.values[slot] = splitter.field(i, in: line) }
        }
        return .record(try fields.record(interner: &interner))
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
