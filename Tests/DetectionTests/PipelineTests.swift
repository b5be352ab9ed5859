import ActivityImage
import FlowRecords
import Foundation
import TestSupport
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
        direct.onAlert = { expected.append($0.json(.fixed)) }
        for f in flows { try direct.add(f) }
        try direct.finish()

        let pipeline = DetectionPipeline(recipe: thresholdOnly(), model: nil)
        var got: [String] = []
        pipeline.onAlert = { got.append($0.json(.fixed)) }
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
        #expect(start.json(.fixed).contains(#""phase":"start""#) && end.json(.fixed).contains(#""phase":"end""#))
        #expect(start.json(.fixed).contains(#""detected_at":"1970-01-01T00:02:25.000Z""#))
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

/// Open windows judged before they close: the CNN's cadence, what starts an episode, and what the
/// episode holds when the window that started it closes.
@Suite struct OpenWindowTests {
    private func flow(_ src: String, _ dst: String, _ port: UInt16, _ t: Double, _ outcome: Outcome) -> FlowRecord {
        FlowRecord(
            start: t, end: t, source: IPAddress(src)!, destination: IPAddress(dst)!, sourcePort: 40000,
            destinationPort: port, transport: .tcp, outcome: outcome)
    }

    /// Judges open windows on the CNN's schedule, and flags a window when its failed targets are in
    /// `flagged` (so an open window can be flagged and its whole window not); a flag stands alone only
    /// with `aloneFrom` failed targets or more, and with `saysWhenAlone` the probe says so beforehand
    /// (`mayFlagAlone`), as the CNN does. Records what it judged.
    final class Probe: ScanDetector {
        var name: String { "probe" }
        let schedule: ImageSchedule
        let flagged: ClosedRange<Int>
        let aloneFrom: Int
        let saysWhenAlone: Bool
        var judged: [(flows: Int, failedTargets: Int)] = []

        init(flagged: ClosedRange<Int>, interval: Double = 60, aloneFrom: Int = 0, saysWhenAlone: Bool = false) {
            var schedule = ImageSchedule()
            schedule.interval = interval
            self.schedule = schedule
            self.flagged = flagged
            self.aloneFrom = aloneFrom
            self.saysWhenAlone = saysWhenAlone
        }

        func mayFlagAlone(_ window: ClosedWindow) -> Bool { !saysWhenAlone || window.activity.failedTargets.count >= aloneFrom }

        var openWindowInterval: Double? { schedule.interval }
        func worthJudgingOpen(_ activity: ActivityAccumulator, judgedTargets: Int) -> Bool {
            schedule.worthRescoring(activity, scoredTargets: judgedTargets)
        }
        var parameters: [(name: String, value: Double)] { [] }
        func judge(_ windows: [ClosedWindow]) -> [Verdict] {
            windows.map { w in
                judged.append((w.activity.flows, w.activity.failedTargets.count))
                let hit = schedule.worthScoring(w.activity) && flagged.contains(w.activity.failedTargets.count)
                return Verdict(
                    score: hit ? 1 : 0, flagged: hit, reason: hit ? "\(w.activity.failedTargets.count) targets" : "",
                    alone: w.activity.failedTargets.count >= aloneFrom)
            }
        }
    }

    private func run(_ detector: Probe, _ flows: [FlowRecord], policy: EnsemblePolicy = .any) throws -> (alerts: [(ScanAlert, Int)], detection: ScanDetection) {
        var settings = DetectionSettings()
        settings.policy = policy
        let detection = ScanDetection(settings: settings, detectors: [detector])
        var alerts: [(ScanAlert, Int)] = []
        var added = 0
        detection.onAlert = { alerts.append(($0, added)) }
        for f in flows {
            try detection.add(f)
            added += 1
        }
        try detection.finish()
        return (alerts, detection)
    }

    /// One closed port every 5 s from t = 1000 (window 600-1200): 3 failed targets at t = 1010.
    private var slow: [FlowRecord] { (0..<40).map { flow("10.9.0.4", "10.1.0.5", UInt16(100 + $0), 1000 + Double($0) * 5, .rejected) } }

    @Test func anOpenWindowIsJudgedAtTheNextMinuteAndStartsTheEpisodeThere() throws {
        let probe = Probe(flagged: 3...1000)
        let (alerts, detection) = try run(probe, slow)
        #expect(alerts.map(\.0.phase) == [.start, .end])
        let (start, index) = alerts[0]
        // Judged when the clock passed 1020, before the flow at 1020 was added: 4 flows, the last at 1015.
        #expect(index == 4 && start.flows == 4 && start.detectedAt == 1015)
        #expect(start.reasons["probe"] == "4 targets")
        #expect(probe.judged.first! == (4, 4))
        // The end alert holds the whole window, judged when it closed.
        #expect(alerts[1].0.flows == 40 && alerts[1].0.windows == 1 && alerts[1].0.detectedAt == 1015)
        #expect(detection.statistics.openWindows == 1 && detection.statistics.startAlerts == 1)
    }

    /// Not flagged open: judged again at later minutes only when its failed targets grew by a quarter,
    /// and never more than once a minute.
    @Test func anOpenWindowIsJudgedAgainOnlyWhenItHasGrown() throws {
        let probe = Probe(flagged: 1000...1000)
        _ = try run(probe, slow)
        let open = probe.judged.dropLast()  // the last is the whole window, at its close
        #expect(open.map(\.failedTargets) == [4, 16, 28])
        #expect(probe.judged.last! == (40, 40))
        for (a, b) in zip(open, open.dropFirst()) { #expect(b.failedTargets >= a.failedTargets + max(1, a.failedTargets / 4)) }
    }

    /// An episode recognised in an open window keeps that window when it closes, flagged or not: the
    /// end alert has its totals, not nothing.
    @Test func theWindowThatStartedAnEpisodeIsItsFirstWindowWhateverItsVerdict() throws {
        let probe = Probe(flagged: 3...10)
        let (alerts, detection) = try run(probe, slow)
        #expect(alerts.map(\.0.phase) == [.start, .end])
        #expect(alerts[1].0.flows == 40 && alerts[1].0.windows == 1 && alerts[1].0.ports.count == 40)
        #expect(detection.statistics.flaggedWindows == 0)
    }

    /// Under a policy where no detector decides alone, open windows are not judged: episodes start
    /// when whole windows are.
    @Test func openWindowsAreJudgedOnlyWhenOneDetectorMayDecide() throws {
        let probe = Probe(flagged: 3...1000)
        let (alerts, detection) = try run(probe, slow, policy: .majority)
        #expect(detection.statistics.openWindows == 0 && probe.judged.count == 1)
        #expect(alerts.map(\.0.phase) == [.start, .end] && alerts[0].0.detectedAt == 1195)
    }

    /// An open window whose flag could not stand alone is not scored (it could start no episode), but
    /// counts as judged for the schedule: the alerts are those of scoring it, with fewer windows scored.
    @Test func openWindowsWhoseFlagCouldNotStandAloneAreNotScored() throws {
        let quiet = Probe(flagged: 3...1000, aloneFrom: 20)
        let (expected, scoredAll) = try run(quiet, slow)
        let gated = Probe(flagged: 3...1000, aloneFrom: 20, saysWhenAlone: true)
        let (alerts, detection) = try run(gated, slow)
        // Scored open at 4, 16 and 28 failed targets; the flag at 28 starts the episode.
        #expect(quiet.judged.dropLast().map(\.failedTargets) == [4, 16, 28])
        #expect(gated.judged.dropLast().map(\.failedTargets) == [28])
        #expect(scoredAll.statistics.openWindows == 3 && detection.statistics.openWindows == 1)
        #expect(alerts.count == 2 && alerts.map(\.1) == expected.map(\.1))
        #expect(alerts.map(\.0.detectedAt) == expected.map(\.0.detectedAt) && alerts[0].0.flows == 28)
        #expect(alerts.map(\.0.reasons) == expected.map(\.0.reasons))
    }

    /// A window whose share of failures falls under the filter before the minute passes is not judged
    /// (3 failed of 23 at 1020).
    @Test func aWindowNoLongerWorthItAtTheMinuteIsNotJudged() throws {
        let probe = Probe(flagged: 3...1000)
        var flows = (0..<3).map { flow("10.9.0.5", "10.1.0.5", UInt16(100 + $0), 1000 + Double($0), .rejected) }
        flows += (0..<20).map { flow("10.9.0.5", "10.1.0.6", 443, 1003 + Double($0) / 2, .established) }
        flows.append(flow("10.9.0.6", "10.1.0.7", 80, 1100, .established))
        let (alerts, detection) = try run(probe, flows)
        #expect(alerts.isEmpty && detection.statistics.openWindows == 0)
    }
}

/// The detectors for what one window cannot see: small sweeps (threshold), scans spread over hours
/// (slow), and the host a scan is about.
@Suite struct SlowAndSmallScanTests {
    private func flow(_ src: String, _ dst: String, _ port: UInt16, _ t: Double, _ outcome: Outcome) -> FlowRecord {
        FlowRecord(
            start: t, end: t, source: IPAddress(src)!, destination: IPAddress(dst)!, sourcePort: 40000,
            destinationPort: port, transport: .tcp, outcome: outcome)
    }

    private func run(_ detectors: [DetectionRecipe.Detector], _ flows: [FlowRecord]) throws -> (alerts: [ScanAlert], detection: ScanDetection) {
        var recipe = DetectionRecipe()
        recipe.detectors = detectors
        let detection = recipe.make(model: nil)
        var alerts: [ScanAlert] = []
        detection.onAlert = { alerts.append($0) }
        for f in flows.sorted(by: { $0.start < $1.start }) { try detection.add(f) }
        try detection.finish()
        return (alerts, detection)
    }

    /// One closed port every `every` seconds at one host for `hours`.
    private func slowVertical(every: Double, hours: Double) -> [FlowRecord] {
        (0..<Int(hours * 3600 / every)).map { flow("10.9.1.1", "10.1.0.5", UInt16(1000 + $0), 30 + Double($0) * every, .rejected) }
    }

    @Test func aProbeEveryFiveMinutesIsASlowScanAtItsThirtiethPort() throws {
        let scan = slowVertical(every: 300, hours: 10)
        #expect(try run([.threshold, .trw], scan).alerts.isEmpty)
        let alerts = try run([.slow], scan).alerts
        #expect(alerts.map(\.phase) == [.start, .end])
        #expect(alerts[0].detectedAt == scan[29].start)
        #expect(alerts[0].reasons["slow"] == "30 failed ports on 10.1.0.5 within 6h ≥ 30")
        // The end alert's totals are those of the windows flagged, from the one it crossed in (probes 28 on).
        #expect(alerts[1].ports.count == 92 && alerts[1].json(.fixed).contains(#""destination":{"ip":"10.1.0.5""#))
    }

    /// Failures older than the horizon (6 h) no longer count: one a quarter of an hour never holds 30.
    @Test func onlyFailuresWithinTheHorizonCount() throws {
        #expect(try run([.slow], slowVertical(every: 900, hours: 12)).alerts.isEmpty)
        #expect(try run([.slow], slowVertical(every: 600, hours: 12)).alerts.count == 2)
    }

    /// Retries of one closed service are one target, however many; answered attempts none.
    @Test func retriesAndAnswersDoNotAddUp() throws {
        var flows = (0..<500).map { flow("10.9.1.2", "10.1.0.6", 5432, Double($0) * 60, .rejected) }
        flows += (0..<500).map { flow("10.9.1.2", "10.1.0.7", UInt16(1 + $0), Double($0) * 60 + 1, .established) }
        #expect(try run([.slow], flows).alerts.isEmpty)
    }

    /// Failures spread over many hosts and ports, under both bounds: at most `maximumTargets` held.
    @Test func memoryStaysBoundedPerSource() throws {
        let detector = SlowScanDetector()
        var memory = SourceMemory()
        for i in 0..<(45 * 25) {
            detector.observe(flow("10.9.1.3", "10.1.1.\(i % 45)", UInt16(1 + i / 45), Double(i), .unanswered), &memory)
            #expect(memory.slow.targets.count <= SlowScanDetector.maximumTargets)
        }
        #expect(!memory.slow.crossed && memory.slow.targets.count > SlowScanDetector.maximumTargets / 2)
        #expect(memory.slow.portsByHost.values.reduce(0, +) == memory.slow.targets.count)
    }

    /// The counts per host and per port are kept only from `countedFrom` targets on; below, they are
    /// counted from the targets. Either way the busiest host and port are the targets' own, through
    /// growth past the bound and drops back under it at the horizon.
    @Test func slowScanCountsAreTheTargetsWhetherKeptOrNot() throws {
        var detector = SlowScanDetector()
        detector.portsPerHost = 1000
        detector.hostsPerPort = 1000
        detector.horizon = 400
        var memory = SourceMemory()
        var sawSmall = false, sawKept = false
        for i in 0..<600 {
            // A burst of many targets every 600 s, a few in between, so the count crosses the bound
            // both ways as the horizon drops the bursts.
            let spread = i % 300 < 40 ? 12 : 3
            let f = flow("10.9.1.4", "10.1.1.\(i * 7 % spread)", UInt16(20 + i / spread % spread), Double(i * 2), .rejected)
            detector.observe(f, &memory)
            let s = memory.slow
            var ports: [IPAddress: Int] = [:], hosts: [UInt16: Int] = [:]
            for t in s.targets.keys {
                ports[t.host, default: 0] += 1
                hosts[t.port, default: 0] += 1
            }
            let host = ports.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }
            let port = hosts.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }
            let busiest = s.busiest
            #expect(busiest.host?.key == host?.key && busiest.host?.value == host?.value, "flow \(i)")
            #expect(busiest.port?.key == port?.key && busiest.port?.value == port?.value, "flow \(i)")
            if s.targets.count >= SlowScanState.countedFrom {
                sawKept = true
                #expect(s.portsByHost == ports && s.hostsByPort == hosts, "flow \(i)")
            } else {
                sawSmall = sawSmall || !s.targets.isEmpty
                #expect(s.portsByHost.isEmpty && s.hostsByPort.isEmpty, "flow \(i)")
            }
        }
        #expect(sawSmall && sawKept && memory.slow.targets.count < SlowScanState.countedFrom)
    }

    /// Six failed hosts on one port when a quarter of the attempts fail is a small sweep (as Slips
    /// calls it), flagged at the sixth; the same six among a busy client's successes are not.
    @Test func aSmallSweepIsFlaggedUnlessTheSourceMostlySucceeds() throws {
        var sweep = (1...6).map { flow("10.9.1.4", "10.1.2.\($0)", 80, 100 + Double($0), .unanswered) }
        sweep += (1...12).map { flow("10.9.1.4", "10.1.3.\($0)", 80, 100 + Double($0) + 0.5, .established) }
        let alerts = try run([.threshold], sweep).alerts
        #expect(alerts.map(\.phase) == [.start, .end])
        #expect(alerts[0].detectedAt == 106 && alerts[0].reasons["threshold"] == "6 failed hosts on port 80 ≥ 6, of 11 hosts touched; 55% of attempts failed")
        #expect(alerts[1].json(.fixed).contains(#""scan_type":"horizontal""#) && !alerts[1].json(.fixed).contains(#""destination":{"ip""#))

        var browsing = (1...6).map { flow("10.9.1.5", "10.1.2.\($0)", 443, 100 + Double($0), .unanswered) }
        browsing += (1...30).map { flow("10.9.1.5", "10.1.4.\($0)", 443, 100 + Double($0) / 4, .established) }
        #expect(try run([.threshold], browsing).alerts.isEmpty)
    }

    /// A peer-to-peer client whose dead peers each listen on a port of their own is no sweep for
    /// TRW: its walk starts over where a sweep's (one port) is decided.
    @Test func theWalkDecidesOnFailuresThatShareAPort() throws {
        func contacts(_ source: String, port: (Int) -> UInt16) -> [FlowRecord] {
            (0..<40).map { (i: Int) -> FlowRecord in
                let outcome: Outcome = i % 3 == 0 ? .established : .unanswered
                return flow(source, "198.51.100.\(i + 1)", port(i), 10 + Double(i), outcome)
            }
        }
        let peers = contacts("10.9.1.7") { UInt16(20000 + 37 * $0) }
        #expect(try run([.trw], peers).alerts.isEmpty)
        var walk = RandomWalkState()
        for f in peers { RandomWalkDetector().observe(f, &walk) }
        #expect(walk.spreadRestarts > 0 && walk.decision == .pending)
        #expect(try run([.trw], contacts("10.9.1.8") { _ in 445 }).alerts.map(\.phase) == [.start, .end])
    }

    /// A vertical scan beside the source's DNS lookups names the scanned host as the destination.
    @Test func theScannedHostIsTheDestinationWhenItHoldsMostProbes() throws {
        var flows = (1...44).map { flow("10.9.1.6", "45.33.32.156", UInt16($0), 10 + Double($0), .rejected) }
        flows += (0..<3).map { flow("10.9.1.6", "10.0.0.53", 53, 5 + Double($0), .established) }
        flows.append(flow("10.9.1.6", "10.0.0.54", 53, 9, .unanswered))
        let end = try run([.threshold], flows).alerts.last!
        #expect(end.hosts.count == 3 && end.scannedHost == IPAddress("45.33.32.156")!)
        #expect(end.json(.fixed).contains(#""destination":{"ip":"45.33.32.156""#))
    }
}
