import Enrichment
import FlowRecords
import Foundation
import TestSupport
import Testing

@testable import Reputation

@Suite struct FeatureTests {
    let spec = FeatureSpec(
        hour: true, port: true, countries: ["DE", "US"], location: true, asnBuckets: 8,
        flags: true, prefixLength: true, lists: ["cdn"])

    func row(_ facts: AddressFacts, _ observation: Observation, member: Bool = false) -> [String: Float] {
        var values = [Float](repeating: -1, count: spec.columnCount)
        values.withUnsafeMutableBufferPointer { spec.encode(facts, observation, membership: [member], into: $0) }
        return Dictionary(uniqueKeysWithValues: zip(spec.columns.map(\.name), values))
    }

    @Test func namesEveryColumnOnceInFeatureOrder() {
        let names = spec.columns.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(names.count == 2 + 7 + 4 + 8 + 4 + 9 + 5 + 2 + 1)
        #expect(spec.features == ["hour", "port", "transport", "country", "continent", "location", "asn", "flags", "prefix_length", "list:cdn"])
        #expect(spec.columnCount == names.count)
        let bare = FeatureSpec(hour: false, port: false, countries: [], location: false, asnBuckets: 0, flags: false, prefixLength: false, lists: [])
        #expect(bare.columnCount == bare.columns.count)
        #expect(bare.columns.map(\.name) == ["country=other", "country=unknown"] + FeatureSpec.continents.map { "continent=\($0)" } + ["continent=unknown"])
    }

    @Test func encodesKnownFacts() {
        let facts = AddressFacts(
            countryCode: "DE", continentCode: "EU", latitude: 45, longitude: -90, utcOffsetHours: 7,
            asn: 3320, prefixLength: 24, flags: [.anycast], sources: ["test"])
        let r = row(facts, Observation(address: ip("193.0.0.1"), hour: 6, port: 22, transport: .tcp), member: true)
        #expect(abs(r["hour_sin"]! - 1) < 1e-6 && abs(r["hour_cos"]!) < 1e-6)
        #expect(abs(r["port"]! - 22.0 / 65535) < 1e-7 && r["port_system"] == 1 && r["port_registered"] == 0)
        #expect(r["transport=tcp"] == 1 && r["transport=udp"] == 0)
        #expect(r["country=DE"] == 1 && r["country=US"] == 0 && r["country=other"] == 0 && r["country=unknown"] == 0)
        #expect(r["continent=EU"] == 1 && r["continent=unknown"] == 0)
        #expect(r["latitude"] == 0.5 && r["longitude"] == -0.5 && r["utc_offset"] == 0.5 && r["location=unknown"] == 0)
        #expect(r["asn_bucket=\(spec.asnBucket(3320))"] == 1 && r["asn=unknown"] == 0)
        #expect((0..<8).reduce(Float(0)) { $0 + r["asn_bucket=\($1)"]! } == 1)
        #expect(r["flag=anycast"] == 1 && r["flag=hostile"] == 0 && r["flags=unknown"] == 0)
        #expect(r["network_size"] == 0.25 && r["network=unknown"] == 0)
        #expect(r["list=cdn"] == 1)
        #expect(!r.values.contains(-1))
    }

    @Test func encodesUnknownsAsTheirOwnColumns() {
        let r = row(AddressFacts(countryCode: "FR"), Observation(address: ip("2001:4860::1")))
        #expect(r["country=other"] == 1 && r["country=DE"] == 0)
        #expect(r["continent=unknown"] == 1 && r["location=unknown"] == 1 && r["asn=unknown"] == 1)
        #expect(r["flags=unknown"] == 1 && r["network=unknown"] == 1 && r["list=cdn"] == 0)
        #expect(spec.missingInputs(Observation(address: ip("2001:4860::1"))) == ["hour", "port"])
    }

    @Test func encodesTheASProfile() throws {
        let profiled = FeatureSpec(
            hour: false, port: false, countries: [], location: false, asnBuckets: 0, flags: false, prefixLength: false, asProfile: true, lists: [])
        #expect(profiled.features == ["country", "continent", "as_profile"])
        #expect(profiled.columnCount == profiled.columns.count)
        func encoded(_ facts: AddressFacts) -> [String: Float] {
            var values = [Float](repeating: -1, count: profiled.columnCount)
            values.withUnsafeMutableBufferPointer { profiled.encode(facts, Observation(address: ip("198.51.100.1")), membership: [], into: $0) }
            return Dictionary(uniqueKeysWithValues: zip(profiled.columns.map(\.name), values))
        }
        // 2^20 addresses in 16 networks of 2^16, in 3 countries, 4 of them anycast.
        let profile = ASProfile(ipv4Addresses: 1 << 20, ipv4Networks: 16, countries: 3, anycastNetworks: 4)
        let r = encoded(AddressFacts(asn: 64500, asProfile: profile))
        #expect(abs(r["as_addresses"]! - 20.0 / 32) < 1e-5)
        #expect(abs(r["as_networks"]! - log2f(17) / 16) < 1e-6)
        #expect(r["as_mean_network"] == 0.5 && r["as_countries"] == 0.25 && r["as_anycast_share"] == 0.25)
        #expect(r["as_profile=unknown"] == 0)
        #expect(
            FeatureSpec.describe("as_profile", AddressFacts(asn: 64500, asProfile: profile), Observation(address: ip("198.51.100.1")))
                == "1.0M IPv4 addresses in 16 networks, 3 countries, 4 anycast")
        // No profile, or one without IPv4 networks (an IPv6-only AS), is unknown, never a division by zero.
        for facts in [
            AddressFacts(asn: 64500), AddressFacts(asn: 64500, asProfile: ASProfile(ipv4Addresses: 0, ipv4Networks: 0, countries: 1, anycastNetworks: 0)),
        ] {
            let u = encoded(facts)
            #expect(u["as_profile=unknown"] == 1 && u["as_addresses"] == 0 && u["as_anycast_share"] == 0)
            #expect(!u.values.contains { $0.isNaN || $0 == -1 })
        }
    }

    /// Model files written before the AS profile existed have no `asProfile` key: they decode with it off.
    @Test func specsWithoutTheASProfileKeyDecodeWithItOff() throws {
        var json = String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)
        #expect(json.contains("\"asProfile\":false"))
        json = json.replacingOccurrences(of: "\"asProfile\":false,", with: "").replacingOccurrences(of: ",\"asProfile\":false", with: "")
        #expect(!json.contains("asProfile"))
        let decoded = try JSONDecoder().decode(FeatureSpec.self, from: Data(json.utf8))
        #expect(decoded == spec && !decoded.asProfile)
    }

    @Test func hashesASNsIntoStableBuckets() {
        let buckets = (1...5000).map { spec.asnBucket(UInt32($0)) }
        #expect(buckets.allSatisfy { (0..<8).contains($0) })
        #expect(Set(buckets).count == 8)
        // Roughly even: no bucket holds twice its share.
        #expect(Dictionary(grouping: buckets, by: { $0 }).values.allSatisfy { $0.count < 1250 })
        #expect(spec.asnBucket(13335) == spec.asnBucket(13335))
    }

    @Test func parsesObservations() throws {
        let full = try Observation.parse("203.0.113.9,14,53/udp").get()
        #expect(full == Observation(address: ip("203.0.113.9"), hour: 14, port: 53, transport: .udp))
        #expect(try Observation.parse(" 2001:db8::1 ").get() == Observation(address: ip("2001:db8::1")))
        #expect(try Observation.parse("198.51.100.1,,443").get() == Observation(address: ip("198.51.100.1"), port: 443, transport: .tcp))
        // "1.2.3.4,,/" trapped (an empty port split; found by the ip-score-request fuzz target).
        for bad in [
            "example.com", "1.2.3.4,24", "1.2.3.4,x", "1.2.3.4,3,70000/tcp", "1.2.3.4,3,22/xyz", "1.2.3.4,1,2,3",
            "1.2.3.4,,/", "1.2.3.4,,/tcp", "1.2.3.4,,443/", "1.2.3.4,,//",
        ] {
            #expect(throws: ObservationSyntaxError.self, "\(bad)") { _ = try Observation.parse(bad).get() }
        }
    }

    /// A database built more than a year before now gets a warning naming it, its build date and how
    /// to update it; a younger one none.
    @Test func databasesOverAYearOldAreNamed() throws {
        let path = FixtureDirectory.maxMind.path("GeoLite2-City-Test.mmdb")
        let setup = try IntelligenceSetup(mmdb: [path], libloc: nil)
        let built = try #require(setup.builds.first?.built)
        #expect(setup.ageWarnings(now: built.addingTimeInterval(300 * 86_400)).isEmpty)
        let warnings = setup.ageWarnings(now: built.addingTimeInterval(400 * 86_400))
        #expect(warnings.count == 1)
        #expect(warnings.first?.hasPrefix("the GeoLite2-City database \(path) was built on ") == true)
        #expect(warnings.first?.contains(", 400 days ago: countries, AS numbers and network flags may have moved since; download a newer one") == true)
    }

    @Test func encodesCityFactsFromAMaxMindDatabase() throws {
        let setup = try IntelligenceSetup(mmdb: [FixtureDirectory.maxMind.path("GeoLite2-City-Test.mmdb")], libloc: nil)
        #expect(setup.hasCity && !setup.hasLibloc)
        #expect(setup.databases.map(\.kind) == ["city"])
        let spec = FeatureSpec(hour: false, port: false, countries: ["GB"], location: true, asnBuckets: 4, flags: false, prefixLength: true, lists: [])
        let encoder = try FeatureEncoder(spec: spec, lists: [])
        let london = Observation(address: ip("81.2.69.142"))
        let facts = try setup.facts(for: [london.address])
        let r = Dictionary(uniqueKeysWithValues: zip(spec.columns.map(\.name), encoder.row(facts[london.address]!, london)))
        #expect(r["country=GB"] == 1 && r["continent=EU"] == 1 && r["location=unknown"] == 0)
        #expect(abs(r["latitude"]! - Float(51.5142 / 90)) < 1e-3)
        #expect(r["asn=unknown"] == 1)
    }
}
