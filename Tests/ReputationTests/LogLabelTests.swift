import FlowRecords
import Foundation
import TestSupport
import Testing

@testable import Reputation

/// A flow at `day` (days after 2025-03-01) and `hour` UTC.
private func flow(
    _ source: String, _ destination: String, port: UInt16, day: Int = 0, hour: Int = 10, outcome: Outcome = .established,
    bytes: (UInt64, UInt64) = (300, 5000)
) -> FlowRecord {
    let t = Double(1_740_787_200 + day * 86_400 + hour * 3600)
    return FlowRecord(
        start: t, end: t + 1, source: ip(source), destination: ip(destination), sourcePort: 40000, destinationPort: port, transport: .tcp,
        sourceBytes: bytes.0, destinationBytes: bytes.1, outcome: outcome)
}

@Suite struct LogLabelTests {
    /// Flagged remote sources are malicious, per-source and distributed apart; servers home hosts
    /// exchanged data with on two days or from two hosts are benign; the rest is counted and left out.
    @Test func labelsRemoteEndsByTheRules() {
        var labeller = LogLabeller(home: nil)
        // A scanner probing a home host, the same port at the same hour twice: one observation.
        for port: UInt16 in [22, 23, 22] { labeller.add(flow("45.33.32.156", "10.0.0.5", port: port, outcome: .rejected, bytes: (0, 0))) }
        labeller.add(flow("45.33.32.157", "10.0.0.6", port: 445, outcome: .unanswered, bytes: (0, 0)))
        labeller.add(flow("45.33.32.158", "10.0.0.6", port: 443))  // a visitor nothing flagged
        // Servers: two hosts on one day; one host on two days; one host once; answered without data back;
        // refused; and one the detectors flagged too.
        labeller.add(flow("10.0.0.5", "93.184.216.34", port: 443))
        labeller.add(flow("10.0.0.6", "93.184.216.34", port: 443))
        labeller.add(flow("10.0.0.5", "151.101.1.69", port: 443, day: 0))
        labeller.add(flow("10.0.0.5", "151.101.1.69", port: 443, day: 1, hour: 11))
        labeller.add(flow("10.0.0.5", "8.8.8.8", port: 853))
        labeller.add(flow("10.0.0.5", "1.1.1.1", port: 443, bytes: (300, 0)))
        labeller.add(flow("10.0.0.6", "1.1.1.1", port: 443, outcome: .rejected, bytes: (0, 0)))
        labeller.add(flow("10.0.0.5", "45.33.32.157", port: 80))
        labeller.add(flow("10.0.0.6", "45.33.32.157", port: 80))
        labeller.add(flow("45.33.32.200", "93.184.216.35", port: 80))  // neither end at home

        let labels = labeller.labels(scanners: [ip("45.33.32.156"), ip("10.0.0.9")], distributed: [ip("45.33.32.157")])
        #expect(
            labels.scanSources == [
                Observation(ip("45.33.32.156"), at: 1_740_787_200 + 36_000, port: 22, transport: .tcp),
                Observation(ip("45.33.32.156"), at: 1_740_787_200 + 36_000, port: 23, transport: .tcp),
            ])
        #expect(labels.distributedSources.map(\.address) == [ip("45.33.32.157")])
        #expect(labels.distributedSources.first?.port == 445)
        #expect(labels.servers.map(\.address) == [ip("93.184.216.34"), ip("151.101.1.69"), ip("151.101.1.69")].sorted())
        #expect(labels.servers.allSatisfy { $0.port == 443 })
        #expect(labels.occasionalServers == 1)  // 8.8.8.8
        #expect(labels.flaggedServers == 1)  // 45.33.32.157
        #expect(labeller.flowsWithoutExchange == 2)
        #expect(labeller.foreignFlows == 1)
    }

    /// Your networks decide which end is remote: with a public home, its hosts are never labelled.
    @Test func aPublicHomeIsNeverARemoteEnd() throws {
        var home = CIDRSet()
        home.insert(try #require(AddressBlock("147.32.81.0/24")))
        var labeller = LogLabeller(home: home)
        labeller.add(flow("45.33.32.156", "147.32.81.167", port: 22, outcome: .rejected, bytes: (0, 0)))
        labeller.add(flow("147.32.81.167", "93.184.216.34", port: 443, day: 0))
        labeller.add(flow("147.32.81.167", "93.184.216.34", port: 443, day: 1))
        let labels = labeller.labels(scanners: [ip("45.33.32.156"), ip("147.32.81.167")], distributed: [])
        #expect(labels.scanSources.map(\.address) == [ip("45.33.32.156")])
        #expect(labels.servers.map(\.address) == [ip("93.184.216.34")])
    }

    /// Memory stays bounded: addresses beyond the limit are counted, observations per address capped.
    @Test func tablesAreBounded() {
        var labeller = LogLabeller(home: nil, maximumRemotes: 2, observationsPerAddress: 3)
        for i in 0..<4 { labeller.add(flow("45.33.32.\(i + 1)", "10.0.0.5", port: 22, outcome: .rejected, bytes: (0, 0))) }
        for port: UInt16 in 1...10 { labeller.add(flow("45.33.32.1", "10.0.0.5", port: port, outcome: .rejected, bytes: (0, 0))) }
        #expect(labeller.unfollowed == 2)
        let labels = labeller.labels(scanners: [ip("45.33.32.1"), ip("45.33.32.2"), ip("45.33.32.3")], distributed: [])
        #expect(labels.scanSources.filter { $0.address == ip("45.33.32.1") }.count == 3)
        #expect(Set(labels.scanSources.map(\.address)) == [ip("45.33.32.1"), ip("45.33.32.2")])
    }

    /// Rows labelled by a rule join the files' rows: counted as inputs of their own in the card, and a
    /// rule that labelled nothing is a note, not an error.
    @Test func derivedInputsJoinTheFiles() throws {
        let bad = try temporaryFile("45.148.10.5\n", name: "bad.txt")
        let scans = DerivedInput(
            name: "scan alerts in a.log", malicious: true, kind: "scan-alert sources", sha256: "abc",
            observations: [Observation(address: ip("45.33.32.156")), Observation(address: ip("45.33.32.156")), Observation(address: ip("10.0.0.1"))])
        let none = DerivedInput(name: "distributed scans in a.log", malicious: true, kind: "distributed-scan sources", sha256: "abc", observations: [])
        let servers = DerivedInput(
            name: "servers used from home in a.log", malicious: false, kind: "servers used from home", sha256: "abc",
            observations: [Observation(address: ip("93.184.216.34")), Observation(address: ip("45.148.10.5"))])
        let data = try LabelledData.load(malicious: [bad], benign: [], derived: [scans, none, servers], options: LoadingOptions())
        #expect(data.inputs.map(\.kind) == ["addresses", "scan-alert sources", "servers used from home"])
        #expect(data.inputs.map(\.rows) == [1, 1, 2])
        #expect(data.rows.filter(\.malicious).map(\.observation.address) == [ip("45.148.10.5"), ip("45.33.32.156")])
        // 45.148.10.5 is on the blocklist: malicious only.
        #expect(data.rows.filter { !$0.malicious }.map(\.observation.address) == [ip("93.184.216.34")])
        #expect(data.notes.contains("distributed scans in a.log: no malicious rows"))
        #expect(data.notes.contains("scan alerts in a.log: skipped 1 repeated and 1 not public Internet addresses"))
    }
}
