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
        #expect(expected.count == 2)
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
        #expect(alerts.count == 1 && alerts[0].reasons["trw"] == "4 of 4 first contacts failed")
    }

    private func thresholdOnly() -> DetectionRecipe {
        var recipe = DetectionRecipe()
        recipe.detectors = [.threshold]
        return recipe
    }
}
