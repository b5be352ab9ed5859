import FlowRecords
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

    func testRecordRoundTripsEveryField() throws {
        let record = FlowRecord(start: 1_700_000_000.25, end: 1_700_000_003.5, source: IPAddress("10.0.0.1")!,
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
        FlowRecord(start: 1, end: 2, source: IPAddress("10.0.0.1")!, destination: IPAddress("10.0.0.2")!,
                   sourcePort: 1, destinationPort: 2, transport: .udp).encode(to: &w)
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
