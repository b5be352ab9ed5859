import FlowRecords
import Foundation
import Support
import Synthesis
import TestSupport
import Testing

@testable import Detection

/// Detection partitioned by source across threads (`detect --jobs N`) raises one detection's alerts:
/// the same lines, each source's in the same order, the same counts.
@Suite struct PartitionedDetectionTests {
    /// Two hours with every scan kind (distributed ones included, which partitions see through the
    /// destination copies), benign traffic, and update alerts.
    static let flows: [FlowRecord] = {
        var config = SynthConfig()
        config.seed = 14
        config.duration = 2 * 3600
        config.benignSources = 30
        config.scanPrevalence = 0.4
        config.scanBehaviours = SynthConfig.allScans + SynthConfig.namedOnlyScans
        return TrafficGenerator(config: config).generate().flows
    }()

    /// A model of the test's own: a model runs on one thread at a time, and tests run at once.
    static func model() throws -> ScanModel { try ScanModel.load(pathOrDefault: nil) }

    static func recipe() -> DetectionRecipe {
        var recipe = DetectionRecipe()
        recipe.settings.updateInterval = 300
        return recipe
    }

    /// The alert lines a pipeline raises over `flows`, in the order they came, and its statistics.
    static func run(_ pipeline: DetectionPipeline, _ flows: [FlowRecord] = flows) throws -> (lines: [String], statistics: DetectionStatistics) {
        var lines: [String] = []
        pipeline.onAlert = { lines.append($0.json(.fixed)) }
        pipeline.onDistributedAlert = { lines.append($0.json(.fixed)) }
        for flow in flows { try pipeline.add(flow) }
        try pipeline.finish()
        return (lines, pipeline.statistics)
    }

    /// Each alert line's subject (source, or target of a distributed scan) and phase, grouped by subject.
    static func sequences(_ lines: [String]) -> [String: [String]] {
        var bySubject: [String: [String]] = [:]
        for line in lines {
            let object = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let flowhound = object["flowhound"] as! [String: Any]
            let subject = ((object["source"] as? [String: Any])?["ip"] as? String) ?? "->" + ((object["destination"] as! [String: Any])["ip"] as! String)
            bySubject[subject, default: []].append("\(flowhound["phase"]!) \(flowhound["episode_id"]!)")
        }
        return bySubject
    }

    @Test(arguments: [2, 3, 5])
    func alertsAreThoseOfOneDetection(partitions: Int) throws {
        let one = try Self.run(DetectionPipeline(recipe: Self.recipe(), model: try Self.model()))
        #expect(one.lines.count > 50)
        #expect(one.lines.contains { $0.contains("\"distributed\"") }, "the mix has distributed scans")
        // Small rounds: many hand-overs, several rounds out at once.
        let partitioned = PartitionedDetection(recipe: Self.recipe(), model: try Self.model(), partitions: partitions, round: 700)
        let many = try Self.run(DetectionPipeline(partitioned: partitioned))
        #expect(many.lines.sorted() == one.lines.sorted())
        #expect(Self.sequences(many.lines) == Self.sequences(one.lines), "each source's alerts in the same order")
        var a = one.statistics, b = many.statistics
        #expect(b.peakSources >= a.peakSources)
        a.peakSources = 0
        b.peakSources = 0
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(try encoder.encode(a) == encoder.encode(b), "\(a) \(b)")
    }

    /// With `alertLines`, each alert comes with the line its partition wrote for it, the line the
    /// consumer would have written itself.
    @Test func linesWrittenByThePartitionsAreTheAlertsLines() throws {
        let pipeline = DetectionPipeline(partitioned: PartitionedDetection(recipe: Self.recipe(), model: try Self.model(), partitions: 3, round: 500))
        pipeline.alertLines = PartitionedDetection.Lines(scan: { $0.json(.fixed) }, distributed: { $0.json(.fixed) })
        var checked = 0, distributed = 0
        pipeline.onAlert = { [unowned pipeline] in
            #expect(pipeline.deliveredLine == $0.json(.fixed))
            checked += 1
        }
        pipeline.onDistributedAlert = { [unowned pipeline] in
            #expect(pipeline.deliveredLine == $0.json(.fixed))
            distributed += 1
        }
        for flow in Self.flows { try pipeline.add(flow) }
        try pipeline.finish()
        #expect(checked > 50 && distributed > 0)
        #expect(pipeline.deliveredLine == nil)
        // One detection writes no lines: its consumer does.
        let one = DetectionPipeline(recipe: Self.recipe(), model: try Self.model())
        one.alertLines = PartitionedDetection.Lines(scan: { $0.json(.fixed) }, distributed: { $0.json(.fixed) })
        var none = true
        one.onAlert = { [unowned one] _ in none = none && one.deliveredLine == nil }
        for flow in Self.flows.prefix(20_000) { try one.add(flow) }
        try one.finish()
        #expect(none)
    }

    /// Without the destination copies, partitions raise fewer distributed alerts: the comparison above
    /// can fail.
    @Test func destinationCopiesAreWhatDistributedAlertsNeed() throws {
        let one = try Self.run(DetectionPipeline(recipe: Self.recipe(), model: try Self.model()))
        let partitioning = Partitioning(count: 4)
        var sourceOnly: [String] = []
        for i in 0..<4 {
            let d = Self.recipe().make(model: try Self.model())
            d.partitionOwns = { partitioning.partition(of: $0) == i }
            sourceOnly += try Self.run(DetectionPipeline(detection: d), Self.flows.filter { partitioning.partition(of: $0.source) == i }).lines
        }
        #expect(sourceOnly.filter { $0.contains("\"distributed\"") }.count < one.lines.filter { $0.contains("\"distributed\"") }.count)
    }

    /// A followed log's clock, moved while the log is quiet, delivers the alerts it makes due without
    /// waiting for more input or the end.
    @Test func aQuietClockDeliversTheAlertsItMakesDue() throws {
        var recipe = DetectionRecipe()
        recipe.detectors = [.threshold]
        let pipeline = DetectionPipeline(partitioned: PartitionedDetection(recipe: recipe, model: nil, partitions: 3))
        var phases: [ScanAlert.Phase] = []
        pipeline.onAlert = { phases.append($0.phase) }
        let t0 = 1_704_067_200.0
        for port in 1...40 {
            try pipeline.add(
                FlowRecord(
                    start: t0 + Double(port), end: t0 + Double(port), source: ip("198.51.100.7"), destination: ip("10.0.0.5"),
                    sourcePort: 40000, destinationPort: UInt16(port), transport: .tcp, outcome: .rejected))
        }
        try pipeline.advance(to: t0 + 120)
        #expect(phases == [.start])
        try pipeline.advance(to: t0 + 3 * 3600)
        #expect(phases == [.start, .end], "the episode ended after its quiet period, before finish")
        try pipeline.finish()
        #expect(phases == [.start, .end])
        #expect(pipeline.statistics.alerts == 1)
    }

    /// A partition whose sources have gone quiet keeps the time of the others: the episode of a scanner
    /// that stopped ends after its quiet period, while another partition's client goes on, as in one
    /// detection, not at the end of the input.
    @Test func aQuietPartitionKeepsTheOthersTime() throws {
        let partitioning = Partitioning(count: 2)
        let scanner = try #require((1...250).map { ip("198.51.100.\($0)") }.first { partitioning.partition(of: $0) == 0 })
        let client = try #require((1...250).map { ip("10.9.0.\($0)") }.first { partitioning.partition(of: $0) == 1 })
        let server = try #require((1...250).map { ip("10.8.0.\($0)") }.first { partitioning.partition(of: $0) == 1 })
        let t0 = 1_704_067_200.0
        var flows = (1...40).map { port in
            FlowRecord(
                start: t0 + Double(port), end: t0 + Double(port), source: scanner, destination: ip("10.0.0.5"), sourcePort: 40000,
                destinationPort: UInt16(port), transport: .tcp, outcome: .rejected)
        }
        // Three hours of a client every 10 s: the scanner's partition sees none of it.
        flows += (1...1080).map { i in
            FlowRecord(
                start: t0 + 60 + Double(i) * 10, end: t0 + 61 + Double(i) * 10, source: client, destination: server, sourcePort: 50000,
                destinationPort: 443, transport: .tcp, outcome: .established)
        }
        var recipe = DetectionRecipe()
        recipe.detectors = [.threshold]
        /// Flows added when the end alert came, or nil when it came with `finish`.
        func endAlertAt(_ pipeline: DetectionPipeline) throws -> Int? {
            var added = 0
            var at: Int?? = nil
            pipeline.onAlert = { if $0.phase == .end { at = .some(added) } }
            for flow in flows {
                try pipeline.add(flow)
                added += 1
            }
            let before = at
            try pipeline.finish()
            #expect(at != nil, "an end alert")
            return before ?? nil
        }
        let one = try #require(try endAlertAt(DetectionPipeline(recipe: recipe, model: nil)), "one detection ends the episode mid-input")
        let round = 50
        let many = try #require(
            try endAlertAt(DetectionPipeline(partitioned: PartitionedDetection(recipe: recipe, model: nil, partitions: 2, round: round))),
            "so do partitions")
        #expect(many >= one && many <= one + round * (PartitionedDetection.roundsInFlight + 1), "delivered rounds later at most")
    }

    /// A detection dropped with rounds still out (an error upstream) lets them finish and stops its threads.
    @Test func droppedWithRoundsOutItStops() throws {
        var recipe = DetectionRecipe()
        recipe.detectors = [.threshold, .trw, .distributed]
        do {
            let p = PartitionedDetection(recipe: recipe, model: nil, partitions: 4, round: 50)
            for flow in Self.flows.prefix(5000) { try p.add(flow) }
        }
        #expect(Bool(true), "returned")
    }

    /// The caps bound the process: each partition holds its share and a margin for an uneven split.
    @Test func capsAreSharedOut() {
        #expect(PartitionedDetection.share(1_000_000, of: 2) == 502_832)
        #expect(PartitionedDetection.share(10, of: 3) == 10, "never more than the whole")
        #expect(PartitionedDetection.share(65_536, of: 64) == 1024 + 128)
        // One detection's million sources, split by hash into two: neither half reaches its share.
        let partitioning = Partitioning(count: 2)
        var counts = [0, 0]
        for i in 0..<1_000_000 { counts[partitioning.partition(of: IPAddress(ipv4: 0x0B00_0000 &+ UInt32(i) &* 2_654_435_761))] += 1 }
        #expect(counts.max()! < PartitionedDetection.share(1_000_000, of: 2), "\(counts)")
    }

    /// Summing statistics misses no count: each field of a sum is the sum of the fields.
    @Test func statisticsAddEveryCount() throws {
        let fields = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(DetectionStatistics())) as? [String: Any]).keys
        #expect(fields.count >= 18)
        var values: [String: Int] = [:]
        for (i, field) in fields.sorted().enumerated() { values[field] = i + 1 }
        let one = try JSONDecoder().decode(DetectionStatistics.self, from: JSONSerialization.data(withJSONObject: values))
        var sum = one
        sum.add(one)
        let summed = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(sum)) as? [String: Int])
        for (field, value) in values { #expect(summed[field] == 2 * value, "\(field)") }
    }

    /// The partition of an IPv4 address starts from the constant state of its twelve-byte prefix: the
    /// same hash as over all sixteen bytes.
    @Test func theIPv4HashIsTheSixteenByteHash() {
        var state: UInt32 = 2_463_534_242
        for _ in 0..<10_000 {
            // xorshift32: addresses all over the space.
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            let v4 = IPAddress(ipv4: state)
            #expect(Partitioning.hash(v4) == Partitioning.hashAllBytes(v4))
        }
        for text in ["2001:db8::1", "::1", "::", "fe80::1:2", "::fffe:10.0.0.1"] {
            #expect(Partitioning.hash(ip(text)) == Partitioning.hashAllBytes(ip(text)))
        }
    }
}
