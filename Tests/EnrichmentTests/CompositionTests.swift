import FlowRecords
import Foundation
import TestSupport
import Testing

@testable import Enrichment

@Suite struct CombinedIntelligenceTests {
    @Test func firstAnswerWinsPerField() throws {
        let address = ip("192.0.2.1")
        let first = FixedSource(
            name: "first",
            answers: [
                address: AddressFacts(countryCode: "DE", asn: 64500, prefixLength: 24, flags: [], sources: ["first"])
            ])
        let second = FixedSource(
            name: "second",
            answers: [
                address: AddressFacts(
                    countryCode: "FR", continentCode: "EU", latitude: 48.9, longitude: 2.3,
                    asn: 64501, asOrganization: "Example", prefixLength: 16,
                    flags: [.anycast], sources: ["second"])
            ])
        let third = FixedSource(name: "third", answers: [address: AddressFacts(countryCode: "IT", sources: ["third"])])
        let combined = CombinedIntelligence([first, second, third])
        #expect(combined.name == "first+second+third")
        let facts = try combined.facts(for: address)
        #expect(
            facts
                == AddressFacts(
                    countryCode: "DE", continentCode: "EU", latitude: 48.9, longitude: 2.3,
                    asn: 64500, asOrganization: "Example", prefixLength: 24,
                    flags: [], sources: ["first", "second"]))
        // The third source contributed nothing new, so it is not named; it was still asked.
        #expect(third.lookupCount == 1)
        #expect(try combined.facts(for: ip("198.51.100.1")).isEmpty)
    }

    @Test func aFailingSourceFailsTheLookup() throws {
        let address = ip("192.0.2.1")
        let good = FixedSource(name: "good", answers: [address: AddressFacts(countryCode: "DE", sources: ["good"])])
        let broken = FixedSource(name: "broken", answers: [:], failing: [address])
        let error = try #require(enrichmentError { _ = try CombinedIntelligence([good, broken]).facts(for: address) })
        #expect(error.description == "broken: broken record for 192.0.2.1")
    }

    /// MaxMind's ASN and City test databases both know 89.160.20.0/17 (Bredband2, Sweden).
    @Test func asnAndCityDatabases() throws {
        let asn = try MaxMindDatabase(path: FixtureDirectory.maxMind.path("GeoLite2-ASN-Test.mmdb"))
        let city = try MaxMindDatabase(path: FixtureDirectory.maxMind.path("GeoLite2-City-Test.mmdb"))
        let facts = try CombinedIntelligence([asn, city]).facts(for: ip("89.160.20.112"))
        #expect(
            facts
                == AddressFacts(
                    countryCode: "SE", continentCode: "EU", latitude: 58.4167, longitude: 15.6167,
                    timeZone: "Europe/Stockholm", utcOffsetHours: 1, asn: 29518, asOrganization: "Bredband2 AB",
                    prefixLength: 17, sources: ["GeoLite2-ASN", "GeoLite2-City"]))
        // The other order takes the City database's narrower network.
        #expect(try CombinedIntelligence([city, asn]).facts(for: ip("89.160.20.112")).prefixLength == 28)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: LocationDatabase.defaultPath), "the libloc-database package is not installed"))
    func liblocThenCity() throws {
        let combined = CombinedIntelligence([
            try LocationDatabase(),
            try MaxMindDatabase(path: FixtureDirectory.maxMind.path("GeoLite2-City-Test.mmdb")),
        ])
        #expect(combined.name == "libloc+GeoLite2-City")
        let london = try combined.facts(for: ip("81.2.69.142"))
        #expect(london.countryCode == "GB")
        #expect(london.asn != nil)
        #expect(london.flags != nil)
        #expect(london.latitude == 51.5142)
        #expect(london.utcOffsetHours == 0)
        #expect(london.sources == ["libloc", "GeoLite2-City"])
        let google = try combined.facts(for: ip("8.8.8.8"))
        #expect(google.asn == 15169)
        #expect(google.latitude == nil)
        #expect(google.sources == ["libloc"])
    }
}

@Suite struct CachedIntelligenceTests {
    @Test func repeatedLookupsAreAnsweredFromTheCache() throws {
        let city = try MaxMindDatabase(path: FixtureDirectory.maxMind.path("GeoLite2-City-Test.mmdb"))
        let cache = CachedIntelligence(city, capacity: 100)
        #expect(cache.name == "GeoLite2-City")
        let addresses = ["81.2.69.142", "2001:480::1", "10.0.0.1"].map(ip)
        for _ in 0..<5 {
            for address in addresses {
                #expect(try cache.facts(for: address) == city.facts(for: address))
            }
        }
        #expect(cache.statistics == CachedIntelligence.Statistics(hits: 12, misses: 3, entries: 3))
        cache.removeAll()
        #expect(cache.statistics == CachedIntelligence.Statistics())
    }

    @Test func theSourceIsAskedOncePerAddress() throws {
        let answers = Dictionary(
            uniqueKeysWithValues: (0..<10).map { i in
                (IPAddress(ipv4: 0xC000_0200 + UInt32(i)), AddressFacts(asn: UInt32(64500 + i), sources: ["fixed"]))
            })
        let source = FixedSource(name: "fixed", answers: answers)
        let cache = CachedIntelligence(source)
        for _ in 0..<3 {
            for (address, facts) in answers { #expect(try cache.facts(for: address) == facts) }
        }
        #expect(source.lookupCount == 10)
        #expect(cache.statistics.hits == 20)
    }

    /// With capacity 4, each generation holds 2 answers: the last two generations are held, older
    /// answers are dropped, and no more than 4 are ever held.
    @Test func evictionByGenerations() throws {
        let addresses = (0..<8).map { IPAddress(ipv4: 0xC000_0200 + UInt32($0)) }
        let source = FixedSource(name: "fixed", answers: [:])
        let cache = CachedIntelligence(source, capacity: 4)
        for address in addresses {
            _ = try cache.facts(for: address)
            #expect(cache.statistics.entries <= 4)
        }
        #expect(source.lookupCount == 8)
        // The last two generations (addresses 4...7) are held; 0...3 were dropped.
        for address in [addresses[7], addresses[6], addresses[4]] { _ = try cache.facts(for: address) }
        #expect(source.lookupCount == 8)
        _ = try cache.facts(for: addresses[0])
        #expect(source.lookupCount == 9)

        // An address kept in use survives however many others pass through.
        let kept = ip("203.0.113.1")
        _ = try cache.facts(for: kept)
        let before = source.lookupCount
        for i in 0..<50 {
            _ = try cache.facts(for: IPAddress(ipv4: 0x0A00_0000 + UInt32(i)))
            _ = try cache.facts(for: kept)
        }
        #expect(source.lookupCount == before + 50)
        #expect(cache.statistics.entries <= 4)
    }

    @Test func errorsAreNotCached() throws {
        let address = ip("192.0.2.1")
        let source = FixedSource(name: "broken", answers: [:], failing: [address])
        let cache = CachedIntelligence(source)
        for _ in 0..<2 { #expect(enrichmentError { _ = try cache.facts(for: address) } != nil) }
        #expect(source.lookupCount == 2)
        #expect(cache.statistics.entries == 0)
    }

    @Test func concurrentUse() async throws {
        let source = FixedSource(name: "fixed", answers: [ip("192.0.2.1"): AddressFacts(asn: 64500, sources: ["fixed"])])
        let cache = CachedIntelligence(source, capacity: 64)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<8 {
                group.addTask {
                    for i in 0..<500 {
                        let facts = try cache.facts(for: IPAddress(ipv4: 0xC000_0200 + UInt32((i * 7 + t) % 100)))
                        if i % 100 == 0 { _ = facts }
                    }
                }
            }
            try await group.waitForAll()
        }
        let statistics = cache.statistics
        #expect(statistics.hits + statistics.misses == 4000)
        #expect(statistics.entries <= 64)
        #expect(try cache.facts(for: ip("192.0.2.1")).asn == 64500)
    }
}

@Suite struct AddressFactsTests {
    @Test func fillMissingKeepsKnownFields() {
        var facts = AddressFacts(countryCode: "US", sources: ["a"])
        facts.fillMissing(from: AddressFacts(countryCode: "CA", continentCode: "NA", sources: ["b"]))
        #expect(facts == AddressFacts(countryCode: "US", continentCode: "NA", sources: ["a", "b"]))
        facts.fillMissing(from: AddressFacts(countryCode: "MX", sources: ["c"]))
        #expect(facts.sources == ["a", "b"])
        #expect(AddressFacts().isEmpty)
        #expect(!AddressFacts(flags: []).isEmpty)
    }

    /// A profile belongs to one AS: it is taken from a later source only when that source's AS is
    /// the one kept.
    @Test func fillMissingTakesAProfileOnlyWithItsAS() {
        let profile = ASProfile(ipv4Addresses: 256, ipv4Networks: 1, countries: 1, anycastNetworks: 0)
        var facts = AddressFacts(asn: 64500, sources: ["a"])
        facts.fillMissing(from: AddressFacts(asn: 64501, asProfile: profile, sources: ["b"]))
        #expect(facts.asn == 64500 && facts.asProfile == nil && facts.sources == ["a"])
        facts.fillMissing(from: AddressFacts(asn: 64500, asProfile: profile, sources: ["c"]))
        #expect(facts.asProfile == profile && facts.sources == ["a", "c"])
        var empty = AddressFacts()
        empty.fillMissing(from: AddressFacts(asn: 64501, asProfile: profile, sources: ["b"]))
        #expect(empty.asn == 64501 && empty.asProfile == profile)
    }

    @Test func flagNames() {
        #expect(NetworkFlags([.anycast, .hostile]).description == "anycast,hostile")
        #expect(NetworkFlags().description == "")
    }
}
