import Enrichment
import FlowRecords
import Forest
import Foundation
import Neural

/// The address databases a command opens: any MMDB files given, then the libloc database (unless
/// turned off). Earlier sources win for a field they know, so a City MMDB's country is preferred to
/// libloc's, while libloc alone knows network flags. Lookups are cached.
public struct IntelligenceSetup: Sendable {
    public let source: CachedIntelligence
    /// What was opened, as a model records it.
    public let databases: [DatabaseRequirement]
    /// Each database opened, with when it was built and how to get a newer one.
    public let builds: [(database: String, built: Date, update: String)]
    /// Whether libloc's answers carry AS profiles (libloc is open and they were asked for).
    public let asProfiles: Bool

    /// Opens the databases. With `asProfiles`, libloc's answers carry their AS's profile (a model
    /// feature); the first lookup then reads the whole database once.
    public init(mmdb paths: [String], libloc: String?, asProfiles: Bool = false) throws(EnrichmentError) {
        var sources: [any AddressIntelligence] = []
        var databases: [DatabaseRequirement] = []
        var builds: [(database: String, built: Date, update: String)] = []
        let day = DateFormatter()
        day.dateFormat = "yyyy-MM-dd"
        day.timeZone = TimeZone(identifier: "UTC")
        for path in paths {
            let db = try MaxMindDatabase(path: path)
            sources.append(db)
            databases.append(DatabaseRequirement(kind: db.content.rawValue, name: db.databaseType, built: day.string(from: db.buildDate)))
            builds.append(("\(db.databaseType) database \(path)", db.buildDate, "download a newer one from its vendor"))
        }
        if let libloc {
            let db = try LocationDatabase(path: libloc, asProfiles: asProfiles)
            sources.append(db)
            databases.append(DatabaseRequirement(kind: "libloc", name: "libloc", built: day.string(from: db.createdAt)))
            builds.append(
                ("location database \(libloc)", db.createdAt, "run 'location update' (Debian package location) or upgrade the libloc-database package"))
        }
        guard !sources.isEmpty else {
            throw EnrichmentError(
                .missingFile, "no address database: give MaxMind-format databases or leave the libloc database on",
                setting: .addressDatabases)
        }
        source = CachedIntelligence(sources.count == 1 ? sources[0] : CombinedIntelligence(sources))
        self.databases = databases
        self.builds = builds
        self.asProfiles = asProfiles && libloc != nil
    }

    /// A warning for each database built more than a year before `now`: countries, AS numbers and
    /// network flags move, so scores drift, and nothing else says so.
    public func ageWarnings(now: Date = Date()) -> [String] {
        let day = DateFormatter()
        day.dateFormat = "yyyy-MM-dd"
        day.timeZone = TimeZone(identifier: "UTC")
        return builds.compactMap { b in
            let days = Int(now.timeIntervalSince(b.built) / 86_400)
            guard days > 365 else { return nil }
            return
                "the \(b.database) was built on \(day.string(from: b.built)), \(days) days ago: countries, AS numbers and network flags may have moved since; \(b.update)"
        }
    }

    /// Whether a City database is among the sources (latitude, longitude and time zone).
    public var hasCity: Bool { databases.contains { $0.kind == "city" } }
    public var hasLibloc: Bool { databases.contains { $0.kind == "libloc" } }

    /// The databases `model` needs that are not open here.
    public func missing(for model: IPModel) -> [DatabaseRequirement] {
        model.databases.filter { need in !databases.contains { $0.kind == need.kind } }
    }

    /// The facts of every distinct address.
    public func facts(for addresses: some Sequence<IPAddress>) throws -> [IPAddress: AddressFacts] {
        var out: [IPAddress: AddressFacts] = [:]
        for address in addresses where out[address] == nil { out[address] = try source.facts(for: address) }
        return out
    }
}

/// An infrastructure list used as a feature: a name and the blocks of its file.
public struct NamedList: Sendable {
    public var name: String
    public var set: CIDRSet
    public var requirement: ListRequirement

    /// Reads `NAME=FILE`.
    public static func load(_ argument: String) throws -> NamedList {
        guard let eq = argument.firstIndex(of: "="), eq != argument.startIndex else {
            throw ReputationDataError("'\(argument)': a list is given as NAME=FILE (cloud=ranges.txt)")
        }
        let name = String(argument[..<eq]), path = String(argument[argument.index(after: eq)...])
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
            throw ReputationDataError("'\(name)': a list name is letters, digits, '-', '_' and '.'")
        }
        let set = try CIDRSet.load(path: path)
        return NamedList(
            name: name, set: set,
            requirement: ListRequirement(name: name, blocks: set.count, sha256: try LabelledData.fileChecksum(path)))
    }
}

/// Turns observations into feature rows for a spec.
public struct FeatureEncoder {
    public let spec: FeatureSpec
    public let lists: [NamedList]
    /// The AS listing the spec's `as_listing` feature reads (nil when the spec has none).
    public let asListing: ASListing?
    /// The network listing the spec's `network_listing` feature reads (nil when the spec has none).
    public let networkListing: NetworkListing?
    /// `spec.columns`, built once.
    public let columns: [FeatureSpec.Column]

    /// `lists` must hold every list `spec` names; they are put in the spec's order. A spec with
    /// the `as_listing` feature needs `asListing`, and one with `network_listing` `networkListing`.
    public init(spec: FeatureSpec, lists: [NamedList], asListing: ASListing? = nil, networkListing: NetworkListing? = nil) throws {
        guard spec.asListing == (asListing != nil) else {
            throw ReputationDataError(
                spec.asListing ? "the IP model counts its ASes' blocklist entries but holds no table of them" : "an AS listing for a spec without the feature")
        }
        guard spec.networkListing == (networkListing != nil) else {
            throw ReputationDataError(
                spec.networkListing
                    ? "the IP model counts blocklist entries around each address but holds no table of them"
                    : "a network listing for a spec without the feature")
        }
        self.spec = spec
        self.asListing = asListing
        self.networkListing = networkListing
        self.lists = try spec.lists.map { name in
            guard let list = lists.first(where: { $0.name == name }) else {
                throw ReputationDataError("the model uses the infrastructure list '\(name)': give it under that name", setting: .infrastructureList)
            }
            return list
        }
        columns = spec.columns
    }

    public func membership(_ address: IPAddress) -> [Bool] { lists.map { $0.set.contains(address) } }

    /// The entries of the address's AS on the AS listing (nil without a listing or an AS).
    public func asListed(_ facts: AddressFacts) -> Int? {
        guard let asListing, let asn = facts.asn else { return nil }
        return asListing.count(of: asn)
    }

    /// The entries of the network listing around the address (nil without a listing, or for IPv6).
    public func networkListed(_ address: IPAddress) -> [Int]? { networkListing?.counts(around: address) }

    public func row(_ facts: AddressFacts, _ observation: Observation) -> [Float] {
        var row = [Float](repeating: 0, count: spec.columnCount)
        row.withUnsafeMutableBufferPointer {
            spec.encode(
                facts, observation, membership: membership(observation.address), asListed: asListed(facts),
                networkListed: networkListed(observation.address), into: $0)
        }
        return row
    }

    public func matrix(_ observations: [Observation], facts: [IPAddress: AddressFacts]) -> FeatureMatrix {
        let columns = spec.columnCount
        var values = ContiguousArray<Float>(repeating: 0, count: observations.count * columns)
        values.withUnsafeMutableBufferPointer { buffer in
            for (i, o) in observations.enumerated() {
                let f = facts[o.address] ?? AddressFacts()
                spec.encode(
                    f, o, membership: membership(o.address), asListed: asListed(f), networkListed: networkListed(o.address),
                    into: UnsafeMutableBufferPointer(rebasing: buffer[(i * columns)..<((i + 1) * columns)]))
            }
        }
        return FeatureMatrix(rows: observations.count, columns: columns, values: values)
    }
}
