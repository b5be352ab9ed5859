import FlowRecords
import Foundation
import Testing

@testable import Synthesis

@Suite struct SynthesisTests {
    static func config(seed: UInt64 = 7, benign: Int = 14) -> SynthConfig {
        var c = SynthConfig()
        c.seed = seed
        c.benignSources = benign
        c.scanPrevalence = 0.45
        c.hosts = 120
        c.duration = 3600
        return c
    }

    static let generated = TrafficGenerator(config: config()).generate()

    static func bytes(_ flows: [FlowRecord], _ encoding: RecordEncoding) -> [UInt8] {
        var out = Array(encoding.header.utf8)
        for f in flows { FlowWriter.encode(f, as: encoding, into: &out) }
        return out
    }

    @Test func sameSeedSameBytesOtherSeedOtherBytes() {
        let again = TrafficGenerator(config: Self.config()).generate()
        #expect(again.truth == Self.generated.truth)
        for encoding in RecordEncoding.allCases {
            #expect(Self.bytes(again.flows, encoding) == Self.bytes(Self.generated.flows, encoding), "\(encoding)")
        }
        let other = TrafficGenerator(config: Self.config(seed: 8)).generate()
        #expect(Self.bytes(other.flows, .zeek) != Self.bytes(Self.generated.flows, .zeek))
    }

    @Test func everyKindIsPresentAndSourcesAreDistinct() {
        let truth = Self.generated.truth
        let kinds = Set(truth.map(\.kind))
        for b in SynthConfig.allScans + SynthConfig.allBenign { #expect(kinds.contains(b.kind), "\(b.kind)") }
        #expect(Set(truth.map(\.source)).count == truth.count)
        let flowSources = Set(Self.generated.flows.map(\.source))
        for t in truth { #expect(flowSources.contains(t.source), "\(t.kind) \(t.source) made no flows") }
        // Flows are in time order within the span.
        let flows = Self.generated.flows
        #expect(zip(flows, flows.dropFirst()).allSatisfy { $0.start <= $1.start })
        #expect(flows.allSatisfy { $0.start >= 1_704_067_200 && $0.start < 1_704_067_200 + 3600 })
    }

    struct Profile {
        var flows: [FlowRecord]
        var ports: Set<UInt16> { Set(flows.map(\.destinationPort)) }
        var hosts: Set<IPAddress> { Set(flows.map(\.destination)) }
        var failedShare: Double { Double(flows.filter { $0.outcome.isFailure }.count) / Double(max(flows.count, 1)) }
        var span: Double { (flows.map(\.start).max() ?? 0) - (flows.map(\.start).min() ?? 0) }
    }

    static func profiles(kind: String) -> [Profile] {
        let sources = generated.truth.filter { $0.kind == kind }.map(\.source)
        return sources.map { s in Profile(flows: generated.flows.filter { $0.source == s }) }
    }

    @Test func scansLookLikeTheirKind() throws {
        for p in Self.profiles(kind: "vertical") {
            #expect(p.hosts.count == 1 && p.ports.count >= 10 && p.failedShare > 0.9)
        }
        for p in Self.profiles(kind: "horizontal") {
            #expect(p.ports.count == 1 && p.hosts.count >= 60 && p.failedShare > 0.5)
        }
        for p in Self.profiles(kind: "block") {
            #expect((3...12).contains(p.ports.count) && p.hosts.count >= 16)
        }
        for (kind, probe) in [("stealth-fin", TCPFlags.fin), ("stealth-xmas", [.fin, .psh, .urg])] {
            for p in Self.profiles(kind: kind) {
                #expect(p.flows.allSatisfy { !$0.tcpFlags.contains(.syn) && $0.tcpFlags.isSuperset(of: probe) })
                #expect(p.failedShare == 1)  // closed ports refuse, open ones stay silent
            }
        }
        for p in Self.profiles(kind: "stealth-null") {
            #expect(p.flows.allSatisfy { $0.tcpFlags.subtracting([.rst, .ack]).isEmpty })
        }
        for p in Self.profiles(kind: "udp") {
            #expect(p.flows.allSatisfy { $0.transport == .udp } && p.hosts.count == 1 && p.ports.count >= 20)
        }
        for p in Self.profiles(kind: "slow") + Self.profiles(kind: "slow-horizontal") {
            let times = p.flows.map(\.start).sorted()
            let gaps = zip(times, times.dropFirst()).map { $1 - $0 }
            #expect(gaps.min()! >= 30)
            #expect(p.span > 3000)
        }
        let distributed = Self.profiles(kind: "distributed")
        #expect(distributed.count == 4)
        #expect(Set(distributed.flatMap(\.hosts)).count == 1)  // one target
        let portSets = distributed.map(\.ports)
        for i in portSets.indices { for j in portSets.indices where i < j { #expect(portSets[i].isDisjoint(with: portSets[j])) } }
        #expect(portSets.reduce(Set()) { $0.union($1) }.count >= 1000)
    }

    @Test func benignHardCasesLookLikeThemselves() {
        for p in Self.profiles(kind: "scraper") {
            #expect(p.ports == [9100] && p.hosts.count >= 50 && p.failedShare == 0)
        }
        for p in Self.profiles(kind: "health-check") {
            #expect(p.ports.count <= 6 && p.hosts.count <= 4 && p.failedShare < 0.5)
        }
        for p in Self.profiles(kind: "retrying-client") {
            #expect(p.ports.count == 1 && p.hosts.count == 1 && p.failedShare == 1 && p.flows.count >= 30)
        }
        for p in Self.profiles(kind: "backup") {
            #expect(p.flows.allSatisfy { $0.duration >= 60 && $0.sourceBytes > 10_000_000 })
        }
        for p in Self.profiles(kind: "p2p") {
            #expect(p.hosts.count >= 20 && p.ports.count >= 20 && p.failedShare > 0.1 && p.failedShare < 0.8)
        }
        for p in Self.profiles(kind: "web") + Self.profiles(kind: "dns-ntp") {
            #expect(p.failedShare < 0.1)
        }
    }

    @Test(arguments: RecordEncoding.allCases)
    func everyFormatReadsBackWithEverySource(encoding: RecordEncoding) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("synth-\(UUID().uuidString).\(encoding.rawValue)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(Self.bytes(Self.generated.flows, encoding)).write(to: URL(fileURLWithPath: path))
        var sources = Set<IPAddress>()
        var count = 0
        let summary = try FlowReader().read(path: path) { r in
            sources.insert(r.source)
            count += 1
        }
        #expect(summary.format == encoding.format)
        #expect(summary.malformed == 0)
        #expect(count >= Self.generated.flows.count)
        for t in Self.generated.truth { #expect(sources.contains(t.source), "\(encoding): \(t.kind)") }
    }

    /// The named-only `masked` kind: one host's ports probed a handful per 10 minutes, never the same
    /// port twice, among the source's own answered web traffic that outnumbers the probes.
    @Test func maskedScansHideAFewProbesAWindowAmongBrowsing() throws {
        var config = Self.config(seed: 5, benign: 4)
        config.scanPrevalence = 0.5
        config.duration = 2 * 3600
        config.scanBehaviours = [MaskedScan()]
        let generated = TrafficGenerator(config: config).generate()
        let scanners = generated.truth.filter { $0.label == .scan }
        #expect(scanners.count == 4 && scanners.allSatisfy { $0.kind == "masked" })
        for scanner in scanners {
            let flows = generated.flows.filter { $0.source == scanner.source }
            // Browsing goes to outside servers (TEST-NET-2 and -3) and the resolver's port 53.
            let probed = flows.filter {
                $0.destinationPort != 53 && !$0.destination.description.hasPrefix("198.51.100.") && !$0.destination.description.hasPrefix("203.0.113.")
            }
            let target = try #require(probed.first?.destination)
            #expect(probed.allSatisfy { $0.destination == target })
            #expect(Set(probed.map(\.destinationPort)).count == probed.count, "each port once")
            let perWindow = Dictionary(grouping: probed) { Int(($0.start - config.start) / 600) }.mapValues(\.count)
            #expect(perWindow.count == 12 && perWindow.values.allSatisfy { (1...14).contains($0) }, "\(perWindow)")
            let answered = flows.filter { !$0.outcome.isFailure && $0.destination != target }
            #expect(answered.count > probed.count)
        }
    }

    @Test func portRankingFollowsNmap() {
        #expect(PortRanking.topTCP(3) == [80, 23, 443])
        let thousand = PortRanking.topTCP(1000)
        #expect(thousand.count == 1000 && Set(thousand).count == 1000)
        #expect(Double(thousand.filter { $0 < 1024 }.count) / 1000 > 0.8)
    }

    @Test func generatorIsUniformAndStable() {
        var a = SplitMix64(seed: 42)
        // Reference values of SplitMix64 for seed 42 (Vigna's C reference implementation).
        #expect(a.next() == 0xBDD7_3226_2FEB_6E95)
        var counts = [Int](repeating: 0, count: 10)
        for _ in 0..<10_000 { counts[a.int(0...9)] += 1 }
        #expect(counts.allSatisfy { (900...1100).contains($0) })
    }

    @Test func addressBlocksMustHoldEverySource() {
        var c = SynthConfig()
        c.benignSources = 800
        #expect(c.capacityProblem == nil)
        c.scanners = IPv4Block("192.0.2.0/24")!
        #expect(c.capacityProblem?.contains("do not fit in 192.0.2.0/24") == true)
        c.benignSources = 40
        #expect(c.capacityProblem == nil)
        c.clients = IPv4Block("10.2.0.0/27")!
        #expect(c.capacityProblem?.contains("benign sources do not fit") == true)
        // With room, no address is used twice even for many sources.
        var big = SynthConfig()
        big.benignSources = 300
        big.duration = 600
        let truth = TrafficGenerator(config: big).generate().truth
        #expect(Set(truth.map(\.source)).count == truth.count)
    }

    @Test(arguments: [1.0, 30, 120])
    func shortSpansStillWork(duration: Double) {
        var c = SynthConfig()
        c.duration = duration
        c.benignSources = 14
        let (flows, truth) = TrafficGenerator(config: c).generate()
        #expect(!truth.isEmpty)
        #expect(flows.allSatisfy { $0.start >= c.start && $0.start < c.start + duration })
    }
}
