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
