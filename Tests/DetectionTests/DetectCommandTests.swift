import Foundation
import Testing
@testable import Detection

/// `flowhound detect` and `flowhound eval detect` as users run them.
@Suite struct DetectCommandTests {
    typealias Tool = TrainCommandTests

    /// Two hours of synthetic traffic: 60 benign sources, 26 scanning ones of every kind.
    static func synthetic(in base: String) throws -> (log: String, truth: String) {
        let log = base + "/conn.log", truth = base + "/truth.csv"
        let r = try Tool.run(["synth", "--seed", "21", "--duration", "2h", "--benign", "60", "--scan-prevalence", "0.3",
                              "-o", log, "--truth", truth])
        try #require(r.status == 0, "\(r.stderr)")
        return (log, truth)
    }

    @Test func everyScannerIsFoundAndAlertsAreJSONLines() throws {
        let base = try Tool.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let (log, truth) = try Self.synthetic(in: base)

        let detect = try Tool.run(["detect", log])
        #expect(detect.status == 0, "\(detect.stderr)")
        let alerts = detect.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(!alerts.isEmpty && alerts.allSatisfy { $0?["@timestamp"] != nil && ($0?["flowhound"] as? [String: Any])?["explanation"] != nil })
        #expect(detect.stderr.contains(" flows/s): \(alerts.count) alerts"))

        let eval = try Tool.run(["eval", "detect", log, "--truth", truth, "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let e = try eval.decoded(DetectionEvaluation.self)
        #expect(e.recall == 1, "missed: \(e.misses)")
        #expect(e.scanners == 32 && e.truePositives == 32)
        #expect(Set(e.recallByKind.keys).isSuperset(of: ["vertical", "horizontal", "block", "slow", "udp", "distributed", "stealth-fin"]))
        // The false alarms, if any, are the P2P clients whose peers are often gone (Threshold Random Walk).
        #expect(e.falseAlarms.allSatisfy { $0.kind == "p2p" }, "\(e.falseAlarms)")

        // Without the random walk nothing benign is flagged.
        let quiet = try Tool.run(["eval", "detect", log, "--truth", truth, "--detectors", "threshold,cnn", "--json"])
        let q = try quiet.decoded(DetectionEvaluation.self)
        #expect(q.recall == 1 && q.falsePositives == 0, "\(q.misses) \(q.falseAlarms)")
    }

    @Test func aTableForPeople() throws {
        let base = try Tool.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let (log, _) = try Self.synthetic(in: base)
        let r = try Tool.run(["detect", log, "--format", "table", "--detectors", "threshold"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("first seen") == true && lines.first?.contains("detectors") == true)
        #expect(lines.dropFirst().allSatisfy { $0.contains("threshold") })
    }

    @Test func badAllowlistsAndUnknownDetectorsAreNamed() throws {
        let base = try Tool.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let (log, _) = try Self.synthetic(in: base)
        let allow = base + "/allow.txt"
        try "10.0.0.0/8\nnot-an-address\n".write(toFile: allow, atomically: true, encoding: .utf8)
        let bad = try Tool.run(["detect", log, "--allowlist", allow])
        #expect(bad.status == 1)
        #expect(bad.stderr == "flowhound: error: \(allow):2: 'not-an-address' is not an address or address block (like 10.0.0.0/8 or 2001:db8::/32)\n")
        let unknown = try Tool.run(["detect", log, "--detectors", "threshold,magic"])
        #expect(unknown.status == 64 && unknown.stderr.contains("unknown detector 'magic'"))
        // Allowlisting every scanner's block silences them all.
        try "198.18.0.0/15\n10.3.0.0/16\n".write(toFile: allow, atomically: true, encoding: .utf8)
        let silenced = try Tool.run(["detect", log, "--allowlist", allow, "--detectors", "threshold,cnn"])
        #expect(silenced.status == 0 && silenced.stdout.isEmpty)
        #expect(silenced.stderr.contains("silenced by the allowlist"))
    }
}
