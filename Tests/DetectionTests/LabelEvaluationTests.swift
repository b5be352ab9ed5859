import FlowRecords
import Foundation
import TestSupport
import Testing

@testable import Detection

/// `flowhound eval detect` without `--truth`: the truth from the labels real datasets carry on each
/// flow (excerpts in Tests/Fixtures/labelled, see its SOURCES.md).
@Suite(.tags(.integration)) struct LabelEvaluationTests {
    static let fixtures = FixtureDirectory.labelled
    static let portScan = fixtures.path("cicids2017-improved-portscan.head40.csv")
    static let benign = fixtures.path("cicids2017-improved-benign.head40.csv")
    static let stratosphere = fixtures.path("stratosphere-008-mixed.head120.conn.log.labeled")

    /// CIC-IDS2017: PortScan flows make their source a scanner, BENIGN flows theirs benign.
    @Test func cicPortScanAndBenignSourcesFromTheirLabels() throws {
        let r = try FlowhoundCLI.run(["eval", "detect", Self.portScan, Self.benign, "--json"])
        try #require(r.status == 0, "\(r.stderr)")
        let e = try r.decoded(DetectionEvaluation.self)
        #expect(e.labels?.flowsByClass == ["scan": 40, "benign": 40])
        #expect(e.scanners == 1 && e.benignSources == 11)
        #expect(e.truePositives == 1 && e.falsePositives == 0, "\(e.falseAlarms)")
        #expect(e.recallByKind == ["Portscan": 1] && e.falseAlarmRateByKind == ["BENIGN": 0])
        #expect(e.unlabelledFlagged.isEmpty && e.otherMaliciousSources == 0)
        #expect(r.stderr.isEmpty, "\(r.stderr)")

        let text = try FlowhoundCLI.run(["eval", "detect", Self.portScan, Self.benign])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("truth from the flows' labels: 40 scan flows, 40 benign, 0 other malicious, 0 ignored, 0 unknown, 0 without a label\n"))
        #expect(text.stdout.contains("(1 found, 0 missed, 0 false alarms)"))
    }

    /// Stratosphere labels the Internet's probes of a host `Malicious`, `External-Attack-to-Device`:
    /// not a scan label, so they are other malicious and a warning says how to count them; with
    /// --scan-label they are scans, and the text lists the first ten misses.
    @Test func stratosphereAttacksCountAsScansOnlyWhenNamed() throws {
        let r = try FlowhoundCLI.run(["eval", "detect", Self.stratosphere, "--json"])
        try #require(r.status == 0, "\(r.stderr)")
        let e = try r.decoded(DetectionEvaluation.self)
        #expect(e.labels?.flowsByClass == ["benign": 24, "other-malicious": 95, "ignored": 1])
        #expect(e.scanners == 0 && e.benignSources == 1 && e.otherMaliciousSources == 47)
        // 147.32.81.167 is the host: its own connections out are Benign (and one Background).
        #expect(e.falseAlarmRateByKind == ["Microsoft": 0])
        #expect(e.otherMaliciousFlagged.contains(DetectionEvaluation.Miss(source: "104.156.155.13", kind: "External-Attack-to-Device")))
        #expect(r.stderr.contains("warning: the labels name no scanning source") && r.stderr.contains("External-Attack-to-Device: 47"))
        #expect(r.stderr.contains("--scan-label"))

        let named = try FlowhoundCLI.run(["eval", "detect", Self.stratosphere, "--scan-label", "external-attack-to-device", "--json"])
        try #require(named.status == 0, "\(named.stderr)")
        let n = try named.decoded(DetectionEvaluation.self)
        #expect(n.scanners == 47 && n.benignSources == 1 && n.otherMaliciousSources == 0)
        #expect(n.labels?.flowsByClass["scan"] == 95)
        // The vertical scan of 104.156.155.13 (21 ports in 10 minutes) is found; the rest sent a few probes each.
        #expect(n.truePositives >= 1 && !n.misses.contains { $0.source == "104.156.155.13" })
        #expect(n.falsePositives == 0 && n.misses.count == 47 - n.truePositives)
        #expect(named.stderr.isEmpty, "\(named.stderr)")

        // Text: ten misses by name, the most flows first, then how many more.
        let text = try FlowhoundCLI.run(["eval", "detect", Self.stratosphere, "--scan-label", "External-Attack-to-Device"])
        #expect(text.status == 0, "\(text.stderr)")
        let missed = try #require(text.stdout.split(separator: "\n").first { $0.hasPrefix("missed: ") })
        #expect(missed.hasPrefix("missed: " + n.misses.prefix(10).map { "\($0.source) (\($0.kind))" }.joined(separator: ", ")))
        #expect(missed.hasSuffix(" and \(n.misses.count - 10) more (all with --json)"))
        #expect(missed.components(separatedBy: "(External-Attack-to-Device)").count == 11)
    }

    /// CTU-13 labels in an Argus binetflow (written here in the dataset's vocabulary): a botnet's
    /// flows are other malicious, listed apart when flagged; a normal host's are benign; background
    /// says nothing; a label not known is named in a note.
    @Test func ctu13LabelsAndUnknownOnes() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        var lines = ["StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,Label"]
        func row(_ second: Int, _ source: String, _ port: Int, _ destination: String, _ state: String, _ label: String) {
            lines.append(
                "2011/08/10 09:\(String(format: "%02d:%02d", second / 60, second % 60)).000000,0.5,tcp,\(source),40000,   ->,\(destination),\(port),\(state),0,0,2,120,60,\(label)"
            )
        }
        for port in 1...40 { row(port, "147.32.84.165", port, "147.32.84.9", "S_", "flow=From-Botnet-V42-TCP-Attempt") }
        for i in 0..<5 { row(60 + i, "147.32.84.170", 443, "74.125.232.195", "FSPA_FSPA", "flow=From-Normal-V42-Grill") }
        for i in 0..<3 { row(70 + i, "147.32.84.50", 80, "147.32.84.170", "FSPA_FSPA", "flow=Background-TCP-Established") }
        for i in 0..<2 { row(80 + i, "147.32.84.51", 53, "147.32.84.170", "CON", "flow=Odd-Label") }
        row(90, "147.32.84.52", 80, "147.32.84.170", "FSPA_FSPA", "flow=To-Normal-V42-HTTP")
        let log = base + "/capture.binetflow"
        try (lines.joined(separator: "\n") + "\n").write(toFile: log, atomically: true, encoding: .utf8)

        let r = try FlowhoundCLI.run(["eval", "detect", log, "--detectors", "threshold", "--json"])
        try #require(r.status == 0, "\(r.stderr)")
        let e = try r.decoded(DetectionEvaluation.self)
        #expect(e.labels?.flowsByClass == ["other-malicious": 40, "benign": 5, "ignored": 4, "unknown": 2])
        #expect(e.scanners == 0 && e.benignSources == 1 && e.otherMaliciousSources == 1 && e.labels?.undecidedSources == 1)
        #expect(e.otherMaliciousFlagged == [DetectionEvaluation.Miss(source: "147.32.84.165", kind: "From-Botnet-V42-TCP-Attempt")])
        #expect(e.unlabelledFlagged.isEmpty && e.falsePositives == 0)
        #expect(e.labels?.unknownLabels == [LabelTruth.LabelCount(label: "flow=Odd-Label", flows: 2)])
        #expect(r.stderr.contains("note: 2 flows carry labels Flowhound does not know, which label no source (1 left unlabelled): 'flow=Odd-Label' (2)"))

        let text = try FlowhoundCLI.run(["eval", "detect", log, "--detectors", "threshold"])
        #expect(text.stdout.contains("flagged, other malicious (not counted): 1 of 1: 147.32.84.165 (From-Botnet-V42-TCP-Attempt)"), "\(text.stdout)")
    }

    /// Logs without labels, and no --truth: one line says there is no ground truth.
    @Test func withoutLabelsOrTruthOneLineSaysSo() throws {
        let capture = FixtureDirectory.realTools.path("loopback-scans.argus.csv")
        let r = try FlowhoundCLI.run(["eval", "detect", capture])
        #expect(r.status == 1)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.hasPrefix("flowhound: error: no ground truth: the 513 flows of \(capture) carry no labels; give --truth CSV"))
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")

        let both = try FlowhoundCLI.run([
            "eval", "detect", capture, "--truth", FixtureDirectory.realTools.path("loopback-scans.truth.csv"), "--scan-label", "x",
        ])
        #expect(both.status == 64 && both.stderr.contains("--scan-label is for truth taken from the flows' labels"), "\(both.stderr)")
    }
}
