import Foundation
import TestSupport
import Testing

@testable import FlowRecords

/// `flows convert` output is read back by the jsonl and csv readers without loss.
@Suite struct RoundTripTests {
    static let fixtures = [
        "zeek/stratosphere-008-mixed.head300.conn.log.labeled", "zeek/slips-portscan-vertical.conn.log.json",
        "zeek/slips-test9-mixed.head200.conn.log", "argus/slips-test5-mixed.binetflow",
        "nfdump/esnet-nmap-80-all.nfdump.csv", "vpc/custom-v5.log", "cicflowmeter/cicids2017-improved-portscan.head200.csv",
    ]

    func write(_ records: [FlowRecord], as encoding: RecordEncoding) throws -> String {
        let path = try temporaryFile("", name: "out.\(encoding.rawValue)")
        let fd = open(path, O_WRONLY | O_TRUNC)
        #expect(fd >= 0)
        defer { close(fd) }
        let writer = FlowWriter(encoding: encoding, fileDescriptor: fd)
        for r in records { try writer.write(r) }
        try writer.flush()
        return path
    }

    @Test(arguments: fixtures, [RecordEncoding.jsonl, .csv])
    func convertsAndReadsBack(fixture: String, encoding: RecordEncoding) throws {
        let (original, _) = try readRecords(targetFixtures.path(fixture))
        let path = try write(original, as: encoding)
        let (back, summary) = try readRecords(path)
        #expect(summary.format == (encoding == .csv ? .csv : .jsonl))
        #expect(summary.malformed == 0)
        #expect(back.count == original.count)
        for (a, b) in zip(original, back) {
            #expect(abs(a.start - b.start) < 1e-6 && abs(a.end - b.end) < 1e-6)
            var aligned = b
            aligned.start = a.start
            aligned.end = a.end
            // A Zeek record's uid comes back too, so alerts on the converted log name the same records.
            #expect(aligned == a)
        }
    }

    /// Files written before the uid column still read (detected by their header too), and a uid no log
    /// could hold is left out, as the Zeek reader does, rather than failing the record.
    @Test func oldFilesAndBadUIDsRead() throws {
        let old = try temporaryFile(
            FlowhoundColumns.headerPrefix + "\n1.0,2.0,192.0.2.1,1,192.0.2.2,22,tcp,1,60,0,0,S,unanswered,S0,,\n", name: "old.csv")
        let (records, summary) = try readRecords(old)
        #expect(summary.format == .csv && summary.malformed == 0 && records.count == 1 && records[0].uid.isEmpty)
        let bad = try temporaryFile(
            #"{"ts":1.0,"src":"192.0.2.1","dst":"192.0.2.2","dport":22,"proto":"tcp","outcome":"unanswered","uid":"C-not/a uid"}"# + "\n"
                + #"{"ts":2.0,"src":"192.0.2.1","dst":"192.0.2.2","dport":23,"proto":"tcp","outcome":"unanswered","uid":"CfykLO1IT1nVRJhLA3"}"# + "\n",
            name: "bad-uid.jsonl")
        let (lines, read) = try readRecords(bad)
        #expect(read.malformed == 0 && lines.count == 2)
        #expect(lines[0].uid.isEmpty && lines[1].uid.description == "CfykLO1IT1nVRJhLA3")
    }

    @Test func textFieldsWithSeparatorsSurvive() throws {
        let record = FlowRecord(
            start: 1, end: 2, source: ip("192.0.2.1"), destination: ip("2001:db8::1"), sourcePort: 1, destinationPort: 2,
            transport: .udp, outcome: .unanswered, state: "S0", label: "scan, \"slow\"\nkind", detailedLabel: "tab\there")
        let (json, _) = try readRecords(try write([record], as: .jsonl))
        #expect(json == [record])
        // CSV keeps every record on one line: the line break becomes a space.
        let (csv, _) = try readRecords(try write([record], as: .csv))
        var flattened = record
        flattened.label = "scan, \"slow\" kind"
        #expect(csv == [flattened])
    }

    @Test func writesTheDocumentedLayout() throws {
        let (records, _) = try readRecords(targetFixtures.path("zeek/slips-portscan-vertical.conn.log.json"))
        let csv = try String(contentsOfFile: try write([records[0]], as: .csv), encoding: .utf8)
        #expect(
            csv == """
                ts,end,src,sport,dst,dport,proto,src_pkts,src_bytes,dst_pkts,dst_bytes,flags,outcome,state,label,detailed_label,uid
                1700828217.314165,1700828217.521129,192.168.1.9,50820,45.33.32.156,443,tcp,1,60,1,40,RS,rejected,REJ,,,CfykLO1IT1nVRJhLA3

                """)
        let json = try String(contentsOfFile: try write([records[0]], as: .jsonl), encoding: .utf8)
        #expect(
            json
                == #"{"ts":1700828217.314165,"end":1700828217.521129,"src":"192.168.1.9","sport":50820,"dst":"45.33.32.156","dport":443,"proto":"tcp","src_pkts":1,"src_bytes":60,"dst_pkts":1,"dst_bytes":40,"flags":"RS","outcome":"rejected","state":"REJ","uid":"CfykLO1IT1nVRJhLA3"}"#
                + "\n")
    }
}
