import Foundation
import TestSupport
import Testing

/// `detect --reorder` and the warning about out-of-order input, as users see them.
@Suite(.tags(.integration)) struct ReorderCommandTests {
    /// The log's data lines in start order (stable), and moved up to `disorder` seconds later: lines
    /// with the same start move together, so sorting them again by start gives back the first order.
    static func sortedAndDisordered(_ log: String, disorder: Double) throws -> (sorted: String, disordered: String) {
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let header = lines.filter { $0.hasPrefix("#") && !$0.hasPrefix("#close") }
        let data = lines.filter { !$0.hasPrefix("#") && !$0.isEmpty }
        let starts = data.map { Double($0.prefix { $0 != "\t" })! }
        let sorted = data.indices.sorted { (starts[$0], $0) < (starts[$1], $1) }
        // A shift drawn from the start itself (a hash), so equal starts get the same one.
        func shift(_ t: Double) -> Double {
            var h = t.bitPattern &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
            return Double(h % 1_000_000) / 1_000_000 * disorder
        }
        let moved = data.indices.sorted { (starts[$0] + shift(starts[$0]), $0) < (starts[$1] + shift(starts[$1]), $1) }
        func text(_ order: [Int]) -> String { (header + order.map { data[$0] }).joined(separator: "\n") + "\n" }
        return (text(sorted), text(moved))
    }

    @Test func aLongEnoughReorderGivesTheSortedLogsAlerts() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let (log, _) = try DetectCommandTests.synthetic(in: base)
        let (sorted, disordered) = try Self.sortedAndDisordered(log, disorder: 1200)
        let sortedLog = base + "/sorted.log", disorderedLog = base + "/disordered.log"
        try sorted.write(toFile: sortedLog, atomically: true, encoding: .utf8)
        try disordered.write(toFile: disorderedLog, atomically: true, encoding: .utf8)

        let expected = try FlowhoundCLI.run(["detect", sortedLog])
        #expect(expected.status == 0 && !expected.stdout.isEmpty && !expected.stderr.contains("warning"), "\(expected.stderr)")

        // Out of order: many flows late, one warning saying what to do.
        let plain = try FlowhoundCLI.run(["detect", disorderedLog])
        #expect(plain.status == 0, "\(plain.stderr)")
        let warnings = plain.stderr.split(separator: "\n").filter { $0.hasPrefix("flowhound: warning:") }
        #expect(warnings.count == 1, "\(plain.stderr)")
        #expect(warnings.first?.contains("came after their window had closed (--lateness 60 s)") == true)
        #expect(warnings.first?.contains("Sort the logs by start time, or give --reorder ") == true, "\(plain.stderr)")

        // Reordered: the sorted log's alerts, byte for byte, and no warning.
        let reordered = try FlowhoundCLI.run(["detect", disorderedLog, "--reorder", "30m"])
        #expect(reordered.status == 0 && !reordered.stderr.contains("warning"), "\(reordered.stderr)")
        #expect(withoutCreated(reordered.stdout) == withoutCreated(expected.stdout))
        #expect(!reordered.stderr.contains("late flows"))
    }

    @Test func theSpanIsRangeChecked() throws {
        for bad in ["0", "-5", "8d", "nan", "1x"] {
            let r = try FlowhoundCLI.run(["detect", "/dev/null", "--reorder", bad])
            #expect(r.status == 64 && r.stderr.contains("--reorder"), "\(bad): \(r.stderr)")
        }
        let worker = try FlowhoundCLI.run(["worker", "--nats", "nats://127.0.0.1:1", "--reorder", "10m"])
        #expect(worker.status == 64 && worker.stderr.contains("does not take --reorder"), "\(worker.stderr)")
    }
}
