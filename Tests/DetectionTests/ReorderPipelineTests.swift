import FlowRecords
import Foundation
import TestSupport
import Testing

@testable import Detection

/// `DetectionPipeline` with a reorder span: detection sees the attempts in start order across logs,
/// `inspect` as they arrive; watermarks release what they make safe; the late-flow warning comes once.
@Suite struct ReorderPipelineTests {
    private func flow(_ src: String, _ dst: String, _ port: UInt16, _ t: Double, _ outcome: Outcome = .rejected) -> FlowRecord {
        FlowRecord(
            start: t, end: t, source: IPAddress(src)!, destination: IPAddress(dst)!, sourcePort: 40000,
            destinationPort: port, transport: .tcp, outcome: outcome)
    }

    private func recipe(reorder: Double = 0) -> DetectionRecipe {
        var recipe = DetectionRecipe()
        recipe.detectors = [.threshold, .trw]
        recipe.reorder = reorder
        return recipe
    }

    /// Two hours of attempts: a vertical scan, a horizontal one, a slow one, and benign sources
    /// whose connections succeed; distinct start times, in start order.
    private func sortedFlows() -> [FlowRecord] {
        var flows: [FlowRecord] = []
        for i in 0..<60 { flows.append(flow("10.9.0.1", "10.1.0.5", UInt16(1000 + i), 100 + Double(i) * 30.5)) }
        for i in 0..<40 { flows.append(flow("10.9.0.2", "10.1.1.\(i + 1)", 445, 2000 + Double(i) * 7.25, .unanswered)) }
        for i in 0..<30 { flows.append(flow("10.9.0.3", "10.1.2.\(i + 1)", 22, 300 + Double(i) * 211.125)) }
        for b in 0..<20 {
            for i in 0..<12 { flows.append(flow("10.8.0.\(b + 1)", "10.1.3.\(i % 3 + 1)", 443, Double(b) * 3.0625 + Double(i) * 577.5, .established)) }
        }
        return flows.sorted { $0.start < $1.start }
    }

    /// Every flow through a pipeline as one log: the alerts (JSON) and the statistics.
    private func detect(_ flows: [FlowRecord], reorder: Double = 0) throws -> (alerts: [String], statistics: DetectionStatistics) {
        let pipeline = DetectionPipeline(recipe: recipe(reorder: reorder), model: nil)
        var alerts: [String] = []
        pipeline.onAlert = { alerts.append($0.json(.fixed)) }
        pipeline.beginLog(.jsonl)
        for f in flows { try pipeline.add(f) }
        try pipeline.endLog()
        try pipeline.finish()
        return (alerts, pipeline.statistics)
    }

    /// A deterministic shuffle (a linear congruential generator).
    private func shuffled(_ flows: [FlowRecord], seed: UInt64) -> [FlowRecord] {
        var state = seed
        var out = flows
        for i in stride(from: out.count - 1, to: 0, by: -1) {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            out.swapAt(i, Int((state >> 33) % UInt64(i + 1)))
        }
        return out
    }

    @Test func reorderingIsOffUnlessAsked() throws {
        #expect(DetectionRecipe().reorder == 0)
        let pipeline = DetectionPipeline(recipe: recipe(), model: nil)
        #expect(pipeline.reorder == 0)
        try pipeline.add(flow("10.9.0.1", "10.1.0.5", 80, 100))
        #expect(pipeline.held == 0 && pipeline.statistics.flows == 1)
    }

    /// Shuffled input changes the alerts; a reorder span longer than its disorder gives back exactly
    /// the sorted input's alerts and statistics, with no late flow.
    @Test func aLongEnoughSpanGivesTheSortedInputsAlerts() throws {
        let sorted = sortedFlows()
        let expected = try detect(sorted)
        #expect(expected.alerts.count == 6 && expected.statistics.lateFlows == 0)  // three episodes, each a start and an end
        for seed in [1, 2, 3] as [UInt64] {
            let mixed = shuffled(sorted, seed: seed)
            let plain = try detect(mixed)
            #expect(plain.statistics.lateFlows > 0)
            let reordered = try detect(mixed, reorder: 8000)
            #expect(reordered.alerts == expected.alerts)
            #expect(reordered.statistics.lateFlows == 0 && reordered.statistics.windows == expected.statistics.windows)
            #expect(reordered.statistics.flaggedWindows == expected.statistics.flaggedWindows)
        }
    }

    /// `inspect` sees attempts as they arrive, detection in start order.
    @Test func inspectSeesArrivalOrder() throws {
        let pipeline = DetectionPipeline(recipe: recipe(reorder: 60), model: nil)
        var seen: [Double] = []
        pipeline.inspect = { seen.append($0.start) }
        for t in [30.0, 10, 20] { try pipeline.add(flow("10.9.0.1", "10.1.0.5", 80, t)) }
        #expect(seen == [30, 10, 20] && pipeline.held == 3 && pipeline.statistics.flows == 0)
        #expect(pipeline.largestLag == 20)
        try pipeline.finish()
        #expect(pipeline.held == 0 && pipeline.statistics.flows == 3 && pipeline.statistics.lateFlows == 0)
    }

    /// Logs may overlap in time: the end of one does not release what is held, so the next log's
    /// earlier flows still go before it.
    @Test func theBufferSpansLogs() throws {
        let sorted = sortedFlows()
        let expected = try detect(sorted)
        let first = sorted.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        let second = sorted.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        let pipeline = DetectionPipeline(recipe: recipe(reorder: 8000), model: nil)
        var alerts: [String] = []
        pipeline.onAlert = { alerts.append($0.json(.fixed)) }
        for log in [first, second] {
            pipeline.beginLog(.jsonl)
            for f in log { try pipeline.add(f) }
            try pipeline.endLog()
            #expect(pipeline.held > 0)
        }
        try pipeline.finish()
        #expect(alerts == expected.alerts && pipeline.statistics.lateFlows == 0)
    }

    /// A watermark releases the attempts it makes safe, and moves detection's clock only as far as
    /// the attempts still held allow.
    @Test func aWatermarkReleasesWhatItMakesSafe() throws {
        let pipeline = DetectionPipeline(recipe: recipe(reorder: 100), model: nil)
        // The judgements show when windows close; these two, a flow each, would be retired unjudged.
        pipeline.detection!.retiresUnjudgeable = false
        try pipeline.add(flow("10.9.0.1", "10.1.0.5", 80, 1150))  // window 600-1200
        try pipeline.add(flow("10.9.0.1", "10.1.0.5", 81, 1240))  // window 1200-1800
        try pipeline.advance(to: 1250)
        #expect(pipeline.held == 2)
        try pipeline.advance(to: 1320)
        #expect(pipeline.held == 1 && pipeline.statistics.flows == 1)
        // Detection's clock is at 1220, not 1320: the first window closes only at 1260 (its end plus
        // the lateness), so the flow held at 1240 could still have counted in it.
        #expect(pipeline.statistics.windows == 0)
        try pipeline.advance(to: 1361)
        #expect(pipeline.held == 0 && pipeline.statistics.flows == 2)
        try pipeline.finish()
        #expect(pipeline.statistics.flows == 2 && pipeline.statistics.windows == 2 && pipeline.statistics.lateFlows == 0)
    }

    /// More than 1 % of the flows, and at least 100, late: reported once, with what is known.
    @Test func lateFlowsAreReportedOnce() throws {
        let pipeline = DetectionPipeline(recipe: recipe(), model: nil)
        var reports: [DetectionPipeline.LateFlows] = []
        pipeline.onLateFlows = { reports.append($0) }
        for i in 0..<10_000 { try pipeline.add(flow("10.9.0.1", "10.1.0.5", 80, 1000 + Double(i) * 0.01, .established)) }
        for _ in 0..<99 { try pipeline.add(flow("10.9.0.1", "10.1.0.5", 80, 0, .established)) }
        #expect(pipeline.statistics.lateFlows == 99 && reports.isEmpty)  // fewer than 100
        try pipeline.add(flow("10.9.0.1", "10.1.0.5", 80, 0, .established))
        #expect(reports.isEmpty)  // 100 of 10,100: not more than 1 %
        try pipeline.add(flow("10.9.0.1", "10.1.0.5", 80, 0, .established))
        try pipeline.add(flow("10.9.0.1", "10.1.0.5", 80, 0, .established))
        #expect(reports.count == 1)
        #expect(reports.first?.late == 102 && reports.first?.flows == 10_102 && reports.first?.reorder == 0)
        #expect(abs((reports.first?.largestLag ?? 0) - (1000 + 9999 * 0.01)) < 1e-6)
        for _ in 0..<500 { try pipeline.add(flow("10.9.0.1", "10.1.0.5", 80, 0, .established)) }
        try pipeline.finish()
        #expect(reports.count == 1)
    }

    /// A full buffer releases its oldest attempts early, which detection can find late; the report
    /// says so.
    @Test func aFullBufferIsReported() throws {
        var reports: [DetectionPipeline.LateFlows] = []
        let pipeline = DetectionPipeline(detection: recipe().make(model: nil), reorder: 7200, reorderLimit: 10)
        pipeline.onLateFlows = { reports.append($0) }
        // Descending starts, each within the span of the first: all would wait, ten are held.
        for i in 0..<1000 { try pipeline.add(flow("10.9.0.1", "10.1.0.5", 80, 7000 - Double(i) * 7, .established)) }
        #expect(pipeline.held == 10 && pipeline.lateFlows.releasedEarly == 990)
        try pipeline.finish()
        #expect(reports.count == 1 && reports.first!.releasedEarly > 0)
    }
}
