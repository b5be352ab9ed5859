import Enrichment
import FlowRecords
import Foundation
import Neural
import TestSupport
import Testing

@testable import Reputation

/// The `as_listing` feature's table: counting, encoding and the model file's form of it.
struct ASListingTests {
    @Test func countsEntriesByAS() {
        let listing = ASListing(name: "list.txt", sha256: "", counts: [64500: 3, 13335: 1, 4_200_000_000: 7, 65000: 0, 1: 1 << 30])
        #expect(listing.asns == [1, 13335, 64500, 4_200_000_000])
        #expect(listing.count(of: 64500) == 3 && listing.count(of: 13335) == 1 && listing.count(of: 4_200_000_000) == 7)
        #expect(listing.count(of: 65000) == 0 && listing.count(of: 0) == 0 && listing.count(of: 64499) == 0 && listing.count(of: .max) == 0)
        // What a float32 in the model file holds exactly.
        #expect(listing.count(of: 1) == Int(ASListing.maximumCount))
        #expect(ASListing(name: "", sha256: "", counts: [:]).count(of: 1) == 0)
    }

    @Test func encodesEntriesAndEntriesPerAddressSpace() {
        let spec = FeatureSpec(
            hour: false, port: false, countries: [], location: false, asnBuckets: 0, flags: false, prefixLength: false, asProfile: true,
            asListing: true, lists: [])
        #expect(spec.features == ["country", "continent", "as_profile", "as_listing"])
        #expect(spec.columnCount == spec.columns.count)
        func encoded(_ facts: AddressFacts, _ listed: Int?) -> [String: Float] {
            var values = [Float](repeating: -1, count: spec.columnCount)
            values.withUnsafeMutableBufferPointer { spec.encode(facts, Observation(address: ip("198.51.100.1")), membership: [], asListed: listed, into: $0) }
            return Dictionary(uniqueKeysWithValues: zip(spec.columns.map(\.name), values))
        }
        // 255 entries in an AS of 2^18 addresses: 63.75 per 65,536.
        let profile = ASProfile(ipv4Addresses: 1 << 18, ipv4Networks: 4, countries: 1, anycastNetworks: 0)
        let r = encoded(AddressFacts(asn: 64500, asProfile: profile), 255)
        #expect(r["as_listed"] == 8.0 / 24 && abs(r["as_listed_per_65536"]! - log2f(64.75) / 24) < 1e-6 && r["as_listing=unknown"] == 0)
        let none = encoded(AddressFacts(asn: 64500, asProfile: profile), 0)
        #expect(none["as_listed"] == 0 && none["as_listed_per_65536"] == 0 && none["as_listing=unknown"] == 0)
        // Without a profile the density is 0; without an AS the count is unknown, whatever was passed.
        let unprofiled = encoded(AddressFacts(asn: 64500), 255)
        #expect(unprofiled["as_listed"] == 8.0 / 24 && unprofiled["as_listed_per_65536"] == 0)
        for (facts, listed) in [(AddressFacts(), nil), (AddressFacts(), 5), (AddressFacts(asn: 64500), nil)] as [(AddressFacts, Int?)] {
            let u = encoded(facts, listed)
            #expect(u["as_listing=unknown"] == 1 && u["as_listed"] == 0 && u["as_listed_per_65536"] == 0)
        }
    }

    @Test func encoderNeedsATableExactlyWhenTheSpecUsesIt() throws {
        let spec = FeatureSpec(
            hour: false, port: false, countries: [], location: false, asnBuckets: 0, flags: false, prefixLength: false, asListing: true, lists: [])
        let refused = #expect(throws: ReputationDataError.self) { _ = try FeatureEncoder(spec: spec, lists: []) }
        #expect(refused?.description.contains("holds no table") == true)
        let listing = ASListing(name: "l", sha256: "", counts: [64500: 2])
        let encoder = try FeatureEncoder(spec: spec, lists: [], asListing: listing)
        #expect(encoder.asListed(AddressFacts(asn: 64500)) == 2 && encoder.asListed(AddressFacts(asn: 64501)) == 0 && encoder.asListed(AddressFacts()) == nil)
        var without = spec
        without.asListing = false
        #expect(throws: ReputationDataError.self) { _ = try FeatureEncoder(spec: without, lists: [], asListing: listing) }
    }

    @Test func readsItsTableBackAndRefusesADamagedOne() throws {
        let listing = ASListing(name: "ipsum-1.txt", sha256: "ab", counts: [64500: 3, 13335: 1, 4_200_000_000: 7])
        let read = try ASListing.read(listing.tensor, header: listing.header).get()
        #expect(read == listing)
        func refused(_ scalars: [Float], rows: Int? = nil, header: ASListing.Header? = nil) -> String? {
            let n = rows ?? scalars.count / 3
            let tensor = Tensor(shape: [n, 3], scalars: scalars)
            guard case .failure(let e) = ASListing.read(tensor, header: header ?? ASListing.Header(name: "x", sha256: "", counted: 1, ases: n)) else {
                return nil
            }
            return e.description
        }
        #expect(refused([0, 2, 1, 0, 1, 1])?.contains("not in ascending order of AS number at row 1") == true)
        #expect(refused([0, 1, 1, 0, 1, 1])?.contains("not in ascending order") == true)
        #expect(refused([0, 1, 0.5])?.contains("not an AS number and a count") == true)
        #expect(refused([0, 1, 0])?.contains("not an AS number and a count") == true)
        #expect(refused([65536, 1, 1])?.contains("not an AS number and a count") == true)
        #expect(refused([0, -1, 1])?.contains("not an AS number and a count") == true)
        #expect(refused([0, .nan, 1])?.contains("not an AS number and a count") == true)
        #expect(refused([0, 1, 1], header: ASListing.Header(name: "x", sha256: "", counted: 1, ases: 2))?.contains("does not describe") == true)
        let wide = Tensor(shape: [1, 4], scalars: [0, 1, 1, 1])
        guard case .failure(let e) = ASListing.read(wide, header: ASListing.Header(name: "x", sha256: "", counted: 1, ases: 1)) else {
            Issue.record("a table of four columns was read")
            return
        }
        #expect(e.description.contains("rows of three"))
    }
}
