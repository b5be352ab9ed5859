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

    /// Without --truth, the truth comes from the flows' labels, as in `eval detect`: CIC's PortScan
    /// and BENIGN; Stratosphere's attacks only when --scan-label names them; a log without labels is
    /// a one-line error.
    @Test func truthFromTheFlowsLabels() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let labelled = FixtureDirectory.labelled
        let cic = try FlowhoundCLI.run([
            "dataset", labelled.path("cicids2017-improved-portscan.head40.csv"), labelled.path("cicids2017-improved-benign.head40.csv"),
            "--window", "600", "-o", base + "/cic",
        ])
        #expect(cic.status == 0, "\(cic.stderr)")
        #expect(cic.stderr.contains("truth from the flows' labels: 1 scanning source, 11 benign\n"))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let meta = try decoder.decode(DatasetWriter.Meta.self, from: Data(contentsOf: URL(fileURLWithPath: base + "/cic/meta.json")))
        let rows = meta.train.rows + meta.test.rows
        #expect(Set(rows.filter { $0.label == 1 }.map(\.source)) == ["172.16.0.1"])
        #expect(rows.contains { $0.label == 0 })

        let stratosphere = labelled.path("stratosphere-008-mixed.head120.conn.log.labeled")
        let unnamed = try FlowhoundCLI.run(["dataset", stratosphere, "--window", "600", "-o", base + "/s1"])
        #expect(unnamed.status == 0 && unnamed.stderr.contains("warning: the labels name no scanning source: the dataset has no scan images"))
        let named = try FlowhoundCLI.run([
            "dataset", stratosphere, "--scan-label", "External-Attack-to-Device", "--window", "600", "-o", base + "/s2",
        ])
        #expect(named.status == 0 && named.stderr.contains("truth from the flows' labels: 47 scanning sources, 1 benign\n"), "\(named.stderr)")

        let plain = try FlowhoundCLI.run(["dataset", labelled.path("slips-portscan-horizontal.conn.log"), "-o", base + "/p"])
        #expect(plain.status == 1 && plain.stderr.hasPrefix("flowhound: error: no ground truth: the 41 flows of "))
        let both = try FlowhoundCLI.run(["dataset", stratosphere, "--truth", base + "/x.csv", "--scan-label", "x", "-o", base + "/b"])
        #expect(both.status != 0 && both.stderr.contains("--scan-label is for truth taken from the flows' labels, not with --truth"))
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
