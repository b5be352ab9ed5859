import FlowRecords
import Foundation
import TestSupport
import Testing

@testable import Enrichment

/// Known answers from MaxMind's test databases. The values were read with libmaxminddb and
/// cross-checked against an independent reading of the files (a small decoder written from the
/// MMDB specification).
@Suite struct MaxMindDatabaseTests {
    static let city = try! MaxMindDatabase(path: FixtureDirectory.maxMind.path("GeoLite2-City-Test.mmdb"))
    static let country = try! MaxMindDatabase(path: FixtureDirectory.maxMind.path("GeoLite2-Country-Test.mmdb"))
    static let asn = try! MaxMindDatabase(path: FixtureDirectory.maxMind.path("GeoLite2-ASN-Test.mmdb"))

    @Test func readsTheDatabaseTypeFromTheMetadata() {
        #expect(Self.city.databaseType == "GeoLite2-City")
        #expect(Self.city.content == .city)
        #expect(Self.country.databaseType == "GeoLite2-Country")
        #expect(Self.country.content == .country)
        #expect(Self.asn.databaseType == "GeoLite2-ASN")
        #expect(Self.asn.content == .asn)
        #expect(Self.city.ipVersion == 6)
        #expect(Self.city.name == "GeoLite2-City")
        #expect(Self.city.buildDate > Date(timeIntervalSince1970: 1_400_000_000))
    }

    @Test func cityAnswersForIPv4() throws {
        let london = try Self.city.facts(for: ip("81.2.69.142"))
        #expect(
            london
                == AddressFacts(
                    countryCode: "GB", continentCode: "EU", latitude: 51.5142, longitude: -0.0931,
                    timeZone: "Europe/London", utcOffsetHours: 0, prefixLength: 31, sources: ["GeoLite2-City"]))

        let boxford = try Self.city.facts(for: ip("2.125.160.216"))
        #expect(boxford.countryCode == "GB")
        #expect(boxford.latitude == 51.75)
        #expect(boxford.longitude == -1.25)
        #expect(boxford.prefixLength == 29)

        let changchun = try Self.city.facts(for: ip("175.16.199.1"))
        #expect(changchun.countryCode == "CN")
        #expect(changchun.continentCode == "AS")
        #expect(changchun.timeZone == "Asia/Harbin")
        #expect(changchun.utcOffsetHours == 8)
        #expect(changchun.prefixLength == 24)

        let milton = try Self.city.facts(for: ip("216.160.83.57"))
        #expect(milton.countryCode == "US")
        #expect(milton.continentCode == "NA")
        #expect(milton.timeZone == "America/Los_Angeles")
        #expect(milton.utcOffsetHours == -8)
    }

    @Test func anIPv4MappedAddressIsTheIPv4Address() throws {
        #expect(try Self.city.facts(for: ip("::ffff:81.2.69.142")) == Self.city.facts(for: ip("81.2.69.142")))
    }

    @Test func cityAnswersForIPv6() throws {
        let sanDiego = try Self.city.facts(for: ip("2001:480::1"))
        #expect(
            sanDiego
                == AddressFacts(
                    countryCode: "US", continentCode: "NA", latitude: 32.7203, longitude: -117.1552,
                    timeZone: "America/Los_Angeles", utcOffsetHours: -8, prefixLength: 43, sources: ["GeoLite2-City"]))
        let tokyo = try Self.city.facts(for: ip("2001:218::1"))
        #expect(tokyo.countryCode == "JP")
        #expect(tokyo.utcOffsetHours == 9)
        #expect(tokyo.prefixLength == 32)
    }

    @Test func unknownAddressesGiveEmptyFacts() throws {
        for address in ["10.0.0.1", "192.0.2.1", "::1", "2001:db8::1"] {
            let facts = try Self.city.facts(for: ip(address))
            #expect(facts.isEmpty, "\(address)")
            #expect(facts.sources.isEmpty)
        }
    }

    @Test func countryDatabaseHasNoCoordinates() throws {
        let facts = try Self.country.facts(for: ip("81.2.69.142"))
        #expect(facts == AddressFacts(countryCode: "GB", continentCode: "EU", prefixLength: 31, sources: ["GeoLite2-Country"]))
        #expect(try Self.country.facts(for: ip("67.43.156.1")).countryCode == "BT")
        #expect(try Self.country.facts(for: ip("2a02:cf40::1")).countryCode == "NO")
    }

    @Test func asnDatabase() throws {
        #expect(try Self.asn.facts(for: ip("1.0.0.1")) == AddressFacts(asn: 15169, asOrganization: "Google Inc.", prefixLength: 24, sources: ["GeoLite2-ASN"]))
        let att = try Self.asn.facts(for: ip("12.81.92.1"))
        #expect(att.asn == 7018)
        #expect(att.asOrganization == "AT&T Services")
        #expect(att.prefixLength == 22)
        let sunrise = try Self.asn.facts(for: ip("2001:1700::1"))
        #expect(sunrise.asn == 6730)
        #expect(sunrise.asOrganization == "Sunrise Communications AG")
        #expect(sunrise.prefixLength == 27)
        #expect(sunrise.countryCode == nil)
        #expect(try Self.asn.facts(for: ip("10.0.0.1")).isEmpty)
    }

    /// The broken-double database opens and finds networks, but its `location` doubles are 7
    /// bytes long instead of 8: libmaxminddb returns MMDB_INVALID_DATA_ERROR for those fields
    /// while the country beside them reads fine. The lookup must fail, not answer a country with
    /// no coordinates.
    @Test func aRecordWithABrokenDoubleIsAnErrorNotAPartialAnswer() throws {
        let database = try MaxMindDatabase(path: FixtureDirectory.maxMind.path("GeoIP2-City-Test-Broken-Double-Format.mmdb"))
        #expect(database.databaseType == "GeoIP2-City")
        let error = try #require(enrichmentError { _ = try database.facts(for: ip("81.2.69.142")) })
        #expect(error.kind == .corruptDatabase)
        #expect(error.description.contains("GeoIP2-City-Test-Broken-Double-Format.mmdb: the record for 81.2.69.142 is corrupt at location/latitude"))
        #expect(error.description.contains("bad data"))
        #expect(!error.description.contains("\n"))
        // An address outside every network is still simply unknown.
        #expect(try database.facts(for: ip("10.0.0.1")).isEmpty)
    }

    /// The invalid-node-count database's metadata claims 100,000 search-tree nodes, far more than
    /// its 22 KB hold: libmaxminddb refuses it at open (MMDB_INVALID_METADATA_ERROR).
    @Test func aDatabaseWithAnImpossibleNodeCountIsRefusedAtOpen() throws {
        let path = FixtureDirectory.maxMind.path("GeoIP2-City-Test-Invalid-Node-Count.mmdb")
        let error = try #require(enrichmentError { _ = try MaxMindDatabase(path: path) })
        #expect(error.kind == .corruptDatabase)
        #expect(error.description == "\(path): corrupt MaxMind DB file: The MaxMind DB file contains invalid metadata")
    }

    @Test func aMissingFileIsNamed() throws {
        let error = try #require(enrichmentError { _ = try MaxMindDatabase(path: "/nonexistent/GeoLite2-City.mmdb") })
        #expect(error.kind == .missingFile)
        #expect(error.description.hasPrefix("/nonexistent/GeoLite2-City.mmdb: no such file"))
    }

    @Test func filesThatAreNotMMDBAreRefused() throws {
        for (data, name) in [
            (Data("10.0.0.0/8\n".utf8), "list.txt"), (Data(), "empty.mmdb"),
            (Data(repeating: 0xAB, count: 5000), "noise.mmdb"),
        ] {
            let path = try temporaryFile(data, name: name)
            let error = try #require(enrichmentError { _ = try MaxMindDatabase(path: path) })
            #expect(error.kind == .notADatabase, "\(name)")
            #expect(error.description.hasPrefix("\(path): not a MaxMind DB file"))
        }
        let directory = FileManager.default.temporaryDirectory.path
        #expect(enrichmentError { _ = try MaxMindDatabase(path: directory) }?.kind == .unreadable)
    }

    @Test func aTruncatedMMDBIsRefused() throws {
        let whole = try Data(contentsOf: URL(fileURLWithPath: FixtureDirectory.maxMind.path("GeoLite2-City-Test.mmdb")))
        // Cut in the search tree: the metadata at the end is gone.
        let head = try temporaryFile(whole.prefix(10_000), name: "head.mmdb")
        #expect(enrichmentError { _ = try MaxMindDatabase(path: head) }?.kind == .notADatabase)
        // Cut from the front: the metadata survives but no longer fits the file.
        let tail = try temporaryFile(whole.suffix(2_000), name: "tail.mmdb")
        let error = try #require(enrichmentError { _ = try MaxMindDatabase(path: tail) })
        #expect(error.kind == .corruptDatabase)
    }

    @Test func standardUTCOffsets() {
        #expect(AddressFacts.standardUTCOffsetHours(timeZone: "Europe/London") == 0)
        #expect(AddressFacts.standardUTCOffsetHours(timeZone: "Europe/Stockholm") == 1)
        #expect(AddressFacts.standardUTCOffsetHours(timeZone: "America/New_York") == -5)
        #expect(AddressFacts.standardUTCOffsetHours(timeZone: "Asia/Kolkata") == 5.5)
        #expect(AddressFacts.standardUTCOffsetHours(timeZone: "Asia/Kathmandu") == 5.75)
        // Daylight saving in force on the reference date (southern summer) is removed.
        #expect(AddressFacts.standardUTCOffsetHours(timeZone: "Australia/Sydney") == 10)
        #expect(AddressFacts.standardUTCOffsetHours(timeZone: "Not/AZone") == nil)
    }

    @Test func concurrentLookupsAgree() async throws {
        let addresses = ["81.2.69.142", "2.125.160.216", "2001:480::1", "175.16.199.1", "10.0.0.1"].map(ip)
        let expected = try addresses.map { try Self.city.facts(for: $0) }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<200 {
                        for (address, facts) in zip(addresses, expected) where try Self.city.facts(for: address) != facts {
                            return false
                        }
                    }
                    return true
                }
            }
            for try await agreed in group { #expect(agreed) }
        }
    }
}
