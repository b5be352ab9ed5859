import Enrichment
import FlowRecords
import Forest
import Foundation
import Neural
import Support
import TestSupport
import Testing

@testable import Reputation

/// Training on real IPsum and Cloudflare/Fastly excerpts with the system's libloc database.
@Suite(.enabled(if: liblocInstalled, "the libloc-database package is not installed"), .serialized)
struct ModelTests {
    static let intelligence = try! IntelligenceSetup(mmdb: [], libloc: LocationDatabase.defaultPath, asProfiles: true)

    static func data() throws -> LabelledData {
        var o = LoadingOptions()
        o.minimumCount = 2
        o.samplesPerList = 300
        return try LabelledData.load(
            malicious: [FixtureDirectory.addressLists.path("ipsum-excerpt.txt")],
            benign: [FixtureDirectory.addressLists.path("cloudflare-v4-ip-ranges.txt"), FixtureDirectory.addressLists.path("fastly-ip-ranges.json")], options: o
        )
    }

    static func options(_ scorer: IPScorerKind = .ensemble) -> IPTrainingOptions {
        var o = IPTrainingOptions()
        o.scorer = scorer
        o.forest.trees = 15
        o.epochs = 4
        o.asnBuckets = 32
        o.countryMinimumRows = 5
        return o
    }

    nonisolated(unsafe) static let trained: IPTrainingResult = try! IPTraining.train(
        data(), loading: LoadingOptions(), intelligence: intelligence, lists: [], options: options())

    @Test func learnsToTellBlocklistedAddressesFromCDNs() throws {
        let result = Self.trained
        #expect(result.model.scorer == "forest+mlp")
        #expect(result.model.databases.map(\.kind) == ["libloc"])
        #expect(result.model.spec.flags && result.model.spec.asProfile && !result.model.spec.location && !result.model.spec.hour)
        // Scoring through databases opened without profiles would read every AS as unknown.
        let unprofiled = try IntelligenceSetup(mmdb: [], libloc: LocationDatabase.defaultPath)
        let refused = #expect(throws: ReputationDataError.self) { _ = try IPScorer(model: result.model, intelligence: unprofiled, lists: []) }
        #expect(refused?.description.contains("uses AS profiles") == true)
        let test = try IPTraining.evaluate(result.model, result.parts[.test]!)
        #expect(test.map(\.scorer) == ["forest+mlp", "forest", "mlp"])
        for part in test { #expect(try #require(part.ranking.rocAUC) > 0.85, "\(part.scorer)") }
        #expect(test[0].atThreshold.recall > 0.8)
    }

    @Test func roundTripsThroughItsFile() throws {
        let model = Self.trained.model
        let path = try temporaryDirectory("model") + "/ip.safetensors"
        try model.write(to: path)
        let read = try IPModel.read(path: path)
        #expect(read.spec == model.spec && read.threshold == model.threshold && read.databases == model.databases)
        #expect(read.forest?.trees == model.forest?.trees)
        let x = Self.trained.parts[.test]!.matrix
        #expect(try read.scores(x).combined == model.scores(x).combined)
        let size = try #require(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(size < 4 << 20)
    }

    /// With `--as-listing`, each AS's entries on a blocklist are a feature: counted without the
    /// training rows' own addresses, kept in the model file, and named in explanations.
    @Test func countsABlocklistByASWithoutItsTrainingRows() throws {
        let path = FixtureDirectory.addressLists.path("ipsum-excerpt.txt")
        let list = try AddressList.read(path: path)
        let data = try Self.data()
        var notes: [String] = []
        let result = try IPTraining.train(
            data, loading: LoadingOptions(), intelligence: Self.intelligence, lists: [], asListing: (list, "00"), options: Self.options()
        ) { notes.append($0) }
        let model = result.model
        #expect(model.spec.asListing && model.spec.features.last == "as_listing")
        let listing = try #require(model.asListing)
        // The excerpt's entries on two lists or more are the malicious rows: only the others count.
        let rows = Set(data.rows.map(\.observation.address))
        let (expected, tally) = try ASListing.count(list, sha256: "00", excluding: rows, intelligence: Self.intelligence)
        #expect(listing == expected)
        #expect(tally.trainingRows == list.entries.filter { ($0.count ?? 0) >= 2 && rows.contains($0.block.address) }.count)
        #expect(tally.trainingRows > 0 && listing.counted == tally.entries - tally.trainingRows - tally.withoutAS && listing.counted > 0)
        #expect(notes.contains { $0.hasPrefix("AS listing ipsum-excerpt.txt: \(listing.counted) of its \(tally.entries) entries counted") })

        let file = try temporaryDirectory("model") + "/listed.safetensors"
        try model.write(to: file)
        let read = try IPModel.read(path: file)
        #expect(read.asListing == listing && read.spec == model.spec)
        let x = result.parts[.test]!.matrix
        #expect(try read.scores(x).combined == model.scores(x).combined)
        let scorer = try IPScorer(model: read, intelligence: Self.intelligence, lists: [])
        scorer.driverCount = 20
        let listed = try #require(list.entries.first { ($0.count ?? 0) < 2 }?.block.address)
        let score = try scorer.score(Observation(address: listed))
        let asn = try #require(score.asn)
        #expect(score.drivers.contains { $0.feature == "as_listing" && $0.value == "\(listing.count(of: asn)) entries of AS\(asn) on ipsum-excerpt.txt" })

        try Self.expectTableChecked(listing, of: model, at: file)
    }

    /// A file whose spec uses a listing feature but whose table is gone is refused, not scored as
    /// unknown; and the table in a model without the feature is a stray tensor.
    static func expectTableChecked<T: ListingTable>(_ listing: T, of model: IPModel, at file: String) throws {
        var stripped = model.safeTensors()
        stripped.tensors.removeAll { $0.name == T.tensorName }
        try stripped.sealed().write(to: file)
        let missing = #expect(throws: ModelFileError.self) { _ = try IPModel.read(path: file) }
        #expect(missing?.reason == "uses the \(T.feature) feature but has no '\(T.tensorName)' tensor")
        var plain = Self.trained.model.safeTensors()
        plain.tensors.append((T.tensorName, listing.tensor))
        try plain.sealed().write(to: file)
        let stray = #expect(throws: ModelFileError.self) { _ = try IPModel.read(path: file) }
        #expect(stray?.reason.contains("'\(T.tensorName)' that an ip-reputation model does not use") == true)
    }

    /// With `--network-listing`, a blocklist's entries around each address are a feature: counted
    /// without the training rows, kept in the model file (a network-only model included), and named
    /// in explanations.
    @Test func countsABlocklistAroundEachAddressWithoutItsTrainingRows() throws {
        let path = FixtureDirectory.addressLists.path("ipsum-excerpt.txt")
        let list = try AddressList.read(path: path)
        let data = try Self.data()
        var notes: [String] = []
        // The network alone: a file whose only tensors besides the network's are the two tables.
        let result = try IPTraining.train(
            data, loading: LoadingOptions(), intelligence: Self.intelligence, lists: [], asListing: (list, "00"), networkListing: (list, "01"),
            options: Self.options(.mlp)
        ) { notes.append($0) }
        let model = result.model
        #expect(model.forest == nil && model.spec.asListing && model.spec.networkListing && model.spec.features.suffix(2) == ["as_listing", "network_listing"])
        let listing = try #require(model.networkListing)
        let rows = Set(data.rows.map(\.observation.address))
        let (expected, tally) = NetworkListing.count(list, sha256: "01", excluding: rows)
        #expect(listing == expected && tally.trainingRows > 0 && listing.counted == tally.entries - tally.trainingRows - tally.ipv6)
        #expect(notes.contains { $0.hasPrefix("network listing ipsum-excerpt.txt: \(listing.counted) of its \(tally.entries) entries counted in") })

        let file = try temporaryDirectory("model") + "/network.safetensors"
        try model.write(to: file)
        let read = try IPModel.read(path: file)
        #expect(read.networkListing == listing && read.asListing == model.asListing && read.spec == model.spec && read.forest == nil)
        let x = result.parts[.test]!.matrix
        #expect(try read.scores(x).combined == model.scores(x).combined)
        let scorer = try IPScorer(model: read, intelligence: Self.intelligence, lists: [])
        scorer.driverCount = 20
        let listed = try #require(list.entries.first { ($0.count ?? 0) < 2 }?.block.address)
        let score = try scorer.score(Observation(address: listed))
        // A listed address that is no training row counts itself at scoring.
        #expect(try #require(listing.counts(around: listed)).first! >= 1)
        #expect(score.drivers.contains { $0.feature == "network_listing" && $0.value == listing.describe(listed) })
        try Self.expectTableChecked(listing, of: model, at: file)
    }

    @Test func refusesDamagedOrForeignFiles() throws {
        let path = try temporaryDirectory("model") + "/damaged.safetensors"
        var file = Self.trained.model.safeTensors()
        let i = try #require(file.tensors.firstIndex { $0.name == "forest.threshold" })
        file.tensors[i].tensor.scalars[0] += 1
        try file.write(to: path)
        let damaged = #expect(throws: ModelFileError.self) { _ = try IPModel.read(path: path) }
        #expect(damaged?.reason == "does not match its SHA-256 checksum (of all its metadata and tensors): the file was altered or damaged")

        var wrongKind = Self.trained.model.safeTensors()
        wrongKind.metadata["kind"] = "scan-cnn"
        try wrongKind.write(to: path)
        let kind = #expect(throws: ModelFileError.self) { _ = try IPModel.read(path: path) }
        #expect(kind?.reason == "is a scan-cnn model, not an ip-reputation model")

        var missing = Self.trained.model.safeTensors()
        missing.metadata["databases"] = nil
        try missing.write(to: path)
        #expect(throws: ModelFileError.self) { _ = try IPModel.read(path: path) }
    }

    @Test func scoresExplainsAndHonoursTheAllowlist() throws {
        let model = Self.trained.model
        var allow = CIDRSet()
        allow.insert("45.148.10.0/24")
        let scorer = try IPScorer(model: model, intelligence: Self.intelligence, lists: [], allowlist: allow)
        let cdn = try scorer.score(Observation(address: ip("104.16.1.1")))
        #expect(cdn.probability != nil && cdn.threshold == model.threshold)
        #expect(cdn.drivers.count == 3)
        #expect(cdn.verdict == (cdn.probability! >= model.threshold ? .suspicious : .unremarkable))
        #expect(try scorer.score(Observation(address: ip("45.148.10.5"))).verdict == .allowlisted)
        #expect(try scorer.score(Observation(address: ip("192.168.1.9"))).verdict == .notPublic)
        // The malicious rows of the test part score higher on average than the benign ones.
        let test = Self.trained.parts[.test]!
        let scores = try test.observations.map { try scorer.score($0).probability! }
        let mean = { (m: Bool) in zip(scores, test.labels).filter { $0.1 == m }.map(\.0).reduce(0, +) / Double(test.labels.filter { $0 == m }.count) }
        #expect(mean(true) > mean(false) + 0.3)
    }

    @Test func refusesToScoreWithoutWhatTheModelWasTrainedWith() throws {
        let city = try IntelligenceSetup(mmdb: [FixtureDirectory.maxMind.path("GeoLite2-City-Test.mmdb")], libloc: nil)
        let error = #expect(throws: ReputationDataError.self) { _ = try IPScorer(model: Self.trained.model, intelligence: city, lists: []) }
        #expect(error?.description.contains("the libloc location database") == true)

        var withList = Self.trained.model
        withList.spec.lists = ["cdn"]
        withList.lists = [ListRequirement(name: "cdn", blocks: 1, sha256: "")]
        let listError = #expect(throws: ReputationDataError.self) { _ = try IPScorer(model: withList, intelligence: Self.intelligence, lists: []) }
        #expect(listError?.description.contains("the infrastructure list 'cdn': give it under that name") == true)
        #expect(listError?.setting == .infrastructureList)
    }

    @Test func refusesAListThatGivesTheLabelAway() throws {
        let list = try NamedList.load("cf=\(FixtureDirectory.addressLists.path("cloudflare-v4-ip-ranges.txt"))")
        var o = LoadingOptions()
        o.minimumCount = 2
        o.samplesPerList = 100
        let data = try LabelledData.load(
            malicious: [FixtureDirectory.addressLists.path("ipsum-excerpt.txt")], benign: [FixtureDirectory.addressLists.path("cloudflare-v4-ip-ranges.txt")],
            options: o)
        let error = #expect(throws: ReputationDataError.self) {
            _ = try IPTraining.train(data, loading: o, intelligence: Self.intelligence, lists: [list], options: Self.options(.forest))
        }
        #expect(error?.description.contains("would hand the model its label") == true)
    }

    /// Benign rows sampled from AS networks all have an AS; blocklisted addresses the database does
    /// not route must not teach "no AS means malicious". Nothing is dropped when benign rows lack
    /// an AS too, or when no malicious row would be left.
    @Test func leavesOutUnroutedMaliciousRowsOnlyWhenEveryBenignRowIsRouted() {
        func row(_ address: String, _ malicious: Bool) -> LabelledRow {
            LabelledRow(observation: Observation(address: ip(address)), malicious: malicious, input: 0)
        }
        let rows = [row("192.0.2.1", false), row("192.0.2.2", false), row("198.51.100.1", true), row("198.51.100.2", true)]
        var facts: [IPAddress: AddressFacts] = [
            ip("192.0.2.1"): AddressFacts(asn: 1), ip("192.0.2.2"): AddressFacts(asn: 2), ip("198.51.100.1"): AddressFacts(asn: 3),
        ]
        var notes: [String] = []
        let kept = IPTraining.withoutUnroutedMalicious(rows, facts: facts, notes: &notes)
        #expect(kept.map(\.observation.address) == [ip("192.0.2.1"), ip("192.0.2.2"), ip("198.51.100.1")])
        #expect(notes.count == 1 && notes[0].hasPrefix("left out 1 malicious rows whose address is in no autonomous system"))
        facts[ip("192.0.2.2")] = AddressFacts()
        notes = []
        #expect(IPTraining.withoutUnroutedMalicious(rows, facts: facts, notes: &notes).count == 4 && notes.isEmpty)
        facts[ip("192.0.2.2")] = AddressFacts(asn: 2)
        facts[ip("198.51.100.1")] = nil
        #expect(IPTraining.withoutUnroutedMalicious(rows, facts: facts, notes: &notes).count == 4 && notes.isEmpty)
    }

    /// When a block of malicious rows shares the score at the target recall's rank, the threshold
    /// flags all of them: training says so, with the recall reached and the target that avoids it.
    @Test func saysWhenTheThresholdFallsInABlockOfEqualScores() throws {
        // 100 malicious rows: 80 spread above, 15 at exactly 0.6, 5 below; and benign rows.
        let malicious = (0..<80).map { 0.7 + Double($0) / 1000 } + [Double](repeating: 0.6, count: 15) + [0.1, 0.2, 0.3, 0.35, 0.4]
        let scores = malicious + [0.05, 0.6, 0.5]
        let labels = malicious.map { _ in true } + [false, false, false]
        let threshold = try #require(RankingMetrics.threshold(forRecall: 0.85, scores: scores, positives: labels))
        #expect(threshold == 0.6)
        let note = try #require(IPTraining.thresholdOvershoot(scores, positives: labels, threshold: threshold, target: 0.85))
        #expect(
            note
                == "the threshold 0.6000 flags 0.950 of the validation part's malicious rows, not 0.850: 15 of them score exactly 0.6000 (rows alike in every feature score alike), and any higher threshold flags only 0.800; --target-recall 0.800 or lower puts the threshold above them"
        )
        #expect(RankingMetrics.threshold(forRecall: 0.8, scores: scores, positives: labels)! > 0.6)
        // Near the target, nothing to say.
        let spread = (0..<100).map { Double($0) / 100 }
        let t = try #require(RankingMetrics.threshold(forRecall: 0.85, scores: spread, positives: spread.map { _ in true }))
        #expect(IPTraining.thresholdOvershoot(spread, positives: spread.map { _ in true }, threshold: t, target: 0.85) == nil)
    }

    /// `eval ip` splits the rows as training did: training splits only the rows it keeps, so splitting
    /// the unrouted ones too would move the parts' boundaries and put rows it trained on in the test part.
    @Test func evaluationSplitsTheRowsAsTrainingDid() {
        var rows: [LabelledRow] = []
        var facts: [IPAddress: AddressFacts] = [:]
        for n in 0..<400 {
            let address = IPAddress(ipv4: 0x0A00_0001 + UInt32(n) << 8)
            rows.append(LabelledRow(observation: Observation(address: address), malicious: n % 2 == 0, input: 0))
            facts[address] = AddressFacts(asn: UInt32(64_500 + n % 7))
        }
        // Unrouted attackers: 150 in /24s of their own, and one beside a routed row.
        for n in 0..<150 {
            rows.append(LabelledRow(observation: Observation(address: IPAddress(ipv4: 0xC000_0001 + UInt32(n) << 8)), malicious: true, input: 0))
        }
        rows.append(LabelledRow(observation: Observation(address: IPAddress(ipv4: 0x0A00_0009)), malicious: true, input: 0))
        var split = SplitOptions()
        split.seed = 3
        var notes: [String] = []
        let kept = IPTraining.withoutUnroutedMalicious(rows, facts: facts, notes: &notes)
        #expect(kept.count == 400)
        let trained = split.parts(kept, facts: facts)
        let evaluated = IPTraining.partsAsTrained(rows, facts: facts, split: split)
        #expect(Array(evaluated.prefix(400)) == trained)
        #expect(evaluated.last == trained[0], "the unrouted row beside 10.0.0.1 is in that /24's part")
        #expect(Set(evaluated.dropFirst(400)).isSuperset(of: [.test, .train]))
        // Splitting every row would have moved some of the rows training kept.
        #expect(zip(split.parts(rows, facts: facts).prefix(400), trained).contains { $0 != $1 })
    }

    /// The shipped model knows where popular services live: it ranks the blocklisted addresses of
    /// the IPsum excerpt above addresses of large services' own networks, and calls most of those
    /// unremarkable with the AS profile among its reasons. Loose bounds: the installed database's
    /// facts change with Debian updates.
    @Test func theShippedModelRanksServicesBelowBlocklistedAddresses() throws {
        let model = try IPModel.load(pathOrDefault: nil)
        #expect(model.spec.asProfile)
        let scorer = try IPScorer(model: model, intelligence: Self.intelligence, lists: [])
        // Apple, Google, Meta, Akamai, Amazon, Cloudflare, Microsoft (AS8068), Netflix.
        let services = ["17.253.144.10", "142.250.74.46", "157.240.1.35", "23.32.0.10", "54.239.28.85", "104.16.1.1", "13.107.42.14", "45.57.8.1"]
        let serviceScores = try services.map { try scorer.score(Observation(address: ip($0))) }
        let listed = try AddressList.read(path: FixtureDirectory.addressLists.path("ipsum-excerpt.txt")).entries.filter { ($0.count ?? 0) >= 2 }
        let blocklisted = try listed.prefix(150).map { try scorer.score(Observation(address: $0.block.address)) }
        let scores = (blocklisted + serviceScores).map { $0.probability ?? 0 }
        let labels = blocklisted.map { _ in true } + serviceScores.map { _ in false }
        #expect(try #require(RankingMetrics(scores: scores, positives: labels).rocAUC) > 0.9)
        #expect(serviceScores.filter { !$0.isSuspicious }.count >= 6, "\(zip(services, serviceScores.map(\.summary)).map { "\($0) \($1)" })")
        #expect(serviceScores.contains { $0.drivers.contains { $0.feature == "as_profile" } })
    }

    @Test func aModelOfFlowsNeedsTheHour() throws {
        let scanners = try connLog((1...40).map { "45.148.\($0).5" }, hour: 3, port: 22, name: "m-conn.log")
        let visitors = try connLog((1...40).map { "104.16.\($0).9" }, hour: 15, port: 443, name: "b-conn.log")
        let data = try LabelledData.load(malicious: [scanners], benign: [visitors], options: LoadingOptions())
        var o = Self.options(.mlp)
        o.split.testFraction = 0.3
        o.split.validationFraction = 0.3
        let model = try IPTraining.train(data, loading: LoadingOptions(), intelligence: Self.intelligence, lists: [], options: o).model
        #expect(model.spec.hour && model.spec.port && model.scorer == "mlp")
        let scorer = try IPScorer(model: model, intelligence: Self.intelligence, lists: [])
        #expect(throws: ReputationDataError.self) { _ = try scorer.score(Observation(address: ip("45.148.99.5"))) }
        let scored = try scorer.score(Observation(address: ip("45.148.99.5"), hour: 3, port: 22, transport: .tcp))
        #expect(!scored.drivers.isEmpty)
    }
}
