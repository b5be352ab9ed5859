import FlowRecords
import Foundation
import Synthesis
import TestSupport
import Testing

@testable import Detection

/// The destination-centric detector: a host probed by many sources, each too small to alert alone.
@Suite struct DistributedScanTests {
    static let start = 1_704_067_200.0
    static let victim = IPAddress("10.1.0.5")!

    static func attempt(
        _ source: String, _ port: Int, at t: Double, to host: IPAddress = victim, _ outcome: Outcome = .unanswered
    ) -> FlowRecord {
        FlowRecord(
            start: start + t, end: start + t, source: IPAddress(source)!, destination: host, sourcePort: 50000,
            destinationPort: UInt16(port), transport: .tcp, outcome: outcome)
    }

    /// `count` sources, one every `spacing` seconds from `t0`, each with two failed probes on ports
    /// from a list of eight.
    static func background(_ count: Int, from t0: Double = 0, spacing: Double = 30, host: IPAddress = victim) -> [FlowRecord] {
        let ports = [23, 445, 22, 80, 3389, 5060, 1433, 8080]
        var flows: [FlowRecord] = []
        for i in 0..<count {
            let source = "198.51.100.\(i + 1)", t: Double = t0 + Double(i) * spacing
            flows.append(attempt(source, ports[i % 8], at: t, to: host))
            flows.append(attempt(source, ports[(i + 3) % 8], at: t + 2, to: host))
        }
        return flows
    }

    static func detection(_ edit: (inout DetectionRecipe) -> Void = { _ in }) -> DetectionRecipe {
        var recipe = DetectionRecipe()
        recipe.detectors = [.threshold, .trw, .slow, .distributed]
        edit(&recipe)
        return recipe
    }

    struct Run {
        var scans: [ScanAlert] = []
        var distributed: [DistributedScanAlert] = []
        var statistics = DetectionStatistics()
    }

    static func run(_ flows: [FlowRecord], _ recipe: DetectionRecipe = detection()) throws -> Run {
        var run = Run()
        let d = recipe.make(model: nil)
        d.onAlert = { run.scans.append($0) }
        d.onDistributedAlert = { run.distributed.append($0) }
        for f in flows.sorted(by: { $0.start < $1.start }) { try d.add(f) }
        try d.finish()
        run.statistics = d.statistics
        return run
    }

    /// 60 sources, two probes each: one episode of the host, started at the probe that brought in the
    /// 20th source, naming all 60; no source is alerted alone.
    @Test func manySmallSourcesMakeOneEpisodeOfTheHost() throws {
        let r = try Self.run(Self.background(60))
        #expect(r.scans.isEmpty, "\(r.scans.map(\.explanation))")
        #expect(r.distributed.map(\.phase) == [.start, .end])
        let start = r.distributed[0], end = r.distributed[1]
        #expect(start.target == Self.victim && start.sources.count == 20)
        // The 20th source's first probe, 19 × 30 s in.
        #expect(start.detectedAt == Self.start + 19 * 30)
        #expect(end.sources.count == 60 && end.failedFlows == 120 && end.ports == [22, 23, 80, 445, 1433, 3389, 5060, 8080])
        #expect(end.episodeID == start.episodeID && end.eventID == start.episodeID + "-end")
        #expect(!end.sourcesTruncated && end.firstSeen == Self.start && end.lastSeen == Self.start + 59 * 30 + 2)
        #expect(r.statistics.distributedStartAlerts == 1 && r.statistics.distributedAlerts == 1 && r.statistics.alerts == 0)

        let json = end.json(.fixed)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["source"] == nil)
        #expect((object["destination"] as? [String: Any])?["ip"] as? String == "10.1.0.5")
        let f = try #require(object["flowhound"] as? [String: Any])
        #expect(f["scan_type"] as? String == "distributed" && f["distinct_sources"] as? Int == 60 && f["distinct_ports"] as? Int == 8)
        #expect((f["top_sources"] as? [Any])?.count == DistributedScanAlert.topSources)
        #expect(((object["related"] as? [String: Any])?["ip"] as? [String])?.first == "10.1.0.5")
        #expect(end.explanation.hasPrefix("10.1.0.5 was probed by 60 sources on 8 ports (22-23,80,445,1433,3389,5060 (+1 more)) in 1772s, 120 failed attempts"))
    }

    /// What is not a distributed scan: a host that is down (many clients fail on its one port), a busy
    /// server (many clients, answered), and sources too spread out for the horizon.
    @Test func aDeadServiceABusyServerAndThinFailuresAreNot() throws {
        let down = (0..<80).map { Self.attempt("10.2.0.\($0 + 1)", 443, at: Double($0) * 5) }
        let busy = (0..<200).map { Self.attempt("10.2.1.\($0 % 250 + 1)", [80, 443, 22, 8080, 25, 993][$0 % 6], at: Double($0) * 3, .established) }
        // One source every 4 minutes: 15 within any hour.
        let thin = Self.background(40, spacing: 240)
        for flows in [down, busy, thin] {
            let r = try Self.run(flows)
            #expect(r.distributed.isEmpty, "\(r.distributed.map(\.explanation))")
        }
        // A longer horizon takes the thin ones in.
        let longer = try Self.run(thin, Self.detection { $0.distributed.horizon = 3 * 3600 })
        #expect(longer.distributed.map(\.phase) == [.start, .end])
        // Without the detector, nothing.
        #expect(try Self.run(Self.background(60), Self.detection { $0.detectors = [.threshold, .trw, .slow] }).distributed.isEmpty)
    }

    /// Allowlisted sources are not counted; a host quiet for the quiet period ends its episode, and a
    /// later wave is a new one.
    @Test func allowlistAndQuietPeriod() throws {
        var allowed = CIDRSet()
        _ = allowed.insert("198.51.100.0/27")  // sources 1 to 31
        let silenced = try Self.run(Self.background(45), Self.detection { $0.allowlist = allowed })
        #expect(silenced.distributed.isEmpty)

        let waves = Self.background(30) + Self.background(30, from: 4 * 3600)
        let r = try Self.run(waves)
        #expect(r.distributed.map(\.phase) == [.start, .end, .start, .end])
        #expect(r.distributed[1].lastSeen < r.distributed[2].detectedAt && r.distributed[1].episodeID != r.distributed[3].episodeID)
        // The first ended in the log, once quiet for the quiet period, before the second started.
        #expect(r.distributed[1].sources.count == 30 && r.distributed[3].sources.count == 30)
    }

    /// With `--updates`, an episode that goes on reports its totals so far.
    @Test func updatesWhileTheEpisodeGoesOn() throws {
        let r = try Self.run(Self.background(120), Self.detection { $0.settings.updateInterval = 600 })
        let phases = r.distributed.map(\.phase)
        #expect(phases.first == .start && phases.last == .end && phases.filter { $0 == .update }.count >= 3)
        let updates = r.distributed.filter { $0.phase == .update }
        #expect(updates.map(\.update) == Array(1...updates.count))
        #expect(zip(updates, updates.dropFirst()).allSatisfy { $0.sources.count < $1.sources.count })
    }

    /// Memory is bounded whatever arrives: hosts watched at most `maxTargets`, the oldest dropped and
    /// counted; an episode names at most `maximumEpisodeSources` sources and counts the rest.
    @Test func memoryIsBounded() throws {
        var flows: [FlowRecord] = []
        for i in 0..<5000 {
            flows.append(Self.attempt("198.51.100.7", 80, at: Double(i) * 0.1, to: IPAddress("10.9.\(i / 250).\(i % 250 + 1)")!))
        }
        let recipe = Self.detection { $0.distributed.maxTargets = 100 }
        let d = recipe.make(model: nil)
        var most = 0, held = 0
        for f in flows {
            try d.add(f)
            most = max(most, d.targets.count + d.heldTargets.count)
            held = max(held, d.heldTargets.count)
        }
        #expect(most <= 100 && d.statistics.evictedTargets >= 4900)
        // Each host here is probed once: held alone, never given a state.
        #expect(held > 0 && d.targets.isEmpty)

        let crowd = (0..<(DistributedScanDetector.maximumEpisodeSources + 500)).map { i in
            Self.attempt("100.\(64 + i / 65536).\(i / 256 % 256).\(i % 256)", [23, 445, 22, 80, 3389][i % 5], at: Double(i) * 0.2)
        }
        let r = try Self.run(crowd)
        let end = try #require(r.distributed.last)
        #expect(end.sources.count == DistributedScanDetector.maximumEpisodeSources && end.sourcesTruncated)
        #expect(end.failedFlows == crowd.count)
        #expect(end.json(.fixed).contains("\"sources_truncated\":true"))
    }

    /// A held attempt is the state a host would have had after it: the same state, and the same
    /// state back from it; a state of more than one attempt has no held form.
    @Test func aHeldAttemptIsTheStateItStandsFor() throws {
        let d = DistributedScanDetector()
        let first = Self.attempt("198.51.100.7", 445, at: 10)
        var state = TargetState(at: first.start)
        #expect(state.add(first, d) == false)
        let held = HeldProbe(first)
        #expect(held.state == state && HeldProbe(state) == held)
        _ = state.add(Self.attempt("198.51.100.8", 445, at: 20), d)
        #expect(HeldProbe(state) == nil)
        var one = DistributedScanDetector()
        one.sources = 1
        one.ports = 1
        #expect(d.holdsFirstProbes && !one.holdsFirstProbes)
        // With both bounds at 1 one attempt is a scan of its host: nothing is held, the episode starts
        // at the first attempt, and a checkpoint taken then restores into the same watch.
        let recipe = Self.detection {
            $0.distributed.sources = 1
            $0.distributed.ports = 1
        }
        let pipeline = recipe.make(model: nil)
        var starts: [DistributedScanAlert] = []
        pipeline.onDistributedAlert = { if $0.phase == .start { starts.append($0) } }
        try pipeline.add(first)
        #expect(starts.count == 1 && starts[0].detectedAt == first.start && pipeline.heldTargets.isEmpty)
        let fresh = recipe.make(model: nil)
        try fresh.restore(from: pipeline.checkpoint())
        #expect(fresh.checkpoint() == pipeline.checkpoint() && fresh.heldTargets.isEmpty)
    }

    /// A checkpoint carries the watched hosts and open episodes: an interrupted run raises the same
    /// alerts; a checkpoint without the detector does not restore into a pipeline with it.
    @Test func checkpointsCarryTheWatchAndTheEpisodes() throws {
        let flows = (Self.background(50) + Self.background(50, from: 5000, host: IPAddress("10.1.0.6")!)).sorted { $0.start < $1.start }
        var sawHeld = false
        func alerts(interruptions: Set<Int>) throws -> [String] {
            var lines: [String] = []
            var d = Self.detection().make(model: nil)
            d.onDistributedAlert = { lines.append($0.json(.fixed)) }
            for (i, f) in flows.enumerated() {
                try d.add(f)
                guard interruptions.contains(i) else { continue }
                sawHeld = sawHeld || !d.heldTargets.isEmpty
                let bytes = d.checkpoint()
                let fresh = Self.detection().make(model: nil)
                fresh.onDistributedAlert = { lines.append($0.json(.fixed)) }
                try fresh.restore(from: bytes)
                #expect(fresh.checkpoint() == bytes)
                d = fresh
            }
            try d.finish()
            return lines
        }
        let whole = try alerts(interruptions: [])
        #expect(whole.count == 4)
        // Before the bound (hosts watched), inside each episode, between them.
        // Before the bound (hosts watched), inside each episode, between them, and just after the
        // second host's first attempt (held alone, given its state in the checkpoint, held again).
        let second = flows.firstIndex { $0.destination == IPAddress("10.1.0.6")! }!
        let interrupted = try alerts(interruptions: [0, 10, 30, 60, 99, second, 120, 150, 199])
        #expect(interrupted == whole && sawHeld)

        let without = Self.detection { $0.detectors = [.threshold, .trw, .slow] }.make(model: nil)
        for f in flows.prefix(20) { try without.add(f) }
        let with = Self.detection().make(model: nil)
        #expect(throws: CheckpointMismatchError.self) { try with.restore(from: without.checkpoint()) }
        let other = Self.detection { $0.distributed.sources = 30 }.make(model: nil)
        #expect(throws: CheckpointMismatchError("checkpoint was written with distributed sources 20, this pipeline uses 30")) {
            try other.restore(from: with.checkpoint())
        }
    }

    /// The synthetic kind `background` (120 sources, 1–5 probes each) is flagged as one host's
    /// distributed scan; it is generated only when named.
    @Test func syntheticBackgroundScanning() throws {
        var config = SynthConfig()
        config.seed = 3
        config.benignSources = 60
        config.scanPrevalence = 0.02
        config.scanBehaviours = [BackgroundScanning()]
        let (flows, truth) = TrafficGenerator(config: config).generate()
        let scanners = Set(truth.filter { $0.label == .scan }.map(\.source))
        #expect(scanners.count == 120)
        #expect(!SynthConfig.allScans.contains { $0.kind == "background" })
        let r = try Self.run(flows)
        let ends = r.distributed.filter { $0.phase == .end }
        try #require(ends.count == 1)
        let named = Set(ends[0].sources.map(\.address))
        #expect(named.isSubset(of: scanners) && named.count >= 110)
    }

    /// The real honeypot excerpt (Stratosphere 008, its first 120 records): the Internet's probes of
    /// 147.32.81.167 from 47 sources are one distributed scan of it, with no benign source named.
    @Test(.tags(.integration)) func theHoneypotExcerptIsOneDistributedScan() throws {
        let path = FixtureDirectory.labelled.path("stratosphere-008-mixed.head120.conn.log.labeled")
        let r = try FlowhoundCLI.run(["detect", path, "--detectors", "threshold,trw,slow,distributed"])
        try #require(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").filter { $0.contains("\"scan_type\":\"distributed\"") }
        #expect(lines.count == 2 && lines[1].contains("\"phase\":\"end\""))
        #expect(lines.allSatisfy { $0.contains("\"destination\":{\"ip\":\"147.32.81.167\"}") })
        #expect(r.stderr.contains("1 distributed scan of a host"))

        let e = try FlowhoundCLI.run(["eval", "detect", path, "--scan-label", "External-Attack-to-Device", "--json"])
        try #require(e.status == 0, "\(e.stderr)")
        let evaluation = try e.decoded(DetectionEvaluation.self)
        #expect(evaluation.distributedTargets.map(\.target) == ["147.32.81.167"])
        #expect(evaluation.benignInDistributed.isEmpty && evaluation.scannersOnlyInDistributed + evaluation.truePositives >= 40)
    }
}
