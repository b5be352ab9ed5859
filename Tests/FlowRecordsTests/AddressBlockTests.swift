import Testing

@testable import FlowRecords

@Suite struct AddressBlockTests {
    @Test(arguments: [
        ("10.0.0.0/8", "10.0.0.0/8", 8, 104),
        ("10.1.2.3/8", "10.0.0.0/8", 8, 104),
        ("192.0.2.7", "192.0.2.7/32", 32, 128),
        ("0.0.0.0/0", "0.0.0.0/0", 0, 96),
        ("::ffff:192.0.2.0/24", "192.0.2.0/24", 24, 120),
        ("2001:db8::/32", "2001:db8::/32", 32, 32),
        ("2001:db8:ffff::1/33", "2001:db8:8000::/33", 33, 33),
        ("::1", "::1/128", 128, 128),
        ("::/0", "::/0", 0, 0),
    ])
    func parses(text: String, canonical: String, prefix: Int, mapped: Int) throws {
        let block = try #require(AddressBlock(text))
        #expect(block.description == canonical)
        #expect(block.prefixLength == prefix)
        #expect(block.mappedPrefixLength == mapped)
        #expect(AddressBlock(canonical) == block)
    }

    @Test(arguments: [
        "", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8/8",
        "2001:db8::/129", "10.0.0.0 /8", " 10.0.0.0/8", "example.com", "10.0.0.0/8 x",
    ])
    func refuses(text: String) {
        #expect(AddressBlock(text) == nil)
    }

    @Test func containment() throws {
        let v4 = try #require(AddressBlock("10.1.0.0/16"))
        #expect(v4.contains(IPAddress("10.1.255.255")!))
        #expect(!v4.contains(IPAddress("10.2.0.0")!))
        #expect(v4.contains(IPAddress("::ffff:10.1.0.1")!))
        let v6 = try #require(AddressBlock("2001:db8::/32"))
        #expect(v6.contains(IPAddress("2001:db8:ffff::1")!))
        #expect(!v6.contains(IPAddress("2001:db9::")!))
        #expect(!v6.contains(IPAddress("10.1.0.1")!))
        #expect(AddressBlock("::/0")!.contains(IPAddress("10.1.0.1")!))
        #expect(!AddressBlock("0.0.0.0/0")!.contains(IPAddress("2001:db8::1")!))
    }

    @Test func listEntriesSkipCommentsAndBlankLines() {
        let entries = AddressBlock.listEntries(in: "# header\n10.0.0.0/8\n\n  192.0.2.7  # host\n2001:db8::/32\r\n\t\n")
        #expect(entries.map(\.line) == [2, 4, 5])
        #expect(entries.map { String($0.entry) } == ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"])
    }

    @Test func cidrSetStillReadsAllowlists() throws {
        let set = try CIDRSet(text: "# office\n10.0.0.0/8\n192.0.2.7  # one host\n\n2001:db8::/32\r\n", name: "allow.txt")
        #expect(set.count == 3)
        #expect(set.contains(IPAddress("10.200.0.1")!))
        #expect(set.contains(IPAddress("192.0.2.7")!))
        #expect(!set.contains(IPAddress("192.0.2.8")!))
        #expect(set.contains(IPAddress("2001:db8::5")!))
        #expect(throws: CIDRSetError.self) { _ = try CIDRSet(text: "10.0.0.0/\n", name: "allow.txt") }
    }
}
