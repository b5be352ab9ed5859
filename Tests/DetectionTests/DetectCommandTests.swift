import Foundation
import TestSupport
import Testing

@testable import Detection

/// `flowhound detect` and `flowhound eval detect` as users run them.
@Suite(.tags(.integration)) struct DetectCommandTests {
    /// Two hours of synthetic traffic: 60 benign sources, 26 scanning ones of every kind.
    static func synthetic(in base: String) throws -> (log: String, truth: String) {
        let log = base + "/conn.log", truth = base + "/truth.csv"
        let r = try FlowhoundCLI.run([
            "synth", "--seed", "21", "--duration", "2h", "--benign", "60", "--scan-prevalence", "0.3",
            "-o", log, "--truth", truth,
        ])
        try #require(r.status == 0, "\(r.stderr)")
        return (log, truth)
    }

    @Test func everyScannerIsFoundAndAlertsAreJSONLines() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let (log, truth) = try Self.synthetic(in: base)

        let detect = try FlowhoundCLI.run(["detect", log])
        #expect(detect.status == 0, "\(detect.stderr)")
        let alerts = detect.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(!alerts.isEmpty && alerts.allSatisfy { $0?["@timestamp"] != nil && $0?["message"] as? String != nil })
        // Each episode is a start and an end alert with one episode identifier.
        let episodes = Set(alerts.compactMap { ($0?["flowhound"] as? [String: Any])?["episode_id"] as? String })
        #expect(alerts.count == 2 * episodes.count)
        #expect(detect.stderr.contains(" flows/s): \(episodes.count) scan episodes (\(episodes.count) start and \(episodes.count) end alerts)"))

        let eval = try FlowhoundCLI.run(["eval", "detect", log, "--truth", truth, "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let e = try eval.decoded(DetectionEvaluation.self)
        #expect(e.recall == 1, "missed: \(e.misses)")
        #expect(e.scanners == 32 && e.truePositives == 32)
        #expect(Set(e.recallByKind.keys).isSuperset(of: ["vertical", "horizontal", "block", "slow", "udp", "distributed", "stealth-fin"]))
        // The false alarms, if any, are the P2P clients whose peers are often gone (Threshold Random Walk).
        #expect(e.falseAlarms.allSatisfy { $0.kind == "p2p" }, "\(e.falseAlarms)")

        // Without the random walk nothing benign is flagged.
        let quiet = try FlowhoundCLI.run(["eval", "detect", log, "--truth", truth, "--detectors", "threshold,cnn", "--json"])
        let q = try quiet.decoded(DetectionEvaluation.self)
        #expect(q.recall == 1 && q.falsePositives == 0, "\(q.misses) \(q.falseAlarms)")
    }

    /// `--jobs`: detection on several threads prints one thread's alerts.
    @Test func severalThreadsPrintOneThreadsAlerts() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let (log, _) = try Self.synthetic(in: base)
        func lines(_ jobs: String) throws -> [String] {
            let r = try FlowhoundCLI.run(["detect", log, "--jobs", jobs])
            #expect(r.status == 0, "\(r.stderr)")
            return r.stdout.split(separator: "\n").map { String($0).replacing(/"created":"[^"]*"/, with: "") }.sorted()
        }
        let one = try lines("1")
        #expect(one.count > 40)
        #expect(try lines("3") == one)
        #expect(try lines("auto") == one)
        let three = try FlowhoundCLI.run(["detect", log, "--jobs", "3", "--output-format", "table"])
        #expect(three.stderr.contains("sources (the 3 detection threads' peaks summed)"), "\(three.stderr)")
        let zero = try FlowhoundCLI.run(["detect", log, "--jobs", "0"])
        #expect(zero.status != 0 && zero.stderr.contains("--jobs must be 1–64, not 0"), "\(zero.stderr)")
    }

    @Test func aTableForPeople() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let (log, _) = try Self.synthetic(in: base)
        let r = try FlowhoundCLI.run(["detect", log, "--output-format", "table", "--detectors", "threshold"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("first seen") == true && lines.first?.contains("detectors") == true)
        #expect(lines.dropFirst().allSatisfy { $0.contains("threshold") })
    }

    @Test func formatNamesTheInputAndOldSpellingsStillWorkWithANote() throws {
        let capture = FixtureDirectory.realTools.path("loopback-scans.argus.csv")
        let truth = FixtureDirectory.realTools.path("loopback-scans.truth.csv")
        let table = try FlowhoundCLI.run(["detect", capture, "--format", "table", "--detectors", "threshold"])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.hasPrefix("first seen"))
        #expect(table.stderr.contains("use --output-format table"))

        let newTable = try FlowhoundCLI.run(["detect", capture, "--output-format", "table", "--format", "argus", "--detectors", "threshold"])
        #expect(newTable.status == 0 && newTable.stdout == table.stdout, "\(newTable.stderr)")
        #expect(!newTable.stderr.contains("note:"))

        let old = try FlowhoundCLI.run(["detect", capture, "--input-format", "argus", "--detectors", "threshold"])
        #expect(old.status == 0 && old.stderr.contains("--input-format is now --format"), "\(old.stderr)")
        let new = try FlowhoundCLI.run(["detect", capture, "--format", "argus", "--detectors", "threshold"])
        #expect(new.status == 0 && withoutCreated(new.stdout) == withoutCreated(old.stdout) && !new.stdout.isEmpty)
        let twice = try FlowhoundCLI.run(["detect", capture, "--format", "argus", "--input-format", "argus"])
        #expect(twice.status == 64, "\(twice.stderr)")

        // jsonl is an input format now: an Argus log read as Flowhound JSONL is no such log.
        let jsonl = try FlowhoundCLI.run(["detect", capture, "--format", "jsonl"])
        #expect(jsonl.status == 1, "\(jsonl.stderr)")

        // Only detect has a table.
        let eval = try FlowhoundCLI.run(["eval", "detect", capture, "--truth", truth, "--format", "table"])
        #expect(eval.status == 64, "\(eval.stderr)")
        let evalArgus = try FlowhoundCLI.run(["eval", "detect", capture, "--truth", truth, "--format", "argus", "--json"])
        #expect(evalArgus.status == 0, "\(evalArgus.stderr)")
    }

    @Test func badAllowlistsAndUnknownDetectorsAreNamed() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let (log, _) = try Self.synthetic(in: base)
        let allow = base + "/allow.txt"
        try "10.0.0.0/8\nnot-an-address\n".write(toFile: allow, atomically: true, encoding: .utf8)
        let bad = try FlowhoundCLI.run(["detect", log, "--allowlist", allow])
        #expect(bad.status == 1)
        #expect(bad.stderr == "flowhound: error: \(allow):2: 'not-an-address' is not an address or address block (like 10.0.0.0/8 or 2001:db8::/32)\n")
        let unknown = try FlowhoundCLI.run(["detect", log, "--detectors", "threshold,magic"])
        #expect(unknown.status == 64 && unknown.stderr.contains("unknown detector 'magic'"))
        // Allowlisting every scanner's block silences them all.
        try "198.18.0.0/15\n10.3.0.0/16\n".write(toFile: allow, atomically: true, encoding: .utf8)
        let silenced = try FlowhoundCLI.run(["detect", log, "--allowlist", allow, "--detectors", "threshold,cnn"])
        #expect(silenced.status == 0 && silenced.stdout.isEmpty)
        #expect(silenced.stderr.contains("silenced by the allowlist"))
    }

    /// A vertical scan of 10.0.0.5 from a public address, and one HTTPS connection out to a CDN.
    static func publicScanLog(in base: String) throws -> String {
        var lines: [String] = []
        for port in 1...60 {
            lines.append(
                #"{"ts":\#(1_740_787_200 + port),"uid":"S\#(port)","id.orig_h":"45.148.10.5","id.orig_p":40000,"id.resp_h":"10.0.0.5","id.resp_p":\#(port),"proto":"tcp","conn_state":"REJ","orig_pkts":1,"resp_pkts":1,"orig_bytes":0,"resp_bytes":0,"duration":0.001}"#
            )
        }
        lines.append(
            #"{"ts":1740787300,"uid":"W1","id.orig_h":"10.0.0.7","id.orig_p":51000,"id.resp_h":"104.16.1.1","id.resp_p":443,"proto":"tcp","conn_state":"SF","orig_pkts":9,"resp_pkts":12,"orig_bytes":900,"resp_bytes":20000,"duration":2.5}"#
        )
        // Both ends public: without --home, neither is known to be home.
        lines.append(
            #"{"ts":1740787301,"uid":"P1","id.orig_h":"45.148.10.5","id.orig_p":40001,"id.resp_h":"104.16.1.1","id.resp_p":443,"proto":"tcp","conn_state":"S0","orig_pkts":1,"resp_pkts":0,"orig_bytes":0,"resp_bytes":0,"duration":0}"#
        )
        let log = base + "/public-conn.log"
        try (lines.joined(separator: "\n") + "\n").write(toFile: log, atomically: true, encoding: .utf8)
        return log
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/var/lib/location/database.db"), "the libloc-database package is not installed"))
    func scoresTheRemoteEndWithTheIPModel() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let log = try Self.publicScanLog(in: base)
        let r = try FlowhoundCLI.run(["detect", log, "--detectors", "threshold", "--connection-alerts"])
        #expect(r.status == 0, "\(r.stderr)")
        let objects = r.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let datasets = objects.map { ($0["event"] as? [String: Any])?["dataset"] as? String }
        #expect(datasets.filter { $0 == "flowhound.scan" }.count == 2)  // the episode's start and end
        let scan = try #require(objects.last { ($0["event"] as? [String: Any])?["dataset"] as? String == "flowhound.scan" })
        let reputation = try #require((scan["flowhound"] as? [String: Any])?["source_reputation"] as? [String: Any])
        #expect(reputation["probability"] as? Double != nil && reputation["drivers"] as? [Any] != nil)
        #expect((scan["source"] as? [String: Any])?["as"] != nil)
        // Every connection alert names a remote address the model found suspicious, at most once each.
        let connections = objects.filter { ($0["event"] as? [String: Any])?["dataset"] as? String == "flowhound.connection" }
        let remotes = connections.compactMap { ($0["flowhound"] as? [String: Any])?["remote"] as? String }
        #expect(Set(remotes).count == remotes.count)
        for c in connections {
            let rep = try #require((c["flowhound"] as? [String: Any])?["reputation"] as? [String: Any])
            #expect(rep["verdict"] as? String == "suspicious")
        }
        #expect(r.stderr.contains("connecting in, ") && r.stderr.contains("reached from home) among 61 flows with a remote end"))
        #expect(
            r.stderr.contains(
                "note: 1 flow had public addresses at both ends and was not scored: home is the non-public addresses when --home is not given; give --home FILE with your public networks to score them"
            ))
        // With --home naming the public web server and the private network, the flow from the
        // scanner to the server has a remote end, and the client's flow to the server none.
        let home = base + "/home.txt"
        try "104.16.1.1\n10.0.0.0/8\n".write(toFile: home, atomically: true, encoding: .utf8)
        let homed = try FlowhoundCLI.run(["detect", log, "--detectors", "threshold", "--connection-alerts", "--home", home])
        #expect(homed.status == 0 && homed.stderr.contains("among 61 flows with a remote end") && !homed.stderr.contains("not scored"), "\(homed.stderr)")
        #expect(!homed.stdout.contains(#""remote":"104.16.1.1""#))
        // Allowlisting the scanner silences its scan alert and its reputation alert alike.
        let allow = base + "/allow.txt"
        try "45.148.10.0/24\n".write(toFile: allow, atomically: true, encoding: .utf8)
        let silenced = try FlowhoundCLI.run(["detect", log, "--detectors", "threshold", "--connection-alerts", "--allowlist", allow])
        #expect(!silenced.stdout.contains("45.148.10.5"), "\(silenced.stdout)")
    }
}
