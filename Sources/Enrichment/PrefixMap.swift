import FlowRecords
import Foundation
import Support

/// Address blocks mapped to values, answering with the longest (most specific) block that
/// contains an address: infrastructure lists such as cloud providers' published ranges, where
/// `34.0.0.0/8 → Google` and `34.1.208.0/20 → Google Cloud europe-west` may both be present.
///
/// IPv4 and IPv6 blocks share one map; an IPv4 block lives in the IPv4-mapped space (see
/// `AddressBlock`), so IPv6 blocks wider than /96 such as `::/0` also contain IPv4 addresses.
/// Inserting a block that is already present replaces its value.
///
/// Lists are read one block a line (`10.0.0.0/8`, `2001:db8::/32`, or a single address), `#`
/// starting a comment, blank lines ignored, every block of a file given the same value; a bad
/// line throws an error naming `file:line`.
///
/// Lookup masks the address once per distinct prefix length, longest first, and looks it up in
/// a hash table per length.
/// - Complexity: `value(for:)` is O(number of distinct prefix lengths) (at most 129), whatever
///   the number of blocks.
public struct PrefixMap<Value> {
    /// Blocks by prefix length over the 128-bit form (IPv4 /8 is 104; index 0...128), keyed by
    /// first address.
    @usableFromInline var tables = [[IPAddress: Value]](repeating: [:], count: 129)
    /// The lengths whose table is not empty, longest first.
    @usableFromInline var lengths: [Int] = []
    /// The number of blocks.
    public private(set) var count = 0

    public init() {}

    /// A map of `entries`; a later entry for the same block replaces an earlier one.
    public init(_ entries: some Sequence<(AddressBlock, Value)>) {
        for (block, value) in entries { self[block] = value }
    }

    /// A map of the blocks listed in a file, all mapped to `value`.
    public init(contentsOfFile path: String, value: Value) throws(EnrichmentError) {
        try insert(contentsOfFile: path, value: value)
    }

    public var isEmpty: Bool { count == 0 }

    /// The value stored for exactly this block (not the longest match: see `value(for:)`);
    /// setting nil removes the block.
    public subscript(block: AddressBlock) -> Value? {
        get { tables[block.mappedPrefixLength][block.address] }
        set {
            let length = block.mappedPrefixLength
            if let newValue {
                if tables[length].updateValue(newValue, forKey: block.address) == nil {
                    count += 1
                    if tables[length].count == 1 { lengths = (0...128).reversed().filter { !tables[$0].isEmpty } }
                }
            } else if tables[length].removeValue(forKey: block.address) != nil {
                count -= 1
                if tables[length].isEmpty { lengths = (0...128).reversed().filter { !tables[$0].isEmpty } }
            }
        }
    }

    /// The longest block containing `address`, with its value; nil if none does.
    @inlinable
    public func longestMatch(for address: IPAddress) -> (block: AddressBlock, value: Value)? {
        for length in lengths {
            let key = address.masked(toLength: length)
            if let value = tables[length][key] {
                let prefix = key.isIPv4 ? length - 96 : length
                return (AddressBlock(address: key, prefixLength: prefix)!, value)
            }
        }
        return nil
    }

    /// The value of the longest block containing `address`; nil if none does.
    @inlinable
    public func value(for address: IPAddress) -> Value? {
        for length in lengths {
            if let value = tables[length][address.masked(toLength: length)] { return value }
        }
        return nil
    }

    /// True if some block contains `address`.
    @inlinable
    public func contains(_ address: IPAddress) -> Bool {
        value(for: address) != nil
    }

    /// Every block with its value, longest prefixes first (in no particular order within a length).
    public var entries: [(block: AddressBlock, value: Value)] {
        lengths.flatMap { length in
            tables[length].map { key, value in
                (AddressBlock(address: key, prefixLength: key.isIPv4 ? length - 96 : length)!, value)
            }
        }
    }

    /// Adds every block listed in `text` with `value`; `name` (a file name) is used in errors
    /// as `name:line: reason`. Nothing is added if a line is bad.
    public mutating func insert(text: String, name: String, value: Value) throws(EnrichmentError) {
        var blocks: [AddressBlock] = []
        for (line, entry) in AddressBlock.listEntries(in: text) {
            guard let block = AddressBlock(entry) else {
                throw EnrichmentError(
                    .invalidList,
                    "\(name):\(line): '\(entry)' is not an address or address block (like 10.0.0.0/8 or 2001:db8::/32)")
            }
            blocks.append(block)
        }
        for block in blocks { self[block] = value }
    }

    /// Adds every block listed in the file at `path` with `value`.
    public mutating func insert(contentsOfFile path: String, value: Value) throws(EnrichmentError) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw EnrichmentError(.missingFile, "\(path): no such file (an address block list was expected)")
        }
        let data: [UInt8]
        do { data = try BoundedFile.read(path) } catch { throw EnrichmentError(.unreadable, "\(path): \(error)") }
        try insert(text: String(decoding: data, as: UTF8.self), name: path, value: value)
    }
}

extension PrefixMap: Sendable where Value: Sendable {}
