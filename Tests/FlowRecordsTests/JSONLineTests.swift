import FlowRecords
import Foundation
import Support
import Synthesis
import TestSupport
import Testing

/// Alerts' JSON: one JSON type per field, whatever the value; and the Community ID that links an
/// alert to the flows behind it in other tools.
@Suite struct JSONLineTests {
    struct Sample: Encodable {
        var whole = 1.0, fraction = 0.25, tiny = 1e-5, huge = 1e20, notANumber = Double.nan
        var single: Float = 2
        var count = 3, port: UInt16 = 443, negative: Int64 = -7
        var text = "a \"quoted\" /path\\ \n\t\u{1}é"
        var flag = true
        var missing: Int? = nil
        var list = [1.0, 2.5], ports: [UInt16] = [22, 80]
        var table = ["b": 1.0, "a": 0.5]
        var nested = Nested()
        struct Nested: Encodable { var ratio = 0.0 }
    }

    @Test func floatingPointNumbersAlwaysHaveAFractionAndKeysAreSorted() throws {
        let line = jsonLine(Sample())
        #expect(
            line
                == #"{"count":3,"flag":true,"fraction":0.25,"huge":1e+20,"list":[1.0,2.5],"negative":-7,"nested":{"ratio":0.0},"notANumber":null,"port":443,"ports":[22,80],"single":2.0,"table":{"a":0.5,"b":1.0},"text":"a \"quoted\" /path\\ \n\t\u0001é","tiny":1e-05,"whole":1.0}"#
        )
        // What the standard decoder reads back.
        let back = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(back["text"] as? String == Sample().text && (back["tiny"] as? Double) == 1e-5)
        // The test's own parser sees whole floating-point values as fractions, integers as integers.
        let parsed = try JSONValue.parse(line)
        #expect(parsed["whole"]?.kind == "float" && parsed["count"]?.kind == "integer" && parsed["nested"]?["ratio"]?.kind == "float")
    }

    /// What an `encode(to:)` may do beyond plain fields: nested containers, a key set twice (the last
    /// value stays, as in a dictionary), a super encoder, and a coding path that names where it is.
    struct Unusual: Encodable {
        enum Keys: String, CodingKey { case a, b, list, inner }
        final class Paths: @unchecked Sendable { var seen: [String] = [] }
        let paths = Paths()
        struct Leaf: Encodable {
            let paths: Paths
            func encode(to encoder: any Encoder) throws {
                paths.seen.append(encoder.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: "."))
                var c = encoder.singleValueContainer()
                try c.encode("leaf")
            }
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(1, forKey: .a)
            try c.encode(2, forKey: .a)
            var list = c.nestedUnkeyedContainer(forKey: .list)
            try list.encode(Leaf(paths: paths))
            try list.encode(Leaf(paths: paths))
            var inner = c.nestedContainer(keyedBy: Keys.self, forKey: .inner)
            try inner.encode(Leaf(paths: paths), forKey: .b)
            try Leaf(paths: paths).encode(to: c.superEncoder())
        }
    }

    @Test func nestedContainersRepeatedKeysAndCodingPaths() {
        let value = Unusual()
        #expect(jsonLine(value) == #"{"a":2,"inner":{"b":"leaf"},"list":["leaf","leaf"],"super":"leaf"}"#)
        #expect(value.paths.seen == ["list.0", "list.1", "inner.b", "super"])
    }

    /// The writer's own integers and times: the bytes `String(_:)` and the string formatter give,
    /// at the edges too.
    @Test func writtenIntegersAndTimesMatchTheirStrings() {
        for v: Int64 in [0, 7, 9, 10, 99, 100, 443, 65535, -1, -7, -10, 1_700_000_000, .max, .min] {
            var out: [UInt8] = []
            appendDecimal(v, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(v))
        }
        for (v, digits, text) in [(0, 3, "000"), (7, 2, "07"), (12, 2, "12"), (999, 3, "999"), (5, 1, "5"), (1234, 2, "1234")] {
            var out: [UInt8] = []
            appendDecimal(Int64(v), minimumDigits: digits, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == text)
        }
        var w = JSONLineWriter()
        w.beginArray()
        w.integer(UInt64.max)
        w.integer(Int8(-128))
        w.time(1_700_000_000.9999)
        w.endArray()
        #expect(w.line == #"[18446744073709551615,-128,"2023-11-14T22:13:20.999Z"]"#)
        // Each piece of the time padded, the milliseconds rounded down, the year's bounds held.
        let times: [(Double, String)] = [
            (0, "1970-01-01T00:00:00.000Z"), (0.0015, "1970-01-01T00:00:00.001Z"), (-0.5, "1969-12-31T23:59:59.500Z"),
            (1_704_067_199.25, "2023-12-31T23:59:59.250Z"), (951_782_400.125, "2000-02-29T00:00:00.125Z"),
            (1e300, "9999-12-31T23:59:59.000Z"), (-1e300, "1-01-01T00:00:00.000Z"), (.nan, "1970-01-01T00:00:00.000Z"),
        ]
        for (t, text) in times {
            #expect(CivilTime.iso8601Milliseconds(t) == text)
            #expect(CivilTime.iso8601Milliseconds(t).dropLast(5) == CivilTime(t).iso8601.dropLast(1))
        }
        // Strings that need escapes and those that do not, small and large, bridged or native.
        for text in ["", "plain", "quote \" and \\", String(repeating: "long text ", count: 20), "tab\tnew\nline\u{7}", "é ü 日本"] {
            var out: [UInt8] = []
            appendJSONString(text, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == jsonLine(text))
            var sliced: [UInt8] = []
            appendJSONString(String(Substring(text)), to: &sliced)
            #expect(sliced == out)
        }
    }

    @Test func sha1MatchesTheStandardVectors() {
        #expect(hex(sha1([])) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(hex(sha1(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(hex(sha1(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))) == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(hex(sha1([UInt8](repeating: 0x61, count: 1_000_000))) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
        // Lengths either side of where the padding takes a second block (Python's hashlib of bytes 0, 1, 2, ...).
        let expected = [
            55: "8ae2d46729cfe68ff927af5eec9c7d1b66d65ac2", 56: "636e2ec698dac903498e648bd2f3af641d3c88cb",
            63: "6d942da0c4392b123528f2905c713a3ce28364bd", 64: "c6138d514ffa2135bfce0ed0b8fac65669917ec7",
            65: "69bd728ad6e13cd76ff19751fde427b00e395746", 119: "41c89d06001bab4ab78736b44efe7ce18ce6ae08",
            120: "d3dbd653bd8597b7475321b60a36891278e6a04a", 128: "e6434bc401f98603d7eda504790c98c67385d535",
        ]
        for (count, digest) in expected { #expect(hex(sha1((0..<count).map(UInt8.init))) == digest, "\(count) bytes") }
    }

    /// SHA-256 at lengths either side of where the padding takes a second block, whole and fed in two
    /// pieces split anywhere (Python's hashlib of bytes `i % 251`); `shortID` is its first 16 digits.
    @Test func sha256MatchesHashlib() {
        let expected = [
            0: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            3: "ae4b3280e56e2faf83f414a6e3dabe9d5fbe18976544c05fed121accb85b53fc",
            55: "463eb28e72f82e0a96c0a4cc53690c571281131f672aa229e0d45ae59b598b59",
            56: "da2ae4d6b36748f2a318f23e7ab1dfdf45acdc9d049bd80e59de82a60895f562",
            63: "29af2686fd53374a36b0846694cc342177e428d1647515f078784d69cdb9e488",
            64: "fdeab9acf3710362bd2658cdc9a29e8f9c757fcf9811603a8c447cd1d9151108",
            65: "4bfd2c8b6f1eec7a2afeb48b934ee4b2694182027e6d0fc075074f2fabb31781",
            119: "da18797ed7c3a777f0847f429724a2d8cd5138e6ed2895c3fa1a6d39d18f7ec6",
            120: "f52b23db1fbb6ded89ef42a23ce0c8922c45f25c50b568a93bf1c075420bbb7c",
            200: "1901da1c9f699b48f6b2636e65cbf73abf99d0441ef67f5c540a42f7051dec6f",
        ]
        for (count, digest) in expected {
            let bytes = (0..<count).map { UInt8($0 % 251) }
            #expect(bytes.withUnsafeBytes { hex(sha256($0)) } == digest, "\(count) bytes")
            for split in 0...count {
                var hasher = SHA256()
                bytes.withUnsafeBytes { all in
                    hasher.update(UnsafeRawBufferPointer(rebasing: all[..<split]))
                    hasher.update(UnsafeRawBufferPointer(rebasing: all[split...]))
                }
                #expect(hex(hasher.finish()) == digest, "\(count) bytes split at \(split)")
            }
        }
        // hashlib.sha256(b"10.0.0.1" + struct.pack("<d", 1700000000.5)).hexdigest()[:16]
        #expect(shortID("10.0.0.1", time: 1_700_000_000.5) == "9402a30739a59426")
    }

    /// The examples of the Community ID specification's implementations, in both directions.
    @Test func communityIDMatchesOtherTools() {
        func id(_ a: String, _ ap: UInt16, _ b: String, _ bp: UInt16, _ t: Transport) -> String? {
            CommunityID.of(source: ip(a), sourcePort: ap, destination: ip(b), destinationPort: bp, transport: t)
        }
        #expect(id("128.232.110.120", 34855, "66.35.250.204", 80, .tcp) == "1:LQU9qZlK+B5F3KDmev6m5PMibrg=")
        #expect(id("66.35.250.204", 80, "128.232.110.120", 34855, .tcp) == "1:LQU9qZlK+B5F3KDmev6m5PMibrg=")
        #expect(id("8.8.8.8", 53, "192.168.1.52", 54585, .udp) == "1:d/FP5EW3wiY1vCndhwleRRKHowQ=")
        #expect(id("192.168.170.8", 7, "192.168.170.56", 7, .sctp) == "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=")
        #expect(id("192.168.0.89", 8, "192.168.0.1", 0, .icmp) == nil)
        #expect(id("192.168.0.89", 8, "2001:db8::1", 80, .tcp) == nil)
    }

    /// The Community ID written into bytes equals the specification's recipe spelled out with arrays,
    /// `sha1` and Foundation's base64, for random flows of both families, equal ends and equal ports.
    @Test func communityIDBytesMatchTheRecipe() {
        var rng = SplitMix64(seed: 20)
        func recipe(_ a: IPAddress, _ ap: UInt16, _ b: IPAddress, _ bp: UInt16, _ t: Transport) -> String {
            func bytes(_ x: IPAddress) -> [UInt8] {
                x.isIPv4
                    ? (0..<4).map { UInt8(truncatingIfNeeded: x.low >> UInt64(24 - 8 * $0)) }
                    : (0..<16).map { UInt8(truncatingIfNeeded: ($0 < 8 ? x.high : x.low) >> UInt64(56 - 8 * ($0 % 8))) }
            }
            var ends = [(bytes(a), ap), (bytes(b), bp)]
            if !(ends[0].0.lexicographicallyPrecedes(ends[1].0) || (ends[0].0 == ends[1].0 && ap <= bp)) { ends.swapAt(0, 1) }
            let input =
                [0, 0] + ends[0].0 + ends[1].0 + [
                    t.rawValue, 0, UInt8(ends[0].1 >> 8), UInt8(ends[0].1 & 0xFF), UInt8(ends[1].1 >> 8), UInt8(ends[1].1 & 0xFF),
                ]
            return "1:" + Data(sha1(input)).base64EncodedString()
        }
        for i in 0..<2000 {
            let v4 = i % 2 == 0
            func address() -> IPAddress {
                v4
                    ? IPAddress(ipv4: UInt32.random(in: 0...3, using: &rng) << 30 | 1)
                    : IPAddress(high: UInt64.random(in: 0...2, using: &rng), low: UInt64.random(in: 0...2, using: &rng) << 40)
            }
            let (a, b) = (address(), address())
            let (ap, bp) = (UInt16.random(in: 0...2, using: &rng), UInt16.random(in: 0...UInt16.max, using: &rng) % 3)
            let t: Transport = [.tcp, .udp, .sctp][i % 3]
            let key = FlowKey(start: 0, source: a, sourcePort: ap, destination: b, destinationPort: bp, transport: t)
            #expect(key.hasCommunityID)
            #expect(key.communityID == recipe(a, ap, b, bp, t), "\(a):\(ap) \(b):\(bp) \(t)")
            var out: [UInt8] = []
            key.appendCommunityID(to: &out)
            #expect(String(decoding: out, as: UTF8.self) == key.communityID)
        }
    }

    /// Zeek's uids in 16 bytes: every one written back as it was read, anything else left out.
    @Test func recordUIDsKeepZeeksIdentifiers() throws {
        for text in ["CWrWCR3mLP3pSs6dvb", "CElKRVewxz9hjPrA8", "C", "0", "zzzzzzzzzzzzzzzzzzzzz", "Z9a0Yb1Xc2Wd3Ve4Uf5Tg"] {
            let uid = try #require(RecordUID(text), "\(text)")
            #expect(uid.description == text && uid.isValid && !uid.isEmpty)
        }
        #expect(RecordUID("")?.isEmpty == true)
        #expect(RecordUID("C123456789012345678901") == nil)  // 22 characters
        #expect(RecordUID("C-1") == nil && RecordUID("Cé") == nil && RecordUID("C 1") == nil)
        #expect(RecordUID("CWrWCR3mLP3pSs6dvb") != RecordUID("CWrWCR3mLP3pSs6dvc"))
        // Numbers no text gives: a 0 or 63 group, or more than 21 groups.
        #expect(!RecordUID(high: 0, low: 1 << 6).isValid && !RecordUID(high: 0, low: 63).isValid && !RecordUID(high: 1 << 62, low: 0).isValid)
    }

    /// A Zeek log's uid reaches the record, in both encodings; other formats have none.
    @Test func zeekRecordsCarryTheirUID() throws {
        let tsv = """
            #separator \\x09
            #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\tconn_state\thistory\torig_pkts\tresp_pkts
            1655071320.781180\tCWrWCR3mLP3pSs6dvb\t104.156.155.13\t52496\t147.32.81.167\t9994\ttcp\t-\tS0\tS\t1\t0
            1655071321.0\tnot-a-uid!\t104.156.155.13\t52496\t147.32.81.167\t9995\ttcp\t-\tS0\tS\t1\t0

            """
        let json =
            #"{"ts":1655071320.78118,"uid":"CjLIS84JEoHLxNMrwf","id.orig_h":"104.156.155.13","id.orig_p":52496,"id.resp_h":"147.32.81.167","id.resp_p":8093,"proto":"tcp","conn_state":"S0"}"#
            + "\n"
        let (fromTSV, tsvSummary) = try readRecords(try temporaryFile(tsv, name: "conn.log"))
        #expect(tsvSummary.malformed == 0 && fromTSV.map(\.uid.description) == ["CWrWCR3mLP3pSs6dvb", ""])
        let (fromJSON, _) = try readRecords(try temporaryFile(json, name: "conn.json"))
        #expect(fromJSON.map(\.uid.description) == ["CjLIS84JEoHLxNMrwf"])
        #expect(FlowKey(fromJSON[0]).uid == fromJSON[0].uid)
    }
}
