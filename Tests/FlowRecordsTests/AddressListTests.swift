import Foundation
import Testing

@testable import FlowRecords

@Suite struct AddressListTests {
    @Test func readsIPsumStyleListsWithCountsAndComments() throws {
        let text = "# IPsum\n#\n77.90.185.20\t10\n198.51.100.0/24 ; SBL123\n\n192.0.2.7,3\r\n2001:db8::/32 cloud\n"
        let list = try AddressList(text: text, name: "ipsum.txt")
        #expect(list.entries.map(\.block.description) == ["77.90.185.20/32", "198.51.100.0/24", "192.0.2.7/32", "2001:db8::/32"])
        #expect(list.entries.map(\.count) == [10, nil, 3, nil])
        #expect(list.entries.map(\.line) == [3, 4, 6, 7])
    }

    @Test func readsEveryAddressStringOfAJSONDocument() throws {
        let text = """
            {"syncToken": "17", "prefixes": [{"ipv4Prefix": "34.1.208.0/20", "service": "Google Cloud"},
             {"ipv6Prefix": "2600:1900:8000::/44"}], "addresses": ["23.235.32.0/20"], "version": "1.2"}
            """
        let list = try AddressList(text: text, name: "ranges.json")
        #expect(list.entries.map(\.block.description) == ["34.1.208.0/20", "2600:1900:8000::/44", "23.235.32.0/20"])
        #expect(list.entries.map(\.line) == [1, 2, 2])
    }

    @Test func namesTheFileAndLineOfABadEntry() {
        let error = #expect(throws: AddressListError.self) { _ = try AddressList(text: "10.0.0.0/8\nexample.com\n", name: "allow.txt") }
        #expect(error?.description == "allow.txt:2: 'example.com' is not an address or address block (like 10.0.0.0/8 or 2001:db8::/32)")
        #expect(throws: AddressListError.self) { _ = try AddressList(text: "{\"a\": \"b\"}", name: "x.json") }
    }

    @Test func tellsPublicAddressesFromSpecialPurposeOnes() {
        for text in ["8.8.8.8", "77.90.185.20", "2606:4700::1111"] { #expect(IPAddress(text)!.isGlobal, "\(text)") }
        for text in [
            "10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "169.254.1.1", "100.64.0.1", "192.0.2.1",
            "198.51.100.1", "203.0.113.1", "224.0.0.1", "255.255.255.255", "0.0.0.0", "::1", "fe80::1", "fd00::1", "2001:db8::1", "ff02::1",
        ] {
            #expect(!IPAddress(text)!.isGlobal, "\(text)")
        }
    }

    @Test func allowlistsLoadJSONRangesToo() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ranges-\(getpid()).json").path
        try #"{"addresses":["23.235.32.0/20"]}"#.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let set = try CIDRSet.load(path: path)
        #expect(set.contains(IPAddress("23.235.40.1")!))
        #expect(!set.contains(IPAddress("23.235.48.1")!))
    }
}
