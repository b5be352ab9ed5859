import Enrichment
import FlowRecords
import Foundation
import Randomness
import Support

/// One remote end to score: its address and, when the connection is known, the hour (UTC) it
/// was seen, the connection's destination port and its transport.
public struct Observation: Sendable, Hashable {
    public var address: IPAddress
    /// Hour of day in UTC, 0–23.
    public var hour: Int?
    /// The connection's destination (responder) port.
    public var port: UInt16?
    public var transport: Transport?

    public init(address: IPAddress, hour: Int? = nil, port: UInt16? = nil, transport: Transport? = nil) {
        self.address = address
        self.hour = hour
        self.port = port
        self.transport = transport
    }

    /// One end of `flow`: the hour (UTC) the flow started, its destination port and transport.
    public init(_ address: IPAddress, in flow: FlowRecord) {
        self.init(address, at: flow.start, port: flow.destinationPort, transport: flow.transport)
    }

    /// `address` seen at `time` (seconds since the epoch), its hour of day in UTC.
    public init(_ address: IPAddress, at time: Double, port: UInt16?, transport: Transport?) {
        let seconds = Int(time.rounded(.down))
        self.init(address: address, hour: ((seconds % 86_400) + 86_400) % 86_400 / 3600, port: port, transport: transport)
    }

    /// Parses `ADDR`, `ADDR,HOUR` or `ADDR,HOUR,PORT/PROTO` (`203.0.113.9,14,22/tcp`); an empty
    /// hour (`ADDR,,443/tcp`) means unknown. Nil with the reason when the text is none of these.
    public static func parse(_ text: String) -> Result<Observation, ObservationSyntaxError> {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        func fail(_ why: String) -> Result<Observation, ObservationSyntaxError> { .failure(ObservationSyntaxError(text: text, reason: why)) }
        guard parts.count <= 3 else { return fail("expected ADDR, ADDR,HOUR or ADDR,HOUR,PORT/PROTO") }
        guard let address = IPAddress(parts[0]) else { return fail("not an IPv4 or IPv6 address") }
        var observation = Observation(address: address)
        if parts.count > 1, !parts[1].isEmpty {
            guard let hour = Int(parts[1]), (0...23).contains(hour) else { return fail("hour '\(parts[1].excerpt(limit: 16))' is not 0–23") }
            observation.hour = hour
        }
        if parts.count > 2, !parts[2].isEmpty {
            let portParts = parts[2].split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard let port = UInt16(portParts[0]) else { return fail("port '\(portParts[0].excerpt(limit: 16))' is not 0–65535") }
            observation.port = port
            let name = portParts.count > 1 ? portParts[1].lowercased() : "tcp"
            switch name {
            case "tcp": observation.transport = .tcp
            case "udp": observation.transport = .udp
            case "icmp": observation.transport = .icmp
            default:
                guard let number = UInt8(name) else { return fail("protocol '\(name.excerpt(limit: 16))' is not tcp, udp, icmp or a number") }
                observation.transport = Transport(rawValue: number)
            }
        }
        return .success(observation)
    }
}

public struct ObservationSyntaxError: Error, Sendable, CustomStringConvertible {
    public var text: String
    public var reason: String
    /// The text quoted once, cut and escaped: an 8 MB "address" is not echoed back.
    public var description: String { "'\(text.excerpt())': \(reason)" }
}

/// Which features a reputation model uses and how each is encoded into columns. Recorded in the
/// model file, so that scoring builds exactly the columns the model learnt from.
///
/// Features (column names in brackets):
/// - `hour`: hour of day as a point on a circle, so 23:00 is next to 00:00 [`hour_sin`, `hour_cos`];
/// - `port`: the destination port scaled to 0–1, whether it is a system (< 1024) or registered
///   (< 49152) port, and the transport [`port`, `port_system`, `port_registered`, `transport=tcp`,
///   `transport=udp`, `transport=icmp`, `transport=other`];
/// - `country`: one column per country of the vocabulary learnt from training data, plus
///   `country=other` and `country=unknown`;
/// - `continent`: one column per continent, plus `continent=unknown`;
/// - `location` (only with a City database): latitude/90, longitude/180, the standard UTC offset/14,
///   and whether they are unknown [`latitude`, `longitude`, `utc_offset`, `location=unknown`];
/// - `asn`: the autonomous system number hashed into a fixed number of buckets (feature hashing),
///   so the model does not grow with the number of ASNs [`asn_bucket=0`… , `asn=unknown`];
/// - `flags`: network flags [`flag=anonymous-proxy`, `flag=satellite-provider`, `flag=anycast`,
///   `flag=hostile`, `flags=unknown`];
/// - `prefix_length`: the size of the matched network as the share of host bits
///   (`(32 − length)/32`, or `/128` for IPv6) [`network_size`, `network=unknown`];
/// - `as_profile` (only with libloc): the autonomous system as a whole, each a log₂ scaled to
///   about 0–1: its IPv4 addresses (/32), its IPv4 networks (/16), the mean size of those networks
///   (/32), the countries they are in (/8), and the share of them that is anycast
///   [`as_addresses`, `as_networks`, `as_mean_network`, `as_countries`, `as_anycast_share`,
///   `as_profile=unknown`]. Unlike the ASN, these carry over to systems the model never saw;
/// - `as_listing`: the entries of the address's AS on a reference blocklist, and per 65,536 of its
///   IPv4 addresses, each a log₂ scaled to about 0–1 (`ASListing`) [`as_listed`,
///   `as_listed_per_65536`, `as_listing=unknown`];
/// - `network_listing`: the entries of a reference blocklist in the address's /24, /22, /20 and /16,
///   each a log₂ scaled by the network's host bits to about 0–1 (`NetworkListing`; IPv6 is unknown)
///   [`listed_in_24`, `listed_in_22`, `listed_in_20`, `listed_in_16`, `network_listing=unknown`];
/// - `lists`: membership in each named infrastructure list [`list=NAME`].
public struct FeatureSpec: Codable, Sendable, Equatable {
    public var hour: Bool
    public var port: Bool
    public var countries: [String]
    public var location: Bool
    /// Number of hash buckets for the ASN; 0 leaves the ASN out.
    public var asnBuckets: Int
    public var asnHashSeed: UInt64
    public var flags: Bool
    public var prefixLength: Bool
    /// Whether the AS profile is a feature (models from before it was added decode as false).
    public var asProfile: Bool
    /// Whether the AS's entries on a reference blocklist are a feature (`ASListing`; models from
    /// before it was added decode as false).
    public var asListing: Bool
    /// Whether the entries of a reference blocklist around the address are a feature
    /// (`NetworkListing`; models from before it was added decode as false).
    public var networkListing: Bool
    /// Names of infrastructure lists, in column order.
    public var lists: [String]

    public static let continents = ["AF", "AN", "AS", "EU", "NA", "OC", "SA"]

    public init(
        hour: Bool, port: Bool, countries: [String], location: Bool, asnBuckets: Int, asnHashSeed: UInt64 = 0x5EED_A5,
        flags: Bool, prefixLength: Bool, asProfile: Bool = false, asListing: Bool = false, networkListing: Bool = false, lists: [String]
    ) {
        self.hour = hour
        self.port = port
        self.countries = countries
        self.location = location
        self.asnBuckets = asnBuckets
        self.asnHashSeed = asnHashSeed
        self.flags = flags
        self.prefixLength = prefixLength
        self.asProfile = asProfile
        self.asListing = asListing
        self.networkListing = networkListing
        self.lists = lists
    }

    private enum CodingKeys: String, CodingKey {
        case hour, port, countries, location, asnBuckets, asnHashSeed, flags, prefixLength, asProfile, asListing, networkListing, lists
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hour = try c.decode(Bool.self, forKey: .hour)
        port = try c.decode(Bool.self, forKey: .port)
        countries = try c.decode([String].self, forKey: .countries)
        location = try c.decode(Bool.self, forKey: .location)
        asnBuckets = try c.decode(Int.self, forKey: .asnBuckets)
        asnHashSeed = try c.decode(UInt64.self, forKey: .asnHashSeed)
        flags = try c.decode(Bool.self, forKey: .flags)
        prefixLength = try c.decode(Bool.self, forKey: .prefixLength)
        asProfile = try c.decodeIfPresent(Bool.self, forKey: .asProfile) ?? false
        asListing = try c.decodeIfPresent(Bool.self, forKey: .asListing) ?? false
        networkListing = try c.decodeIfPresent(Bool.self, forKey: .networkListing) ?? false
        lists = try c.decode([String].self, forKey: .lists)
    }

    /// One column: its name and the feature it belongs to (the unit explanations speak of).
    public struct Column: Sendable, Equatable {
        public var name: String
        public var feature: String
    }

    /// Every column, in row order.
    public var columns: [Column] {
        var out: [Column] = []
        func add(_ feature: String, _ names: [String]) { out += names.map { Column(name: $0, feature: feature) } }
        if hour { add("hour", ["hour_sin", "hour_cos"]) }
        if port {
            add("port", ["port", "port_system", "port_registered"])
            add("transport", ["transport=tcp", "transport=udp", "transport=icmp", "transport=other"])
        }
        add("country", countries.map { "country=\($0)" } + ["country=other", "country=unknown"])
        add("continent", FeatureSpec.continents.map { "continent=\($0)" } + ["continent=unknown"])
        if location { add("location", ["latitude", "longitude", "utc_offset", "location=unknown"]) }
        if asnBuckets > 0 { add("asn", (0..<asnBuckets).map { "asn_bucket=\($0)" } + ["asn=unknown"]) }
        if flags { add("flags", ["flag=anonymous-proxy", "flag=satellite-provider", "flag=anycast", "flag=hostile", "flags=unknown"]) }
        if prefixLength { add("prefix_length", ["network_size", "network=unknown"]) }
        if asProfile { add("as_profile", ["as_addresses", "as_networks", "as_mean_network", "as_countries", "as_anycast_share", "as_profile=unknown"]) }
        if asListing { add("as_listing", ["as_listed", "as_listed_per_65536", "as_listing=unknown"]) }
        if networkListing { add("network_listing", NetworkListing.prefixLengths.map { "listed_in_\($0)" } + ["network_listing=unknown"]) }
        for name in lists { add("list:\(name)", ["list=\(name)"]) }
        return out
    }

    /// `columns.count`, counted without building the names (encoding checks it for every row).
    public var columnCount: Int {
        (hour ? 2 : 0) + (port ? 7 : 0) + countries.count + 2 + FeatureSpec.continents.count + 1 + (location ? 4 : 0)
            + (asnBuckets > 0 ? asnBuckets + 1 : 0) + (flags ? 5 : 0) + (prefixLength ? 2 : 0) + (asProfile ? 6 : 0) + (asListing ? 3 : 0)
            + (networkListing ? NetworkListing.prefixLengths.count + 1 : 0) + lists.count
    }

    /// The feature names in column order, each once.
    public var features: [String] {
        var seen: [String] = []
        for c in columns where seen.last != c.feature { seen.append(c.feature) }
        return seen
    }

    /// The bucket of an ASN: a SplitMix64 finaliser of the number and the seed, modulo the buckets.
    public func asnBucket(_ asn: UInt32) -> Int {
        Int(SplitMix64.mix(UInt64(asn) &+ asnHashSeed &+ 0x9E37_79B9_7F4A_7C15) % UInt64(asnBuckets))
    }

    /// Writes the columns of one observation into `row` (which must hold `columnCount` values).
    /// `membership[i]` says whether the address is on `lists[i]`; `asListed`, the entries of the
    /// address's AS on the model's reference blocklist (nil when the AS is unknown); `networkListed`,
    /// the entries around it at each of `NetworkListing.prefixLengths` (nil for IPv6). An unknown hour
    /// or port, for a spec that uses them, is encoded as zeros; callers check first (see `missingInputs`).
    public func encode(
        _ facts: AddressFacts, _ observation: Observation, membership: [Bool], asListed: Int? = nil, networkListed: [Int]? = nil,
        into row: UnsafeMutableBufferPointer<Float>
    ) {
        precondition(row.count == columnCount && membership.count == lists.count, "a row of \(columnCount) columns, one membership per list")
        var i = 0
        func put(_ value: Float) { row[i] = value; i += 1 }
        func oneHot(_ count: Int, _ hot: Int?) {
            for k in 0..<count { row[i + k] = k == hot ? 1 : 0 }
            i += count
        }
        if hour {
            if let h = observation.hour {
                let angle = Float(h) * (2 * .pi / 24)
                put(sinf(angle)); put(cosf(angle))
            } else {
                put(0); put(0)
            }
        }
        if port {
            if let p = observation.port {
                put(Float(p) / 65535); put(p < 1024 ? 1 : 0); put(p >= 1024 && p < 49152 ? 1 : 0)
            } else {
                put(0); put(0); put(0)
            }
            let t = observation.transport
            oneHot(4, t == nil ? nil : t == .tcp ? 0 : t == .udp ? 1 : (t == .icmp || t == .icmpv6) ? 2 : 3)
        }
        let country: Int? = facts.countryCode.map { code in countries.firstIndex(of: code) ?? countries.count }
        oneHot(countries.count + 2, country ?? countries.count + 1)
        let continent = facts.continentCode.flatMap { FeatureSpec.continents.firstIndex(of: $0) }
        oneHot(FeatureSpec.continents.count + 1, continent ?? FeatureSpec.continents.count)
        if location {
            if let lat = facts.latitude, let long = facts.longitude {
                put(Float(lat / 90)); put(Float(long / 180)); put(Float((facts.utcOffsetHours ?? 0) / 14)); put(0)
            } else {
                put(0); put(0); put(0); put(1)
            }
        }
        if asnBuckets > 0 { oneHot(asnBuckets + 1, facts.asn.map(asnBucket) ?? asnBuckets) }
        if flags {
            if let f = facts.flags {
                for flag in [NetworkFlags.anonymousProxy, .satelliteProvider, .anycast, .hostile] { put(f.contains(flag) ? 1 : 0) }
                put(0)
            } else {
                put(0); put(0); put(0); put(0); put(1)
            }
        }
        if prefixLength {
            if let length = facts.prefixLength {
                let bits = Float(observation.address.isIPv4 ? 32 : 128)
                put((bits - Float(length)) / bits); put(0)
            } else {
                put(0); put(1)
            }
        }
        if asProfile {
            if let p = facts.asProfile, p.ipv4Networks > 0 {
                let addresses = Float(p.ipv4Addresses)
                put(log2f(addresses + 1) / 32); put(log2f(Float(p.ipv4Networks) + 1) / 16)
                put(log2f(addresses / Float(p.ipv4Networks)) / 32); put(log2f(Float(p.countries) + 1) / 8)
                put(Float(p.anycastNetworks) / Float(p.ipv4Networks)); put(0)
            } else {
                put(0); put(0); put(0); put(0); put(0); put(1)
            }
        }
        if asListing {
            if let listed = asListed, facts.asn != nil {
                // Entries, and entries per 65,536 of the AS's IPv4 addresses (0 without a profile),
                // both on a log scale: a handful in a small hoster and thousands in a large cloud.
                put(log2f(Float(listed) + 1) / 24)
                if let p = facts.asProfile, p.ipv4Addresses > 0 {
                    put(log2f(Float(listed) / Float(p.ipv4Addresses) * 65_536 + 1) / 24)
                } else {
                    put(0)
                }
                put(0)
            } else {
                put(0); put(0); put(1)
            }
        }
        if networkListing {
            if let listed = networkListed, listed.count == NetworkListing.prefixLengths.count {
                // A /24 holds at most 256 entries, a /16 65,536: each log₂ over the network's host bits.
                for (count, length) in zip(listed, NetworkListing.prefixLengths) { put(log2f(Float(max(0, count)) + 1) / Float(32 - length)) }
                put(0)
            } else {
                for _ in NetworkListing.prefixLengths { put(0) }
                put(1)
            }
        }
        for member in membership { put(member ? 1 : 0) }
        precondition(i == columnCount)
    }

    /// What `observation` lacks that this spec needs (`["hour"]`), empty when it can be scored.
    public func missingInputs(_ observation: Observation) -> [String] {
        var missing: [String] = []
        if hour && observation.hour == nil { missing.append("hour") }
        if port && observation.port == nil { missing.append("port") }
        return missing
    }

    /// How the value of `feature` reads for one observation (`AS13335 CLOUDFLARENET`, `US`, `14h`).
    public static func describe(_ feature: String, _ facts: AddressFacts, _ observation: Observation) -> String {
        switch feature {
        case "hour": return observation.hour.map { "\($0)h UTC" } ?? "unknown"
        case "port": return observation.port.map(String.init) ?? "unknown"
        case "transport": return observation.transport?.description ?? "unknown"
        case "country": return facts.countryCode ?? "unknown"
        case "continent": return facts.continentCode ?? "unknown"
        case "location":
            guard let lat = facts.latitude, let long = facts.longitude else { return "unknown" }
            return "\(lat),\(long)" + (facts.timeZone.map { " \($0)" } ?? "")
        case "asn":
            guard let asn = facts.asn else { return "unknown" }
            return "AS\(asn)" + (facts.asOrganization.map { " \($0)" } ?? "")
        case "flags":
            guard let f = facts.flags else { return "unknown" }
            return f.isEmpty ? "none" : f.description
        case "prefix_length": return facts.prefixLength.map { "/\($0)" } ?? "unknown"
        case "as_profile":
            guard let p = facts.asProfile, p.ipv4Networks > 0 else { return "unknown" }
            return "\(ASProfile.amount(p.ipv4Addresses)) IPv4 addresses in \(p.ipv4Networks) network\(p.ipv4Networks == 1 ? "" : "s"), \(p.countries) "
                + "\(p.countries == 1 ? "country" : "countries")\(p.anycastNetworks > 0 ? ", \(p.anycastNetworks) anycast" : "")"
        default: return ""
        }
    }
}

extension ASProfile {
    /// `44.3M`, `2.4k`, `512`.
    static func amount(_ n: UInt64) -> String {
        switch n {
        case 1_000_000...: return String(format: "%.1fM", Double(n) / 1e6)
        case 10_000...: return String(format: "%.0fk", Double(n) / 1e3)
        case 1000...: return String(format: "%.1fk", Double(n) / 1e3)
        default: return String(n)
        }
    }
}
