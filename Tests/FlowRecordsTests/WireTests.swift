import FlowRecords
import Support
import XCTest

final class WireTests: XCTestCase {
    func testPrimitivesRoundTrip() throws {
        var w = WireWriter()
        w.u8(7); w.u16(0xBEEF); w.u32(0xDEAD_BEEF); w.u64(.max); w.f64(-1.5e300); w.bool(true)
        for v: UInt64 in [0, 127, 128, 300, .max] { w.varint(v) }
        for v: Int64 in [0, -1, 1, .min, .max] { w.signed(v) }
        w.string("ünïcode"); w.optionalString(nil); w.optionalString("")
        w.address(IPAddress("192.0.2.1")!); w.address(IPAddress("2001:db8::1")!)
        var r = WireReader(w.bytes)
        XCTAssertEqual(try r.u8(), 7)
        XCTAssertEqual(try r.u16(), 0xBEEF)
        XCTAssertEqual(try r.u32(), 0xDEAD_BEEF)
        XCTAssertEqual(try r.u64(), .max)
        XCTAssertEqual(try r.f64(), -1.5e300)
        XCTAssertEqual(try r.bool(), true)
        for v: UInt64 in [0, 127, 128, 300, .max] { XCTAssertEqual(try r.varint(), v) }
        for v: Int64 in [0, -1, 1, .min, .max] { XCTAssertEqual(try r.signed(), v) }
        XCTAssertEqual(try r.string(), "ünïcode")
        XCTAssertNil(try r.optionalString())
        XCTAssertEqual(try r.optionalString(), "")
        XCTAssertEqual(try r.address(), IPAddress("192.0.2.1")!)
        XCTAssertEqual(try r.address(), IPAddress("2001:db8::1")!)
        XCTAssertTrue(r.isAtEnd)
    }

    func testSortedSetsAndCounters() throws {
        var w = WireWriter()
        w.ascending([0, 1, 2, 3, 1000, 1001, UInt64.max] as [UInt64])
        w.ascending([] as [UInt64])
        w.int(0); w.int(1 << 53); w.int(Int.max)
        XCTAssertEqual(w.bytes.count, 1 + 4 + 2 + 1 + 10 + 1 + 1 + 8 + 9)  // a run costs a byte per value
        var r = WireReader(w.bytes)
        XCTAssertEqual(try r.ascending("values"), [0, 1, 2, 3, 1000, 1001, .max])
        XCTAssertEqual(try r.ascending("values"), [])
        XCTAssertEqual(try r.int("flows"), 0)
        XCTAssertEqual(try r.int("flows"), 1 << 53)
        XCTAssertEqual(try r.int("flows", limit: .max), .max)
        XCTAssertTrue(r.isAtEnd)

        var past = WireWriter()
        past.count(2); past.varint(.max); past.varint(0)
        var p = WireReader(past.bytes)
        XCTAssertThrowsError(try p.ascending("targets")) { XCTAssertTrue("\($0)".contains("targets goes past 64 bits"), "\($0)") }
        var ports = WireWriter()
        ports.ascending([80, 70000] as [UInt64])
        var q = WireReader(ports.bytes)
        XCTAssertThrowsError(try q.ascending("ports", maximum: 65535)) { XCTAssertEqual("\($0)", "ports holds 70000, more than 65535, at byte 5") }
        var big = WireWriter()
        big.varint(.max)
        var b = WireReader(big.bytes)
        XCTAssertThrowsError(try b.int("flows", limit: .max)) {
            XCTAssertEqual("\($0)", "flows is 18446744073709551615, more than 9223372036854775807, at byte 10")
        }
        var many = WireWriter()
        many.int(1 << 53 + 1)
        var m = WireReader(many.bytes)
        XCTAssertThrowsError(try m.int("flows")) { XCTAssertEqual("\($0)", "flows is 9007199254740993, more than 9007199254740992, at byte 8") }
    }

    func testRecordRoundTripsEveryField() throws {
        let record = FlowRecord(
            start: 1_700_000_000.25, end: 1_700_000_003.5, source: IPAddress("10.0.0.1")!,
            destination: IPAddress("2001:db8::7")!, sourcePort: 51000, destinationPort: 443,
            transport: .tcp, sourcePackets: 3, sourceBytes: 180, destinationPackets: 1 << 40,
            destinationBytes: 5, tcpFlags: [.syn, .rst], outcome: .rejected, state: "REJ",
            label: "Malicious", detailedLabel: nil)
        var w = WireWriter()
        record.encode(to: &w)
        var r = WireReader(w.bytes)
        XCTAssertEqual(try FlowRecord(from: &r), record)
        XCTAssertTrue(r.isAtEnd)
    }

    func testDamageIsAClearError() throws {
        var w = WireWriter()
        FlowRecord(
            start: 1, end: 2, source: IPAddress("10.0.0.1")!, destination: IPAddress("10.0.0.2")!,
            sourcePort: 1, destinationPort: 2, transport: .udp
        ).encode(to: &w)
        var cut = WireReader(Array(w.bytes.dropLast(3)))
        XCTAssertThrowsError(try FlowRecord(from: &cut)) { XCTAssertTrue("\($0)".contains("cut short"), "\($0)") }
        var family = w.bytes
        family[16] = 9
        var bad = WireReader(family)
        XCTAssertThrowsError(try FlowRecord(from: &bad)) { XCTAssertTrue("\($0)".contains("family of source is 9"), "\($0)") }
        var huge = WireWriter()
        huge.varint(1 << 40)
        var r = WireReader(huge.bytes)
        XCTAssertThrowsError(try r.count("hosts")) { XCTAssertTrue("\($0)".contains("hosts of 1099511627776"), "\($0)") }
    }
}
