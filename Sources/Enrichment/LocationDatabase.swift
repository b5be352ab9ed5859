import CLibloc
import FlowRecords
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The IPFire location database read with libloc: country, continent, autonomous system number
/// and name, network flags (anonymous proxy, satellite provider, anycast, hostile "drop" lists)
/// and the matched network's prefix, for IPv4 and IPv6. On Debian and Ubuntu the package
/// `libloc-database` installs it at `LocationDatabase.defaultPath`, so it works with no download.
/// It has no coordinates or time zones: combine it with a City MMDB for those.
///
/// Errors: opening throws for a missing file, a file that is not a location database, and one
/// that is truncated (the header's sections must lie inside the file: libloc itself accepts a
/// truncated file and then answers nothing, or reads outside it). A lookup that libloc reports
/// as failed (not merely "not found") throws `.corruptDatabase`. libloc trusts the rest of the
/// file, so open only databases from a trusted source (the Debian package's is).
///
/// Thread safety: libloc keeps plain, non-atomic reference counts (every network a lookup returns
/// takes a reference to the shared context), so concurrent lookups on one database would race; and
/// it writes addresses as text into buffers shared by the whole process (libloc 0.9: `loc_address_str`
/// behind `loc_network_str`), so two databases open at once would race too. Every call into libloc is
/// therefore made under one lock for the process; a lookup (network, AS name and continent) holds it
/// for a few microseconds. Put a `CachedIntelligence` in front when many threads look up.
public final class LocationDatabase: AddressIntelligence, @unchecked Sendable {
    // @unchecked: the libloc handles are used only under `lock`.

    /// Where `libloc-database` installs the database on Debian and Ubuntu.
    public static let defaultPath = "/var/lib/location/database.db"

    public let path: String
    /// When the database was made (from its header).
    public let createdAt: Date

    public var name: String { "libloc" }

    private let context: OpaquePointer
    private let database: OpaquePointer
    private let file: UnsafeMutablePointer<FILE>
    /// Held around every call into libloc, whichever database it is for (see the type's comment).
    private static let libraryLock = NSLock()
    private var lock: NSLock { Self.libraryLock }
    /// Whether lookups carry `AddressFacts.asProfile`.
    public let asProfiles: Bool
    /// Every AS's profile, counted over the whole database at the first lookup that needs one.
    private var profiles: [UInt32: ASProfile]?

    /// Opens a location database (libloc format version 1). With `asProfiles`, lookups also carry
    /// their AS's profile; the first such lookup reads every network once (about a second).
    public init(path: String = LocationDatabase.defaultPath, asProfiles: Bool = false) throws(EnrichmentError) {
        self.path = path
        self.asProfiles = asProfiles
        createdAt = try LocationDatabase.checkHeader(path: path)
        guard let file = fopen(path, "r") else {
            throw EnrichmentError(.unreadable, "\(path): cannot be opened: \(String(cString: strerror(errno)))")
        }
        Self.libraryLock.lock()
        defer { Self.libraryLock.unlock() }
        var context: OpaquePointer?
        guard loc_new(&context) == 0, let context else {
            fclose(file)
            throw EnrichmentError(.unreadable, "\(path): libloc could not create a context")
        }
        // libloc prints its own errors on stderr; this type reports them as errors instead.
        // LOC_LOG in the environment still turns libloc's logging on.
        if ProcessInfo.processInfo.environment["LOC_LOG"] == nil { loc_set_log_priority(context, 0) }
        var database: OpaquePointer?
        errno = 0
        guard loc_database_new(context, &database, file) == 0, let database else {
            let cause = errno != 0 ? String(cString: strerror(errno)) : "unknown error"
            loc_unref(context)
            fclose(file)
            throw EnrichmentError(.corruptDatabase, "\(path): libloc cannot read this location database: \(cause)")
        }
        self.file = file
        self.context = context
        self.database = database
    }

    deinit {
        Self.libraryLock.lock()
        defer { Self.libraryLock.unlock() }
        loc_database_unref(database)
        loc_unref(context)
        fclose(file)
    }

    /// The facts the database holds for `address`; empty if no network contains it (private,
    /// reserved and unallocated space).
    /// - Throws: `EnrichmentError` (`.corruptDatabase`) if libloc reports a failed lookup.
    public func facts(for address: IPAddress) throws(EnrichmentError) -> AddressFacts {
        var in6 = in6_addr()
        withUnsafeMutableBytes(of: &in6) { bytes in
            withUnsafeBytes(of: address.high.bigEndian) { bytes.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: 8) }
            withUnsafeBytes(of: address.low.bigEndian) { (bytes.baseAddress! + 8).copyMemory(from: $0.baseAddress!, byteCount: 8) }
        }
        lock.lock()
        defer { lock.unlock() }

        errno = 0
        var found: OpaquePointer?
        let status = loc_database_lookup(database, &in6, &found)
        guard let network = found else {
            // 1 with errno unset is "not found"; a negative status, or errno set by libloc's bounds
            // checks, is a corrupt database.
            let lookupErrno = errno
            if status < 0 || [EFAULT, ERANGE, EINVAL, EBADMSG, ENOMEM].contains(lookupErrno) {
                let cause = lookupErrno != 0 ? String(cString: strerror(lookupErrno)) : "status \(status)"
                throw EnrichmentError(.corruptDatabase, "\(path): looking up \(address) failed: \(cause)")
            }
            return AddressFacts()
        }
        defer { loc_network_unref(network) }

        var facts = AddressFacts()
        var prefix = Int(loc_network_prefix(network))
        if address.isIPv4, loc_network_address_family(network) == AF_INET6 {
            prefix = max(0, prefix - 96)  // an IPv6 block that covers the IPv4-mapped space
        }
        facts.prefixLength = prefix

        if let code = loc_network_get_country_code(network).map({ String(cString: $0) }),
            code.utf8.count == 2, code.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") })
        {
            facts.countryCode = code
            var country: OpaquePointer?
            if loc_database_get_country(database, &country, code) == 0, let country {
                if let continent = loc_country_get_continent_code(country).map({ String(cString: $0) }),
                    !continent.isEmpty
                {
                    facts.continentCode = continent
                }
                loc_country_unref(country)
            }
        }

        let asn = loc_network_get_asn(network)
        if asn != 0 {
            facts.asn = asn
            if asProfiles {
                if profiles == nil { profiles = countProfiles() }
                facts.asProfile = profiles?[asn]
            }
            var system: OpaquePointer?
            if loc_database_get_as(database, &system, asn) == 0, let system {
                if let name = loc_as_get_name(system).map({ String(cString: $0) }), !name.isEmpty {
                    facts.asOrganization = name
                }
                loc_as_unref(system)
            }
        }

        var flags = NetworkFlags()
        if loc_network_has_flag(network, UInt32(LOC_NETWORK_FLAG_ANONYMOUS_PROXY.rawValue)) != 0 { flags.insert(.anonymousProxy) }
        if loc_network_has_flag(network, UInt32(LOC_NETWORK_FLAG_SATELLITE_PROVIDER.rawValue)) != 0 { flags.insert(.satelliteProvider) }
        if loc_network_has_flag(network, UInt32(LOC_NETWORK_FLAG_ANYCAST.rawValue)) != 0 { flags.insert(.anycast) }
        if loc_network_has_flag(network, UInt32(LOC_NETWORK_FLAG_DROP.rawValue)) != 0 { flags.insert(.hostile) }
        facts.flags = flags
        facts.sources = [name]
        return facts
    }

    /// Counts every AS's IPv4 networks, their addresses, countries and anycast flags, in one pass
    /// over the database. Called under `lock`.
    private func countProfiles() -> [UInt32: ASProfile] {
        var enumerator: OpaquePointer?
        guard loc_database_enumerator_new(&enumerator, database, LOC_DB_ENUMERATE_NETWORKS, 0) == 0, let enumerator else { return [:] }
        defer { loc_database_enumerator_unref(enumerator) }
        loc_database_enumerator_set_family(enumerator, AF_INET)
        var profiles: [UInt32: ASProfile] = [:]
        var countries: [UInt32: Set<UInt16>] = [:]
        let anycast = UInt32(LOC_NETWORK_FLAG_ANYCAST.rawValue)
        while true {
            var network: OpaquePointer?
            guard loc_database_enumerator_next_network(enumerator, &network) == 0, let network else { break }
            defer { loc_network_unref(network) }
            let asn = loc_network_get_asn(network)
            guard asn != 0, loc_network_address_family(network) == AF_INET else { continue }
            let hostBits = max(0, min(32, 32 - Int(loc_network_prefix(network))))
            profiles[asn, default: ASProfile(ipv4Addresses: 0, ipv4Networks: 0, countries: 0, anycastNetworks: 0)].ipv4Networks += 1
            profiles[asn]!.ipv4Addresses += 1 << UInt64(hostBits)
            if loc_network_has_flag(network, anycast) != 0 { profiles[asn]!.anycastNetworks += 1 }
            if let code = loc_network_get_country_code(network), code[0] != 0, code[1] != 0 {
                countries[asn, default: []].insert(UInt16(UInt8(bitPattern: code[0])) << 8 | UInt16(UInt8(bitPattern: code[1])))
            }
        }
        for (asn, set) in countries { profiles[asn]?.countries = set.count }
        return profiles
    }

    /// The first `limit` networks (in the database's order) that carry `flag` (one flag), for tests
    /// that must find a flagged network in whatever version of the database is installed.
    func networks(flagged flag: NetworkFlags, limit: Int) -> [AddressBlock] {
        let libloc: loc_network_flags
        switch flag {
        case .anonymousProxy: libloc = LOC_NETWORK_FLAG_ANONYMOUS_PROXY
        case .satelliteProvider: libloc = LOC_NETWORK_FLAG_SATELLITE_PROVIDER
        case .anycast: libloc = LOC_NETWORK_FLAG_ANYCAST
        case .hostile: libloc = LOC_NETWORK_FLAG_DROP
        default: return []
        }
        lock.lock()
        defer { lock.unlock() }
        var enumerator: OpaquePointer?
        guard loc_database_enumerator_new(&enumerator, database, LOC_DB_ENUMERATE_NETWORKS, 0) == 0,
            let enumerator
        else { return [] }
        defer { loc_database_enumerator_unref(enumerator) }
        loc_database_enumerator_set_flag(enumerator, libloc)
        var blocks: [AddressBlock] = []
        while blocks.count < limit {
            var network: OpaquePointer?
            guard loc_database_enumerator_next_network(enumerator, &network) == 0, let network else { break }
            defer { loc_network_unref(network) }
            if let text = loc_network_str(network).map({ String(cString: $0) }), let block = AddressBlock(text) {
                blocks.append(block)
            }
        }
        return blocks
    }

    /// Checks the libloc header (magic `LOCDBXX`, format version 1, every section inside the
    /// file) and returns the creation time it records.
    ///
    /// Layout (libloc's format.h): 7 magic bytes and a version byte, then big-endian fields:
    /// created_at (8 bytes), vendor, description, license (4 each), then offset and length (4
    /// each) of the AS, network data, network tree, country and string pool sections, two
    /// 2-byte signature lengths, two 2048-byte signatures and 32 bytes of padding.
    static func checkHeader(path: String) throws(EnrichmentError) -> Date {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw EnrichmentError(
                .missingFile, "\(path): no such file (an IPFire location database was expected; Debian and Ubuntu install one with the package libloc-database)"
            )
        }
        guard !isDirectory.boolValue else {
            throw EnrichmentError(.unreadable, "\(path): is a directory, not a location database")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw EnrichmentError(.unreadable, "\(path): cannot be opened: \(String(cString: strerror(errno)))")
        }
        defer { try? handle.close() }
        let fixedFields = 8 + 8 + 3 * 4 + 10 * 4
        let headerSize: UInt64 = 8 + 8 + 3 * 4 + 10 * 4 + 2 * 2 + 2 * 2048 + 32
        guard let size = try? handle.seekToEnd(), (try? handle.seek(toOffset: 0)) != nil,
            let head = try? handle.read(upToCount: fixedFields) ?? Data()
        else {  // nil at end of file
            throw EnrichmentError(.unreadable, "\(path): cannot be read")
        }
        let bytes = [UInt8](head)
        guard bytes.count >= 8, bytes[0..<7].elementsEqual("LOCDBXX".utf8) else {
            throw EnrichmentError(.notADatabase, "\(path): not an IPFire location database (no LOCDBXX signature)")
        }
        guard bytes[7] == 1 else {
            throw EnrichmentError(.unsupportedDatabase, "\(path): location database format version \(bytes[7]); this libloc reader knows version 1")
        }
        guard bytes.count == fixedFields, size >= headerSize else {
            throw EnrichmentError(.corruptDatabase, "\(path): truncated location database (\(size) bytes, shorter than its \(headerSize)-byte header)")
        }
        func field(_ offset: Int, _ width: Int) -> UInt64 {
            bytes[offset..<(offset + width)].reduce(0) { $0 << 8 | UInt64($1) }
        }
        let names = ["AS", "network data", "network tree", "country", "string pool"]
        for (i, section) in names.enumerated() {
            let offset = field(28 + 8 * i, 4)
            let length = field(32 + 8 * i, 4)
            guard offset + length <= size else {
                throw EnrichmentError(
                    .corruptDatabase,
                    "\(path): truncated or corrupt location database: its \(section) section ends at byte \(offset + length) but the file has \(size) bytes")
            }
        }
        return Date(timeIntervalSince1970: TimeInterval(field(8, 8)))
    }
}
