import Enrichment
import FlowRecords
import Forest
import Foundation
import Neural

/// The verdict on one remote address.
public struct IPScore: Sendable, Codable, Equatable, AddressReputation {
    public enum Verdict: String, Sendable, Codable {
        /// At or above the model's threshold.
        case suspicious
        /// Below it.
        case unremarkable
        /// On the allowlist: not scored.
        case allowlisted
        /// A private, loopback or otherwise non-public address: it has no reputation to score.
        case notPublic = "not-public"
    }

    /// A feature and how much it moved the probability (positive: towards suspicious).
    public struct Driver: Sendable, Codable, Equatable {
        public var feature: String
        public var value: String
        public var contribution: Double
    }

    public var address: String
    public var hour: Int?
    public var port: Int?
    public var transport: String?
    public var verdict: Verdict
    public var probability: Double?
    public var threshold: Double?
    public var forest: Double?
    public var mlp: Double?
    public var country: String?
    public var asn: UInt32?
    public var asOrganization: String?
    public var flags: String?
    public var drivers: [Driver]

    public var isSuspicious: Bool { verdict == .suspicious }

    enum CodingKeys: String, CodingKey {
        case address, hour, port, transport, verdict, probability, threshold, forest, mlp, country, asn, flags, drivers
        case asOrganization = "as_organization"
    }

    /// `suspicious (0.97 ≥ 0.37: asn=AS208485 Moon Dc +0.18, country=TR +0.16)`, for explanations.
    /// The probability with `!` when suspicious, or the verdict when there is no probability.
    public var tableCell: String {
        probability.map { String(format: "%.2f", $0) + (verdict == .suspicious ? "!" : "") } ?? verdict.rawValue
    }

    public var summary: String {
        guard let probability, let threshold else { return verdict.rawValue }
        let why = drivers.map { "\($0.feature)=\($0.value) \($0.contribution >= 0 ? "+" : "")\(String(format: "%.2f", $0.contribution))" }
        return "\(verdict.rawValue) (\(String(format: "%.2f", probability)) \(probability >= threshold ? "≥" : "<") \(String(format: "%.2f", threshold))"
            + (why.isEmpty ? ")" : ": " + why.joined(separator: ", ") + ")")
    }
}

/// Scores remote addresses with an `IPModel`: looks the address up, encodes the model's features,
/// and explains the result. Checks when it is made that the databases and lists the model was
/// trained with are all there. Not for concurrent use: make one per thread.
public final class IPScorer {
    public let model: IPModel
    public let intelligence: IntelligenceSetup
    public let encoder: FeatureEncoder
    public let allowlist: CIDRSet
    /// Messages for the user about differences that still allow scoring (a changed list).
    public private(set) var warnings: [String] = []
    /// How many drivers each score names.
    public var driverCount = 3
    private var cache: [Observation: IPScore] = [:]

    public init(model: IPModel, intelligence: IntelligenceSetup, lists: [NamedList], allowlist: CIDRSet = CIDRSet()) throws {
        let missing = intelligence.missing(for: model)
        guard missing.isEmpty else {
            let libloc = missing.contains { $0.kind == "libloc" }
            throw ReputationDataError(
                "the IP model was trained with \(missing.map(\.description).joined(separator: " and ")), which is not open here: "
                    + (libloc ? "leave the libloc database on (install libloc-database) " : "give it as a MaxMind-format database ")
                    + "or use a model trained without it",
                setting: libloc ? nil : .addressDatabases)
        }
        // Without profiles every address would read "unknown": scores would change with no error.
        guard !model.spec.asProfile || intelligence.asProfiles else {
            throw ReputationDataError("the IP model uses AS profiles, but the libloc database was opened without them (asProfiles)")
        }
        encoder = try FeatureEncoder(spec: model.spec, lists: lists, asListing: model.asListing, networkListing: model.networkListing)
        for (need, have) in zip(model.lists, encoder.lists) where need.sha256 != have.requirement.sha256 {
            warnings.append("list '\(need.name)' differs from the one the model was trained with (\(have.requirement.blocks) blocks now, \(need.blocks) then)")
        }
        self.model = model
        self.intelligence = intelligence
        self.allowlist = allowlist
    }

    /// The score of one observation. Throws when the model needs an hour or port the observation lacks.
    public func score(_ given: Observation) throws -> IPScore {
        // Only what the model reads: a model without the hour scores an address the same at any hour.
        var observation = given
        if !model.spec.hour { observation.hour = nil }
        if !model.spec.port { observation.port = nil; observation.transport = nil }
        if let known = cache[observation] { return known }
        var result = IPScore(
            address: observation.address.description, hour: observation.hour, port: observation.port.map(Int.init),
            transport: observation.transport?.description, verdict: .unremarkable, drivers: [])
        if !observation.address.isGlobal {
            result.verdict = .notPublic
        } else if allowlist.contains(observation.address) {
            result.verdict = .allowlisted
        } else {
            let missing = model.spec.missingInputs(observation)
            guard missing.isEmpty else {
                throw ReputationDataError(
                    "\(observation.address): the IP model uses the \(missing.joined(separator: " and ")) of the connection; give ADDR,HOUR[,PORT/PROTO]")
            }
            let facts = try intelligence.source.facts(for: observation.address)
            let row = encoder.row(facts, observation)
            let matrix = FeatureMatrix(rows: 1, columns: row.count, values: ContiguousArray(row))
            let scores = try model.scores(matrix, threads: 1)
            result.probability = scores.combined[0]
            result.threshold = model.threshold
            result.forest = scores.forest.map { Double($0[0]) }
            result.mlp = scores.mlp.map { Double($0[0]) }
            result.verdict = scores.combined[0] >= model.threshold ? .suspicious : .unremarkable
            result.country = facts.countryCode
            result.asn = facts.asn
            result.asOrganization = facts.asOrganization
            result.flags = facts.flags?.description
            result.drivers = try drivers(row, facts, observation, probability: scores.combined[0])
        }
        if cache.count >= 100_000 { cache.removeAll(keepingCapacity: true) }
        cache[observation] = result
        return result
    }

    /// The features that moved the probability most. With a forest: its path contributions per
    /// feature (Saabas), exact for the forest's share; with only a network: the change when the
    /// feature's columns are zeroed.
    func drivers(_ row: [Float], _ facts: AddressFacts, _ observation: Observation, probability: Double) throws -> [IPScore.Driver] {
        let columns = encoder.columns
        var byFeature: [String: Double] = [:]
        if let forest = model.forest {
            let (_, perColumn) = forest.contributions(row)
            for (column, c) in zip(columns, perColumn) { byFeature[column.feature, default: 0] += Double(c) }
        } else if let mlp = model.mlp {
            for feature in Set(columns.map(\.feature)) {
                var masked = row
                for (i, column) in columns.enumerated() where column.feature == feature { masked[i] = 0 }
                let p = try IPModel.networkProbabilities(mlp, FeatureMatrix(rows: 1, columns: row.count, values: ContiguousArray(masked)), threads: 1)[0]
                byFeature[feature] = probability - Double(p)
            }
        }
        return byFeature.filter { $0.value != 0 }
            .sorted { abs($0.value) != abs($1.value) ? abs($0.value) > abs($1.value) : $0.key < $1.key }
            .prefix(driverCount)
            .map { feature, contribution in
                let value: String
                if feature.hasPrefix("list:") {
                    let name = String(feature.dropFirst(5))
                    value = encoder.lists.first { $0.name == name }!.set.contains(observation.address) ? "member" : "not a member"
                } else if feature == "as_listing", let listing = encoder.asListing {
                    value = facts.asn.map { "\(listing.count(of: $0)) entries of AS\($0) on \(listing.name)" } ?? "unknown"
                } else if feature == "network_listing", let listing = encoder.networkListing {
                    value = listing.describe(observation.address)
                } else {
                    value = FeatureSpec.describe(feature, facts, observation)
                }
                return IPScore.Driver(feature: feature, value: value, contribution: contribution)
            }
    }
}
