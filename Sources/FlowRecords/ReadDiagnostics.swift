/// An input problem that stops reading: a file that cannot be opened, is empty, binary, truncated,
/// of no known format, or (with `strict`) a malformed record. Its description is one line,
/// `file:line: reason`, ready for stderr.
public struct FlowReadError: Error, Sendable, Equatable, CustomStringConvertible, SettingHinted {
    public var file: String
    public var line: Int?
    public var reason: String
    /// The setting that would resolve the error (the input format, when none could be read).
    public var setting: Setting?

    public init(file: String, line: Int? = nil, reason: String, setting: Setting? = nil) {
        self.file = file
        self.line = line
        self.reason = reason
        self.setting = setting
    }

    public var description: String {
        let name = file == "-" ? "<stdin>" : file
        if let line { return "\(name):\(line): \(reason)" }
        return "\(name): \(reason)"
    }
}

/// A line that was not a valid record of its format: skipped and counted, or fatal with `strict`.
public struct MalformedRecord: Error, Sendable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
}

/// Lines that are deliberately not turned into records, each counted so nothing is lost silently.
public enum SkipReason: String, CaseIterable, Sendable, Codable {
    /// Argus management (`man`) records and other status lines.
    case statusRecord = "status-record"
    /// Flows that are not IP (Argus `arp`, `llc`, ...).
    case notIP = "not-ip"
    /// VPC Flow Logs `NODATA`: no traffic in the capture window.
    case noData = "vpc-nodata"
    /// VPC Flow Logs `SKIPDATA`: the exporter dropped records in the capture window.
    case skipData = "vpc-skipdata"
    /// nfdump's summary lines at the end of `-o csv` output.
    case summary = "summary"
}

/// Counts for one input: records read, lines skipped by reason, malformed lines (with the first few).
public struct ReadSummary: Sendable {
    public var file: String
    public var format: FlowFormat
    public var lines = 0
    public var records = 0
    public var malformed = 0
    public var skipped: [SkipReason: Int] = [:]
    /// The first malformed lines, as `file:line: reason`.
    public var issues: [FlowReadError] = []

    public init(file: String, format: FlowFormat) {
        self.file = file
        self.format = format
    }

    public var skippedTotal: Int { skipped.values.reduce(0, +) }

    /// Folds another input's counts into this one (issues are kept up to `limit`).
    public mutating func merge(_ other: ReadSummary, limit: Int = 5) {
        lines += other.lines
        records += other.records
        malformed += other.malformed
        for (k, v) in other.skipped { skipped[k, default: 0] += v }
        issues.append(contentsOf: other.issues.prefix(max(0, limit - issues.count)))
    }
}
