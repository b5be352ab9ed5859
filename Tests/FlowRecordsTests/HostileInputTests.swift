import Foundation
import Support
import TestSupport
import Testing

@testable import FlowRecords

/// Logs written to hurt the reader or the analyst: padded header lines (quadratic work), input that
/// yields no record but costs time, and control characters meant for the terminal.
@Suite struct HostileInputTests {
    /// 512 KiB of spaces: a quadratic trim took minutes on this (64 k spaces took 10–15 s); linear, milliseconds.
    static let padding = String(repeating: " ", count: 512 << 10)

    static let paddedHeaders: [(FlowFormat?, String)] = [
        (nil, "#separator \\x09" + padding + "\n#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n"),
        (nil, "#separator" + padding + "\\x09\n"),
        (.csv, "ts,end,src" + padding + ",sport,dst,dport,proto,src_pkts,src_bytes,dst_pkts,dst_bytes,flags,outcome,state,label,detailed_label\n"),
        (.csv, "ts" + padding + ",end,src,sport\n"),
        (.nfdump, "ts,te,td,sa" + padding + ",da,sp,dp,pr\n"),
        // Header-less nfdump: detection looks at the first lines' fields, the forced reader at the first line's.
        (nil, "2020-08-02 05:49:38" + padding + ",2020-08-02 05:49:38,0.028\n"),
        (.nfdump, "2020-08-02 05:49:38" + padding + ",2020-08-02 05:49:38,0.028\n"),
        (.argus, "StartTime,Proto" + padding + ",SrcAddr,DstAddr\n"),
        (.vpc, "version account-id" + padding + " srcaddr dstaddr\n"),
        (.cicflowmeter, "Flow ID,Src IP" + padding + ",Src Port,Dst IP,Dst Port,Protocol,Timestamp\n"),
        (.jsonl, "{\"src\":" + padding + "\"10.0.0.1\"}\n"),
        (.zeekJSON, "{\"id.orig_h\":" + padding + "\"10.0.0.1\"}\n"),
    ]

    @Test("A header line padded with half a megabyte of spaces is read in linear time, in every format")
    func paddedHeadersAreLinear() throws {
        for (format, text) in Self.paddedHeaders {
            // Whatever the verdict (most are refused), it must come back: before, the trim of the
            // padded Flowhound CSV and Zeek #separator lines ran for minutes.
            _ = try? FlowReader(options: ReadOptions(format: format)).read(bytes: Array(text.utf8), name: "padded") { _ in }
        }
        #expect(Substring("  \t a b \t ").trimmingSpaces == "a b")
        #expect(Substring(Self.padding).trimmingSpaces.isEmpty)
        #expect(Substring("x").trimmingSpaces == "x")
        #expect(Substring(" é ").trimmingSpaces == "é")
    }

    @Test("Lines that hold no record still reach the caller's pace check, every 256 KiB")
    func paceSeesCommentOnlyInput() throws {
        // 4 MiB of Zeek comment lines after the header: no record, no malformed line.
        var text = "#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n"
        let comment = "#" + String(repeating: "x", count: 1023) + "\n"
        text += String(repeating: comment, count: 4096)
        var calls: [Int] = []
        struct Deadline: Error {}
        let summary = try FlowReader().read(bytes: Array(text.utf8), name: "comments", pace: { calls.append($0) }, { _ in })
        #expect(summary.records == 0)
        #expect(calls.count == 16, "\(calls.count) calls")
        #expect(zip(calls, calls.dropFirst()).allSatisfy { $1 > $0 })
        #expect(calls.enumerated().allSatisfy { $1 >= ($0 + 1) * FlowReader.paceInterval })
        // A deadline thrown from pace stops the read.
        #expect(throws: Deadline.self) {
            try FlowReader().read(bytes: Array(text.utf8), name: "comments", pace: { _ in throw Deadline() }, { _ in })
        }
    }

    @Test("Control characters are escaped, and quoted input is cut")
    func escaping() {
        #expect("a\u{1b}[2Jb\r\nflowhound: all clear".escapingControlCharacters() == "a\\x1b[2Jb\\r\\nflowhound: all clear")
        #expect("tab\there\u{7f}\u{85}\u{202e}x".escapingControlCharacters() == "tab\\there\\x7f\\u{85}\\u{202e}x")
        #expect("\u{0}\u{7}".escapingControlCharacters() == "\\x00\\x07")
        #expect("Zürich ✓".escapingControlCharacters() == "Zürich ✓")
        let long = String(repeating: "9", count: 8 << 20)
        #expect(long.excerpt().count == String.excerptLimit + 1)
        #expect(long.excerpt().hasSuffix("…"))
        #expect("short".excerpt() == "short")
    }

    @Test("An 8 MB bad entry in an address list is quoted cut, not whole")
    func longEntriesAreCut() throws {
        let path = try temporaryFile(String(repeating: "1", count: 8 << 20) + "\n", name: "list")
        do {
            _ = try CIDRSet.load(path: path)
            Issue.record("an 8 MB number is not an address")
        } catch {
            #expect("\(error)".utf8.count < 400, "\("\(error)".utf8.count) bytes")
        }
    }

    @Test("Files read whole are read to a limit: /dev/zero as a list is an error, not a hang")
    func boundedFiles() throws {
        #expect(throws: BoundedFileError.self) { try BoundedFile.read("/dev/zero", limit: 1 << 20) }
        do {
            _ = try BoundedFile.read("/dev/zero", limit: 1 << 20)
        } catch {
            #expect(error.description == "is larger than 1 MiB: not a file of this kind")
        }
        let small = try temporaryFile("10.0.0.0/8\n", name: "small-list")
        #expect(try BoundedFile.read(small, limit: 11) == Array("10.0.0.0/8\n".utf8))
        #expect(throws: BoundedFileError.self) { try BoundedFile.read(small, limit: 10) }
        #expect(throws: BoundedFileError.self) { try BoundedFile.read("/nonexistent/list") }
        #expect(throws: BoundedFileError.self) { try BoundedFile.read("/tmp") }
    }
}

@Suite struct CivilTimeBoundsTests {
    @Test("Every time prints, however far out of range")
    func timesOutOfRangeAreBounded() {
        #expect(CivilTime(1e300).iso8601 == "9999-12-31T23:59:59Z")
        #expect(CivilTime(-1e300).iso8601 == "1-01-01T00:00:00Z")
        #expect(CivilTime(.infinity).iso8601 == "9999-12-31T23:59:59Z")
        #expect(CivilTime(.nan).iso8601 == "1970-01-01T00:00:00Z")
        #expect(CivilTime(1_704_067_200).iso8601 == "2024-01-01T00:00:00Z")
    }
}
