import FlowRecords
import Foundation
import Testing

@testable import Detection

/// The one path from records to alerts: pairing by format, what `inspect` sees, sinks, and detectors
/// that remember a source across windows through the protocol alone.
@Suite struct PipelineTests {
    private func flow(_ src: String, _ dst: String, _ port: UInt16, _ t: Double, _ outcome: Outcome) -> FlowRecord {
        FlowRecord(
            start: t, end: t, source: IPAddress(src)!, destination: IPAddress(dst)!, sourcePort: 40000,
            destinationPort: port, transport: .tcp, outcome: outcome)
    }

    /// nfdump CSV records each direction apart: a SYN and its RST become one rejected attempt.
    private let nfdump = """
        ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,smk,dmk,dtos,dir,nh,nhb,svln,dvln,ismc,odmc,idmc,osmc,mpls1,mpls2,mpls3,mpls4,mpls5,mpls6,mpls7,mpls8,mpls9,mpls10,cl,sl,al,ra,eng,exid,tr
        2024-01-01 00:00:01.000,2024-01-01 00:00:01.000,0.000,10.9.0.1,10.1.0.5,40000,22,TCP,......S.,0,0,1,60,0,0,0,0,0,0,0,0,0,0,0.0.0.0,0.0.0.0,0,0,00:00:00:00:00:00,00:00:00:00:00:00,00:00:00:00:00:00,00:00:00:00:00:00,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0.000,0.000,0.000,0.0.0.0,0/0,0,1970-01-01 00:00:00.000
        2024-01-01 00:00:01.001,2024-01-01 00:00:01.001,0.000,10.1.0.5,10.9.0.1,22,40000,TCP,...A.R..,0,0,1,40,0,0,0,0,0,0,0,0,0,0,0.0.0.0,0.0.0.0,0,0,00:00:00:00:00:00,00:00:00:00:00:00,00:00:00:00:00:00,00:00:00:00:00:00,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0.000,0.000,0.000,0.0.0.0,0/0,0,1970-01-01 00:00:00.000

        """

    @Test func oneDirectionLogsArePairedBeforeTheStage() throws {
        var attempts: [FlowRecord] = []
        let pipeline = DetectionPipeline(sink: { attempts.append($0) })
        let (summary, pairing) = try pipeline.read(bytes: Array(nfdump.utf8), name: "nfdump.csv", options: ReadOptions())
        #expect(summary.format == .nfdump && summary.records == 2 && pipeline.records == 2)
        #expect(pairing == DetectionPipeline.Pairing(paired: 1, unpaired: 0, horizon: DirectionPairer.defaultHorizon))
        #expect(attempts.count == 1)
        #expect(attempts.first?.outcome == .rejected)
        #expect(pipeline.statistics.flows == 0)  // a sink has no detection
    }

    @Test func logsThatRecordAttemptsAreNotPaired() throws {
        var seen = 0
        let pipeline = DetectionPipeline(recipe: thresholdOnly(), model: nil)
        pipeline.inspect = { _ in seen += 1 }
        pipeline.beginLog(.jsonl)
        for i in 1...3 { try pipeline.add(flow("10.9.0.1", "10.1.0.5", UInt16(i), Double(i), .rejected)) }
        #expect(try pipeline.endLog() == nil)
        try pipeline.finish()
        #expect(seen == 3 && pipeline.statistics.flows == 3)
    }

    /// The pipeline raises the alerts `ScanDetection` alone raises for the same attempts.
    @Test func alertsAreThoseOfDetectionAlone() throws {
        let flows =
            (1...40).map { flow("10.9.0.1", "10.1.0.5", UInt16($0), Double($0) * 20, .rejected) }
            + (1...30).map { flow("10.9.0.2", "10.1.0.\($0)", 445, 700 + Double($0), .unanswered) }
        let direct = thresholdOnly().make(model: nil)
        var expected: [String] = []
        direct.onAlert = { expected.append($0.json()) }
        for f in flows { try direct.add(f) }
        try direct.finish()

        let pipeline = DetectionPipeline(recipe: thresholdOnly(), model: nil)
        var got: [String] = []
        pipeline.onAlert = { got.append($0.json()) }
        for f in flows { try pipeline.add(f) }
        try pipeline.finish()
        #expect(expected.count == 4)  // two episodes, each a start and an end alert
        #expect(got == expected)
    }

    /// TRW keeps its walk in `SourceMemory` through the protocol: the walk spans windows (three failed
    /// first contacts in one window and one in the next decide), and ends with the episode.
    @Test func statefulDetectorsKeepTheirMemoryAcrossWindows() throws {
        var recipe = DetectionRecipe()
        recipe.detectors = [.trw]
        let detection = recipe.make(model: nil)
        #expect(detection.observers.map(\.name) == ["trw"])
        var alerts: [ScanAlert] = []
        detection.onAlert = { alerts.append($0) }
        for i in 1...3 { try detection.add(flow("10.9.0.1", "10.1.0.\(i)", 22, Double(i), .rejected)) }
        try detection.add(flow("10.9.0.1", "10.1.0.4", 22, 650, .rejected))
        #expect(detection.sources[IPAddress("10.9.0.1")!]?.memory.walk.decision == .scanner)
        try detection.finish()
        #expect(alerts.map(\.phase) == [.start, .end] && alerts[0].detectedAt == 650)
        #expect(alerts[1].reasons["trw"] == "4 of 4 first contacts failed")
    }

    private func thresholdOnly() -> DetectionRecipe {
        var recipe = DetectionRecipe()
        recipe.detectors = [.threshold]
        return recipe
    }
}

/// Episodes reported as they happen: a start alert at the deciding flow, updates while they grow, an
/// end alert with the totals, all with one episode identifier.
@Suite struct AlertLifecycleTests {
    private func flow(_ src: String, _ dst: String, _ port: UInt16, _ t: Double, _ outcome: Outcome) -> FlowRecord {
        FlowRecord(
            start: t, end: t, source: IPAddress(src)!, destination: IPAddress(dst)!, sourcePort: 40000,
            destinationPort: port, transport: .tcp, outcome: outcome)
    }

    private func run(_ recipe: DetectionRecipe, _ flows: [FlowRecord]) throws -> [ScanAlert] {
        let detection = recipe.make(model: nil)
        var alerts: [ScanAlert] = []
        detection.onAlert = { alerts.append($0) }
        for f in flows { try detection.add(f) }
        try detection.finish()
        return alerts
    }

    private func recipe(_ detectors: [DetectionRecipe.Detector], policy: EnsemblePolicy = .any) -> DetectionRecipe {
        var recipe = DetectionRecipe()
        recipe.detectors = detectors
        recipe.settings.policy = policy
        return recipe
    }

    /// 40 closed ports of one host, one every 10 s from t = 5: the 15th (t = 145) crosses the
    /// threshold, long before the window closes at 600.
    private var vertical: [FlowRecord] { (1...40).map { flow("10.9.0.1", "10.1.0.5", UInt16($0), 5 + Double($0 - 1) * 10, .rejected) } }

    @Test func thresholdStartsTheEpisodeAtTheFlowThatCrossesItsBound() throws {
        let alerts = try run(recipe([.threshold]), vertical)
        #expect(alerts.map(\.phase) == [.start, .end])
        let (start, end) = (alerts[0], alerts[1])
        #expect(start.detectedAt == 145 && end.detectedAt == 145)
        #expect(start.flows == 15 && start.ports.count == 15 && start.windows == 1)
        #expect(start.reasons["threshold"] == "15 failed ports on 10.1.0.5 ≥ 15")
        #expect(end.flows == 40 && end.ports.count == 40 && end.windows == 1)
        #expect(start.episodeID.count == 16 && start.episodeID == end.episodeID)
        #expect(start.eventID == start.episodeID + "-start" && end.eventID == end.episodeID + "-end")
        #expect(start.json().contains(#""type":["start"]"#) && end.json().contains(#""type":["end"]"#))
        #expect(start.json().contains(#""detected_at":"1970-01-01T00:02:25Z""#))
    }

    /// The end alert is what a whole-window judgement gives: the same totals as with a policy under
    /// which no detector decides alone (its episode starts when the window is judged).
    @Test func endTotalsDoNotDependOnWhenTheEpisodeStarted() throws {
        let early = try run(recipe([.threshold]), vertical)
        let late = try run(recipe([.threshold], policy: .majority), vertical)
        #expect(late.map(\.phase) == [.start, .end])
        #expect(late[0].detectedAt == 395)  // the last flow of the judged window
        #expect(early[1].flows == late[1].flows && early[1].ports == late[1].ports && early[1].reasons == late[1].reasons)
        #expect(early[1].scores == late[1].scores && early[1].windows == late[1].windows)
    }

    /// TRW decides on the fourth failed first contact (4 ln 4 ≥ ln 99), mid-window.
    @Test func randomWalkStartsTheEpisodeOnTheFourthFailedFirstContact() throws {
        let sweep = (1...30).map { flow("10.9.0.2", "10.1.0.\($0)", 445, 100 + Double($0), .unanswered) }
        let alerts = try run(recipe([.trw]), sweep)
        #expect(alerts.map(\.phase) == [.start, .end])
        #expect(alerts[0].detectedAt == 104 && alerts[0].flows == 4)
        #expect(alerts[0].reasons["trw"] == "4 of 4 first contacts failed")
    }

    /// A scan over three windows with updates every 10 minutes of log time: an update for each
    /// window judged after the first, numbered, between the start and the end.
    @Test func updatesFollowTheEpisodeAtTheirInterval() throws {
        var r = recipe([.threshold])
        r.settings.updateInterval = 600
        let scan = (0..<90).map { i in flow("10.9.0.3", "10.1.0.9", UInt16(1 + i), 10 + Double(i) * 20, .rejected) }
        let alerts = try run(r, scan)
        #expect(alerts.map(\.phase) == [.start, .update, .update, .end])
        #expect(alerts.map(\.update) == [0, 1, 2, 0])
        #expect(Set(alerts.map(\.episodeID)).count == 1 && Set(alerts.map(\.eventID)).count == 4)
        #expect(alerts[2].ports.count > alerts[1].ports.count)
    }

    @Test func allowlistedSourcesHaveNoStartAlertEither() throws {
        var r = recipe([.threshold])
        r.allowlist = try CIDRSet(text: "10.9.0.1/32\n", name: "allow.txt")
        let detection = r.make(model: nil)
        var alerts: [ScanAlert] = []
        detection.onAlert = { alerts.append($0) }
        for f in vertical { try detection.add(f) }
        try detection.finish()
        #expect(alerts.isEmpty && detection.statistics.silenced == 1 && detection.statistics.startAlerts == 0)
    }
}
