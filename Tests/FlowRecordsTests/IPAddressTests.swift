import Foundation
import Support
import TestSupport
import Testing

@testable import FlowRecords

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("192.0.2.1", "192.0.2.1"),
        ("0.0.0.0", "0.0.0.0"),
        ("255.255.255.255", "255.255.255.255"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("::", "::"),
        ("::1", "::1"),
        ("fe80::1cf4:44d2:904a:14f7%en0", "fe80::1cf4:44d2:904a:14f7"),
        ("2001:db8::", "2001:db8::"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("1:0:0:4:0:0:0:8", "1:0:0:4::8"),
        ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
    ])
    func parsesAndPrintsCanonically(input: String, canonical: String) throws {
        let address = try #require(IPAddress(input))
        #expect(address.description == canonical)
        #expect(IPAddress(canonical) == address)
    }

    /// Every octet value in every place, written as `String(octet)` writes it; `appendText` and the
    /// JSON writer give the same text without building a string (IPv6 too).
    @Test func writesEveryOctet() throws {
        for octet in 0...255 {
            for place in 0..<4 {
                let value = UInt32(octet) << UInt32(8 * place) | (place == 0 ? 0x0A00_0000 : 7)
                let address = IPAddress(ipv4: value)
                let expected = (0..<4).map { String(value >> UInt32(24 - 8 * $0) & 0xFF) }.joined(separator: ".")
                #expect(address.description == expected)
                var bytes: [UInt8] = []
                address.appendText(to: &bytes)
                #expect(String(decoding: bytes, as: UTF8.self) == expected)
            }
        }
        for text in ["255.255.255.255", "0.0.0.0", "2001:db8::1", "::"] {
            let address = try #require(IPAddress(text))
            var w = JSONLineWriter()
            w.beginArray()
            w.address(address)
            w.addresses([address, address])
            w.endArray()
            #expect(w.line == "[\"\(text)\",[\"\(text)\",\"\(text)\"]]")
        }
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.04444", "1..2.3", "a.b.c.d", "1.2.3.4 ",
        ":::", "1:2:3:4:5:6:7:8:9", "2001:db8::1::2", "12345::", "2001:db8:g::1", "1:2:3:4:5:6:7:", ":1:2",
        "00:00:00:00:00:00",
    ])
    func rejectsInvalidText(input: String) {
        #expect(IPAddress(input) == nil, "'\(input)' should not parse")
    }

    @Test func ipv4IsStoredMapped() throws {
        let a = try #require(IPAddress("10.8.0.69"))
        #expect(a.isIPv4)
        #expect(a.ipv4 == 0x0A08_0045)
        #expect(a == IPAddress(ipv4: 0x0A08_0045))
        #expect(try #require(IPAddress("2001:db8::1")).ipv4 == nil)
    }

    /// Address tables hash IPv4 addresses as one word and IPv6 ones in full: every address, of either
    /// family and of IPv6 addresses whose high half is zero like IPv4's, is found and counted once.
    @Test func setsAndTablesKeepBothFamiliesApart() throws {
        let texts = [
            "10.0.0.1", "::ffff:10.0.0.2", "::1", "::a00:1", "2001:db8::1", "2001:db8::a00:1", "0.0.0.0", "::",
            "255.255.255.255", "fe80::1",
        ]
        var addresses = texts.compactMap(IPAddress.init)
        #expect(addresses.count == texts.count)
        for i in 0..<2000 { addresses.append(IPAddress(ipv4: 0xC633_0000 | UInt32(i))) }
        for i in 0..<2000 { addresses.append(IPAddress(high: 0x2001_0DB8_0000_0002, low: UInt64(i))) }
        var set = Set(addresses)
        #expect(set.count == addresses.count)
        for a in addresses { #expect(set.contains(a)) }
        #expect(!set.contains(IPAddress(high: 0x2001_0DB8_0000_0001, low: 0)))
        var table: [IPAddress: Int] = [:]
        for (i, a) in addresses.enumerated() { table[a] = i }
        #expect(table.count == addresses.count)
        #expect(addresses.indices.allSatisfy { table[addresses[$0]] == $0 })
        // Equal addresses hash alike however they were written.
        #expect(ip("10.0.0.2").hashValue == ip("::ffff:10.0.0.2").hashValue)
        set.remove(ip("::ffff:10.0.0.1"))
        #expect(!set.contains(ip("10.0.0.1")))
    }

    @Test func ordersNumerically() throws {
        let sorted = ["10.0.0.2", "9.255.255.255", "10.0.0.10", "::1"].compactMap(IPAddress.init).sorted()
        #expect(sorted.map(\.description) == ["::1", "9.255.255.255", "10.0.0.2", "10.0.0.10"])
    }

    @Test func codesAsText() throws {
        let data = try JSONEncoder().encode([ip("192.0.2.9"), ip("2001:db8::9")])
        #expect(String(decoding: data, as: UTF8.self) == #"["192.0.2.9","2001:db8::9"]"#)
        #expect(try JSONDecoder().decode([IPAddress].self, from: data) == [ip("192.0.2.9"), ip("2001:db8::9")])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([IPAddress].self, from: Data(#"["nope"]"#.utf8)) }
    }
}
