import Foundation
import TestSupport
import Testing

@testable import FlowRecords

/// Each reader's bad records are skipped, counted and reported as file:line: reason; --strict stops
/// at the first. Whole-file problems are one clear error.
@Suite struct MalformedInputTests {
    /// A good file with one bad line inserted: the bad line is counted, everything else read.
    func expectOneBadLine(
        _ content: String, badLine: Int, reasonContains fragment: String, records: Int,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let path = try temporaryFile(content)
        let (_, summary) = try readRecords(path)
        #expect(summary.malformed == 1, sourceLocation: sourceLocation)
        #expect(summary.records == records, sourceLocation: sourceLocation)
        let issue = try #require(summary.issues.first, sourceLocation: sourceLocation)
        #expect(issue.line == badLine, sourceLocation: sourceLocation)
        #expect(issue.reason.contains(fragment), "\(issue.reason)", sourceLocation: sourceLocation)
        #expect(issue.description.hasPrefix("\(path):\(badLine): "), sourceLocation: sourceLocation)
        // With --strict the same line stops the read.
        let strict = try #require(readError(path, strict: true), sourceLocation: sourceLocation)
        #expect(strict.line == badLine, sourceLocation: sourceLocation)
        #expect(strict.reason == issue.reason, sourceLocation: sourceLocation)
    }

    static let zeekHeader = """
        #separator \\x09
        #set_separator\t,
        #empty_field\t(empty)
        #unset_field\t-
        #path\tconn
        #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes
        #types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tstring\tcount\tcount\tcount\tcount

        """
    static let zeekGood = "1655071231.749548\tC1\t193.201.9.232\t46563\t147.32.81.167\t3933\ttcp\t-\t0.000010\t0\t0\tS0\tS\t2\t80\t0\t0\n"

    @Test(arguments: [
        ("1655071231.7x\tC1\t193.201.9.232\t46563\t147.32.81.167\t3933\ttcp\t-\t-\t-\t-\tS0\tS\t2\t80\t0\t0", "bad timestamp"),
        ("1655071231.7\tC1\t193.201.9.999\t46563\t147.32.81.167\t3933\ttcp\t-\t-\t-\t-\tS0\tS\t2\t80\t0\t0", "bad address '193.201.9.999' in id.orig_h"),
        ("1655071231.7\tC1\t193.201.9.1\t70000\t147.32.81.167\t3933\ttcp\t-\t-\t-\t-\tS0\tS\t2\t80\t0\t0", "bad port '70000'"),
        ("1655071231.7\tC1\t193.201.9.1\t1\t147.32.81.167\t3933\twarp\t-\t-\t-\t-\tS0\tS\t2\t80\t0\t0", "unknown proto 'warp'"),
        ("1655071231.7\tC1\t193.201.9.1\t1\t147.32.81.167\t3933\ttcp\t-\t-\t-\t-\tS0\tS\tmany\t80\t0\t0", "bad orig_pkts"),
        ("1655071231.7\tC1\t193.201.9.1\t1\t147.32.81.167\t3933\ttcp", "expected 17 tab-separated fields, found 7"),
        ("1655071231.7\tC1\t193.201.9.1\t1\t147.32.81.167\t3933\ttcp\t-\t-1.0\t-\t-\tS0\tS\t2\t80\t0\t0", "bad duration"),
    ])
    func zeekTSVBadRecords(line: String, reason: String) throws {
        try expectOneBadLine(
            Self.zeekHeader + Self.zeekGood + line + "\n" + Self.zeekGood, badLine: 9, reasonContains: reason, records: 2)
    }

    @Test(arguments: [
        (#"{"ts":1.5,"id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":80,"proto":"tcp""#, "JSON object not closed"),
        (#"{"ts":"yesterday","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":80,"proto":"tcp"}"#, "bad timestamp 'yesterday'"),
        (#"{"ts":1.5,"id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":80,"proto":"tcp"}"#, "missing id.orig_h"),
        (#"{"ts":1.5,"id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":80,"proto":"tcp"} trailing"#, "text after the JSON object"),
        (#"["ts",1]"#, "not a JSON object"),
        (#"{"ts":1.5,"id.orig_h":"10.0.0.1","id.orig_p":"x","id.resp_h":"10.0.0.2","id.resp_p":80,"proto":"tcp"}"#, "bad port 'x' in id.orig_p"),
    ])
    func zeekJSONBadRecords(line: String, reason: String) throws {
        let good =
            #"{"ts":1700828217.3,"id.orig_h":"192.168.1.9","id.orig_p":50820,"id.resp_h":"45.33.32.156","id.resp_p":443,"proto":"tcp","conn_state":"REJ","history":"Sr","orig_pkts":1,"resp_pkts":1,"tags":["a","b"],"label":"a \"quoted\" label"}"#
        try expectOneBadLine([good, line, good].joined(separator: "\n"), badLine: 2, reasonContains: reason, records: 2)
        let (records, _) = try readRecords(try temporaryFile(good))
        #expect(records[0].label == "a \"quoted\" label")
    }

    static let nfdumpHeader = "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt\n"
    static let nfdumpGood = "2020-08-02 05:49:38,2020-08-02 05:49:38,0.028,10.87.1.10,130.211.223.103,52232,80,TCP,.....RS.,0,0,2,100,0,0\n"

    @Test(arguments: [
        ("2020-08-02 05:49:38,2020-08-02 05:49:38,0.028,10.87.1.10,130.211.223.103,52232,80,TCP", "expected 15 fields, found 8"),
        ("2020-08-32 05:49:38,2020-08-02 05:49:38,0.028,10.87.1.10,130.211.223.103,52232,80,TCP,.....RS.,0,0,2,100,0,0", "bad time"),
        ("2020-08-02 05:49:38,2020-08-02 05:49:38,0.028,10.87.1,130.211.223.103,52232,80,TCP,.....RS.,0,0,2,100,0,0", "bad address '10.87.1' in sa"),
        ("2020-08-02 05:49:38,2020-08-02 05:49:38,0.028,10.87.1.10,130.211.223.103,52232,80,XTP,.....RS.,0,0,2,100,0,0", "unknown protocol 'XTP'"),
        ("2020-08-02 05:49:38,2020-08-02 05:49:38,0.028,10.87.1.10,130.211.223.103,52232,99999,TCP,.....RS.,0,0,2,100,0,0", "bad port '99999' in dp"),
        ("2020-08-02 05:49:38,2020-08-02 05:49:38,0.028,10.87.1.10,130.211.223.103,52232,80,TCP,.....RS.,0,0,two,100,0,0", "bad ipkt 'two'"),
    ])
    func nfdumpBadRecords(line: String, reason: String) throws {
        try expectOneBadLine(
            Self.nfdumpHeader + Self.nfdumpGood + line + "\n" + Self.nfdumpGood + "Summary\nflows,bytes\n2,200\n",
            badLine: 3, reasonContains: reason, records: 2)
    }

    static let argusHeader = "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,SrcPkts,Label\n"
    static let argusGood = "2018/12/18 14:00:00.527012,0.699716,tcp,216.73.23.146,52798,   ->,147.32.81.58,445,S_RA,0,0,2,134,70,1,\n"

    @Test(arguments: [
        ("2018/12/18 14:00:00.527012,0.699716,tcp,216.73.23.146,52798", "expected 15 fields, found 5"),
        ("14:00:00.527012,0.699716,tcp,216.73.23.146,52798,   ->,147.32.81.58,445,S_RA,0,0,2,134,70,1,", "has no date: run ra with -u"),
        ("2018/12/18 14:00:00.527012,-0.5,tcp,216.73.23.146,52798,   ->,147.32.81.58,445,S_RA,0,0,2,134,70,1,", "bad duration"),
        ("2018/12/18 14:00:00.527012,0.699716,tcp,216.73.23.146,52798,   ->,147.32.81.580,445,S_RA,0,0,2,134,70,1,", "bad address '147.32.81.580' in DstAddr"),
        ("2018/12/18 14:00:00.527012,0.699716,qtp,216.73.23.146,52798,   ->,147.32.81.58,445,S_RA,0,0,2,134,70,1,", "unknown protocol 'qtp'"),
        ("2018/12/18 14:00:00.527012,0.699716,tcp,216.73.23.146,52798,   ->,147.32.81.58,0xZZ,S_RA,0,0,2,134,70,1,", "bad port '0xZZ' in Dport"),
        ("2018/12/18 14:00:00.527012,0.699716,tcp,216.73.23.146,52798,   ->,147.32.81.58,445,S_RA,0,0,2,1.5k,70,1,", "bad TotBytes"),
    ])
    func argusBadRecords(line: String, reason: String) throws {
        try expectOneBadLine(Self.argusHeader + Self.argusGood + line + "\n" + Self.argusGood, badLine: 3, reasonContains: reason, records: 2)
    }

    static let vpcGood = "2 123456789010 eni-1235b8ca123456789 203.0.113.77 198.51.100.5 40001 22 6 1 40 1418530010 1418530070 REJECT OK\n"

    @Test(arguments: [
        ("2 123456789010 eni-1235b8ca123456789 203.0.113.77 198.51.100.5 40001 22 6 1 40 1418530010 REJECT OK", "expected 14 space-separated fields, found 13"),
        (
            "2 123456789010 eni-1235b8ca123456789 203.0.113.777 198.51.100.5 40001 22 6 1 40 1418530010 1418530070 REJECT OK",
            "bad address '203.0.113.777' in srcaddr"
        ),
        ("2 123456789010 eni-1235b8ca123456789 203.0.113.77 198.51.100.5 40001 22 6 1 40 1418530010 1418530070 REJECT MAYBE", "unknown log-status 'MAYBE'"),
        ("2 123456789010 eni-1235b8ca123456789 203.0.113.77 198.51.100.5 40001 22 6 1 40 soon 1418530070 REJECT OK", "bad start 'soon'"),
        ("2 123456789010 eni-1235b8ca123456789 203.0.113.77 198.51.100.5 40001 22 300 1 40 1418530010 1418530070 REJECT OK", "bad protocol '300'"),
        ("2 123456789010 eni-1235b8ca123456789 203.0.113.77 198.51.100.5 40001 70000 6 1 40 1418530010 1418530070 REJECT OK", "port out of range"),
    ])
    func vpcBadRecords(line: String, reason: String) throws {
        try expectOneBadLine(Self.vpcGood + line + "\n" + Self.vpcGood, badLine: 2, reasonContains: reason, records: 2)
    }

    static let cicHeader =
        "Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,Total Fwd Packet,Total Bwd packets,Total Length of Fwd Packet,Total Length of Bwd Packet,SYN Flag Count,RST Flag Count,Label\n"
    static let cicGood = "x,172.16.0.1,55191,192.168.10.50,4005,6,2017-07-07 17:51:49.618008,49,1,1,0,0,1,1,Portscan\n"

    @Test(arguments: [
        ("x,172.16.0.1,55191,192.168.10.50,4005,6,2017-07-07 17:51:49.618008", "expected 14 comma-separated fields, found 7"),
        ("x,172.16.0.1,55191,192.168.10.50,4005,6,07-07 17:51,49,1,1,0,0,1,1,Portscan", "bad time"),
        ("x,172.16.0.1,55191,192.168.10.50,4005,six,2017-07-07 17:51:49.618008,49,1,1,0,0,1,1,Portscan", "bad protocol 'six'"),
        ("x,172.16.0.1,55191,192.168.10.50,4005,6,2017-07-07 17:51:49.618008,49,1,Infinity,0,0,1,1,Portscan", "bad Total Bwd Packets 'Infinity'"),
        ("x,172.16.0.1,55191,192.168.10.50,4005,6,2017-07-07 17:51:49.618008,NaN,1,1,0,0,1,1,Portscan", "bad Flow Duration 'NaN'"),
        (",,,,,,,,,,,,,,", "bad address '' in Src IP"),
    ])
    func cicFlowMeterBadRecords(line: String, reason: String) throws {
        try expectOneBadLine(Self.cicHeader + Self.cicGood + line + "\n" + Self.cicGood, badLine: 3, reasonContains: reason, records: 2)
    }

    @Test func firstFewIssuesKeptAllCounted() throws {
        var content = Self.vpcGood
        for _ in 0..<12 { content += "2 not a record\n" }
        let (_, summary) = try readRecords(try temporaryFile(content))
        #expect(summary.records == 1)
        #expect(summary.malformed == 12)
        #expect(summary.issues.map(\.line) == [2, 3, 4, 5, 6])
    }

    // MARK: whole-file problems

    @Test func emptyFile() throws {
        let error = try #require(readError(try temporaryFile("")))
        #expect(error.reason.contains("empty input"))
    }

    @Test func missingFile() throws {
        let error = try #require(readError("/nonexistent/conn.log"))
        #expect(error.description == "/nonexistent/conn.log: cannot open: No such file or directory")
    }

    @Test func directory() throws {
        let error = try #require(readError(NSTemporaryDirectory()))
        #expect(error.reason.contains("is a directory"))
    }

    @Test func binaryGarbage() throws {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) } + [0, 0]
        let error = try #require(readError(try temporaryFile(Data([0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01] + bytes))))
        #expect(error.reason.contains("binary data"))
    }

    @Test func packetCaptureIsNamed() throws {
        let pcapHeader: [UInt8] = [0xD4, 0xC3, 0xB2, 0xA1, 0x02, 0x00, 0x04, 0x00] + [UInt8](repeating: 0, count: 16)
        let error = try #require(readError(try temporaryFile(Data(pcapHeader))))
        #expect(error.reason.contains("packet capture"))
    }

    @Test func unknownFormat() throws {
        let error = try #require(readError(try temporaryFile("hello,world\n1,2\n")))
        #expect(error.line == 1)
        #expect(error.reason.contains("unrecognised flow-log format"))
        #expect(error.reason.contains("give the input format: zeek|"))
        #expect(!error.reason.contains("--"))
        #expect(error.setting == .inputFormat)
    }

    @Test(arguments: [
        (FlowFormat.nfdump, "zeek/slips-portscan-horizontal.conn.log", "expected an nfdump CSV header"),
        (FlowFormat.argus, "nfdump/esnet-nmap-80-all.nfdump.csv", "expected an Argus header line"),
        (FlowFormat.cicflowmeter, "argus/slips-test3-mixed.binetflow", "expected a CICFlowMeter header"),
        (FlowFormat.zeek, "argus/slips-test3-mixed.binetflow", "expected Zeek's '#fields' header line"),
        (FlowFormat.vpc, "zeek/slips-portscan-horizontal.conn.log", "expected a VPC Flow Logs header"),
        (FlowFormat.csv, "vpc/custom-v5.log", "expected a Flowhound CSV header"),
        (FlowFormat.zeekJSON, "nfdump/esnet-nmap-80-all.nfdump.csv", "no record could be read as Zeek conn.log (JSON)"),
        (FlowFormat.jsonl, "zeek/slips-portscan-vertical.conn.log.json", "no record could be read as Flowhound JSON lines"),
    ])
    func forcedWrongFormat(format: FlowFormat, fixture: String, message: String) throws {
        let error = try #require(readError(targetFixtures.path(fixture), format: format))
        #expect(error.description.contains(message), "\(error)")
        #expect(!error.description.contains("\n"))
    }

    @Test func forcedVPCOnHeaderlessNumbersFailsAfterTheProbe() throws {
        // nfdump data lines without their header look like numbers to the VPC reader.
        let lines = String(repeating: Self.nfdumpGood, count: 30)
        let error = try #require(readError(try temporaryFile(lines), format: .vpc))
        #expect(error.reason.contains("no record could be read as AWS VPC Flow Logs in 20 data lines"))
        #expect(error.reason.hasSuffix("check the input format"))
        #expect(error.setting == .inputFormat)
    }

    @Test func gzipIsReadTransparentlyIncludingConcatenatedMembers() throws {
        let plain = try Data(contentsOf: targetFixtures.url("zeek/slips-portscan-horizontal.conn.log"))
        let (expected, _) = try readRecords(targetFixtures.path("zeek/slips-portscan-horizontal.conn.log"))
        let (records, summary) = try readRecords(try temporaryFile(try gzip(plain), name: "conn.log.gz"))
        #expect(summary.records == 41)
        #expect(records == expected)
        // Two gzip members back to back, as `cat a.gz b.gz` makes: both are read.
        let vpc = try Data(contentsOf: targetFixtures.url("vpc/default-v2.log"))
        let doubled = try gzip(vpc) + (try gzip(vpc))
        let (_, twice) = try readRecords(try temporaryFile(doubled))
        #expect(twice.records == 18)
    }

    @Test func truncatedGzip() throws {
        var big = ""
        for i in 0..<20000 { big += "2 1 eni-1 203.0.113.\(i % 250) 198.51.100.5 4000\(i % 10) \(i % 60000) 6 1 40 1418530010 1418530070 REJECT OK\n" }
        let compressed = try gzip(Data(big.utf8))
        let cut = compressed.prefix(compressed.count * 2 / 3)
        let error = try #require(readError(try temporaryFile(cut, name: "cut.gz")))
        #expect(error.reason.contains("truncated gzip stream"))
    }

    @Test func corruptGzip() throws {
        var compressed = try gzip(Data(String(repeating: Self.vpcGood, count: 200).utf8))
        for i in 20..<60 { compressed[i] ^= 0x5A }
        let error = try #require(readError(try temporaryFile(compressed, name: "bad.gz")))
        #expect(error.reason.contains("gzip"))
    }

    @Test func crlfLineEndingsAndMissingFinalNewline() throws {
        let content =
            Self.argusHeader.replacingOccurrences(of: "\n", with: "\r\n")
            + Self.argusGood.replacingOccurrences(of: "\n", with: "\r\n") + Self.argusGood.dropLast()
        let (records, summary) = try readRecords(try temporaryFile(content))
        #expect(summary.records == 2 && summary.malformed == 0)
        #expect(records[1].label == nil)
    }

    @Test func overlongLineIsAnError() throws {
        let content = Self.vpcGood + String(repeating: "9", count: 3 << 20)
        let error = try #require(readError(try temporaryFile(content)))
        #expect(error.reason.contains("line longer than"))
        #expect(error.line == 2)
    }
}
