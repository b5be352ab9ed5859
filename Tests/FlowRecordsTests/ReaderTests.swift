import Foundation
import TestSupport
import Testing

@testable import FlowRecords

/// Every reader on real records: counts, one hand-checked record, and the outcome mapping.
@Suite struct ReaderTests {
    @Test func zeekTSVWithLabels() throws {
        let (records, summary) = try readRecords(targetFixtures.path("zeek/stratosphere-008-mixed.head300.conn.log.labeled"))
        #expect(summary.format == .zeek)
        #expect(summary.records == 300)
        #expect(summary.malformed == 0)
        let first = records[0]
        #expect(first.start == 1655071198.444458)
        #expect(abs(first.end - (1655071198.444458 + 1.135424)) < 1e-6)
        #expect(first.source == ip("147.32.81.167"))
        #expect(first.sourcePort == 62771)
        #expect(first.destination == ip("40.74.108.123"))
        #expect(first.destinationPort == 443)
        #expect(first.transport == .tcp)
        #expect(first.sourcePackets == 14)
        #expect(first.sourceBytes == 1016)  // orig_ip_bytes, not the payload's 1596
        #expect(first.destinationPackets == 16)
        #expect(first.destinationBytes == 1226)
        #expect(first.tcpFlags == [.syn, .ack, .fin, .psh])
        #expect(first.state == "SF")
        #expect(first.outcome == .established)
        #expect(first.label == "Benign")
        #expect(first.detailedLabel == "Microsoft")
        let probe = records[1]
        #expect(probe.source == ip("193.201.9.232"))
        #expect(probe.state == "S0")
        #expect(probe.outcome == .unanswered)
        #expect(probe.tcpFlags == [.syn])
        #expect(probe.label == "Malicious")
        #expect(probe.detailedLabel == "External-Attack-to-Device")
        // Every Malicious record of this capture is an inbound probe that failed.
        let malicious = records.filter { $0.label == "Malicious" }
        #expect(malicious.count > 100)
        #expect(malicious.allSatisfy { $0.destination == ip("147.32.81.167") })
        #expect(Double(malicious.filter { $0.outcome.isFailure }.count) / Double(malicious.count) > 0.95)
    }

    @Test func zeekTSVHorizontalScan() throws {
        let (records, summary) = try readRecords(targetFixtures.path("zeek/slips-portscan-horizontal.conn.log"))
        #expect(summary.format == .zeek)
        #expect(summary.records == 41)
        #expect(Set(records.map(\.source)) == [ip("10.0.2.112")])
        #expect(records.filter { $0.state == "S0" }.allSatisfy { $0.outcome == .unanswered })
        #expect(records.first { $0.sourcePort == 49171 }?.destinationPort == 6898)
    }

    @Test func zeekJSONVerticalScan() throws {
        let (records, summary) = try readRecords(targetFixtures.path("zeek/slips-portscan-vertical.conn.log.json"))
        #expect(summary.format == .zeekJSON)
        #expect(summary.records == 50)
        let first = records[0]
        #expect(first.start == 1700828217.314165)
        #expect(first.source == ip("192.168.1.9"))
        #expect(first.destination == ip("45.33.32.156"))
        #expect(first.destinationPort == 443)
        #expect(first.state == "REJ")
        #expect(first.outcome == .rejected)
        #expect(first.tcpFlags == [.syn, .rst])
        #expect(first.sourceBytes == 60 && first.destinationBytes == 40)
        // "ShAR" (SYN, SYN-ACK, ACK, originator RST): the port answered.
        #expect(records[1].state == "RSTO" && records[1].outcome == .established)
        let toTarget = records.filter { $0.destination == ip("45.33.32.156") }
        #expect(toTarget.count == 46)
        #expect(Set(toTarget.map(\.destinationPort)).count == 44)  // ports 443 and 80 were probed twice
    }

    @Test func zeekJSONMixedWithIPv6AndICMP() throws {
        let (records, summary) = try readRecords(targetFixtures.path("zeek/slips-test9-mixed.head200.conn.log"))
        #expect(summary.format == .zeekJSON)
        #expect(summary.records == 200)
        #expect(records[0].source == ip("fe80::1cf4:44d2:904a:14f7"))
        #expect(records[0].transport == .udp)
        #expect(records[0].outcome == .unanswered)  // S0, no reply
        #expect(records.contains { $0.transport == .icmp })
    }

    @Test func argusBinetflowCommaSeparated() throws {
        let (records, summary) = try readRecords(targetFixtures.path("argus/slips-test3-mixed.binetflow"))
        #expect(summary.format == .argus)
        #expect(summary.records == 89)
        let first = records[0]
        #expect(abs(first.start - 1545141600.075359) < 1e-6)
        #expect(first.source == ip("216.73.23.146"))
        #expect(first.destination == ip("147.32.81.57"))
        #expect(first.destinationPort == 445)
        #expect(first.state == "S_")
        #expect(first.outcome == .unanswered)
        #expect(first.sourcePackets == 1 && first.sourceBytes == 70)
        #expect(first.destinationPackets == 0 && first.destinationBytes == 0)
        let second = records[1]
        #expect(second.state == "S_RA")
        #expect(second.outcome == .rejected)
        #expect(second.tcpFlags == [.syn, .rst, .ack])
        #expect(second.sourcePackets == 1 && second.destinationPackets == 1)
        #expect(second.sourceBytes == 70 && second.destinationBytes == 64)
        #expect(abs(second.duration - 0.699716) < 1e-6)
        #expect(records.contains { $0.source == ip("2001:718:2:1634:96de:80ff:fe7a:bdf0") })
    }

    @Test func argusTabSeparatedWithStatusAndNonIPRecords() throws {
        let (records, summary) = try readRecords(targetFixtures.path("argus/slips-test5-mixed.binetflow"))
        #expect(summary.format == .argus)
        #expect(summary.skipped[.statusRecord] == 1)
        #expect(summary.skipped[.notIP] == 3)  // llc and two arp
        #expect(summary.records == 296)
        #expect(summary.malformed == 0)
        #expect(records[0].label == "flow=Background-UDP-Attempt")
        #expect(records[0].state == "INT")
        #expect(records[0].outcome == .unanswered)
    }

    @Test func argusManyDestinations() throws {
        let (records, summary) = try readRecords(targetFixtures.path("argus/slips-test2-malicious.head300.binetflow"))
        #expect(summary.records == 300)
        #expect(records.allSatisfy { $0.label == nil })  // the Label column is empty in this file
        #expect(records[0].state == "CON" && records[0].outcome == .established)
    }

    @Test func nfdump17() throws {
        let (records, summary) = try readRecords(targetFixtures.path("nfdump/esnet-nmap-80-all.nfdump.csv"))
        #expect(summary.format == .nfdump)
        #expect(summary.records == 76)
        #expect(summary.skipped[.summary] == 3)
        let icmp = records[0]
        #expect(icmp.transport == .icmp)
        #expect(icmp.sourcePort == 3 && icmp.destinationPort == 10)  // dp 778 = type 3, code 10
        #expect(icmp.outcome == .rejected)
        #expect(icmp.start == 1_596_347_386)
        // nmap's half-open probe of an open port: SYN, then RST once the SYN-ACK came back.
        let halfOpen = try #require(records.first { $0.sourcePort == 52232 })
        #expect(halfOpen.source == ip("10.87.1.10"))
        #expect(halfOpen.tcpFlags == [.rst, .syn])
        #expect(halfOpen.state == ".....RS.")
        #expect(halfOpen.outcome == .established)
        #expect(abs(halfOpen.duration - 0.028) < 1e-6)
        #expect(halfOpen.sourcePackets == 2 && halfOpen.sourceBytes == 100)
    }

    @Test func nfdump175DefaultLayout() throws {
        let (records, summary) = try readRecords(targetFixtures.path("nfdump/nfdump-1.7.6-default.csv"))
        #expect(summary.format == .nfdump)
        #expect(summary.records == 3)
        #expect(records[0].transport == .udp)
        #expect(abs(records[0].start - 1719616661.12) < 1e-6)
        #expect(abs(records[0].end - 1719616664.12) < 1e-6)
        #expect(records[0].sourcePackets == 9 && records[0].sourceBytes == 11214)
        #expect(records[2].destinationPort == 23)
    }

    @Test func vpcDefaultVersion2() throws {
        let (records, summary) = try readRecords(targetFixtures.path("vpc/default-v2.log"))
        #expect(summary.format == .vpc)
        #expect(summary.records == 9)
        #expect(summary.skipped[.noData] == 1)
        #expect(summary.skipped[.skipData] == 1)
        let scan = records.filter { $0.source == ip("203.0.113.77") }
        #expect(scan.map(\.destinationPort) == [22, 23, 25, 80, 445, 3389])
        #expect(scan.filter { $0.outcome == .rejected }.count == 5)
        #expect(scan[3].state == "ACCEPT" && scan[3].outcome == .other)
        #expect(records[0].start == 1_418_530_010 && records[0].end == 1_418_530_070)
        #expect(records[0].sourcePackets == 11 && records[0].sourceBytes == 5011)
        #expect(records.contains { $0.source == ip("2001:db8:1234:a100:8d6e:3477:df66:f105") })
        #expect(records.last?.transport == .udp)
    }

    @Test func vpcCustomLayoutWithTCPFlagsAndPacketAddresses() throws {
        let (records, summary) = try readRecords(targetFixtures.path("vpc/custom-v5.log"))
        #expect(summary.format == .vpc)
        #expect(summary.records == 6)
        #expect(summary.skipped[.noData] == 1)
        // pkt-srcaddr is the packet's own source, behind the load balancer address.
        #expect(records[0].source == ip("203.0.113.44"))
        #expect(records[0].tcpFlags == [.syn])
        #expect(records[0].outcome == .unanswered)
        #expect(records[1].tcpFlags == [.syn, .ack])
        #expect(records[1].outcome == .established)
        #expect(records[3].tcpFlags == [.rst])
        #expect(records[3].outcome == .rejected)
        #expect(records[4].outcome == .established)  // 19 = SYN|ACK|FIN
        #expect(records[5].state == "REJECT" && records[5].outcome == .rejected)
    }

    @Test func cicFlowMeterImproved() throws {
        let (records, summary) = try readRecords(targetFixtures.path("cicflowmeter/cicids2017-improved-portscan.head200.csv"))
        #expect(summary.format == .cicflowmeter)
        #expect(summary.records == 200)
        let first = records[0]
        #expect(first.source == ip("172.16.0.1") && first.sourcePort == 55191)
        #expect(first.destination == ip("192.168.10.50") && first.destinationPort == 4005)
        #expect(abs(first.start - 1499449909.618008) < 1e-6)
        #expect(abs(first.duration - 49e-6) < 1e-6)
        #expect(first.tcpFlags == [.syn, .rst, .ack])
        #expect(first.outcome == .rejected)
        #expect(first.label == "Portscan")
        #expect(first.detailedLabel == "-1")
        #expect(Double(records.filter { $0.outcome == .rejected }.count) / 200 > 0.95)

        let (benign, benignSummary) = try readRecords(targetFixtures.path("cicflowmeter/cicids2017-improved-benign.head200.csv"))
        #expect(benignSummary.records == 200)
        #expect(benign.allSatisfy { $0.label == "BENIGN" })
    }

    @Test func cicFlowMeterOriginalColumns() throws {
        let (records, summary) = try readRecords(targetFixtures.path("cicflowmeter/cicids2017-original-columns.csv"))
        #expect(summary.format == .cicflowmeter)
        #expect(summary.records == 3)
        #expect(records[0].start == 1_499_392_260)  // 7/7/2017 1:51, day first
        #expect(records[0].outcome == .rejected)
        #expect(records[1].outcome == .established)  // two SYNs: the SYN-ACK came back
        #expect(records[2].transport == .udp && records[2].outcome == .established)
        #expect(records[2].start == 1_499_344_741)  // 12-hour clock with PM
        #expect(records[2].sourceBytes == 45 && records[2].destinationBytes == 61)
        #expect(records[0].label == "PortScan")
    }
}
