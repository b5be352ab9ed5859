import ActivityImage
import FlowRecords
import Foundation
import Synthesis
import TestSupport
import Testing

@testable import Detection

/// Windows no detector could flag (`ScanDetector.mayFlag`) are retired without being judged. That must
/// change nothing but the count of judgements: on real captures, a labelled excerpt, busy clients and a
/// synthetic mix of every kind, the alerts and the flagged windows are those of judging every window.
@Suite struct RetiredWindowTests {
    nonisolated(unsafe) static let model = try! ScanModel.load(pathOrDefault: nil)

    struct Run {
        var alerts: [String] = []
        var statistics = DetectionStatistics()
    }

    static func run(_ feed: (DetectionPipeline) throws -> Void, retiring: Bool, policy: EnsemblePolicy = .any) throws -> Run {
        var recipe = DetectionRecipe()
        recipe.settings.policy = policy
        let pipeline = DetectionPipeline(recipe: recipe, model: model)
        pipeline.detection!.retiresUnjudgeable = retiring && policy != .weighted
        var run = Run()
        pipeline.onAlert = { run.alerts.append($0.json(.fixed)) }
        pipeline.onDistributedAlert = { run.alerts.append($0.json(.fixed)) }
        try feed(pipeline)
        try pipeline.finish()
        run.statistics = pipeline.statistics
        return run
    }

    static func file(_ path: String) -> (DetectionPipeline) throws -> Void {
        { pipeline in
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            _ = try pipeline.read(bytes: bytes, name: path, options: ReadOptions())
        }
    }

    static let synthetic: [FlowRecord] = {
        var config = SynthConfig()
        config.seed = 13
        config.benignSources = 120
        config.duration = 3600
        config.scanPrevalence = 0.1
        return TrafficGenerator(config: config).generate().0
    }()

    nonisolated(unsafe) static let inputs: [(String, (DetectionPipeline) throws -> Void)] = [
        ("loopback nmap scans (Argus)", file(FixtureDirectory.realTools.path("loopback-scans.argus.csv"))),
        ("loopback nmap scans (nfdump)", file(FixtureDirectory.realTools.path("loopback-scans.nfdump.csv"))),
        ("busy clients (Argus)", file(FixtureDirectory.realTools.path("busy-clients.argus.csv"))),
        ("honeypot excerpt", file(FixtureDirectory.labelled.path("stratosphere-008-mixed.head120.conn.log.labeled"))),
        ("Slips horizontal scan", file(FixtureDirectory.labelled.path("slips-portscan-horizontal.conn.log"))),
        ("synthetic mix", { pipeline in for f in synthetic { try pipeline.add(f) } }),
    ]

    /// Under `any` most flags start an episode at a flow, and a source in an episode is always judged;
    /// under `majority` nothing decides at a flow, so every flag rests on `mayFlag`.
    @Test(arguments: 0..<inputs.count, [EnsemblePolicy.any, .majority])
    func retiringChangesOnlyTheJudgements(_ index: Int, policy: EnsemblePolicy) throws {
        let (name, feed) = Self.inputs[index]
        let judged = try Self.run(feed, retiring: false, policy: policy)
        let retired = try Self.run(feed, retiring: true, policy: policy)
        #expect(retired.alerts == judged.alerts, "\(name)")
        #expect(retired.statistics.flaggedWindows == judged.statistics.flaggedWindows, "\(name)")
        #expect(retired.statistics.windows <= judged.statistics.windows, "\(name)")
        #expect(!judged.alerts.isEmpty || name == "busy clients (Argus)" || policy == .majority, "\(name): the input should hold a scan")
    }

    /// Every detector's `mayFlag` holds for every window it flags, judged with nothing retired, under
    /// both policies: the bound the retiring rests on, checked window by window.
    @Test(arguments: 0..<inputs.count, [EnsemblePolicy.any, .majority])
    func everyFlaggedWindowMayBeFlagged(_ index: Int, policy: EnsemblePolicy) throws {
        let (name, feed) = Self.inputs[index]
        var recipe = DetectionRecipe()
        recipe.settings.policy = policy
        let base = recipe.make(model: Self.model)
        let record = Checked.Record()
        let detection = ScanDetection(
            settings: base.settings, detectors: base.detectors.map { Checked(inner: $0, record: record) }, distributed: base.distributed,
            allowlist: base.allowlist)
        detection.retiresUnjudgeable = false
        let pipeline = DetectionPipeline(detection: detection)
        try feed(pipeline)
        try pipeline.finish()
        #expect(record.violations.isEmpty, "\(name): \(record.violations.prefix(5))")
        #expect(record.flagged > 0 || name == "busy clients (Argus)", "\(name): some window should be flagged")
    }

    /// A detector that checks, for each window it flags, that `mayFlag` said it might.
    struct Checked: ScanDetector {
        final class Record: @unchecked Sendable {
            var violations: [String] = []
            var flagged = 0
        }
        let inner: any ScanDetector
        let record: Record
        var name: String { inner.name }
        var observesFlows: Bool { inner.observesFlows }
        func observe(_ flow: FlowRecord, _ memory: inout SourceMemory) { inner.observe(flow, &memory) }
        func restart(_ memory: inout SourceMemory) { inner.restart(&memory) }
        func judge(_ windows: [ClosedWindow]) throws -> [Verdict] {
            let verdicts = try inner.judge(windows)
            for (w, v) in zip(windows, verdicts) where v.flagged {
                record.flagged += 1
                if !inner.mayFlag(w.activity, w.memory) { record.violations.append("\(inner.name) flagged \(w.source) at \(w.windowStart)") }
            }
            return verdicts
        }
        var decidesPerFlow: Bool { inner.decidesPerFlow }
        func decide(_ step: FlowStep, _ memory: inout SourceMemory) -> Bool { inner.decide(step, &memory) }
        func windowClosed(_ memory: inout SourceMemory) { inner.windowClosed(&memory) }
        var openWindowInterval: Double? { inner.openWindowInterval }
        func worthJudgingOpen(_ activity: ActivityAccumulator, judgedTargets: Int) -> Bool {
            inner.worthJudgingOpen(activity, judgedTargets: judgedTargets)
        }
        var parameters: [(name: String, value: Double)] { inner.parameters }
        func mayFlag(_ activity: ActivityAccumulator, _ memory: SourceMemory) -> Bool { inner.mayFlag(activity, memory) }
    }

    /// A source with a flow or two is never judged: a million of them cost no judgements. Under the
    /// weighted policy, where scores add up, every window is judged as before.
    @Test func sourcesOfAFlowOrTwoAreNotJudged() throws {
        let flows = (0..<2_000).map { i in
            FlowRecord(
                start: 1_704_067_200 + Double(i), end: 1_704_067_200 + Double(i), source: IPAddress("198.\(18 + i / 65_536).\(i / 256 % 256).\(i % 256)")!,
                destination: IPAddress("10.1.0.\(i % 200 + 1)")!, sourcePort: 40_000, destinationPort: 23, transport: .tcp, outcome: .unanswered)
        }
        let feed: (DetectionPipeline) throws -> Void = { pipeline in for f in flows { try pipeline.add(f) } }
        let retired = try Self.run(feed, retiring: true)
        #expect(retired.statistics.windows == 0 && retired.alerts.allSatisfy { $0.contains("\"distributed\"") })
        let weighted = try Self.run(feed, retiring: true, policy: .weighted)
        #expect(weighted.statistics.windows == 2_000)
    }
}

/// A new source's first flow is held in a few dozen bytes until a second comes. That must change
/// nothing: alerts, statistics and checkpoints (taken mid-log, byte for byte) are those of giving every
/// source its state at once, also with sources evicted at a small cap and idle ones forgotten.
@Suite struct FirstContactTests {
    /// Detection over `flows`; with `restartAt`, the pipeline is checkpointed there and the rest goes to
    /// a new one restored from it (holding first flows or not, `restoredHolding`).
    static func run(
        _ flows: [FlowRecord], holding: Bool, maxSources: Int = 1_000_000, restartAt: Int? = nil, restoredHolding: Bool? = nil
    ) throws -> (alerts: [String], statistics: DetectionStatistics) {
        var recipe = DetectionRecipe()
        recipe.settings.maxSources = maxSources
        var alerts: [String] = []
        func make(_ holding: Bool) -> DetectionPipeline {
            let pipeline = DetectionPipeline(recipe: recipe, model: RetiredWindowTests.model)
            pipeline.detection!.holdsFirstContacts = holding
            pipeline.onAlert = { alerts.append($0.json(.fixed)) }
            pipeline.onDistributedAlert = { alerts.append($0.json(.fixed)) }
            return pipeline
        }
        var pipeline = make(holding)
        for (i, f) in flows.enumerated() {
            if i == restartAt {
                let bytes = pipeline.checkpoint()
                pipeline = make(restoredHolding ?? holding)
                try pipeline.restore(from: bytes)
            }
            try pipeline.add(f)
        }
        try pipeline.finish()
        return (alerts, pipeline.statistics)
    }

    /// Synthetic traffic with a crowd of one-flow sources (background scanning, spoofed probes), some
    /// of which come back after a sweep closed their window, or after they were forgotten.
    static let flows: [FlowRecord] = {
        var flows = RetiredWindowTests.synthetic
        let t0 = flows.first!.start
        for i in 0..<3_000 {
            let source = IPAddress("203.0.\(i / 256 % 256).\(i % 256)")!
            let t = t0 + Double(i % 3_600)
            flows.append(
                FlowRecord(
                    start: t, end: t, source: source, destination: IPAddress("10.1.0.\(i % 7 + 1)")!, sourcePort: 40_000,
                    destinationPort: UInt16(20 + i % 9), transport: .tcp, outcome: i % 5 == 0 ? .established : .unanswered))
            if i % 4 == 0 {  // back later: after its window closed, or after an idle hour
                let back = t + (i % 8 == 0 ? 900 : 4_000)
                flows.append(
                    FlowRecord(
                        start: back, end: back, source: source, destination: IPAddress("10.1.0.9")!, sourcePort: 40_001,
                        destinationPort: 22, transport: .tcp, outcome: .rejected))
            }
        }
        // Forgotten after an idle hour, then back with three failed first contacts on a port: with the
        // first, four would make the walk call them scanners; forgotten, three do not.
        for i in 0..<50 {
            let source = IPAddress("198.51.100.\(i + 1)")!, t = t0 + Double(i * 7)
            flows.append(
                FlowRecord(
                    start: t, end: t, source: source, destination: IPAddress("10.2.0.1")!, sourcePort: 40_000,
                    destinationPort: 445, transport: .tcp, outcome: .unanswered))
            for k in 0..<3 {
                let back = t + 5_000 + Double(k)
                flows.append(
                    FlowRecord(
                        start: back, end: back, source: source, destination: IPAddress("10.2.0.\(k + 2)")!, sourcePort: 40_001,
                        destinationPort: 445, transport: .tcp, outcome: .rejected))
            }
        }
        return flows.sorted { $0.start < $1.start }
    }()

    /// Straight through, at a cap that evicts, and checkpointed mid-log and restored: into a pipeline
    /// that holds first flows, or into one that does not (and gives the held sources their state).
    @Test(arguments: [1_000_000, 500])
    func holdingChangesNothing(maxSources: Int) throws {
        let plain = try Self.run(Self.flows, holding: false, maxSources: maxSources)
        #expect(!plain.alerts.isEmpty)
        if maxSources == 500 { #expect(plain.statistics.evictedSources > 0) }
        let half = Self.flows.count / 2
        for (name, held) in [
            ("held", try Self.run(Self.flows, holding: true, maxSources: maxSources)),
            ("restored holding", try Self.run(Self.flows, holding: true, maxSources: maxSources, restartAt: half)),
            ("restored not holding", try Self.run(Self.flows, holding: true, maxSources: maxSources, restartAt: half, restoredHolding: false)),
            ("restored from one not holding", try Self.run(Self.flows, holding: false, maxSources: maxSources, restartAt: half, restoredHolding: true)),
        ] {
            #expect(held.alerts == plain.alerts, "\(name)")
            let (a, b) = (held.statistics, plain.statistics)
            #expect(a.flows == b.flows && a.windows == b.windows && a.flaggedWindows == b.flaggedWindows && a.lateFlows == b.lateFlows, "\(name)")
            #expect(a.evictedSources == b.evictedSources && a.peakSources == b.peakSources, "\(name)")
        }
    }

    /// The default detectors all need several flows, so first flows are held by default; a bound of one
    /// flow (`--ports-per-host 1`) turns holding off, as a single flow could then be flagged.
    @Test func heldOnlyWhenOneFlowCannotFlag() {
        #expect(DetectionRecipe().make(model: RetiredWindowTests.model).holdsFirstContacts)
        var recipe = DetectionRecipe()
        recipe.threshold.portsPerHost = 1
        #expect(!recipe.make(model: RetiredWindowTests.model).holdsFirstContacts)
        recipe = DetectionRecipe()
        recipe.settings.policy = .weighted
        #expect(!recipe.make(model: RetiredWindowTests.model).holdsFirstContacts)
    }
}
