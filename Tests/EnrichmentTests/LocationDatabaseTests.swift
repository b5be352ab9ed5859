import FlowRecords
import Foundation
import TestSupport
import Testing

@testable import Enrichment

/// The system's IPFire location database (package libloc-database). Its content changes with
/// Debian updates, so only long-stable facts are checked: Google's AS15169 for 8.8.8.8 and
/// 2001:4860::/32, Cloudflare's AS13335 and anycast 1.1.1.0/24, the countries of Apple's 17/8,
/// RIPE NCC's own network and Japan's 133/8.
@Suite(
    .enabled(
        if: FileManager.default.fileExists(atPath: LocationDatabase.defaultPath),
        "the libloc-database package is not installed"))
struct LocationDatabaseTests {
    static let database = try! LocationDatabase()

    @Test func googlePublicDNS() throws {
        let facts = try Self.database.facts(for: ip("8.8.8.8"))
        #expect(facts.countryCode == "US")
        #expect(facts.continentCode == "NA")
        #expect(facts.asn == 15169)
        #expect(facts.asOrganization == "GOOGLE")
        #expect(facts.prefixLength == 24)
        #expect(facts.flags != nil)
        #expect(facts.sources == ["libloc"])
        #expect(facts.latitude == nil && facts.timeZone == nil)

        let v6 = try Self.database.facts(for: ip("2001:4860:4860::8888"))
        #expect(v6.asn == 15169)
        #expect(v6.countryCode == "US")
        #expect(try #require(v6.prefixLength) <= 48)
    }

    /// AS profiles count the whole database once; checked against facts that hold in any version:
    /// Apple's 17.0.0.0/8 alone is 2^24 addresses, Cloudflare announces anycast networks, and
    /// every address of one AS gets the same profile, IPv6 ones included.
    @Test func asProfilesDescribeTheWholeSystem() throws {
        let profiled = try LocationDatabase(asProfiles: true)
        let apple = try #require(try profiled.facts(for: ip("17.253.144.10")).asProfile)
        #expect(apple.ipv4Addresses >= 1 << 24)
        #expect(apple.ipv4Networks >= 1 && apple.countries >= 1 && apple.anycastNetworks <= apple.ipv4Networks)
        let cloudflare = try #require(try profiled.facts(for: ip("1.1.1.1")).asProfile)
        #expect(cloudflare.anycastNetworks >= 1 && cloudflare.anycastNetworks <= cloudflare.ipv4Networks)
        #expect(cloudflare.ipv4Addresses >= UInt64(cloudflare.ipv4Networks))
        let google = try profiled.facts(for: ip("8.8.8.8"))
        #expect(google.asProfile != nil)
        #expect(try profiled.facts(for: ip("8.8.4.4")).asProfile == google.asProfile)
        #expect(try profiled.facts(for: ip("2001:4860:4860::8888")).asProfile == google.asProfile)
        #expect(try profiled.facts(for: ip("10.1.2.3")).asProfile == nil)
        // Off unless asked for: other lookups do not pay for the pass over the database.
        #expect(try Self.database.facts(for: ip("17.253.144.10")).asProfile == nil)
    }

    @Test func cloudflareIsAnycast() throws {
        let facts = try Self.database.facts(for: ip("1.1.1.1"))
        #expect(facts.asn == 13335)
        #expect(facts.asOrganization == "CLOUDFLARENET")
        #expect(facts.flags?.contains(.anycast) == true)
        #expect(facts.flags?.contains(.hostile) == false)
        #expect(try Self.database.facts(for: ip("2606:4700:4700::1111")).asn == 13335)
    }

    @Test func countriesOfLongStableAllocations() throws {
        #expect(try Self.database.facts(for: ip("17.0.0.1")).countryCode == "US")  // Apple, 17/8 since 1990
        #expect(try Self.database.facts(for: ip("193.0.6.139")).countryCode == "NL")  // RIPE NCC
        #expect(try Self.database.facts(for: ip("133.1.1.1")).countryCode == "JP")  // 133/8, JPNIC
        #expect(try Self.database.facts(for: ip("133.1.1.1")).continentCode == "AS")
        #expect(try Self.database.facts(for: ip("::ffff:17.0.0.1")).countryCode == "US")
    }

    @Test(arguments: ["10.1.2.3", "127.0.0.1", "0.1.2.3", "240.0.0.1", "198.51.100.1", "::1", "fe80::1"])
    func reservedSpaceIsUnknown(address: String) throws {
        let facts = try Self.database.facts(for: ip(address))
        #expect(facts.isEmpty)
        #expect(facts.sources.isEmpty)
    }

    /// Whatever networks the installed database flags, a lookup inside one reports the flag.
    @Test(arguments: [NetworkFlags.anonymousProxy, .satelliteProvider, .anycast, .hostile])
    func flagsAreReadForFlaggedNetworks(flag: NetworkFlags) throws {
        let candidates = Self.database.networks(flagged: flag, limit: 20)
        try #require(!candidates.isEmpty, "the database flags no network \(flag)")
        var checked = 0
        for block in candidates {
            let facts = try Self.database.facts(for: block.address)
            guard facts.prefixLength == block.prefixLength else { continue }  // a more specific network inside
            #expect(facts.flags?.contains(flag) == true, "\(block)")
            checked += 1
        }
        #expect(checked > 0)
    }

    @Test func aMissingDatabaseIsNamed() throws {
        let error = try #require(enrichmentError { _ = try LocationDatabase(path: "/nonexistent/location.db") })
        #expect(error.kind == .missingFile)
        #expect(error.description.hasPrefix("/nonexistent/location.db: no such file"))
        #expect(error.description.contains("libloc-database"))
    }

    @Test func filesThatAreNotLocationDatabasesAreRefused() throws {
        let mmdb = FixtureDirectory.maxMind.path("GeoLite2-City-Test.mmdb")
        let error = try #require(enrichmentError { _ = try LocationDatabase(path: mmdb) })
        #expect(error.kind == .notADatabase)
        #expect(error.description == "\(mmdb): not an IPFire location database (no LOCDBXX signature)")
        let empty = try temporaryFile(Data(), name: "empty.db")
        #expect(enrichmentError { _ = try LocationDatabase(path: empty) }?.kind == .notADatabase)
        let future = try temporaryFile(Data("LOCDBXX".utf8) + Data([2]) + Data(count: 5000), name: "v2.db")
        #expect(enrichmentError { _ = try LocationDatabase(path: future) }?.kind == .unsupportedDatabase)
    }

    /// libloc itself opens a truncated database and then answers nothing (or reads outside the
    /// file): the header check refuses it at open instead.
    @Test func truncatedDatabasesAreRefusedAtOpen() throws {
        let file = try #require(FileHandle(forReadingAtPath: LocationDatabase.defaultPath))
        defer { try? file.close() }
        let head = try #require(try file.read(upToCount: 100_000))

        let tiny = try temporaryFile(head.prefix(10), name: "tiny.db")
        let tinyError = try #require(enrichmentError { _ = try LocationDatabase(path: tiny) })
        #expect(tinyError.kind == .corruptDatabase)
        #expect(tinyError.description.contains("shorter than its 4200-byte header"))

        let cut = try temporaryFile(head, name: "cut.db")
        let cutError = try #require(enrichmentError { _ = try LocationDatabase(path: cut) })
        #expect(cutError.kind == .corruptDatabase)
        #expect(cutError.description.hasPrefix("\(cut): truncated or corrupt location database: its "))
        #expect(cutError.description.hasSuffix("but the file has 100000 bytes"))
    }

    @Test func concurrentLookupsAgree() async throws {
        let addresses = ["8.8.8.8", "1.1.1.1", "17.0.0.1", "10.0.0.1", "2001:4860:4860::8888"].map(ip)
        let expected = try addresses.map { try Self.database.facts(for: $0) }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<200 {
                        for (address, facts) in zip(addresses, expected) where try Self.database.facts(for: address) != facts {
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
