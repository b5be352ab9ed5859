import FlowRecords

/// A source of facts about addresses: an MMDB file, the libloc database, several of them
/// combined, or a cache in front of one.
///
/// Opening a source checks the file (missing, not a database, truncated) and throws then. A
/// lookup can still throw, because the MMDB format is only decoded record by record: a record
/// that turns out to be corrupt when it is read throws `EnrichmentError` (`.corruptDatabase`)
/// rather than yield partial facts. An address the source knows nothing of is not an error: it
/// gives empty facts (`isEmpty`).
///
/// Every conforming type is `Sendable`, and `facts(for:)` may be called from several threads at
/// once (each type says how it makes that safe).
public protocol AddressIntelligence: Sendable {
    /// A short name for the source, recorded in `AddressFacts.sources` (`GeoLite2-City`, `libloc`).
    var name: String { get }

    /// What the source knows of `address`.
    func facts(for address: IPAddress) throws -> AddressFacts
}

/// A failure to open or read an address database or list: one line naming the file.
public struct EnrichmentError: Error, Sendable, Equatable, CustomStringConvertible, SettingHinted {
    public enum Kind: Sendable, Equatable {
        /// There is no file at the path.
        case missingFile
        /// The file exists but cannot be opened or read (permissions, a directory).
        case unreadable
        /// The file is not a database of the expected format at all.
        case notADatabase
        /// A valid database of a kind this module does not read (an MMDB that is neither City,
        /// Country nor ASN; a libloc database of a newer format version).
        case unsupportedDatabase
        /// The file has the right format but is truncated or corrupt, found at open or when a
        /// record is read.
        case corruptDatabase
        /// A line of an address-block list is not an address block.
        case invalidList
    }

    public var kind: Kind
    /// `path: what is wrong`, or `path:line: what is wrong` for a list.
    public var description: String
    /// The setting that would resolve the error, when one would.
    public var setting: Setting?

    public init(_ kind: Kind, _ description: String, setting: Setting? = nil) {
        self.kind = kind
        self.description = description
        self.setting = setting
    }
}
