import ActivityImage
import ArgumentParser
import Detection
import FlowRecords
import Foundation
import Neural
import Support
import Synthesis

struct Flows: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect and convert flow logs.",
        subcommands: [Stats.self, Convert.self])
}

extension FlowFormat: ExpressibleByArgument {}
extension RecordEncoding: ExpressibleByArgument {}

/// The logs a command reads and how strictly: shared by `InputOptions` and `detect`'s `DetectionInput`,
/// which differ only in the name of the input-format option.
struct LogArguments: ParsableArguments {
    @Argument(
        help: ArgumentHelp(
            "Flow logs to read: paths, '.gz' files, or '-' for standard input.", valueName: "log"))
    var logs: [String]

    @Flag(help: "Stop at the first malformed record (exit status 1) instead of skipping and counting it.")
    var strict = false

    @Flag(
        name: .customLong("progress"), inversion: .prefixedNo,
        help: "Report progress on standard error during long reads (default: when it is a terminal).")
    var progress: Bool?

    func validate() throws { try Self.checkStandardInput(logs) }

    /// Standard input (`-`) can be among `logs` once.
    static func checkStandardInput(_ logs: [String]) throws {
        if logs.filter({ $0 == "-" }).count > 1 {
            throw ValidationError("standard input ('-') can be read only once")
        }
    }

    /// Reads every log in turn as `format` (nil: detected), reporting malformed records on stderr.
    func read(
        format: FlowFormat?, onFormat: (FlowFormat) throws -> Void = { _ in }, afterEach: (ReadSummary) throws -> Void = { _ in },
        _ body: (FlowRecord) throws -> Void
    ) throws -> [ReadSummary] {
        try readLogs(
            logs, options: ReadOptions(format: format, strict: strict), progress: progress,
            onFormat: onFormat, afterEach: afterEach, body)
    }
}

/// Options every command that reads flow logs shares.
struct InputOptions: ParsableArguments {
    @OptionGroup var source: LogArguments

    /// The help for an input-format option.
    static let formatHelp = ArgumentHelp(
        "Input format, instead of detecting it from the first lines.",
        discussion: "One of: " + FlowFormat.allCases.map(\.rawValue).joined(separator: ", ") + ".")

    @Option(help: formatHelp)
    var format: FlowFormat?

    /// Reads every log in turn, reporting malformed records on stderr. Throws on the first unreadable input.
    func readAll(_ body: (FlowRecord) throws -> Void) throws -> [ReadSummary] {
        try source.read(format: format, body)
    }
}

/// Messages on standard error. Every message goes out as one line with its control characters
/// escaped: messages quote logs, file names and models, and none of those may write to the
/// analyst's terminal (move the cursor, overwrite a line with CR, forge a line with LF).
enum Diagnostics {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data("flowhound: error: \(message.escapingControlCharacters())\n".utf8))
    }

    static func note(_ message: String) {
        FileHandle.standardError.write(Data("flowhound: \(message.escapingControlCharacters())\n".utf8))
    }

    /// One line per input with malformed records, then the first few as `file:line: reason`.
    static func reportMalformed(_ summary: ReadSummary) {
        let name = summary.file == "-" ? "<stdin>" : summary.file
        if summary.malformed > 0 {
            note("\(name): skipped \(summary.malformed) malformed record\(summary.malformed == 1 ? "" : "s") (use --strict to stop at the first)")
            for issue in summary.issues { note("  \(issue)") }
        }
        if let lost = summary.skipped[.skipData], lost > 0 {
            note("\(name): \(lost) VPC SKIPDATA record\(lost == 1 ? "" : "s"): the exporter dropped flows in those capture windows")
        }
    }

    /// Runs a command body, turning input errors into one line on stderr and exit status 1.
    static func run(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as any OneLineError {
            Diagnostics.error(message(error))
            throw ExitCode.failure
        }
    }

    /// The flag that gives each setting a library error may name.
    static let flags: [Setting: String] = [
        .inputFormat: "--format", .strictReading: "--strict", .addressDatabases: "--mmdb", .infrastructureList: "--list NAME=FILE",
        .spreadBenignHours: "--spread-benign-hours", .natsServers: "--nats", .flowStream: "--stream", .alertStream: "--alerts-stream",
        .partitionCount: "--partition-count",
    ]

    /// An error's message as the command line prints it: one that names a setting in the library's
    /// terms gets the flag that gives it, "...; check the input format (--format)".
    static func message(_ error: any OneLineError) -> String {
        guard let setting = (error as? any SettingHinted)?.setting, let flag = flags[setting] else { return error.description }
        return "\(error.description) (\(flag))"
    }
}

/// An error about the user's input or files whose description is the whole message, one line naming
/// the file (and line) and the reason.
protocol OneLineError: Error, CustomStringConvertible {}

extension FlowReadError: OneLineError {}
extension ScanDataError: OneLineError {}
extension ShapeError: OneLineError {}
extension FileError: OneLineError {}
extension SyslogError: OneLineError {}
extension SynthConfigError: OneLineError {}

/// Reads every log in turn, reporting malformed records on stderr. Throws on the first unreadable input.
/// - Parameters:
///   - onFormat: told each log's format before its first record.
///   - afterEach: called when a log has been read, with its summary.
func readLogs(
    _ logs: [String], options: ReadOptions, progress: Bool?,
    onFormat: (FlowFormat) throws -> Void = { _ in }, afterEach: (ReadSummary) throws -> Void = { _ in },
    _ body: (FlowRecord) throws -> Void
) throws -> [ReadSummary] {
    let reader = FlowReader(options: options)
    let meter = ProgressMeter(enabled: progress ?? (isatty(2) == 1))
    var summaries: [ReadSummary] = []
    for log in logs {
        let summary = try reader.read(path: log, onFormat: onFormat) { record in
            try body(record)
            meter.tick(log)
        }
        meter.finish()
        Diagnostics.reportMalformed(summary)
        try afterEach(summary)
        summaries.append(summary)
    }
    return summaries
}

/// Progress on stderr, at most twice a second, for reads that take a while.
final class ProgressMeter {
    private let enabled: Bool
    private var count = 0
    private var started = Date()
    private var lastPrint = Date()
    private var printed = false

    init(enabled: Bool) { self.enabled = enabled }

    @inline(__always)
    func tick(_ file: String) {
        guard enabled else { return }
        count += 1
        guard count & 0xFFFF == 0 else { return }
        let now = Date()
        guard now.timeIntervalSince(lastPrint) >= 0.5 else { return }
        lastPrint = now
        let rate = Double(count) / max(now.timeIntervalSince(started), 1e-9)
        FileHandle.standardError.write(Data("\r\(file.escapingControlCharacters()): \(count) records (\(Int(rate)) records/s)   ".utf8))
        printed = true
    }

    func finish() {
        if printed { FileHandle.standardError.write(Data("\n".utf8)) }
        count = 0
        printed = false
        started = Date()
    }
}

extension Flows {
    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Summarise flow logs: records, time span, transports, outcomes, busiest sources, destinations and ports.",
            discussion: """
                'failed' is the share of a key's flows that were rejected or unanswered: a source with many \
                flows and a high failed share is worth a look. Malformed records are skipped, counted and \
                listed (the first few) unless --strict.

                Example: flowhound flows stats conn.log.gz --top 5 --json
                """)

        @OptionGroup var input: InputOptions

        @Flag(help: "Print the report as one JSON object instead of text.")
        var json = false

        @Option(help: "How many sources, destinations and ports to list.")
        var top = 10

        func validate() throws {
            try OptionCheck.require(top, "--top", in: 0...1_000_000)
        }

        func run() throws {
            try Diagnostics.run {
                var stats = FlowStats()
                let summaries = try input.readAll { stats.add($0) }
                let report = stats.report(inputs: summaries, top: top)
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys]
                    // snake_case, as the alerts and the HTTP API are.
                    encoder.keyEncodingStrategy = .convertToSnakeCase
                    FileHandle.standardOutput.write(try encoder.encode(report))
                    FileHandle.standardOutput.write(Data("\n".utf8))
                } else {
                    print(report.text)
                }
            }
        }
    }

    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write flow logs as normalised records (JSON lines, CSV) or in another exporter's format.",
            discussion: """
                jsonl and csv: every format becomes the same columns: \(FlowhoundColumns.header). \
                Times are Unix seconds (UTC); 'outcome' is one of established, rejected, unanswered, \
                partial, other; 'state' keeps the exporter's own text.

                zeek, nfdump, argus, vpc: the exporter's own layout. What the target format needs and a \
                record does not carry (Zeek history, per-direction TCP flags) is derived from the outcome; \
                nfdump and VPC logs get one line per direction.

                Every output can be read back by every flowhound command.

                Example: flowhound flows convert capture.binetflow --to jsonl > flows.jsonl
                """)

        @OptionGroup var input: InputOptions

        @Option(help: "Output encoding: jsonl, csv, zeek, nfdump, argus or vpc.")
        var to: RecordEncoding

        @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
        var output: String?

        func run() throws {
            try Diagnostics.run {
                var fd: Int32 = 1
                if let output {
                    fd = open(output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                    guard fd >= 0 else {
                        throw FlowReadError(file: output, reason: "cannot create: \(String(cString: strerror(errno)))")
                    }
                }
                defer { if fd != 1 { close(fd) } }
                let writer = FlowWriter(encoding: to, fileDescriptor: fd)
                let summaries = try input.readAll { try writer.write($0) }
                try writer.flush()
                let records = summaries.reduce(0) { $0 + $1.records }
                let malformed = summaries.reduce(0) { $0 + $1.malformed }
                let skipped = summaries.reduce(0) { $0 + $1.skippedTotal }
                Diagnostics.note(
                    "converted \(records) records from \(summaries.count) input\(summaries.count == 1 ? "" : "s")"
                        + (malformed > 0 ? ", \(malformed) malformed skipped" : "")
                        + (skipped > 0 ? ", \(skipped) non-flow lines skipped" : ""))
            }
        }
    }
}
