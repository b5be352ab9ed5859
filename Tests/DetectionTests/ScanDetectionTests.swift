import ActivityImage
import FlowRecords
import Foundation
import Support
import TestSupport
import Testing

@testable import Detection

private func flow(_ src: String, _ dst: String, _ port: UInt16, _ t: Double, _ outcome: Outcome) -> FlowRecord {
    FlowRecord(
        start: t, end: t, source: IPAddress(src)!, destination: IPAddress(dst)!, sourcePort: 40000,
        destinationPort: port, transport: .tcp, outcome: outcome)
}

/// One source's window from flows.
private func window(_ flows: [FlowRecord]) -> ClosedWindow {
    var a = ActivityAccumulator()
    for f in flows { a.add(f) }
    return ClosedWindow(source: flows[0].source, windowStart: 0, windowLength: 600, activity: a, memory: SourceMemory())
}

@Suite struct DetectorTests {
    @Test func thresholdCountsFailedPortsOnOneHostAndFailedHostsOnOnePort() {
        let t = ThresholdDetector()
        let vertical = window((1...20).map { flow("10.9.0.1", "10.1.0.5", UInt16($0), Double($0), .rejected) })
        let small = window((1...14).map { flow("10.9.0.1", "10.1.0.5", UInt16($0), Double($0), .rejected) })
        let horizontal = window((1...30).map { flow("10.9.0.2", "10.1.0.\($0)", 445, Double($0), .unanswered) })
        let scraper = window((1...80).map { flow("10.9.0.3", "10.1.0.\($0)", 9100, Double($0), .established) })
        let v = t.judge([vertical, small, horizontal, scraper])
        #expect(v[0].flagged && v[0].reason == "20 failed ports on 10.1.0.5 ≥ 15")
        #expect(!v[1].flagged && abs(v[1].score - 14.0 / 15) < 1e-12)
        #expect(v[2].flagged && v[2].reason == "30 failed hosts on port 445 ≥ 25")
        #expect(!v[3].flagged && v[3].score == 0)  // answered attempts never count
    }

    /// The CNN scores a long batch a part at a time (`imagesAtOnce`): each window gets the verdict it
    /// gets alone, whichever part it falls in.
    @Test func theCNNJudgesALongBatchAsItJudgesEachWindow() throws {
        let cnn = CNNDetector(model: try ScanModel.load(pathOrDefault: nil))
        let count = CNNDetector.imagesAtOnce * 2 + 37
        let windows = (0..<count).map { i in
            let source = "10.9.\(i / 250).\(i % 250 + 1)"
            // Sweeps of several sizes, vertical scans, and answered clients the schedule skips.
            switch i % 3 {
            case 0: return window((1...(3 + i % 40)).map { flow(source, "10.1.0.\($0)", 445, Double($0), .unanswered) })
            case 1: return window((1...(2 + i % 30)).map { flow(source, "10.1.0.5", UInt16($0), Double($0), .rejected) })
            default: return window((1...5).map { flow(source, "10.1.0.\($0)", 443, Double($0), .established) })
            }
        }
        let together = try cnn.judge(windows)
        #expect(together.count == count)
        #expect(together.contains { $0.flagged } && together.contains { !$0.flagged })
        for (i, w) in windows.enumerated() {
            let alone = try cnn.judge([w])[0]
            #expect(
                together[i].score == alone.score && together[i].flagged == alone.flagged && together[i].reason == alone.reason
                    && together[i].alone == alone.alone, "window \(i)")
        }
    }

    /// With θ0 = 0.8, θ1 = 0.2, PD = 0.99, PF = 0.01 each failed first contact adds ln 4 to the walk
    /// and the scanner bound is ln 99: the fourth failure decides (4 ln 4 = 5.55 ≥ 4.60).
    @Test func randomWalkDecidesOnTheFourthFailedFirstContact() {
        let trw = RandomWalkDetector()
        var state = RandomWalkState()
        for i in 1...3 { trw.observe(flow("10.9.0.1", "10.1.0.\(i)", 22, Double(i), .rejected), &state) }
        #expect(state.decision == .pending)
        trw.observe(flow("10.9.0.1", "10.1.0.1", 23, 4, .rejected), &state)  // same host again: no step
        #expect(state.decision == .pending && state.contacts == 3)
        trw.observe(flow("10.9.0.1", "10.1.0.4", 22, 5, .unanswered), &state)
        #expect(state.decision == .scanner)
        #expect(abs(state.logRatio - 4 * log(4.0)) < 1e-12)
    }

    /// Four successes reach the benign bound and the walk starts over, so later scanning is still caught.
    @Test func randomWalkStartsOverAfterABenignDecision() {
        let trw = RandomWalkDetector()
        var state = RandomWalkState()
        for i in 1...4 { trw.observe(flow("10.9.0.1", "10.1.0.\(i)", 80, Double(i), .established), &state) }
        #expect(state.benignDecisions == 1 && state.logRatio == 0 && state.decision == .pending)
        for i in 5...8 { trw.observe(flow("10.9.0.1", "10.1.0.\(i)", 80, Double(i), .rejected), &state) }
        #expect(state.decision == .scanner)
    }

    @Test func ensemblePolicies() {
        let yes = Verdict(score: 1, flagged: true, reason: "x"), no = Verdict(score: 0.2, flagged: false, reason: "")
        #expect(EnsemblePolicy.any.decide([no, yes, no], weights: [1, 1, 1], weightedThreshold: 0.5))
        #expect(!EnsemblePolicy.majority.decide([no, yes, no], weights: [1, 1, 1], weightedThreshold: 0.5))
        #expect(EnsemblePolicy.majority.decide([yes, yes, no], weights: [1, 1, 1], weightedThreshold: 0.5))
        #expect(!EnsemblePolicy.weighted.decide([no, yes, no], weights: [1, 1, 1], weightedThreshold: 0.5))  // mean 0.47
        #expect(EnsemblePolicy.weighted.decide([no, yes, no], weights: [1, 2, 1], weightedThreshold: 0.5))  // 0.6
    }
}

@Suite struct ScanDetectionTests {
    static func run(
        _ flows: [FlowRecord], settings: DetectionSettings = DetectionSettings(),
        allowlist: CIDRSet = CIDRSet()
    ) throws -> (alerts: [ScanAlert], statistics: DetectionStatistics) {
        let detection = ScanDetection(settings: settings, detectors: [ThresholdDetector(), RandomWalkDetector()], allowlist: allowlist)
        var alerts: [ScanAlert] = []
        // The episodes' end alerts, with their totals (AlertLifecycleTests follows start alerts).
        detection.onAlert = { if $0.phase == .end { alerts.append($0) } }
        for f in flows { try detection.add(f) }
        try detection.finish()
        return (alerts, detection.statistics)
    }

    /// A scan over three windows, background traffic beside it.
    static func scan(from src: String, at t0: Double, ports: ClosedRange<Int> = 1...900, spacing: Double = 2) -> [FlowRecord] {
        ports.map { flow(src, "10.1.0.5", UInt16($0), t0 + Double($0 - ports.lowerBound) * spacing, .rejected) }
    }

    static func web(at t0: Double, count: Int) -> [FlowRecord] {
        (0..<count).map { flow("10.2.0.9", "203.0.113.\($0 % 5 + 1)", 443, t0 + Double($0) * 7, .established) }
    }

    static func merged(_ parts: [FlowRecord]...) -> [FlowRecord] {
        parts.joined().sorted { $0.start < $1.start }
    }

    @Test func oneAlertPerEpisodeAndAgainAfterAQuietPeriod() throws {
        let flows = Self.merged(
            Self.scan(from: "10.9.0.1", at: 100), Self.web(at: 0, count: 2000),
            Self.scan(from: "10.9.0.1", at: 10_000, ports: 1000...1100))
        let (alerts, stats) = try Self.run(flows)
        #expect(alerts.count == 2)
        #expect(alerts.allSatisfy { $0.source == IPAddress("10.9.0.1")! })
        let first = alerts.min { $0.firstSeen < $1.firstSeen }!
        #expect(first.ports.count == 900 && first.hosts == [IPAddress("10.1.0.5")!] && first.scanType == "vertical")
        #expect(first.windows == 4)  // 1,800 s of scanning from t = 100 spans four 600 s windows
        #expect(first.failureRatio == 1 && first.reasons["threshold"] != nil)
        #expect(stats.flows == flows.count && stats.alerts == 2)
    }

    /// A source's state is a value: a copy taken out of the table keeps what it held while the
    /// table's state goes on (the state is stored by reference, copied on write).
    @Test func aCopyOfASourcesStateIsASnapshot() throws {
        let detection = ScanDetection(settings: DetectionSettings(), detectors: [ThresholdDetector(), RandomWalkDetector()])
        detection.holdsFirstContacts = false
        let source = IPAddress("10.9.0.1")!
        try detection.add(flow("10.9.0.1", "10.1.0.1", 22, 1, .rejected))
        let before = try #require(detection.sources[source])
        for port in 23...30 { try detection.add(flow("10.9.0.1", "10.1.0.1", UInt16(port), Double(port), .rejected)) }
        let after = try #require(detection.sources[source])
        #expect(before.activity.flows == 1 && before.activity.ports == [22] && before.lastSeen == 1)
        #expect(after.activity.flows == 9 && after.activity.ports.count == 9 && after.lastSeen == 30)
        #expect(before.memory.walk.contacts == 1 && after.memory.walk.contacts == 1)
        var changed = after
        changed.lastSeen = 99
        changed.activity = ActivityAccumulator()
        #expect(detection.sources[source]!.lastSeen == 30 && detection.sources[source]!.activity.flows == 9)
    }

    @Test func allowlistsSilenceSourcesAndIgnoreDestinations() throws {
        let flows = Self.merged(Self.scan(from: "10.9.0.1", at: 100), Self.scan(from: "10.9.0.2", at: 100))
        var allow = CIDRSet()
        allow.insert("10.9.0.1/32")
        let silenced = try Self.run(flows, allowlist: allow)
        #expect(silenced.alerts.map(\.source) == [IPAddress("10.9.0.2")!])
        #expect(silenced.statistics.silenced == 1)
        var destinations = CIDRSet()
        destinations.insert("10.1.0.0/24")
        let ignored = try Self.run(flows, allowlist: destinations)
        #expect(ignored.alerts.isEmpty && ignored.statistics.allowlistedFlows == 1800)
    }

    @Test func lateFlowsAreCountedAndKept() throws {
        var flows = Self.scan(from: "10.9.0.1", at: 0, ports: 1...400)  // 0 ... 798 s
        flows.append(flow("10.9.0.1", "10.1.0.5", 9999, 500, .rejected))  // after t = 798: late
        let (alerts, stats) = try Self.run(flows)
        #expect(stats.lateFlows == 1)
        #expect(alerts.first?.ports.contains(9999) == true)
    }

    @Test func sourcesBeyondTheCapAreEvictedAndCounted() throws {
        var settings = DetectionSettings()
        settings.maxSources = 10
        let flows = (0..<50).map { flow("10.8.0.\($0)", "10.1.0.5", 80, Double($0), .established) }
        let (_, stats) = try Self.run(flows, settings: settings)
        #expect(stats.evictedSources > 0 && stats.peakSources <= 10)
    }

    @Test func alertsSpeakElasticCommonSchema() throws {
        // Ports 22 and 30 answer; the rest are closed.
        let flows = Self.scan(from: "10.9.0.1", at: 100, ports: 1...40).map { f -> FlowRecord in
            var f = f
            if f.destinationPort == 22 || f.destinationPort == 30 { f.outcome = .established }
            return f
        }
        let (alerts, _) = try Self.run(flows)
        let end = try #require(alerts.last)
        let context = AlertFields.Context(created: 1_700_000_000.5, hostname: "sensor-1")
        let object = try JSONSerialization.jsonObject(with: Data(end.json(context).utf8)) as! [String: Any]
        // The end alert's time is the episode's last flow; the episode's bounds are event.start and end.
        #expect(object["@timestamp"] as? String == "1970-01-01T00:02:58.000Z")
        #expect((object["ecs"] as? [String: Any])?["version"] as? String == AlertFields.ecsVersion)
        #expect(
            (object["message"] as? String)?.hasPrefix("10.9.0.1 probed 40 ports on 10.1.0.5 in 78s, 95% of 40 attempts failed") == true,
            "\(object["message"] ?? "")")
        let event = try #require(object["event"] as? [String: Any])
        #expect(event["kind"] as? String == "alert" && event["id"] as? String == end.eventID && event["action"] as? String == "port-scan-end")
        #expect(event["start"] as? String == "1970-01-01T00:01:40.000Z" && event["created"] as? String == "2023-11-14T22:13:20.500Z")
        #expect(event["duration"] as? Int == 78_000_000_000 && event["severity"] as? Int == end.severity.rawValue)
        #expect(((object["threat"] as? [String: Any])?["technique"] as? [String: Any])?["id"] as? [String] == ["T1046"])
        #expect((object["rule"] as? [String: Any])?["id"] as? String == "flowhound-scan-vertical")
        #expect((object["observer"] as? [String: Any])?["hostname"] as? String == "sensor-1")
        #expect((object["source"] as? [String: Any])?["ip"] as? String == "10.9.0.1")
        #expect((object["destination"] as? [String: Any])?["ip"] as? String == "10.1.0.5")
        #expect((object["network"] as? [String: Any])?["transport"] as? String == "tcp")
        #expect((object["related"] as? [String: Any])?["ip"] as? [String] == ["10.9.0.1", "10.1.0.5"])
        let detail = object["flowhound"] as! [String: Any]
        #expect(detail["scan_type"] as? String == "vertical" && detail["phase"] as? String == "end")
        #expect(detail["distinct_ports"] as? Int == 40 && detail["port_ranges"] as? String == "1-40")
        #expect(detail["ports"] as? [Int] == Array(1...40) && detail["answered_ports"] as? [Int] == [22, 30], "\(detail)")
        let first = try #require(detail["first_flow"] as? [String: Any]), last = try #require(detail["last_flow"] as? [String: Any])
        #expect(first["destination_port"] as? Int == 1 && first["timestamp"] as? String == "1970-01-01T00:01:40.000Z")
        #expect(last["destination_port"] as? Int == 40 && (last["community_id"] as? String)?.hasPrefix("1:") == true)
    }

    /// A one-port sweep names its port in `destination.port` and the scanned hosts in `related.ip`.
    @Test func aOnePortSweepNamesItsPort() throws {
        let flows = (1...30).map { flow("10.9.0.2", "10.1.0.\($0)", 445, 100 + Double($0), .unanswered) }
        let (alerts, _) = try Self.run(flows)
        let end = try #require(alerts.last)
        let object = try JSONSerialization.jsonObject(with: Data(end.json(.fixed).utf8)) as! [String: Any]
        #expect((object["rule"] as? [String: Any])?["id"] as? String == "flowhound-scan-horizontal")
        // No single host was scanned: the destination is the port alone.
        #expect(object["destination"] as? [String: Int] == ["port": 445] && (object["flowhound"] as? [String: Any])?["ports"] as? [Int] == [445])
        #expect(((object["related"] as? [String: Any])?["ip"] as? [String])?.count == 31)
    }

    @Test func portRangesAreCompact() {
        #expect(ScanAlert.ranges([22, 80, 81, 82, 443]) == "22,80-82,443")
        #expect(ScanAlert.ranges([1, 3, 5, 7], limit: 2) == "1,3 (+2 more)")
    }

    @Test func cidrSetsMatchBlocksOfEitherFamily() throws {
        let set = try CIDRSet(text: "# office\n10.0.0.0/8\n192.0.2.7  # one host\n\n2001:db8::/32\n", name: "allow.txt")
        #expect(set.count == 3)
        #expect(set.contains(IPAddress("10.200.1.1")!) && set.contains(IPAddress("192.0.2.7")!))
        #expect(!set.contains(IPAddress("192.0.2.8")!) && !set.contains(IPAddress("11.0.0.1")!))
        #expect(set.contains(IPAddress("2001:db8:1::5")!) && !set.contains(IPAddress("2001:db9::1")!))
        let error = #expect(throws: CIDRSetError.self) { _ = try CIDRSet(text: "10.0.0.0/8\n10.0.0.0/33\n", name: "allow.txt") }
        #expect(error?.description == "allow.txt:2: '10.0.0.0/33' is not an address or address block (like 10.0.0.0/8 or 2001:db8::/32)")
    }
}
