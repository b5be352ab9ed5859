import FlowRecords
import Foundation
import Support
import Synthesis
import TestSupport
import Testing

@testable import Detection

/// Scale-out: a pipeline's state moves between processes as a checkpoint and continues alert for
/// alert, and partitions by source that receive the global time as watermarks raise the alerts one
/// pipeline over all flows would.
@Suite struct CheckpointTests {
    static let start = 1_704_067_200.0

    /// Synthetic traffic with several scanners (slow ones among them) over 90 minutes; a few flows held
    /// back so that they arrive late; and two scanners whose last probes arrive after their window
    /// closed (`straggling`).
    static let traffic: [FlowRecord] = {
        var config = SynthConfig()
        config.seed = 11
        config.start = start
        config.duration = 5400
        config.benignSources = 8
        config.scanPrevalence = 0.6
        var flows = TrafficGenerator(config: config).generate().flows
        for i in stride(from: 50, to: flows.count - 400, by: 211) { flows.insert(flows.remove(at: i), at: i + 350) }
        for (source, t0) in [("198.19.0.7", start + 1300), ("198.19.0.9", start + 3100)] {
            let (probes, stragglers) = straggling(source, at: t0)
            flows.insert(contentsOf: probes, at: flows.firstIndex { $0.start > t0 }!)
            flows.insert(contentsOf: stragglers, at: flows.firstIndex { $0.start > t0 + 900 }!)
        }
        return flows
    }()

    /// 20 failed ports at `t0`, then 10 more that start 30 s later but arrive only after the window has
    /// closed: a pipeline judges the 20 (and the 10 on their own later), unless its clock stood still.
    static func straggling(_ source: String, at t0: Double) -> (probes: [FlowRecord], stragglers: [FlowRecord]) {
        func probe(_ port: Int, _ t: Double) -> FlowRecord {
            FlowRecord(
                start: t, end: t, source: IPAddress(source)!, destination: IPAddress("10.1.0.9")!, sourcePort: 40000,
                destinationPort: UInt16(port), transport: .tcp, outcome: .rejected)
        }
        return ((1...20).map { probe($0, t0 + Double($0)) }, (21...30).map { probe($0, t0 + 10 + Double($0)) })
    }

    /// Short quiet period and idle timeout, so that episodes end, walks start over and sources are
    /// forgotten within the traffic.
    static func recipe(_ detectors: [DetectionRecipe.Detector] = [.threshold, .trw, .slow]) -> DetectionRecipe {
        var recipe = DetectionRecipe()
        recipe.detectors = detectors
        recipe.settings.quietPeriod = 900
        recipe.settings.idleTimeout = 1200
        recipe.settings.batch = 64
        return recipe
    }

    struct Run {
        var alerts: [String] = []
        var statistics = DetectionStatistics()
        /// The statistics as JSON, to compare.
        var statisticsJSON: String { jsonLine(statistics) }
        /// What the checkpoints held, to check that they covered every kind of state.
        var sawPending = false, sawEpisodes = false, sawExpiring = false, sawDue = false
    }

    /// Runs the flows through a pipeline made from `recipe`; after each flow index in `interruptions`
    /// the state moves, as bytes, into a fresh pipeline that goes on.
    static func run(
        _ recipe: DetectionRecipe, model: ScanModel? = nil, _ flows: [FlowRecord],
        interruptions: Set<Int> = []
    ) throws -> Run {
        var run = Run()
        var detection = recipe.make(model: model)
        detection.onAlert = { run.alerts.append($0.json(.fixed)) }
        for (i, flow) in flows.enumerated() {
            try detection.add(flow)
            guard interruptions.contains(i) else { continue }
            let bytes = detection.checkpoint()
            run.sawPending = run.sawPending || !detection.pending.isEmpty
            run.sawEpisodes = run.sawEpisodes || !detection.episodes.isEmpty
            run.sawExpiring = run.sawExpiring || !detection.expiryBuckets.isEmpty
            run.sawDue = run.sawDue || detection.sources.values.contains { $0.openDue }
            let fresh = recipe.make(model: model)
            fresh.onAlert = { run.alerts.append($0.json(.fixed)) }
            try fresh.restore(from: bytes)
            #expect(fresh.checkpoint() == bytes, "checkpoint after flow \(i) does not read back as the same bytes")
            detection = fresh
        }
        try detection.finish()
        run.statistics = detection.statistics
        return run
    }

    @Test func anInterruptedRunRaisesTheSameAlertsInTheSameOrder() throws {
        let flows = Self.traffic
        let whole = try Self.run(Self.recipe(), flows)
        #expect(whole.alerts.count >= 5)
        #expect(whole.statistics.lateFlows > 0)
        // Some just after a window boundary (windows moved, not judged yet), some anywhere.
        var points = Set([flows.count / 3, flows.count * 2 / 3, flows.count - 1])
        for k in [2, 4, 6, 8] { points.insert(flows.firstIndex { $0.start >= Self.start + Double(k * 600 + 20) }!) }
        let interrupted = try Self.run(Self.recipe(), flows, interruptions: points)
        #expect(interrupted.alerts == whole.alerts)
        #expect(interrupted.statisticsJSON == whole.statisticsJSON)
        #expect(interrupted.sawPending && interrupted.sawEpisodes && interrupted.sawExpiring)
    }

    @Test func anInterruptedRunWithTheCNNRaisesTheSameAlerts() throws {
        let flows = Self.traffic
        let recipe = Self.recipe([.threshold, .trw, .cnn])
        let model = try ScanModel.load(pathOrDefault: nil)
        let whole = try Self.run(recipe, model: model, flows)
        #expect(whole.alerts.contains { $0.contains("\"cnn\":\"activity image scored") })
        #expect(whole.statistics.openWindows > 0)
        var points = Set([flows.count / 5, flows.count / 2, flows.count * 3 / 4, flows.count - 1])
        // Between open windows becoming due and the minute they are judged at.
        for k in stride(from: 3, to: 90, by: 7) { points.insert(flows.firstIndex { $0.start >= Self.start + Double(k * 60 + 45) }!) }
        let interrupted = try Self.run(recipe, model: model, flows, interruptions: points)
        #expect(interrupted.sawDue)
        #expect(interrupted.alerts == whole.alerts)
        #expect(interrupted.statisticsJSON == whole.statisticsJSON)
    }

    /// Equal state gives equal bytes, whatever order the tables were filled in.
    @Test func equalStatesGiveEqualBytes() throws {
        let flows = Array(Self.traffic.prefix(Self.traffic.count / 2))
        let a = Self.recipe().make(model: nil), b = Self.recipe().make(model: nil)
        for f in flows { try a.add(f) }
        for f in flows { try b.add(f) }
        let bytes = a.checkpoint()
        #expect(b.checkpoint() == bytes)
        // A restored pipeline's tables were filled in sorted order, not in the order flows came.
        let c = Self.recipe().make(model: nil)
        try c.restore(from: bytes)
        #expect(c.checkpoint() == bytes)
        #expect(c.sources.count == a.sources.count && !a.sources.isEmpty)
    }

    /// One of four partitions, by a hash of the address that is the same in every process.
    static func partition(of source: IPAddress) -> Int {
        Int(((source.high ^ source.low) &* 0x9E37_79B9_7F4A_7C15) >> 62)
    }

    /// Runs `flows` through four partitions by source. With `watermarks`, each sees the start time of
    /// every flow another one counts (`every`) or only of those that pass a minute (every window
    /// boundary plus lateness is one).
    static func partitioned(_ flows: [FlowRecord], watermarks: Watermarks) throws -> (alerts: [String], statistics: [DetectionStatistics]) {
        let partitions = (0..<4).map { _ in Self.recipe().make(model: nil) }
        var alerts: [String] = []
        for p in partitions { p.onAlert = { alerts.append($0.json(.fixed)) } }
        var clock = -Double.infinity
        for flow in flows {
            let mine = Self.partition(of: flow.source)
            // ICMP errors do not move a pipeline's clock, so they are no watermarks.
            if !flow.isICMPError && flow.start > clock {
                let crossing = clock == -.infinity || (flow.start / 60).rounded(.down) > (clock / 60).rounded(.down)
                if watermarks == .every || watermarks == .minutes && crossing {
                    for (i, p) in partitions.enumerated() where i != mine { try p.advance(to: flow.start) }
                }
                clock = flow.start
            }
            try partitions[mine].add(flow)
        }
        for p in partitions { try p.finish() }
        return (alerts.sorted(), partitions.map(\.statistics))
    }

    enum Watermarks { case none, every, minutes }

    /// Partitions by a stable hash of the source, each seeing its own flows and the others' start times
    /// as watermarks, raise the same alerts as one pipeline over everything, and judge the same windows.
    @Test(arguments: [Watermarks.every, .minutes])
    func partitionsWithWatermarksRaiseTheAlertsOfOnePipeline(watermarks: Watermarks) throws {
        let flows = Self.traffic
        let whole = try Self.run(Self.recipe(), flows)
        let (alerts, statistics) = try Self.partitioned(flows, watermarks: watermarks)
        #expect(statistics.allSatisfy { $0.alerts > 0 })
        #expect(alerts.count == whole.alerts.count)
        #expect(alerts == whole.alerts.sorted())
        let w = whole.statistics
        #expect(statistics.reduce(0) { $0 + $1.flows } == w.flows)
        #expect(statistics.reduce(0) { $0 + $1.windows } == w.windows)
        #expect(statistics.reduce(0) { $0 + $1.flaggedWindows } == w.flaggedWindows)
        #expect(statistics.reduce(0) { $0 + $1.lateFlows } == w.lateFlows)
    }

    /// A partition whose only other flows come from another partition: without watermarks its clock
    /// stands still, so a window that one pipeline judged with 20 ports takes the stragglers in and is
    /// judged with 30.
    @Test func aPartitionWhoseClockStandsStillNeedsWatermarks() throws {
        let (probes, stragglers) = Self.straggling("198.19.0.7", at: Self.start + 100)
        let scanner = IPAddress("198.19.0.7")!
        let client = (1...50).lazy.map { IPAddress("10.2.9.\($0)")! }.first { Self.partition(of: $0) != Self.partition(of: scanner) }!
        let web = (0..<200).map { i in
            FlowRecord(
                start: Self.start + Double(i) * 10, end: Self.start + Double(i) * 10, source: client,
                destination: IPAddress("203.0.113.5")!, sourcePort: 40000, destinationPort: 443, transport: .tcp, outcome: .established)
        }
        var flows = (probes + web).sorted { $0.start < $1.start }
        flows.insert(contentsOf: stragglers, at: flows.firstIndex { $0.start > Self.start + 1000 }!)
        let whole = try Self.run(Self.recipe(), flows)
        // One episode: a start alert at the flow that crossed the bound, and an end alert.
        let ends = whole.alerts.filter { $0.contains("\"phase\":\"end\"") }
        #expect(whole.alerts.count == 2 && ends.count == 1 && ends[0].contains("\"distinct_ports\":20,"))
        #expect(try Self.partitioned(flows, watermarks: .every).alerts == whole.alerts)
        #expect(try Self.partitioned(flows, watermarks: .minutes).alerts == whole.alerts)
        let stood = try Self.partitioned(flows, watermarks: .none).alerts
        let stoodEnds = stood.filter { $0.contains("\"phase\":\"end\"") }
        #expect(stoodEnds.count == 1 && stoodEnds[0].contains("\"distinct_ports\":30,"))
    }

    static func halfway() throws -> (detection: ScanDetection, bytes: [UInt8]) {
        let detection = Self.recipe().make(model: nil)
        for f in Self.traffic.prefix(Self.traffic.count / 2) { try detection.add(f) }
        return (detection, detection.checkpoint())
    }

    /// Restores `bytes` into `detection`: "restored", or the error, after checking that a failed
    /// restore left the pipeline as it was.
    static func attempt(_ bytes: [UInt8], into detection: ScanDetection, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        let before = detection.checkpoint()
        do {
            try detection.restore(from: bytes)
            return "restored"
        } catch {
            #expect(detection.checkpoint() == before, "a failed restore changed the pipeline", sourceLocation: sourceLocation)
            return "\(error)"
        }
    }

    @Test func aPipelineConfiguredOtherwiseRefusesNamingTheDifference() throws {
        let (_, bytes) = try Self.halfway()
        func mismatch(_ edit: (inout DetectionRecipe) -> Void) -> String {
            var recipe = Self.recipe()
            edit(&recipe)
            let other = recipe.make(model: nil)
            try? other.add(Self.traffic[0])
            return Self.attempt(bytes, into: other)
        }
        #expect(mismatch { $0.window = 300 } == "checkpoint was written with window 600 s, this pipeline uses 300 s")
        #expect(mismatch { $0.detectors = [.threshold] } == "checkpoint was written with detectors threshold+trw+slow, this pipeline uses threshold")
        #expect(
            mismatch { $0.detectors = [.trw, .threshold, .slow] }
                == "checkpoint was written with detectors threshold+trw+slow, this pipeline uses trw+threshold+slow")
        #expect(mismatch { $0.settings.lateness = 30 } == "checkpoint was written with lateness 60 s, this pipeline uses 30 s")
        #expect(mismatch { $0.settings.quietPeriod = 1800 } == "checkpoint was written with quiet period 900 s, this pipeline uses 1800 s")
        #expect(mismatch { $0.settings.idleTimeout = 1200.5 } == "checkpoint was written with idle timeout 1200 s, this pipeline uses 1200.5 s")
        #expect(mismatch { $0.settings.maxSources = 5000 } == "checkpoint was written with maximum sources 1000000, this pipeline uses 5000")
        #expect(mismatch { $0.settings.policy = .weighted } == "checkpoint was written with policy any, this pipeline uses weighted")
        #expect(
            mismatch { $0.settings.weights = ["trw": 2] }
                == "checkpoint was written with weights threshold=1, trw=1, slow=1, this pipeline uses threshold=1, trw=2, slow=1")
        #expect(mismatch { $0.settings.weightedThreshold = 0.7 } == "checkpoint was written with weighted threshold 0.5, this pipeline uses 0.7")
        #expect(mismatch { $0.settings.batch = 1024 } == "checkpoint was written with batch 64, this pipeline uses 1024")
        #expect(mismatch { $0.threshold.portsPerHost = 20 } == "checkpoint was written with threshold ports per host 15, this pipeline uses 20")
        #expect(mismatch { $0.trw.theta0 = 0.75 } == "checkpoint was written with trw theta0 0.8, this pipeline uses 0.75")
        // Weights of detectors that do not run change nothing; neither does the allowlist.
        #expect(mismatch { $0.settings.weights = ["cnn": 3] } == "restored")
        #expect(mismatch { $0.allowlist.insert("192.0.2.0/24") } == "restored")
    }

    @Test func damageIsAClearErrorAndLeavesThePipelineAsItWas() throws {
        let (detection, bytes) = try Self.halfway()
        #expect(bytes.count > 2000)
        let target = Self.recipe().make(model: nil)
        for f in Self.traffic.prefix(100) { try target.add(f) }
        var flipped = bytes
        flipped[0] ^= 0x20
        #expect(Self.attempt(flipped, into: target) == "not a Flowhound detection checkpoint: it starts with 66 48 43 4b, not FHCK")
        var version = bytes
        version[4] = 9
        #expect(Self.attempt(version, into: target) == "checkpoint format version 9 is not one this Flowhound reads (it reads versions 1 to 8)")
        #expect(Self.attempt(bytes + [0, 0], into: target) == "2 bytes after the end of the checkpoint")
        #expect(Self.attempt([], into: target) == "cut short reading the checkpoint's magic at byte 0 of 0")
        for cut in [3, 4, 5, 9, 40, 120, bytes.count / 3, bytes.count / 2, bytes.count - 9, bytes.count - 1] {
            let message = Self.attempt(Array(bytes.prefix(cut)), into: target)
            #expect(message.contains("cut short") || message.contains("bytes left can hold"), "cut at \(cut): \(message)")
        }
        // Any byte changed: refused, or restored into a pipeline that finishes without trapping.
        var state: UInt64 = 0x5EED
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        for _ in 0..<400 {
            var damaged = bytes
            damaged[Int(next() % UInt64(damaged.count))] ^= UInt8(next() % 255 + 1)
            let fresh = Self.recipe().make(model: nil)
            fresh.onAlert = { _ = $0.json(.fixed) }
            if (try? fresh.restore(from: damaged)) != nil {
                for f in Self.traffic.suffix(200) { try fresh.add(f) }
                try fresh.finish()
            }
        }
        #expect(detection.checkpoint() == bytes)
    }

    /// Sources last seen at the same moment are evicted by address, not in hash-table order, so that
    /// a restored pipeline (whose tables were filled in another order) evicts the same ones.
    @Test func evictionTiesGoByAddress() throws {
        var settings = DetectionSettings()
        settings.maxSources = 20
        let detection = ScanDetection(settings: settings, detectors: [ThresholdDetector(), RandomWalkDetector()])
        let sources = (1...21).map { IPAddress("10.8.0.\($0 * 7 % 23 + 1)")! }
        for s in sources {
            try detection.add(
                FlowRecord(
                    start: 100, end: 100, source: s, destination: IPAddress("10.1.0.5")!, sourcePort: 40000,
                    destinationPort: 80, transport: .tcp, outcome: .established))
        }
        // The 21st source evicts a tenth of 20, the two lowest addresses among the first 20.
        let expected = Set(sources.prefix(20).sorted().dropFirst(2) + [sources[20]])
        // Sources with state or a held first flow alike.
        #expect(Set(detection.sources.keys).union(detection.firstContacts.keys) == expected)
    }
}
