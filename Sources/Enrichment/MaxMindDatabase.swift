import CMaxMindDB
import FlowRecords
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One MaxMind DB (`.mmdb`) file read with libmaxminddb: a City, Country or ASN database from
/// MaxMind (GeoLite2 / GeoIP2) or DB-IP. Which of the three it is comes from the file's metadata
/// (`database_type`), and decides which fields are read:
///
/// - City: country, continent, latitude, longitude, time zone and its UTC offset, GeoIP2 traits flags;
/// - Country: country, continent, traits flags;
/// - ASN (and GeoIP2-ISP): autonomous system number and organisation.
///
/// Every answer carries the matched network's prefix length.
///
/// Errors: opening throws for a missing file, a file that is not an MMDB, an MMDB whose metadata
/// or search tree is corrupt (libmaxminddb checks them at open), and an MMDB of another type
/// (Anonymous-IP, Domain, ...). The data section is only decoded when a record is read, so a
/// corrupt record throws `.corruptDatabase` from `facts(for:)`, naming the field; fields are
/// type-checked too, so a record never yields a half-read answer.
///
/// Thread safety: the file is memory-mapped read-only and `MMDB_s` is written only by `init` and
/// `deinit`; libmaxminddb's lookups and `MMDB_aget_value` only read it, and its manual states the
/// library is thread safe, so concurrent `facts(for:)` calls need no lock.
public final class MaxMindDatabase: AddressIntelligence, @unchecked Sendable {
    /// What a database holds, from its `database_type`.
    public enum Content: String, Sendable {
        case city, country, asn
    }

    public let path: String
    /// The metadata's `database_type` (`GeoLite2-City`, `GeoIP2-Country`, `DBIP-ASN-Lite`).
    public let databaseType: String
    public let content: Content
    /// 4 for an IPv4-only database (it knows nothing of IPv6 addresses), 6 otherwise.
    public let ipVersion: Int
    /// When the database was built (the metadata's `build_epoch`).
    public let buildDate: Date

    public var name: String { databaseType }

    private let handle: UnsafeMutablePointer<MMDB_s>

    /// Opens an MMDB file (memory-mapped).
    public init(path: String) throws(EnrichmentError) {
        self.path = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw EnrichmentError(.missingFile, "\(path): no such file (a MaxMind DB .mmdb file was expected)")
        }
        guard !isDirectory.boolValue else {
            throw EnrichmentError(.unreadable, "\(path): is a directory, not a MaxMind DB .mmdb file")
        }
        let handle = UnsafeMutablePointer<MMDB_s>.allocate(capacity: 1)
        handle.initialize(to: MMDB_s())
        errno = 0
        let status = MMDB_open(path, UInt32(MMDB_MODE_MMAP), handle)
        guard status == MMDB_SUCCESS else {
            let openErrno = errno
            handle.deinitialize(count: 1)
            handle.deallocate()
            throw MaxMindDatabase.openError(path: path, status: status, errno: openErrno)
        }
        let metadata = handle.pointee.metadata
        let type = metadata.database_type.map { String(cString: $0) } ?? ""
        let content: Content
        if type.contains("ASN") || type.contains("ISP") {
            content = .asn
        } else if type.contains("City") || type.contains("Enterprise") {
            content = .city
        } else if type.contains("Country") {
            content = .country
        } else {
            MMDB_close(handle)
            handle.deinitialize(count: 1)
            handle.deallocate()
            throw EnrichmentError(
                .unsupportedDatabase,
                "\(path): a '\(type)' MaxMind DB; Flowhound reads City, Country and ASN databases")
        }
        self.handle = handle
        self.databaseType = type
        self.content = content
        self.ipVersion = Int(metadata.ip_version)
        self.buildDate = Date(timeIntervalSince1970: TimeInterval(metadata.build_epoch))
    }

    deinit {
        MMDB_close(handle)
        handle.deinitialize(count: 1)
        handle.deallocate()
    }

    /// The facts this database holds for `address`; empty if it has no network containing it
    /// (and for every IPv6 address in an IPv4-only database).
    /// - Throws: `EnrichmentError` (`.corruptDatabase`) if the search tree or the record is corrupt.
    public func facts(for address: IPAddress) throws(EnrichmentError) -> AddressFacts {
        var status: Int32 = MMDB_SUCCESS
        let result: MMDB_lookup_result_s
        if let v4 = address.ipv4 {
            var socket = sockaddr_in()
            socket.sin_family = sa_family_t(AF_INET)
            socket.sin_addr = in_addr(s_addr: v4.bigEndian)
            result = withUnsafePointer(to: &socket) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { MMDB_lookup_sockaddr(handle, $0, &status) }
            }
        } else {
            guard ipVersion == 6 else { return AddressFacts() }
            var socket = sockaddr_in6()
            socket.sin6_family = sa_family_t(AF_INET6)
            withUnsafeMutableBytes(of: &socket.sin6_addr) { bytes in
                withUnsafeBytes(of: address.high.bigEndian) { bytes.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: 8) }
                withUnsafeBytes(of: address.low.bigEndian) { (bytes.baseAddress! + 8).copyMemory(from: $0.baseAddress!, byteCount: 8) }
            }
            result = withUnsafePointer(to: &socket) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { MMDB_lookup_sockaddr(handle, $0, &status) }
            }
        }
        if status == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR { return AddressFacts() }
        guard status == MMDB_SUCCESS else {
            throw EnrichmentError(
                .corruptDatabase,
                "\(path): looking up \(address) failed: \(String(cString: MMDB_strerror(status)))")
        }
        guard result.found_entry else { return AddressFacts() }

        var reader = RecordReader(entry: result.entry, database: self, address: address)
        var facts = AddressFacts()
        let netmask = Int(result.netmask)
        facts.prefixLength = address.isIPv4 && ipVersion == 6 ? max(0, netmask - 96) : netmask
        switch content {
        case .city, .country:
            facts.countryCode = try reader.string(MMDBPath.countryCode)
            facts.continentCode = try reader.string(MMDBPath.continentCode)
            if content == .city {
                facts.latitude = try reader.double(MMDBPath.latitude)
                facts.longitude = try reader.double(MMDBPath.longitude)
                if let zone = try reader.string(MMDBPath.timeZone) {
                    facts.timeZone = zone
                    facts.utcOffsetHours = AddressFacts.standardUTCOffsetHours(timeZone: zone)
                }
            }
            var flags = NetworkFlags()
            var anyFlag = false
            for (path, flag) in [
                (MMDBPath.anonymousProxy, NetworkFlags.anonymousProxy),
                (MMDBPath.satelliteProvider, .satelliteProvider),
                (MMDBPath.anycast, .anycast),
            ] {
                if let set = try reader.bool(path) {
                    anyFlag = true
                    if set { flags.insert(flag) }
                }
            }
            if anyFlag { facts.flags = flags }
        case .asn:
            facts.asn = try reader.unsigned(MMDBPath.asn).flatMap { UInt32(exactly: $0) }
            facts.asOrganization = try reader.string(MMDBPath.asOrganization)
        }
        facts.sources = [name]
        return facts
    }

    /// Reads typed values at paths of one record, throwing on corrupt data or unexpected types.
    private struct RecordReader {
        var entry: MMDB_entry_s
        let database: MaxMindDatabase
        let address: IPAddress

        /// The value at `path`, nil if the record has no such key.
        mutating func value(_ path: MMDBPath) throws(EnrichmentError) -> MMDB_entry_data_s? {
            var data = MMDB_entry_data_s()
            let status = MMDB_aget_value(&entry, &data, path.cPath)
            if status == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR { return nil }
            guard status == MMDB_SUCCESS else {
                throw corrupt(path, String(cString: MMDB_strerror(status)))
            }
            return data.has_data ? data : nil
        }

        mutating func string(_ path: MMDBPath) throws(EnrichmentError) -> String? {
            guard let data = try value(path) else { return nil }
            guard data.type == UInt32(MMDB_DATA_TYPE_UTF8_STRING) else { throw wrongType(path, data, "a string") }
            guard data.data_size > 0, let bytes = data.utf8_string else { return nil }
            return bytes.withMemoryRebound(to: UInt8.self, capacity: Int(data.data_size)) {
                String(decoding: UnsafeBufferPointer(start: $0, count: Int(data.data_size)), as: UTF8.self)
            }
        }

        mutating func double(_ path: MMDBPath) throws(EnrichmentError) -> Double? {
            guard let data = try value(path) else { return nil }
            switch Int32(data.type) {
            case MMDB_DATA_TYPE_DOUBLE: return data.double_value
            case MMDB_DATA_TYPE_FLOAT: return Double(data.float_value)
            default: throw wrongType(path, data, "a number")
            }
        }

        mutating func unsigned(_ path: MMDBPath) throws(EnrichmentError) -> UInt64? {
            guard let data = try value(path) else { return nil }
            switch Int32(data.type) {
            case MMDB_DATA_TYPE_UINT16: return UInt64(data.uint16)
            case MMDB_DATA_TYPE_UINT32: return UInt64(data.uint32)
            case MMDB_DATA_TYPE_UINT64: return data.uint64
            case MMDB_DATA_TYPE_INT32 where data.int32 >= 0: return UInt64(data.int32)
            default: throw wrongType(path, data, "an unsigned integer")
            }
        }

        mutating func bool(_ path: MMDBPath) throws(EnrichmentError) -> Bool? {
            guard let data = try value(path) else { return nil }
            guard data.type == UInt32(MMDB_DATA_TYPE_BOOLEAN) else { throw wrongType(path, data, "a boolean") }
            return data.boolean
        }

        func corrupt(_ path: MMDBPath, _ reason: String) -> EnrichmentError {
            EnrichmentError(
                .corruptDatabase,
                "\(database.path): the record for \(address) is corrupt at \(path.text): \(reason)")
        }

        func wrongType(_ path: MMDBPath, _ data: MMDB_entry_data_s, _ expected: String) -> EnrichmentError {
            corrupt(path, "data type \(data.type) where \(expected) was expected")
        }
    }

    /// Why `MMDB_open` failed, as one line.
    private static func openError(path: String, status: Int32, errno openErrno: Int32) -> EnrichmentError {
        let reason = String(cString: MMDB_strerror(status))
        switch status {
        case MMDB_FILE_OPEN_ERROR:
            let cause = openErrno != 0 ? String(cString: strerror(openErrno)) : reason
            return EnrichmentError(.unreadable, "\(path): cannot be opened: \(cause)")
        case MMDB_OUT_OF_MEMORY_ERROR:
            return EnrichmentError(.unreadable, "\(path): cannot be opened: \(reason)")
        default:
            // libmaxminddb reports a file with no MMDB metadata and one with broken metadata alike;
            // the metadata marker (searched for in the last 128 KiB, as the library does) tells
            // them apart.
            guard hasMetadataMarker(path) else {
                return EnrichmentError(
                    .notADatabase,
                    "\(path): not a MaxMind DB file (no MMDB metadata marker; expected a .mmdb City, Country or ASN database)")
            }
            return EnrichmentError(.corruptDatabase, "\(path): corrupt MaxMind DB file: \(reason)")
        }
    }

    /// True if the file's last 128 KiB contain the MMDB metadata marker `\xAB\xCD\xEFMaxMind.com`.
    private static func hasMetadataMarker(_ path: String) -> Bool {
        guard let file = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? file.close() }
        guard let size = try? file.seekToEnd() else { return false }
        let window: UInt64 = 128 * 1024
        guard (try? file.seek(toOffset: size > window ? size - window : 0)) != nil,
            let tail = try? file.readToEnd()
        else { return false }
        let marker = Data([0xAB, 0xCD, 0xEF] + Array("MaxMind.com".utf8))
        return tail.range(of: marker) != nil
    }
}

/// A lookup path for `MMDB_aget_value`: a NULL-terminated C array of C strings, built once and
/// never freed (there are a handful of them).
struct MMDBPath: @unchecked Sendable {
    // @unchecked: the array and its strings are written once, here, and only read afterwards.
    let cPath: UnsafePointer<UnsafePointer<CChar>?>
    let text: String

    init(_ keys: String...) {
        let array = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: keys.count + 1)
        for (i, key) in keys.enumerated() { array[i] = UnsafePointer(strdup(key)) }
        array[keys.count] = nil
        cPath = UnsafePointer(array)
        text = keys.joined(separator: "/")
    }

    static let countryCode = MMDBPath("country", "iso_code")
    static let continentCode = MMDBPath("continent", "code")
    static let latitude = MMDBPath("location", "latitude")
    static let longitude = MMDBPath("location", "longitude")
    static let timeZone = MMDBPath("location", "time_zone")
    static let anonymousProxy = MMDBPath("traits", "is_anonymous_proxy")
    static let satelliteProvider = MMDBPath("traits", "is_satellite_provider")
    static let anycast = MMDBPath("traits", "is_anycast")
    static let asn = MMDBPath("autonomous_system_number")
    static let asOrganization = MMDBPath("autonomous_system_organization")
}
