import Foundation

/// What the address databases know of one address. Every field is optional: nil means the
/// source had no answer, never a guess.
public struct AddressFacts: Sendable, Equatable, Hashable {
    /// ISO 3166-1 alpha-2 country code, upper case (`US`, `GB`). Some sources use codes that are
    /// not countries, such as `EU` (a European allocation without a country).
    public var countryCode: String?
    /// Two-letter continent code: `AF`, `AN`, `AS`, `EU`, `NA`, `OC` or `SA`.
    public var continentCode: String?
    /// Approximate position of the address, in degrees (WGS 84), from a City database.
    public var latitude: Double?
    public var longitude: Double?
    /// IANA time zone name (`Europe/London`), from a City database.
    public var timeZone: String?
    /// The standard-time UTC offset of `timeZone`, in hours (`-8` for America/Los_Angeles,
    /// `5.5` for Asia/Kolkata). See `AddressFacts.standardUTCOffsetHours(timeZone:)`.
    public var utcOffsetHours: Double?
    /// Autonomous system number of the network that announces the address.
    public var asn: UInt32?
    /// The autonomous system's organisation or name (`GOOGLE`, `Google Inc.`).
    public var asOrganization: String?
    /// Prefix length of the matched network in the address's family: 0–32 for an IPv4
    /// address, 0–128 for IPv6 (`24` when `8.8.8.8` matched `8.8.8.0/24`).
    public var prefixLength: Int?
    /// Network flags, or nil when the source says nothing about flags. libloc always answers
    /// them for a matched network (possibly none set); an MMDB only when its record carries
    /// GeoIP2 `traits`, so an MMDB never claims that an address is *not* anycast.
    public var flags: NetworkFlags?
    /// What the database says of `asn`'s autonomous system as a whole, from a source that can list
    /// every network (libloc opened with `asProfiles`); nil otherwise.
    public var asProfile: ASProfile?
    /// The sources that contributed at least one field, in the order they were asked
    /// (`["GeoLite2-City", "libloc"]`); empty when nothing was known.
    public var sources: [String]

    public init(
        countryCode: String? = nil, continentCode: String? = nil, latitude: Double? = nil,
        longitude: Double? = nil, timeZone: String? = nil, utcOffsetHours: Double? = nil,
        asn: UInt32? = nil, asOrganization: String? = nil, prefixLength: Int? = nil,
        flags: NetworkFlags? = nil, asProfile: ASProfile? = nil, sources: [String] = []
    ) {
        self.countryCode = countryCode
        self.continentCode = continentCode
        self.latitude = latitude
        self.longitude = longitude
        self.timeZone = timeZone
        self.utcOffsetHours = utcOffsetHours
        self.asn = asn
        self.asOrganization = asOrganization
        self.prefixLength = prefixLength
        self.flags = flags
        self.asProfile = asProfile
        self.sources = sources
    }

    /// True when no field is known.
    public var isEmpty: Bool {
        countryCode == nil && continentCode == nil && latitude == nil && longitude == nil
            && timeZone == nil && utcOffsetHours == nil && asn == nil && asOrganization == nil
            && prefixLength == nil && flags == nil && asProfile == nil
    }

    /// Fills every field that is still nil from `other` (first answer wins), and adds `other`'s
    /// sources to `sources` if it contributed a field.
    public mutating func fillMissing(from other: AddressFacts) {
        var contributed = false
        func take<T>(_ field: WritableKeyPath<AddressFacts, T?>) {
            if self[keyPath: field] == nil, let value = other[keyPath: field] {
                self[keyPath: field] = value
                contributed = true
            }
        }
        take(\.countryCode)
        take(\.continentCode)
        take(\.latitude)
        take(\.longitude)
        take(\.timeZone)
        take(\.utcOffsetHours)
        take(\.asn)
        take(\.asOrganization)
        take(\.prefixLength)
        take(\.flags)
        // A profile describes one AS: it is taken only from the source whose AS number was kept.
        if asProfile == nil, let profile = other.asProfile, other.asn == asn {
            asProfile = profile
            contributed = true
        }
        if contributed {
            for source in other.sources where !sources.contains(source) { sources.append(source) }
        }
    }
}

/// An autonomous system as a whole, counted over the IPv4 networks a location database gives it.
/// Size and spread tell a large operator (a cloud, a CDN, an ISP) from a small one, which holds for
/// systems a model never saw, where the AS number itself teaches nothing.
public struct ASProfile: Sendable, Hashable {
    /// Addresses in its IPv4 networks (a network nested in another of the same AS counts again).
    public var ipv4Addresses: UInt64
    /// Its IPv4 networks.
    public var ipv4Networks: Int
    /// Distinct countries of those networks.
    public var countries: Int
    /// Those networks flagged anycast.
    public var anycastNetworks: Int

    public init(ipv4Addresses: UInt64, ipv4Networks: Int, countries: Int, anycastNetworks: Int) {
        self.ipv4Addresses = ipv4Addresses
        self.ipv4Networks = ipv4Networks
        self.countries = countries
        self.anycastNetworks = anycastNetworks
    }
}

/// Flags of a network, as the IPFire location database (libloc) and GeoIP2 `traits` mark them.
public struct NetworkFlags: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// An anonymous proxy network (libloc `A1`, GeoIP2 `is_anonymous_proxy`).
    public static let anonymousProxy = NetworkFlags(rawValue: 1 << 0)
    /// A satellite provider, whose users may be anywhere (libloc `A2`, GeoIP2 `is_satellite_provider`).
    public static let satelliteProvider = NetworkFlags(rawValue: 1 << 1)
    /// Anycast: announced from many places, so its position means little (libloc `A3`, GeoIP2 `is_anycast`).
    public static let anycast = NetworkFlags(rawValue: 1 << 2)
    /// On a hostile-networks list (libloc `XD`: Spamhaus DROP and similar), where no legitimate
    /// traffic is expected.
    public static let hostile = NetworkFlags(rawValue: 1 << 3)

    /// `anycast,hostile`; empty text for no flags.
    public var description: String {
        var names: [String] = []
        if contains(.anonymousProxy) { names.append("anonymous-proxy") }
        if contains(.satelliteProvider) { names.append("satellite-provider") }
        if contains(.anycast) { names.append("anycast") }
        if contains(.hostile) { names.append("hostile") }
        return names.joined(separator: ",")
    }
}

extension AddressFacts {
    /// The instant at which time zone offsets are taken: 2025-01-01 00:00 UTC.
    public static let utcOffsetReferenceDate = Date(timeIntervalSince1970: 1_735_689_600)

    private static let offsets = Locked<[String: Double?]>([:])

    /// The standard-time (daylight saving removed) UTC offset of an IANA time zone, in hours,
    /// as Foundation's `TimeZone` gives it at `utcOffsetReferenceDate`; nil for a name Foundation
    /// does not know.
    ///
    /// A fixed instant makes the answer independent of the day of the lookup (a model trained in
    /// winter sees the same feature in summer), and removing daylight saving makes it the same for
    /// both hemispheres' seasons. Zones whose standard offset changed after 2025 keep the 2025 one.
    /// Results are memoised per name (there are a few hundred).
    public static func standardUTCOffsetHours(timeZone name: String) -> Double? {
        if let known = offsets.withLock({ $0[name] }) { return known }
        var hours: Double?
        if let zone = TimeZone(identifier: name) {
            let date = utcOffsetReferenceDate
            let seconds = Double(zone.secondsFromGMT(for: date)) - zone.daylightSavingTimeOffset(for: date)
            hours = seconds / 3600
        }
        offsets.withLock { $0[name] = .some(hours) }
        return hours
    }
}

/// A value behind a lock, for the few mutable things shared between threads here.
final class Locked<State>: @unchecked Sendable {
    // @unchecked: `state` is only read or written inside `withLock`, under `lock`.
    private var state: State
    private let lock = NSLock()

    init(_ state: State) { self.state = state }

    func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&state)
    }
}
