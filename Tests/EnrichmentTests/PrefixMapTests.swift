import FlowRecords
import Foundation
import TestSupport
import Testing

@testable import Enrichment

@Suite struct PrefixMapTests {
    func block(_ text: String) -> AddressBlock {
        guard let b = AddressBlock(text) else { fatalError("bad test block \(text)") }
        return b
    }

    @Test func longestPrefixWinsForIPv4() {
        var map = PrefixMap<String>()
        map[block("10.0.0.0/8")] = "corporate"
        map[block("10.1.0.0/16")] = "lab"
        map[block("10.1.2.0/24")] = "scanner subnet"
        map[block("10.1.2.7")] = "the scanner"
        #expect(map.count == 4)
        #expect(map.value(for: ip("10.9.9.9")) == "corporate")
        #expect(map.value(for: ip("10.1.9.9")) == "lab")
        #expect(map.value(for: ip("10.1.2.200")) == "scanner subnet")
        #expect(map.value(for: ip("10.1.2.7")) == "the scanner")
        #expect(map.value(for: ip("11.0.0.1")) == nil)
        #expect(map.value(for: ip("::ffff:10.1.2.7")) == "the scanner")
        let match = map.longestMatch(for: ip("10.1.2.200"))
        #expect(match?.block == block("10.1.2.0/24"))
        #expect(match?.block.description == "10.1.2.0/24")
        #expect(match?.value == "scanner subnet")
        #expect(map.longestMatch(for: ip("10.1.2.7"))?.block.description == "10.1.2.7/32")
    }

    @Test func longestPrefixWinsForIPv6() {
        let map = PrefixMap([
            (block("2001:db8::/32"), 1),
            (block("2001:db8:1::/48"), 2),
            (block("2001:db8:1:2::/64"), 3),
            (block("2001:db8:1:2::1"), 4),
            (block("2001:db8:8000::/33"), 5),
        ])
        #expect(map.value(for: ip("2001:db8:ffff::1")) == 5)
        #expect(map.value(for: ip("2001:db8:7fff::1")) == 1)
        #expect(map.value(for: ip("2001:db8:1:ffff::1")) == 2)
        #expect(map.value(for: ip("2001:db8:1:2::2")) == 3)
        #expect(map.value(for: ip("2001:db8:1:2::1")) == 4)
        #expect(map.value(for: ip("2001:db9::1")) == nil)
        #expect(map.longestMatch(for: ip("2001:db8:1:2::2"))?.block.description == "2001:db8:1:2::/64")
    }

    @Test func defaultRoutesAndTheMappedSpace() {
        var map = PrefixMap<String>()
        map[block("0.0.0.0/0")] = "any IPv4"
        #expect(map.value(for: ip("203.0.113.9")) == "any IPv4")
        #expect(map.value(for: ip("2001:db8::1")) == nil)
        map[block("::/0")] = "anything"
        #expect(map.value(for: ip("2001:db8::1")) == "anything")
        #expect(map.value(for: ip("203.0.113.9")) == "any IPv4")
        #expect(map.longestMatch(for: ip("203.0.113.9"))?.block.description == "0.0.0.0/0")
        #expect(map.longestMatch(for: ip("2001:db8::1"))?.block.description == "::/0")
    }

    @Test func replacingAndRemoving() {
        var map = PrefixMap<Int>()
        map[block("192.0.2.0/24")] = 1
        map[block("192.0.2.99/24")] = 2  // the same block: host bits are cleared
        #expect(map.count == 1)
        #expect(map[block("192.0.2.0/24")] == 2)
        map[block("192.0.2.128/25")] = 3
        #expect(map.value(for: ip("192.0.2.200")) == 3)
        map[block("192.0.2.128/25")] = nil
        #expect(map.count == 1)
        #expect(map.value(for: ip("192.0.2.200")) == 2)
        map[block("198.51.100.0/24")] = nil  // absent: nothing happens
        #expect(map.count == 1)
        #expect(map.entries.map(\.block.description) == ["192.0.2.0/24"])
        map[block("192.0.2.0/24")] = nil
        #expect(map.isEmpty)
        #expect(!map.contains(ip("192.0.2.1")))
    }

    @Test func loadsListFilesWithComments() throws {
        let cloudflare = try temporaryFile(
            """
            # Cloudflare, published ranges (excerpt)
            173.245.48.0/20
            104.16.0.0/13   # the big one
            2606:4700::/32\r

            """, name: "cloudflare.txt")
        // Akamai's published list ends each line with a tab.
        let akamai = try temporaryFile("23.32.0.0/11\t\n2.16.0.0/13\t\n", name: "akamai.txt")
        var map = try PrefixMap(contentsOfFile: cloudflare, value: "cloudflare")
        try map.insert(contentsOfFile: akamai, value: "akamai")
        try map.insert(text: "104.16.1.0/24\n", name: "override", value: "special")
        #expect(map.count == 6)
        #expect(map.value(for: ip("104.17.0.1")) == "cloudflare")
        #expect(map.value(for: ip("104.16.1.1")) == "special")
        #expect(map.value(for: ip("2606:4700:4700::1111")) == "cloudflare")
        #expect(map.value(for: ip("23.40.1.1")) == "akamai")
        #expect(map.value(for: ip("8.8.8.8")) == nil)
    }

    @Test func badLinesAreNamedByFileAndLine() throws {
        let path = try temporaryFile("# ranges\n10.0.0.0/8\n\n10.0.0.0/33\n", name: "ranges.txt")
        var map = PrefixMap<Int>()
        let error = try #require(enrichmentError { try map.insert(contentsOfFile: path, value: 1) })
        #expect(error.kind == .invalidList)
        #expect(error.description == "\(path):4: '10.0.0.0/33' is not an address or address block (like 10.0.0.0/8 or 2001:db8::/32)")
        #expect(map.isEmpty)  // nothing from a bad file is kept

        for bad in ["10.0.0.0/", "10.0.0.0/+8", "2001:db8::/129", "example.com", "10.0.0.0/8 cloud", "10.0.0.0/-1"] {
            let error = try #require(enrichmentError { try map.insert(text: "\(bad)\n", name: "list", value: 1) })
            #expect(error.description.hasPrefix("list:1: '\(bad)'"), "\(bad)")
        }

        let missing = try #require(enrichmentError { _ = try PrefixMap(contentsOfFile: "/nonexistent/ranges.txt", value: 1) })
        #expect(missing.kind == .missingFile)
        #expect(missing.description.hasPrefix("/nonexistent/ranges.txt: no such file"))
    }

    /// The map agrees with a linear scan of its blocks on random addresses and blocks.
    @Test func agreesWithALinearScan() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        // Few distinct high bits so that blocks nest and overlap.
        func address() -> IPAddress {
            next() % 2 == 0
                ? IPAddress(ipv4: UInt32(truncatingIfNeeded: next()) & 0x0F0F_FFFF)
                : IPAddress(high: 0x2001_0DB8_0000_0000 | (next() & 0x0000_0000_0F0F_FFFF), low: next())
        }
        var map = PrefixMap<Int>()
        var blocks: [AddressBlock: Int] = [:]
        for i in 0..<300 {
            let a = address()
            let block = AddressBlock(address: a, prefixLength: a.isIPv4 ? Int(next() % 33) : 32 + Int(next() % 97))!
            map[block] = i
            blocks[block] = i
        }
        #expect(map.count == blocks.count)
        for _ in 0..<2000 {
            let a = address()
            let expected = blocks.filter { $0.key.contains(a) }.max { $0.key.mappedPrefixLength < $1.key.mappedPrefixLength }
            #expect(map.longestMatch(for: a)?.block == expected?.key)
            #expect(map.value(for: a) == expected?.value)
        }
    }
}
