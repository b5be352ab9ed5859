import Foundation
import Support

/// Labels per source address, as CSV with a header: `source,label,kind` (label `scan` or `benign`;
/// kind free text such as `vertical` or `scraper`; columns in any order; blank lines and lines
/// starting with `#` are skipped). `flowhound synth` writes it; `dataset`, `render`
/// and the evaluations read it.
public struct GroundTruth: Sendable {
    public struct Entry: Sendable, Equatable, Codable {
        public var label: String
        public var kind: String
    }

    public static let header = "source,label,kind"
    public private(set) var entries: [IPAddress: Entry] = [:]
    /// Sources in file order.
    public private(set) var sources: [IPAddress] = []

    public init() {}

    public subscript(source: IPAddress) -> Entry? { entries[source] }

    public mutating func add(_ source: IPAddress, label: String, kind: String) {
        if entries[source] == nil { sources.append(source) }
        entries[source] = Entry(label: label, kind: kind)
    }

    /// Reads a ground-truth file; every problem is a `FlowReadError` naming the line.
    public static func load(path: String) throws -> GroundTruth {
        let text: String
        do {
            text = String(decoding: try BoundedFile.read(path), as: UTF8.self)
        } catch {
            throw FlowReadError(file: path, reason: "cannot read ground truth: \(error)")
        }
        var truth = GroundTruth()
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            .map { (number: $0.offset + 1, text: $0.element.trimmingCharacters(in: .whitespacesAndNewlines)) }
            .filter { !$0.text.isEmpty && !$0.text.hasPrefix("#") }
        guard !lines.isEmpty else { throw FlowReadError(file: path, reason: "empty ground truth (expected a header 'source,label,kind')") }
        let first = lines.removeFirst()
        let columns = first.text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let s = columns.firstIndex(of: "source"), let l = columns.firstIndex(of: "label") else {
            throw FlowReadError(file: path, line: first.number, reason: "expected a header naming source,label,kind; found '\(first.text.excerpt(limit: 60))'")
        }
        let k = columns.firstIndex(of: "kind")
        for (number, line) in lines {
            let i = number - 1
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == columns.count else {
                throw FlowReadError(file: path, line: i + 1, reason: "expected \(columns.count) fields, found \(fields.count)")
            }
            guard let source = IPAddress(fields[s]) else {
                throw FlowReadError(file: path, line: i + 1, reason: "bad address '\(fields[s].excerpt())'")
            }
            let label = fields[l].lowercased()
            guard label == "scan" || label == "benign" else {
                throw FlowReadError(file: path, line: i + 1, reason: "label must be scan or benign, found '\(fields[l].excerpt())'")
            }
            if truth.entries[source] != nil {
                throw FlowReadError(file: path, line: i + 1, reason: "source \(source) is listed twice")
            }
            truth.add(source, label: label, kind: k.map { fields[$0] } ?? label)
        }
        return truth
    }
}
