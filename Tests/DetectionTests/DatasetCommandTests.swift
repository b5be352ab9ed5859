import Foundation
import TestSupport
import Testing

@testable import ActivityImage

/// `flowhound dataset` on labels that leave a split with one class.
@Suite(.tags(.integration)) struct DatasetCommandTests {
    /// `dataset` warns, in one line, when a split holds one class only (or no image): here the truth
    /// names the scanners alone, one source of each kind, so that every image is a scan in train.
    @Test func aDatasetOfOneClassIsWarnedOf() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let capture = FixtureDirectory.realTools.path("loopback-scans.argus.csv")
        let full = FixtureDirectory.realTools.path("loopback-scans.truth.csv")
        let scansOnly = base + "/scans.csv"
        let text = try String(contentsOfFile: full, encoding: .utf8)
        try text.split(separator: "\n").filter { !$0.contains(",benign,") }.joined(separator: "\n").write(toFile: scansOnly, atomically: true, encoding: .utf8)

        let one = try FlowhoundCLI.run(["dataset", capture, "--truth", scansOnly, "-o", base + "/one"])
        #expect(one.status == 0, "\(one.stderr)")
        let warnings = one.stderr.split(separator: "\n").filter { $0.contains("warning:") }
        #expect(warnings.count == 1, "\(one.stderr)")
        #expect(
            warnings.first?.hasPrefix("flowhound: warning: the train split holds scan images only (8) and the test split holds no images: ") == true,
            "\(one.stderr)")

        // Synthetic traffic has many sources of each kind: both splits hold both classes.
        let both = try FlowhoundCLI.run(["dataset", "--synth-seed", "7", "--synth-duration", "1h", "-o", base + "/both"])
        #expect(both.status == 0 && !both.stderr.contains("warning:"), "\(both.stderr)")
    }
}

@Suite struct DatasetSplitTests {
    @Test func aDatasetSplitOfOneClassIsNamed() {
        func split(_ count: Int, scans: Int) -> DatasetWriter.Split { DatasetWriter.Split(count: count, scans: scans, rows: []) }
        #expect(split(5, scans: 0).onlyClass == "benign")
        #expect(split(5, scans: 5).onlyClass == "scan")
        #expect(split(5, scans: 2).onlyClass == nil)
        #expect(split(0, scans: 0).onlyClass == nil)
    }
}
