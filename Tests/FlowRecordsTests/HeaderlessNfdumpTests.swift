import Foundation
import TestSupport
import Testing

@testable import FlowRecords

/// `nfdump -q -o csv`: nfdump's CSV without its header line (and without the Summary), as nfdump is
/// usually piped. Read in each of nfdump's layouts (`NfdumpLayout`), detected only when the first
/// lines have a layout's exact shape, and with `--format nfdump` read by the column count.
@Suite struct HeaderlessNfdumpTests {
    /// nfpcapd + `nfdump -q -o csv` (1.7.1) of the loopback capture: the records of
    /// loopback-scans.nfdump.csv, without header and Summary (Tests/Fixtures/realtools/README.md).
    static let quietExport = FixtureDirectory.realTools.path("loopback-scans.quiet.nfdump.csv.gz")
    static let headedExport = FixtureDirectory.realTools.path("loopback-scans.nfdump.csv")

    /// The header-less export uncompressed, as nfdump prints it.
    static func quietText() throws -> String {
        String(decoding: try gunzip(path: quietExport), as: UTF8.self)
    }

    /// A headed export's lines without its header and its trailing Summary block.
    static func withoutHeader(_ path: String) throws -> [Substring] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n").dropFirst()
        return Array(lines.prefix { !$0.hasPrefix("Summary") })
    }

    static func detect(_ text: String) -> FlowFormat? {
        Array(text.utf8).withUnsafeBufferPointer { FlowFormat.detect(head: $0) }
    }

    @Test("The real header-less export reads to the records of the same export with its header")
    func realQuietExport() throws {
        let (expected, headed) = try readRecords(Self.headedExport)
        #expect(headed.records == 983 && headed.skipped[.summary] == 3)
        let plain = try temporaryFile(try Self.quietText(), name: "quiet.csv")
        for path in [Self.quietExport, plain] {
            let (records, summary) = try readRecords(path)
            #expect(summary.format == .nfdump)
            #expect(summary.records == 983)
            #expect(summary.malformed == 0 && summary.skipped.isEmpty)
            #expect(records == expected)
            // Forced, the same.
            let (forced, _) = try readRecords(path, format: .nfdump)
            #expect(forced == expected)
        }
    }

    @Test("nfdump 1.7's 48 columns, 1.6's early 43 and 1.7.5+'s 10, each without its header")
    func everyLayout() throws {
        // Later 1.6 to 1.7.4: the esnet export (nfdump 1.7) without header and Summary.
        let esnet = targetFixtures.path("nfdump/esnet-nmap-80-all.nfdump.csv")
        // Early 1.6: the same columns less cl,sl,al (before ra,eng) and exid,tr (after them).
        let early = try Self.withoutHeader(esnet).map { line in
            var f = line.split(separator: ",", omittingEmptySubsequences: false)
            #expect(f.count == 48)
            f.removeSubrange(46...47)
            f.removeSubrange(41...43)
            return f.joined(separator: ",")
        }
        #expect(early.allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false).count == 43 })
        // 1.7.5+: the project's 1.7.6-layout file without its header.
        let v176 = targetFixtures.path("nfdump/nfdump-1.7.6-default.csv")
        let cases: [(headed: String, headerless: [String], columns: Int)] = [
            (esnet, try Self.withoutHeader(esnet).map(String.init), 48),
            (esnet, early, 43),
            (v176, try Self.withoutHeader(v176).map(String.init), 10),
        ]
        for (headed, lines, columns) in cases {
            let (expected, _) = try readRecords(headed)
            let path = try temporaryFile(lines.joined(separator: "\n") + "\n")
            #expect(Self.detect(lines.joined(separator: "\n") + "\n") == .nfdump, "\(columns) columns")
            let (records, summary) = try readRecords(path)
            #expect(summary.format == .nfdump)
            #expect(summary.malformed == 0)
            #expect(records == expected, "\(columns) columns")
        }
    }

    @Test("1.7.5+ as it prints protocols by number and ICMP as type.code")
    func numericProtocols() throws {
        let lines = [
            "2024-06-28 23:17:41.120,3.000,17,128.14.118.163,443,38.250.154.56,10693,9,11214,1",
            "2024-06-28 23:17:42.001,0.000,6,203.0.113.7,51000,38.250.154.56,22,1,44,1",
            "2024-06-28 23:17:42.002,0.000,1,38.250.154.56,0,203.0.113.7,3.3,1,72,1",
            "2024-06-28 23:17:42.003,0.012,58,2001:db8::7,0,2001:db8::1,1.4,1,72,1",
        ]
        let text = lines.joined(separator: "\n") + "\n"
        #expect(Self.detect(text) == .nfdump)
        let (records, summary) = try readRecords(try temporaryFile(text))
        #expect(summary.records == 4 && summary.malformed == 0)
        #expect(records.map(\.transport) == [.udp, .tcp, .icmp, .icmpv6])
        #expect(records[2].sourcePort == 3 && records[2].destinationPort == 3 && records[2].outcome == .rejected)
        #expect(records[3].source == ip("2001:db8::7"))
    }

    /// One line of nfdump 1.7.1's `-q -o csv`, from the esnet export.
    static let line48 =
        "2020-08-02 05:49:38,2020-08-02 05:49:38,0.028,10.87.1.10,130.211.223.103,52232,80,TCP,.....RS.,0,0,2,100,0,0,0,0,0,0,0,0,0,0,0.0.0.0,0.0.0.0,0,0,00:00:00:00:00:00,00:00:00:00:00:00,00:00:00:00:00:00,00:00:00:00:00:00,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,    0.000,    0.000,    0.000,0.0.0.0,17/1,0,2026-11-22 07:53:57.775"

    /// `line48` with field `index` replaced.
    static func line48(replacing index: Int, with value: String) -> String {
        var f = line48.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        f[index] = value
        return f.joined(separator: ",")
    }

    @Test("Detection takes a header-less file for nfdump only on the exact shape of its first lines")
    func detectionIsExact() throws {
        let good = Self.line48 + "\n"
        #expect(Self.detect(good) == .nfdump)
        #expect(Self.detect(String(repeating: good, count: 8)) == .nfdump)
        #expect(Self.detect(Self.line48) == .nfdump)  // one line, no newline
        #expect(Self.detect("\r\n" + Self.line48 + "\r\n" + Self.line48 + "\r\n") == .nfdump)
        // Older releases' six flag letters, and hexadecimal flags.
        #expect(Self.detect(Self.line48(replacing: 8, with: "...RS.") + "\n") == .nfdump)
        #expect(Self.detect(Self.line48(replacing: 8, with: "  0xc2") + "\n") == .nfdump)
        // A last line cut short by the sniffing length (or still being written) is not judged.
        #expect(Self.detect(good + good + String(Self.line48.prefix(50))) == .nfdump)

        let nearMisses: [(String, String)] = [
            ("47 columns", String(Self.line48[..<Self.line48.lastIndex(of: ",")!]) + "\n"),
            ("49 columns", Self.line48 + ",0\n"),
            ("an epoch first field", Self.line48(replacing: 0, with: "1596347378") + "\n"),
            ("a word first field", Self.line48(replacing: 0, with: "start") + "\n"),
            ("a date without the time", Self.line48(replacing: 0, with: "2020-08-02") + "\n"),
            ("no such month", Self.line48(replacing: 0, with: "2020-13-02 05:49:38") + "\n"),
            ("no such hour", Self.line48(replacing: 1, with: "2020-08-02 25:49:38") + "\n"),
            ("slashes in the date", Self.line48(replacing: 0, with: "2020/08/02 05:49:38") + "\n"),
            ("a host name for an address", Self.line48(replacing: 3, with: "scanner.example") + "\n"),
            ("a port out of range", Self.line48(replacing: 5, with: "70000") + "\n"),
            ("argus's direction for the protocol", Self.line48(replacing: 7, with: "->") + "\n"),
            ("words for flags", Self.line48(replacing: 8, with: "S_RA") + "\n"),
            ("a word for a counter", Self.line48(replacing: 11, with: "two") + "\n"),
            ("a word for a MAC address", Self.line48(replacing: 27, with: "none") + "\n"),
            ("a bad engine", Self.line48(replacing: 45, with: "17") + "\n"),
            ("a bad received time", Self.line48(replacing: 47, with: "yesterday") + "\n"),
            ("a good line, then a near miss", good + Self.line48(replacing: 4, with: "x") + "\n"),
            ("two layouts", good + "2024-06-28 23:17:42.001,0.000,TCP,203.0.113.7,51000,38.250.154.56,22,1,44,1\n"),
            ("tab-separated", Self.line48.replacingOccurrences(of: ",", with: "\t") + "\n"),
            ("only the 1.7.5 columns' count", "a,b,c,d,e,f,g,h,i,j\n1,2,3,4,5,6,7,8,9,10\n"),
        ]
        for (what, text) in nearMisses {
            #expect(Self.detect(text) == nil, "\(what)")
        }
        // The formats detection already knew keep their answers.
        #expect(Self.detect("ts,te,td,sa,da,sp,dp,pr\n" + good) == .nfdump)
        #expect(Self.detect(MalformedInputTests.vpcGood) == .vpc)
    }

    @Test("A near miss gives the message of any unrecognised file")
    func nearMissIsUnrecognised() throws {
        for text in [
            Self.line48 + ",0\n" + Self.line48 + ",0\n",
            Self.line48(replacing: 0, with: "1596347378") + "\n",
        ] {
            let error = try #require(readError(try temporaryFile(text)))
            #expect(error.line == 1)
            #expect(error.reason.hasPrefix("unrecognised flow-log format (first line '"), "\(error.reason)")
            #expect(error.setting == .inputFormat)
            #expect(!error.description.contains("\n"))
        }
    }

    @Test("With --format nfdump a header-less line that is not a record is named by file and line")
    func forcedBadLine() throws {
        let bad = Self.line48(replacing: 4, with: "130.211.223")
        let path = try temporaryFile([Self.line48, Self.line48, bad, Self.line48].joined(separator: "\n") + "\n")
        // Not detected (a near miss within the first lines), but read when the format is given.
        #expect(readError(path)?.reason.contains("unrecognised flow-log format") == true)
        let (records, summary) = try readRecords(path, format: .nfdump)
        #expect(records.count == 3 && summary.malformed == 1)
        let issue = try #require(summary.issues.first)
        #expect(issue.description == "\(path):3: bad address '130.211.223' in da")
        let strict = try #require(readError(path, format: .nfdump, strict: true))
        #expect(strict.description == "\(path):3: bad address '130.211.223' in da")

        // A first line of no layout's column count: one line, with file and line, that says why.
        let wrongCount = try temporaryFile(Self.line48 + ",0\n" + Self.line48 + "\n")
        let error = try #require(readError(wrongCount, format: .nfdump))
        #expect(
            error.description
                == "\(wrongCount):1: no nfdump CSV header, and 49 fields match no header-less `nfdump -q -o csv` layout (10 (1.7.5+), 43 (early 1.6) or 48 (later 1.6-1.7.4) columns)"
        )
        // A first line that is neither a header nor a record.
        let neither = try temporaryFile("start,end,src\n" + Self.line48 + "\n")
        let header = try #require(readError(neither, format: .nfdump))
        #expect(header.line == 1)
        #expect(header.reason.hasPrefix("expected an nfdump CSV header (ts,te,td,sa,da,sp,dp,pr,..."), "\(header.reason)")
        #expect(header.reason.contains("or header-less `nfdump -q -o csv` records"))
        // Every line bad: the read gives up as for any forced format that does not fit.
        let allBad = try temporaryFile(String(repeating: bad + "\n", count: 3))
        let none = try #require(readError(allBad, format: .nfdump))
        #expect(none.reason.contains("no record could be read as nfdump CSV in 3 data lines (line 1: bad address '130.211.223' in da)"))
    }

    @Test("The header-less layouts name every column a record needs")
    func layoutsAreComplete() {
        #expect(NfdumpLayout.v16to174.columns.joined(separator: ",") + "\n" == FlowWriter.nfdumpHeader)
        #expect(NfdumpLayout.early16.columns.count == 43 && NfdumpLayout.early16.columns.last == "eng")
        #expect(Set(NfdumpLayout.all.map(\.columns.count)).count == NfdumpLayout.all.count)
        for layout in NfdumpLayout.all {
            let header = layout.columns.joined(separator: ",")
            #expect(Self.detect(header + "\n") == .nfdump, "\(layout.versions)")
        }
    }
}
