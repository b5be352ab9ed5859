import Support

/// A line-by-line parser for one format. Parsers are values that learn their columns from
/// header lines and then turn each data line into a record.
protocol LineParser {
    /// Parses one line. For a data line the parser assigns the whole of `record` and returns `.record`;
    /// otherwise `record` is left as it was (or, when it throws, in any state: the read loop ignores it).
    ///
    /// The record is written in place, into storage the read loop reuses for every line, rather than
    /// returned: a `FlowRecord` is about 150 bytes with three strings, and returning it (inside an
    /// enum, as before) cost two copies, a retain and a release per record.
    /// - Throws: `LineError.malformed` for a bad record (skipped and counted unless strict);
    ///   `LineError.fatal` when the input cannot be this format at all (a missing header).
    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, into record: inout FlowRecord) throws(LineError) -> LineKind
}

/// What a parser made of one line (the record itself, if any, is in the read loop's `FlowRecord`).
enum LineKind {
    case record
    /// A header, comment, or blank line: part of the format, not data.
    case metadata
    case skipped(SkipReason)
}

enum LineError: Error {
    case malformed(String)
    case fatal(String)
}

/// An end time given separately from the start (Argus `LastTime`, VPC `end`, nfdump `te`): no more
/// than a second before the start (exporters round), and within `ByteParsing.durationRange` after it.
@inline(__always)
func validatedEnd(start: Double, end: Double) throws(LineError) -> Double {
    if end < start {
        guard start - end <= 1 else { throw .malformed("end time \(end) is before start time \(start)") }
        return start
    }
    guard end - start <= ByteParsing.durationRange.upperBound else {
        throw .malformed("end time \(end) is implausibly far after start time \(start)")
    }
    return end
}

/// How to read flow logs.
public struct ReadOptions: Sendable {
    /// Force a format instead of detecting it from the first lines.
    public var format: FlowFormat?
    /// Stop at the first malformed record instead of skipping it.
    public var strict: Bool
    /// How many malformed lines to keep for reporting (all are counted).
    public var issueLimit: Int
    /// With this many malformed lines and no record yet, the input is declared to be of another format.
    public var probeLines: Int

    public init(format: FlowFormat? = nil, strict: Bool = false, issueLimit: Int = 5, probeLines: Int = 20) {
        self.format = format
        self.strict = strict
        self.issueLimit = issueLimit
        self.probeLines = probeLines
    }
}

/// Streams `FlowRecord`s out of flow logs: any supported format, plain or gzip, a path or `-` for
/// standard input. Memory stays flat whatever the input size: one reusable line buffer per file.
///
/// ```swift
/// let summary = try FlowReader().read(path: "conn.log.gz") { record in
///     print(record.source, record.destinationPort, record.outcome)
/// }
/// ```
public struct FlowReader: Sendable {
    public var options: ReadOptions

    public init(options: ReadOptions = ReadOptions()) {
        self.options = options
    }

    /// Reads one input, calling `body` for every record in file order.
    /// - Returns: counts of records, skipped and malformed lines, with the first malformed lines.
    /// - Throws: `FlowReadError` for an input that cannot be read (or, with `strict`, a malformed
    ///   record), or whatever `body` throws.
    /// - Complexity: O(n) in the input size, with memory independent of it.
    /// - Parameter onFormat: told the input's format (detected or forced) before the first record.
    public func read(
        path: String, onFormat: (FlowFormat) throws -> Void = { _ in },
        _ body: (FlowRecord) throws -> Void
    ) throws -> ReadSummary {
        try read(try OpenedInput(path: path), path: path, onFormat: onFormat, pace: { _ in }, body)
    }

    /// How many bytes of lines (after decompression) pass between two calls of `pace`.
    public static let paceInterval = 256 << 10

    /// Reads a log held in memory (plain or gzip), as `read(path:)` reads a file; `name` stands for
    /// the file in messages and the summary.
    /// - Parameter pace: called with the bytes of lines read so far every `paceInterval` bytes,
    ///   whether or not they hold records (comments, headers, malformed lines): a caller with a
    ///   deadline throws from it, so that input that yields no record cannot run past its time.
    public func read(
        bytes: [UInt8], name: String, onFormat: (FlowFormat) throws -> Void = { _ in },
        pace: (Int) throws -> Void = { _ in }, _ body: (FlowRecord) throws -> Void
    ) throws -> ReadSummary {
        try read(try OpenedInput(source: MemorySource(bytes), name: name), path: name, onFormat: onFormat, pace: pace, body)
    }

    func read(
        _ input: OpenedInput, path: String, onFormat: (FlowFormat) throws -> Void,
        pace: (Int) throws -> Void, _ body: (FlowRecord) throws -> Void
    ) throws -> ReadSummary {
        let format = try resolveFormat(path: path, head: input.head)
        try onFormat(format)
        switch format {
        case .zeek: return try consume(ZeekTSVParser(), input, format, path, pace, body)
        case .zeekJSON: return try consume(ZeekJSONParser(), input, format, path, pace, body)
        case .nfdump: return try consume(NfdumpParser(), input, format, path, pace, body)
        case .argus: return try consume(ArgusParser(), input, format, path, pace, body)
        case .vpc: return try consume(VPCParser(), input, format, path, pace, body)
        case .cicflowmeter: return try consume(CICFlowMeterParser(), input, format, path, pace, body)
        case .jsonl: return try consume(FlowhoundJSONLParser(), input, format, path, pace, body)
        case .csv: return try consume(FlowhoundCSVParser(), input, format, path, pace, body)
        }
    }

    /// The read loop, specialised for each parser so that parsing is not dispatched per line.
    private func consume<P: LineParser>(
        _ parser: P, _ input: OpenedInput, _ format: FlowFormat, _ path: String,
        _ pace: (Int) throws -> Void, _ body: (FlowRecord) throws -> Void
    ) throws -> ReadSummary {
        var parser = parser
        var summary = ReadSummary(file: path, format: format)
        let lines = input.head.withUnsafeBytes {
            LineReader(source: input.source, name: path, initial: $0)
        }
        let options = self.options
        // Every data line is parsed into this one record, which `body` borrows.
        var record = FlowRecord(
            start: 0, end: 0, source: IPAddress(ipv4: 0), destination: IPAddress(ipv4: 0),
            sourcePort: 0, destinationPort: 0, transport: Transport(rawValue: 0))
        var bytesRead = 0, nextPace = FlowReader.paceInterval
        while let line = try lines.nextLine() {
            summary.lines += 1
            bytesRead &+= line.count + 1
            if bytesRead >= nextPace {
                nextPace = (bytesRead / FlowReader.paceInterval + 1) * FlowReader.paceInterval
                try pace(bytesRead)
            }
            if line.isEmpty { continue }
            do {
                switch try parser.parse(line, into: &record) {
                case .record:
                    summary.records += 1
                    try body(record)
                case .metadata:
                    break
                case .skipped(let reason):
                    summary.skipped[reason, default: 0] += 1
                }
            } catch let error as LineError {
                let number = lines.lineNumber
                switch error {
                case .fatal(let reason):
                    throw FlowReadError(file: path, line: number, reason: reason)
                case .malformed(let reason):
                    let issue = FlowReadError(file: path, line: number, reason: reason)
                    if options.strict { throw issue }
                    summary.malformed += 1
                    if summary.issues.count < options.issueLimit { summary.issues.append(issue) }
                    if summary.records == 0 && summary.malformed >= options.probeLines {
                        throw FlowReader.notThisFormat(summary, format: format)
                    }
                }
            }
        }
        if summary.records == 0 && summary.malformed > 0 {
            throw FlowReader.notThisFormat(summary, format: format)
        }
        return summary
    }

    static func notThisFormat(_ summary: ReadSummary, format: FlowFormat) -> FlowReadError {
        let first = summary.issues.first.map { " (line \($0.line ?? 0): \($0.reason))" } ?? ""
        return FlowReadError(
            file: summary.file,
            reason: "no record could be read as \(format.displayName) in \(summary.malformed) data lines\(first); check the input format",
            setting: .inputFormat)
    }

    private func resolveFormat(path: String, head: [UInt8]) throws(FlowReadError) -> FlowFormat {
        let detected = head.withUnsafeBufferPointer { FlowFormat.detect(head: $0) }
        guard let forced = options.format else {
            guard let detected else {
                let first = head.withUnsafeBufferPointer { buffer -> String in
                    let end = buffer.firstIndex(of: 0x0A) ?? buffer.count
                    return ByteParsing.excerpt(UnsafeBufferPointer(rebasing: buffer[..<end]))
                }
                throw FlowReadError(
                    file: path, line: 1,
                    reason: "unrecognised flow-log format (first line '\(first)'); give the input format: "
                        + FlowFormat.allCases.map(\.rawValue).joined(separator: "|"),
                    setting: .inputFormat)
            }
            return detected
        }
        // Zeek's two encodings share one --format name: pick by the first character.
        if forced == .zeek, detected == .zeekJSON { return .zeekJSON }
        if forced == .zeekJSON, detected == .zeek { return .zeek }
        return forced
    }
}
