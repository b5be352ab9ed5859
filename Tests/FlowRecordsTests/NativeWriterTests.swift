import Foundation
import TestSupport
import Testing

@testable import FlowRecords

/// Records written in an exporter's format read back with the same meaning.
@Suite struct NativeWriterTests {
    static let scanner = ip("192.0.2.66"), target = ip("10.1.0.5")

    static func probe(_ port: UInt16, _ transport: Transport, _ flags: TCPFlags, _ outcome: Outcome, reply: UInt64, at t: Double) -> FlowRecord {
        FlowRecord(
            start: t, end: t + 0.25, source: scanner, destination: target, sourcePort: 40000, destinationPort: port,
            transport: transport, sourcePackets: 1, sourceBytes: 44, destinationPackets: reply, destinationBytes: reply * 40,
            tcpFlags: flags, outcome: outcome, label: "scan")
    }

    static let records: [FlowRecord] = [
        probe(80, .tcp, [.syn, .ack, .psh, .fin], .established, reply: 5, at: 1_700_000_000),
        probe(81, .tcp, [.syn, .rst, .ack], .rejected, reply: 1, at: 1_700_000_001),
        probe(82, .tcp, [.syn], .unanswered, reply: 0, at: 1_700_000_002),
        probe(22, .tcp, [.syn, .rst], .established, reply: 1, at: 1_700_000_003),  // half-open probe of an open port
        probe(83, .tcp, [.fin, .rst, .ack], .rejected, reply: 1, at: 1_700_000_004),  // FIN probe, closed port
        probe(84, .tcp, [.fin, .psh, .urg], .unanswered, reply: 0, at: 1_700_000_005),  // XMAS probe, no answer
        probe(53, .udp, [], .established, reply: 1, at: 1_700_000_006),
        probe(161, .udp, [], .rejected, reply: 0, at: 1_700_000_007),  // ICMP port unreachable
        probe(162, .udp, [], .unanswered, reply: 0, at: 1_700_000_008),
    ]

    func roundTrip(_ encoding: RecordEncoding) throws -> ([FlowRecord], ReadSummary) {
        var bytes = Array(encoding.header.utf8)
        for r in Self.records { FlowWriter.encode(r, as: encoding, into: &bytes) }
        let path = try temporaryFile(Data(bytes))
        return try readRecords(path)
    }

    @Test(arguments: [RecordEncoding.zeek, .argus])
    func bidirectionalFormatsKeepTheOutcome(encoding: RecordEncoding) throws {
        let (back, summary) = try roundTrip(encoding)
        #expect(summary.format == encoding.format)
        #expect(summary.malformed == 0)
        let probes = back.filter { $0.source == Self.scanner }
        #expect(probes.count == Self.records.count)
        for (a, b) in zip(Self.records, probes) {
            #expect(a.destinationPort == b.destinationPort && a.transport == b.transport && a.destination == b.destination)
            #expect(abs(a.start - b.start) < 1e-6)
            if a.transport == .udp && a.outcome == .rejected {
                // The UDP flow itself got no reply; the refusal is the ICMP record from the target.
                #expect(b.outcome == .unanswered)
            } else {
                #expect(a.outcome == b.outcome, "\(encoding) port \(a.destinationPort): \(b.state)")
            }
            #expect(b.label == (encoding == .argus || encoding == .zeek ? "scan" : nil))
        }
        let icmp = back.filter { $0.source == Self.target }
        #expect(icmp.count == 1)
        #expect(icmp.first?.transport == .icmp && icmp.first?.outcome == .rejected)
    }

    @Test(arguments: [RecordEncoding.nfdump, .vpc])
    func oneDirectionFormatsWriteEachSide(encoding: RecordEncoding) throws {
        let (back, summary) = try roundTrip(encoding)
        #expect(summary.format == encoding.format)
        #expect(summary.malformed == 0)
        let requests = back.filter { $0.source == Self.scanner }
        let replies = back.filter { $0.source == Self.target }
        #expect(requests.count == Self.records.count)
        #expect(Set(requests.map(\.destinationPort)) == Set(Self.records.map(\.destinationPort)))
        if encoding == .nfdump {
            // Refusals are the target's own records: RST-ACK for TCP, port unreachable for UDP.
            #expect(replies.filter { $0.outcome == .rejected }.count == 3)
            #expect(requests.first { $0.destinationPort == 82 }?.outcome == .unanswered)
            #expect(requests.first { $0.destinationPort == 80 }?.outcome == .established)
            #expect(requests.first { $0.destinationPort == 22 }?.outcome == .established)
        } else {
            #expect(requests.filter { $0.state == "REJECT" }.count == 3)
            #expect(requests.filter { $0.outcome == .rejected }.count == 3)
        }
    }

    @Test func zeekUIDsAreDeterministicAndDistinct() {
        let uids = Self.records.map(FlowWriter.zeekUID)
        #expect(uids == Self.records.map(FlowWriter.zeekUID))
        #expect(Set(uids).count == uids.count)
        #expect(uids.allSatisfy { $0.count == 18 && $0.hasPrefix("C") })
    }
}
