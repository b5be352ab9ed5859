import ActivityImage
import FlowRecords
import Foundation
import Synthesis
import TestSupport
import Testing

@testable import Detection

/// Busy benign clients (a phone or laptop: dead CDN edges, refused DNS over TLS, silent STUN relays,
/// push reconnects) are not scanners, and the small real scans stay found: the CNN alone needs strong
/// evidence, the sweep needs its failed hosts to be much of what the source touched, the walk takes
/// no evidence from unanswered UDP, and multicast discovery is no attempt at all.
@Suite struct BusyClientTests {
    static let start = 1_704_067_200.0

    static func flow(
        _ source: String, _ host: String, _ port: Int, at t: Double, _ outcome: Outcome, _ transport: Transport = .tcp
    ) -> FlowRecord {
        FlowRecord(
            start: start + t, end: start + t, source: ip(source), destination: ip(host), sourcePort: 50000,
            destinationPort: UInt16(port), transport: transport, outcome: outcome)
    }

    static func window(_ flows: [FlowRecord]) -> ClosedWindow {
        var activity = ActivityAccumulator()
        for f in flows { activity.add(f) }
        return ClosedWindow(source: flows[0].source, windowStart: start, windowLength: 600, activity: activity, memory: SourceMemory())
    }

    /// Six failed hosts on 443: a sweep when they are much of what the source touched, not when the
    /// source also reached fifteen other hosts on 443 (a browser with dead CDN edges).
    @Test func theSweepNeedsItsFailedHostsToBeMuchOfWhatWasTouched() {
        let dead = (1...6).map { Self.flow("10.2.0.9", "203.0.113.\($0)", 443, at: Double($0), .unanswered) }
        let live = (1...15).map { Self.flow("10.2.0.9", "198.51.100.\($0)", 443, at: 10 + Double($0), .established) }
        let fewLive = Array(live.prefix(8))
        let threshold = ThresholdDetector()
        #expect(threshold.judge([Self.window(dead + live)])[0].flagged == false)
        let sweep = threshold.judge([Self.window(dead + fewLive)])[0]
        #expect(sweep.flagged && sweep.reason == "6 failed hosts on port 443 ≥ 6, of 14 hosts touched; 43% of attempts failed")
        var lenient = threshold
        lenient.sweepHostShare = 0
        #expect(lenient.judge([Self.window(dead + live)])[0].flagged)
    }

    /// The walk: an unanswered UDP first contact is no evidence (no contact at all); ICMP-refused UDP is
    /// a failure.
    @Test func theWalkIgnoresUnansweredUDP() {
        let trw = RandomWalkDetector()
        var silent = RandomWalkState(), refused = RandomWalkState()
        for i in 1...8 {
            trw.observe(Self.flow("10.2.0.9", "203.0.113.\(i)", 3478, at: Double(i), .unanswered, .udp), &silent)
            trw.observe(Self.flow("10.2.0.9", "203.0.113.\(i)", 3478, at: Double(i), .rejected, .udp), &refused)
        }
        #expect(silent.contacts == 0 && silent.decision == .pending)
        #expect(refused.decision == .scanner)
    }

    /// Discovery to multicast and broadcast addresses (LLMNR, mDNS, SSDP, WS-Discovery, DHCPv6: a
    /// Windows host on a real network) is no attempt, however unanswered.
    @Test func multicastDiscoveryIsNoAttempt() throws {
        var flows: [FlowRecord] = []
        for (i, (host, port)) in [("ff02::1:3", 5355), ("ff02::fb", 5353), ("ff02::c", 1900), ("ff02::c", 3702), ("ff02::1:2", 547), ("ff02::16", 0)]
            .enumerated()
        {
            for k in 0..<3 { flows.append(Self.flow("fe80::1cf4:44d2:904a:14f7", host, port, at: Double(i * 10 + k), .unanswered, .udp)) }
        }
        for k in 0..<8 { flows.append(Self.flow("10.2.0.9", "239.255.255.250", 1900 + k, at: Double(k), .unanswered, .udp)) }
        flows.append(Self.flow("10.2.0.9", "255.255.255.255", 67, at: 9, .unanswered, .udp))
        let detection = DetectionRecipe().make(model: try ScanModel.load(pathOrDefault: nil))
        var alerts = 0
        detection.onAlert = { _ in alerts += 1 }
        for f in flows.sorted(by: { $0.start < $1.start }) { try detection.add(f) }
        try detection.finish()
        #expect(alerts == 0 && detection.statistics.multicastFlows == flows.count)
        #expect(ip("224.0.0.251").isMulticastOrBroadcast && !ip("223.255.255.255").isMulticastOrBroadcast)
        #expect(ip("ff05::2").isMulticastOrBroadcast && !ip("fe80::1").isMulticastOrBroadcast)
    }

    /// Synthetic busy clients: with every detector at its default, at most a few are flagged; and the
    /// shipped CNN, trained with busy clients as hard negatives and drawing each row's share of
    /// failures, leaves them alone even when it may alert alone (`--cnn-alone-failed-share 0`) and the
    /// sweep has no host share. (The model before flagged 30 or more of these 40 then.)
    @Test(.tags(.integration)) func busyClientsAreNotScanners() throws {
        var config = SynthConfig()
        config.seed = 31
        config.duration = 3600
        config.benignSources = 40
        config.scanPrevalence = 0
        config.benignBehaviours = SynthConfig.namedOnlyBenign
        let flows = TrafficGenerator(config: config).generate().flows
        let model = try ScanModel.load(pathOrDefault: nil)
        func flagged(_ edit: (inout DetectionRecipe) -> Void) throws -> Int {
            var recipe = DetectionRecipe()
            edit(&recipe)
            let detection = recipe.make(model: model)
            var sources = Set<IPAddress>()
            detection.onAlert = { sources.insert($0.source) }
            for f in flows { try detection.add(f) }
            try detection.finish()
            return sources.count
        }
        let now = try flagged { _ in }
        let before = try flagged {
            $0.cnnAloneFailedShare = 0
            $0.threshold.sweepHostShare = 0
        }
        #expect(now <= 2, "\(now) of 40 busy clients flagged")
        #expect(before <= 2, "\(before) of 40 busy clients flagged without the rules")
    }

    /// The small real scans the rules must not lose: Slips' horizontal scan (10 failed hosts on port 80
    /// among its web traffic) by the sweep, and nmap's slow scan of ten top ports of a host with three
    /// open (70 % failed) by the CNN alone, through its failed ports on one host.
    @Test(.tags(.integration)) func smallRealScansAreStillFound() throws {
        let slips = try FlowhoundCLI.run(["detect", FixtureDirectory.labelled.path("slips-portscan-horizontal.conn.log")])
        try #require(slips.status == 0, "\(slips.stderr)")
        let ends = slips.stdout.split(separator: "\n").filter { $0.contains("\"phase\":\"end\"") }
        #expect(ends.count == 1 && ends[0].contains("\"source\":{\"ip\":\"10.0.2.112\"}") && ends[0].contains("\"threshold\""))

        let captures = FixtureDirectory.realTools
        let r = try FlowhoundCLI.run(["detect", captures.path("loopback-scans.argus.csv")])
        try #require(r.status == 0, "\(r.stderr)")
        let slow = r.stdout.split(separator: "\n").filter { $0.contains("\"source\":{\"ip\":\"127.0.0.27\"}") }
        #expect(slow.count == 2 && slow.allSatisfy { $0.contains("\"detectors\":[\"cnn\"]") })
        let strict = try FlowhoundCLI.run(["detect", captures.path("loopback-scans.argus.csv"), "--cnn-alone-failed-ports", "20"])
        #expect(strict.status == 0 && !strict.stdout.contains("\"source\":{\"ip\":\"127.0.0.27\"}"))
    }

    /// Busy clients captured with real tools in a network namespace (Tests/Fixtures/realtools, made by
    /// Scripts/capture-busy-clients.sh): refused DNS over TLS, dead HTTPS edges and silent STUN relays,
    /// as Argus and nfdump record them; no alert names them.
    @Test(.tags(.integration)) func capturedBusyClientsAreNotScanners() throws {
        let captures = FixtureDirectory.realTools
        for file in ["busy-clients.argus.csv", "busy-clients.nfdump.csv.gz"] {
            let r = try FlowhoundCLI.run(["eval", "detect", captures.path(file), "--truth", captures.path("busy-clients.truth.csv"), "--json"])
            try #require(r.status == 0, "\(file): \(r.stderr)")
            let e = try r.decoded(DetectionEvaluation.self)
            #expect(e.benignSources == 3 && e.falsePositives == 0 && e.unlabelledFlagged.isEmpty, "\(file): \(e.falseAlarms) \(e.unlabelledFlagged)")
        }
    }

    /// The policy: under `any`, a flag that may not stand alone needs a second; `majority` and
    /// `weighted` count it as any other.
    @Test func aFlagThatMayNotStandAloneNeedsASecond() {
        let weak = Verdict(score: 1, flagged: true, reason: "image", alone: false)
        let strong = Verdict(score: 1, flagged: true, reason: "bound")
        let quiet = Verdict.silent
        #expect(!EnsemblePolicy.any.decide([weak, quiet, quiet], weights: [1, 1, 1], weightedThreshold: 0.5))
        #expect(EnsemblePolicy.any.decide([weak, strong, quiet], weights: [1, 1, 1], weightedThreshold: 0.5))
        #expect(EnsemblePolicy.any.decide([weak, weak], weights: [1, 1], weightedThreshold: 0.5))
        #expect(EnsemblePolicy.majority.decide([weak, weak, quiet], weights: [1, 1, 1], weightedThreshold: 0.5))
    }

    /// A checkpoint written before a parameter existed was written with the value that behaves as
    /// that Flowhound did: it restores where that value is used, and is refused, naming it, elsewhere.
    @Test func checkpointsWithoutTheNewParameters() {
        var recipe = DetectionRecipe()
        recipe.detectors = [.threshold, .trw]
        let current = CheckpointConfiguration(recipe.make(model: nil))
        var older = current
        older.parameters.removeAll { $0.name == "threshold sweep host share" }
        #expect(current.difference(from: older) == "checkpoint was written with threshold sweep host share 0, this pipeline uses 0.3")
        recipe.threshold.sweepHostShare = 0
        #expect(CheckpointConfiguration(recipe.make(model: nil)).difference(from: older) == nil)
    }
}
