import Enrichment
import FlowRecords
import Foundation
import Neural
import TestSupport
import Testing

@testable import Reputation

/// The `network_listing` feature's table: counting around an address, encoding, and the model
/// file's form of it.
struct NetworkListingTests {
    /// The top 24 bits of `a.b.c.0`.
    static func net(_ a: UInt32, _ b: UInt32, _ c: UInt32) -> UInt32 { a << 16 | b << 8 | c }

    static let listing = NetworkListing(
        name: "ipsum-1.txt", sha256: "ab",
        counts: [
            net(198, 51, 100): 3,  // the address's own /24
            net(198, 51, 101): 1,  // the same /22 (198.51.100.0–198.51.103.255)
            net(198, 51, 104): 2,  // beyond the /22, inside the /20 (198.51.96.0–198.51.111.255)
            net(198, 51, 200): 5,  // the same /16 only
            net(198, 52, 0): 7,  // the next /16
            net(10, 0, 0): 0,  // counts nothing: left out
        ])

    @Test func countsEntriesInEachNetworkAroundAnAddress() {
        let l = Self.listing
        #expect(l.networks == [Self.net(198, 51, 100), Self.net(198, 51, 101), Self.net(198, 51, 104), Self.net(198, 51, 200), Self.net(198, 52, 0)])
        #expect(l.counted == 18)
        #expect(l.counts(around: ip("198.51.100.77")) == [3, 4, 6, 11])
        #expect(l.counts(around: ip("198.51.104.1")) == [2, 2, 6, 11])
        #expect(l.counts(around: ip("198.51.255.255")) == [0, 0, 0, 11])
        #expect(l.counts(around: ip("198.52.0.0")) == [7, 7, 7, 7])
        #expect(l.counts(around: ip("198.50.255.255")) == [0, 0, 0, 0])
        #expect(l.counts(around: ip("0.0.0.0")) == [0, 0, 0, 0] && l.counts(around: ip("255.255.255.255")) == [0, 0, 0, 0])
        #expect(l.count(around: ip("198.51.100.1"), length: 8) == 18)
        #expect(l.counts(around: ip("2001:db8::1")) == nil)
        #expect(NetworkListing(name: "", sha256: "", counts: [:]).counts(around: ip("198.51.100.1")) == [0, 0, 0, 0])
        // A /24 counts at most every address it has.
        #expect(NetworkListing(name: "", sha256: "", counts: [1: 1000]).counted == NetworkListing.maximumCount)
        #expect(
            l.describe(ip("198.51.100.77")) == "3 entries of ipsum-1.txt in its /24, 4 in its /22, 6 in its /20, 11 in its /16"
                && l.describe(ip("2001:db8::1")) == "unknown (IPv6)")
    }

    @Test func countsAListWithoutItsTrainingRows() throws {
        let path = try temporaryDirectory("listing") + "/list.txt"
        try "# header\n198.51.100.1 1\n198.51.100.2 1\n198.51.100.0/30\n203.0.113.9 3\n2001:db8::1\n".write(toFile: path, atomically: true, encoding: .utf8)
        let list = try AddressList.read(path: path)
        let (listing, tally) = NetworkListing.count(list, sha256: "00", excluding: [ip("203.0.113.9"), ip("198.51.100.0")])
        // The block counts once by its first address, though that address is a row: only single
        // addresses are training rows.
        #expect(tally == NetworkListing.Tally(entries: 5, trainingRows: 1, ipv6: 1))
        #expect(listing.name == "list.txt" && listing.counted == 3 && listing.counts(around: ip("198.51.100.200")) == [3, 3, 3, 3])
        #expect(listing.counts(around: ip("203.0.113.9")) == [0, 0, 0, 0])
    }

    @Test func encodesEachWidthOnALogScale() throws {
        let spec = FeatureSpec(
            hour: false, port: false, countries: [], location: false, asnBuckets: 0, flags: false, prefixLength: false, networkListing: true, lists: [])
        #expect(spec.features == ["country", "continent", "network_listing"])
        #expect(spec.columnCount == spec.columns.count)
        let encoder = try FeatureEncoder(spec: spec, lists: [], networkListing: Self.listing)
        func encoded(_ address: String) -> [String: Float] {
            let row = encoder.row(AddressFacts(), Observation(address: ip(address)))
            return Dictionary(uniqueKeysWithValues: zip(spec.columns.map(\.name), row))
        }
        let r = encoded("198.51.100.77")
        #expect(r["listed_in_24"] == 2.0 / 8 && r["listed_in_22"] == log2f(5) / 10 && r["listed_in_20"] == log2f(7) / 12)
        #expect(r["listed_in_16"] == log2f(12) / 16 && r["network_listing=unknown"] == 0)
        let clean = encoded("192.0.2.1")
        #expect(NetworkListing.prefixLengths.allSatisfy { clean["listed_in_\($0)"] == 0 } && clean["network_listing=unknown"] == 0)
        let v6 = encoded("2001:db8::1")
        #expect(NetworkListing.prefixLengths.allSatisfy { v6["listed_in_\($0)"] == 0 } && v6["network_listing=unknown"] == 1)
        // A full /16 stays within 0–1 (log₂ 257 / 8 is 1.0007).
        let full = NetworkListing(name: "", sha256: "", counts: Dictionary(uniqueKeysWithValues: (0..<256).map { (Self.net(198, 51, $0), 256) }))
        let fullRow = try FeatureEncoder(spec: spec, lists: [], networkListing: full).row(AddressFacts(), Observation(address: ip("198.51.7.7")))
        #expect(fullRow.allSatisfy { (0...1.001).contains($0) } && fullRow.contains { $0 > 0.99 })
    }

    @Test func encoderNeedsATableExactlyWhenTheSpecUsesIt() throws {
        let spec = FeatureSpec(
            hour: false, port: false, countries: [], location: false, asnBuckets: 0, flags: false, prefixLength: false, networkListing: true, lists: [])
        let refused = #expect(throws: ReputationDataError.self) { _ = try FeatureEncoder(spec: spec, lists: []) }
        #expect(refused?.description.contains("around each address but holds no table") == true)
        var without = spec
        without.networkListing = false
        #expect(throws: ReputationDataError.self) { _ = try FeatureEncoder(spec: without, lists: [], networkListing: Self.listing) }
        // Specs written before the feature existed read as without it.
        let old = #"{"hour":false,"port":false,"countries":[],"location":false,"asnBuckets":0,"asnHashSeed":1,"flags":false,"prefixLength":false,"lists":[]}"#
        #expect(try JSONDecoder().decode(FeatureSpec.self, from: Data(old.utf8)).networkListing == false)
    }

    @Test func readsItsTableBackAndRefusesADamagedOne() throws {
        let read = try NetworkListing.read(Self.listing.tensor, header: Self.listing.header).get()
        #expect(read == Self.listing)
        func refused(_ scalars: [Float], counted: Int? = nil, networks: Int? = nil) -> String? {
            let n = scalars.count / 2
            let tensor = Tensor(shape: [n, 2], scalars: scalars)
            let total = stride(from: 1, to: scalars.count, by: 2).reduce(0) { $0 + Int(max(0, min(scalars[$1], 1e6))) }
            let header = NetworkListing.Header(name: "x", sha256: "", counted: counted ?? total, networks: networks ?? n)
            guard case .failure(let e) = NetworkListing.read(tensor, header: header) else { return nil }
            return e.description
        }
        #expect(refused([1, 1, 2, 1]) == nil)
        #expect(refused([2, 1, 1, 1])?.contains("not in ascending order at row 1") == true)
        #expect(refused([1, 1, 1, 1])?.contains("not in ascending order") == true)
        #expect(refused([1, 0.5])?.contains("not a /24 and a count") == true)
        #expect(refused([1, 0])?.contains("not a /24 and a count") == true)
        #expect(refused([1, 257])?.contains("not a /24 and a count") == true)
        #expect(refused([16_777_216, 1])?.contains("not a /24 and a count") == true)
        #expect(refused([-1, 1])?.contains("not a /24 and a count") == true)
        #expect(refused([.nan, 1])?.contains("not a /24 and a count") == true)
        #expect(refused([1, 1], networks: 2)?.contains("does not describe") == true)
        #expect(refused([1, 1], counted: 5)?.contains("does not describe") == true)
        let wide = Tensor(shape: [1, 3], scalars: [1, 1, 1])
        guard case .failure(let e) = NetworkListing.read(wide, header: NetworkListing.Header(name: "x", sha256: "", counted: 1, networks: 1)) else {
            Issue.record("a table of three columns was read")
            return
        }
        #expect(e.description.contains("rows of two"))
    }
}
