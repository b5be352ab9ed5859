/// The flow-log formats Flowhound reads.
public enum FlowFormat: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
    /// Zeek conn.log, tab-separated with `#fields`/`#types` header lines (extra columns such as `label` kept).
    case zeek
    /// Zeek conn.log as JSON lines (`LogAscii::use_json=T`), epoch or ISO 8601 `ts`.
    case zeekJSON = "zeek-json"
    /// `nfdump -o csv` (the 1.6-1.7.4 and the 1.7.5+ column sets), with its header or without it
    /// (`nfdump -q -o csv`); the trailing summary block is skipped.
    case nfdump
    /// Argus `ra -c ,` output and CTU-13 `.binetflow` files (comma or tab separated, with a header line).
    case argus
    /// AWS VPC Flow Logs: the default version-2 space-separated records, or any custom format with a header line.
    case vpc
    /// CICFlowMeter CSV: the original CIC-IDS2017 columns and the re-extracted ("improved") variant.
    case cicflowmeter
    /// Flowhound's own normalised JSON lines (`flowhound flows convert --to jsonl`).
    case jsonl
    /// Flowhound's own normalised CSV (`flowhound flows convert --to csv`).
    case csv

    public var description: String { rawValue }

    /// A person's name for the format, for messages.
    public var displayName: String {
        switch self {
        case .zeek: "Zeek conn.log (TSV)"
        case .zeekJSON: "Zeek conn.log (JSON)"
        case .nfdump: "nfdump CSV"
        case .argus: "Argus/binetflow CSV"
        case .vpc: "AWS VPC Flow Logs"
        case .cicflowmeter: "CICFlowMeter CSV"
        case .jsonl: "Flowhound JSON lines"
        case .csv: "Flowhound CSV"
        }
    }

    /// Whether the format writes one record per direction (NetFlow/IPFIX via nfdump, VPC Flow Logs),
    /// so that a probe and its answer are two records (see `DirectionPairer`).
    public var recordsOneDirection: Bool { self == .nfdump || self == .vpc }

    /// Recognises a format from the first lines of a file, or nil.
    public static func detect(head: UnsafeBufferPointer<UInt8>) -> FlowFormat? {
        // Look at the first non-blank line.
        var lineStart = 0
        while lineStart < head.count {
            var end = lineStart
            while end < head.count, head[end] != 0x0A { end += 1 }
            var line = ByteParsing.trimmed(UnsafeBufferPointer(rebasing: head[lineStart..<end]))
            if let last = line.last, last == 0x0D { line = UnsafeBufferPointer(rebasing: line.dropLast()) }
            lineStart = end + 1
            if line.isEmpty { continue }
            if let format = detect(firstLine: String(decoding: line, as: UTF8.self)) { return format }
            // `nfdump -q -o csv` prints no header: nfdump only when the first lines have, field for
            // field, the shape of one of its layouts.
            return NfdumpLayout.headerless(in: head) != nil ? .nfdump : nil
        }
        return nil
    }

    static func detect(firstLine line: String) -> FlowFormat? {
        if line.hasPrefix("#separator") || line.hasPrefix("#fields") || line.hasPrefix("#path")
            || line.hasPrefix("#set_separator")
        {
            return .zeek
        }
        if line.hasPrefix("{") {
            if line.contains("\"id.orig_h\"") { return .zeekJSON }
            if line.contains("\"src\"") && line.contains("\"dst\"") { return .jsonl }
            return nil
        }
        let lower = line.lowercased()
        if lower.hasPrefix("ts,te,td,sa,da") { return .nfdump }
        let delimiter: Character = line.contains(",") ? "," : line.contains("\t") ? "\t" : " "
        let tokens = lower.split(separator: delimiter).map { ColumnNames.normalise(String($0)) }
        let names = Set(tokens)
        if names.isSuperset(of: ["ts", "sa", "da", "pr"]) { return .nfdump }  // 1.6 pads its header with tabs
        if names.contains("firstseen") && names.contains("srcaddr") && names.contains("dstaddr") { return .nfdump }
        if names.contains("srcaddr") && (names.contains("starttime") || names.contains("stime")) { return .argus }
        if names.contains("srcaddr") && names.contains("dstaddr")
            && (names.contains("version") || names.contains("logstatus") || names.contains("interfaceid")
                || names.contains("action"))
            && !line.contains(",")
        {
            return .vpc
        }
        if (names.contains("srcip") || names.contains("sourceip")) && names.contains("flowid") { return .cicflowmeter }
        if lower.hasPrefix(FlowhoundColumns.headerPrefix) { return .csv }
        // A header-less VPC version-2 record: "2 123456789010 eni-... srcaddr dstaddr ...".
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        if fields.count >= 14, let version = Int(fields[0]), (2...10).contains(version),
            fields[2].hasPrefix("eni-") || fields[2] == "-"
        {
            return .vpc
        }
        return nil
    }
}

/// Helpers to find columns by name whatever their spelling ("Src IP", " Source IP", "src_ip").
enum ColumnNames {
    /// Lower case, letters and digits only.
    static func normalise(_ name: String) -> String {
        String(
            name.lowercased().unicodeScalars.filter { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") }
                .map(Character.init))
    }

    /// The index of the first column whose normalised name is one of `aliases`.
    static func index(of aliases: [String], in columns: [String]) -> Int? {
        for alias in aliases {
            if let i = columns.firstIndex(of: alias) { return i }
        }
        return nil
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
