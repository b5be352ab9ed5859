import Enrichment
import FlowRecords
import Foundation
import Randomness
import TestSupport
import Testing

@testable import Reputation

@Suite struct TrainingDataTests {
    var options: LoadingOptions {
        var o = LoadingOptions()
        o.minimumCount = 2
        o.samplesPerList = 140
        return o
    }

    @Test func readsListsSamplesBlocksAndDropsWhatWouldMislead() throws {
        let data = try LabelledData.load(
            malicious: [FixtureDirectory.addressLists.path("ipsum-excerpt.txt")],
            benign: [FixtureDirectory.addressLists.path("cloudflare-v4-ip-ranges.txt"), FixtureDirectory.addressLists.path("fastly-ip-ranges.json")],
            options: options)
        #expect(data.inputs.map(\.kind) == ["addresses", "blocks", "blocks"])
        #expect(data.inputs[0].rows == 400)
        #expect(data.notes.contains { $0.contains("skipped 100 entries on fewer than 2 lists") })
        // Cloudflare: 15 blocks, 140 addresses drawn over all of them, every one inside its list.
        #expect(try AddressList.read(path: FixtureDirectory.addressLists.path("cloudflare-v4-ip-ranges.txt")).entries.count == 15)
        #expect(data.inputs[1].rows == 140)
        let cloudflare = try CIDRSet.load(path: FixtureDirectory.addressLists.path("cloudflare-v4-ip-ranges.txt"))
        let benign = data.rows.filter { !$0.malicious && $0.input == 1 }
        #expect(benign.allSatisfy { cloudflare.contains($0.observation.address) })
        // Fastly's IPv6 ranges would teach the address family: IPsum has only IPv4.
        #expect(data.notes.contains { $0.hasPrefix("dropped") && $0.contains("IPv6 rows") })
        #expect(data.rows.allSatisfy { $0.observation.address.isIPv4 })
        #expect(!data.hasHour && !data.hasPort)
        #expect(data.hourNote.hasPrefix("left out"))
    }

    /// Blocks are sampled in proportion to their size, so a list of many small networks (an AS's
    /// announcements) does not outweigh its large ones; when the blocks hold fewer addresses than
    /// asked, every one is taken.
    @Test func samplesBlocksInProportionToTheirSize() throws {
        let big = try #require(AddressBlock("198.18.0.0/20")), small = try #require(AddressBlock("198.51.100.0/28"))
        var rng = SplitMix64(seed: 7)
        let drawn = LabelledData.sample([small, big], count: 1000, rng: &rng)
        #expect(drawn.count == 1000 && Set(drawn).count == 1000)
        #expect(drawn.allSatisfy { big.contains($0) || small.contains($0) })
        // 16 of 4,112 addresses are in the /28: about 4 of 1,000 draws, never the 500 an even split gave.
        #expect(drawn.filter { small.contains($0) }.count <= 15)
        let all = LabelledData.sample([small, try #require(AddressBlock("203.0.113.0/30"))], count: 100, rng: &rng)
        #expect(all.count == 20 && Set(all).count == 20)
        // The same seed draws the same addresses.
        var again = SplitMix64(seed: 7)
        #expect(LabelledData.sample([small, big], count: 1000, rng: &again) == drawn)
    }

    @Test func anAddressOnBothSidesIsMalicious() throws {
        let bad = try temporaryFile("# list\n104.16.0.7 3\n8.8.4.4 5\n", name: "bad.txt")
        let good = try temporaryFile("104.16.0.7\n104.16.0.8\n", name: "good.txt")
        let data = try LabelledData.load(malicious: [bad], benign: [good], options: options)
        #expect(data.rows.filter(\.malicious).map(\.observation.address) == [ip("104.16.0.7"), ip("8.8.4.4")])
        #expect(data.rows.filter { !$0.malicious }.map(\.observation.address) == [ip("104.16.0.8")])
        #expect(data.notes.contains("dropped 1 benign rows whose address is also malicious"))
    }

    @Test func flowLogsGiveHoursAndPortsAndSkipPrivateAddresses() throws {
        let scanners = try connLog(["45.148.10.5", "45.148.10.6", "10.1.1.1"], hour: 3, port: 22, name: "bad-conn.log")
        let visitors = try connLog(["1.1.1.1", "9.9.9.9"], hour: 15, port: 443, name: "good-conn.log")
        let data = try LabelledData.load(malicious: [scanners], benign: [visitors], options: options)
        #expect(data.inputs.map(\.kind) == ["flows", "flows"])
        #expect(data.hasHour && data.hasPort)
        #expect(
            data.rows.first == LabelledRow(observation: Observation(address: ip("45.148.10.5"), hour: 3, port: 22, transport: .tcp), malicious: true, input: 0))
        #expect(data.rows.count == 4)
        #expect(data.notes.contains { $0.contains("1 not public Internet addresses") })
    }

    @Test func benignHoursAreSpreadOnlyWhenAsked() throws {
        let scanners = try connLog(["45.148.10.5", "45.148.10.6"], hour: 3, port: 22, name: "scan-conn.log")
        let good = try temporaryFile("1.1.1.1\n9.9.9.9\n8.8.8.8\n", name: "resolvers.txt")
        let plain = try LabelledData.load(malicious: [scanners], benign: [good], options: options)
        #expect(!plain.hasHour)
        #expect(plain.hourNote == "left out: \(good) carry no hour")
        var spread = options
        spread.spreadBenignHours = true
        let spreadData = try LabelledData.load(malicious: [scanners], benign: [good], options: spread)
        #expect(spreadData.hasHour && spreadData.hourNote.contains("invented"))
        #expect(spreadData.rows.allSatisfy { $0.observation.hour != nil })
        let error = #expect(throws: ReputationDataError.self) {
            _ = try LabelledData.load(malicious: [good], benign: [scanners], options: spread)
        }
        #expect(error?.description.contains("spreading the benign rows' hours needs malicious inputs with hours") == true)
        #expect(error?.setting == .spreadBenignHours)
    }

    @Test func reportsUnusableInputs() throws {
        let empty = try temporaryFile("# nothing\n", name: "empty.txt")
        #expect(throws: ReputationDataError.self) {
            _ = try LabelledData.load(malicious: [empty], benign: [FixtureDirectory.addressLists.path("cloudflare-v4-ip-ranges.txt")], options: options)
        }
        let broken = try temporaryFile("45.148.10.5 2\nnot-an-address\n", name: "broken.txt")
        // Counted and reported, and the rest used...
        let lenient = try LabelledData.load(malicious: [broken], benign: [FixtureDirectory.addressLists.path("cloudflare-v4-ip-ranges.txt")], options: options)
        #expect(lenient.rows.filter(\.malicious).count == 1)
        #expect(
            lenient.notes.contains(
                "\(broken): skipped 1 malformed line, the first: 2: 'not-an-address' is not an address or address block (like 10.0.0.0/8 or 2001:db8::/32) (--strict stops at it)"
            ))
        // ...or, with --strict, the first stops the run.
        let error = #expect(throws: ReputationDataError.self) {
            _ = try LabelledData.load(
                malicious: [broken], benign: [FixtureDirectory.addressLists.path("cloudflare-v4-ip-ranges.txt")], options: options,
                flowOptions: ReadOptions(strict: true))
        }
        #expect(error?.description.hasPrefix("\(broken):2: 'not-an-address' is not an address") == true)
        #expect(throws: ReputationDataError.self) { _ = try LabelledData.load(malicious: ["/nonexistent/list.txt"], benign: [broken], options: options) }
    }

    @Test func splitsKeepEveryNetworkOnOneSide() throws {
        var rows: [LabelledRow] = []
        for net in 0..<200 {
            for host in [1, 77, 200] {
                let address = IPAddress(ipv4: 0x2D00_0000 | UInt32(net) << 8 | UInt32(host))
                rows.append(LabelledRow(observation: Observation(address: address), malicious: net % 2 == 0, input: 0))
            }
        }
        let parts = SplitOptions().parts(rows, facts: [:])
        var partOfNet: [UInt32: SplitOptions.Part] = [:]
        for (row, part) in zip(rows, parts) {
            let net = row.observation.address.ipv4! >> 8
            #expect(partOfNet[net, default: part] == part)
            partOfNet[net] = part
        }
        let tests = parts.filter { $0 == .test }.count
        #expect(tests == 120)  // 20 % of the 200 networks, three rows each
        #expect(parts.contains(.validation) && parts.contains(.train))
        // By ASN: rows of one AS stay together even across networks.
        var asn = SplitOptions()
        asn.by = .asn
        let facts = Dictionary(uniqueKeysWithValues: rows.map { ($0.observation.address, AddressFacts(asn: ($0.observation.address.ipv4! >> 8) % 7)) })
        let byASN = asn.parts(rows, facts: facts)
        var partOfASN: [UInt32: SplitOptions.Part] = [:]
        for (row, part) in zip(rows, byASN) {
            let a: UInt32 = (row.observation.address.ipv4! >> 8) % 7
            #expect(partOfASN[a, default: part] == part)
            partOfASN[a] = part
        }
    }
}
