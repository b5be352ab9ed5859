import Foundation
import Support

/// A set of address blocks (`10.0.0.0/8`, `2001:db8::/32`, single addresses) read from allowlists:
/// one block a line, `#` starts a comment, blank lines ignored (parsed by `AddressBlock`); `load`
/// also takes any `AddressList` file, such as a cloud provider's published JSON ranges.
///
/// Lookup masks the address once per distinct prefix length in the set and looks the result up in a
/// hash set, so it costs O(number of distinct prefix lengths), whatever the number of blocks.
public struct CIDRSet: Sendable {
    private struct Key: Hashable, Sendable {
        var high: UInt64
        var low: UInt64
    }

    /// Blocks by prefix length (over the 128-bit form; IPv4 blocks are IPv4-mapped, so /8 is /104).
    private var byLength: [Int: Set<Key>] = [:]
    private var lengths: [Int] = []
    public private(set) var count = 0

    public init() {}

    /// Parses `text`; `name` is used in error messages (`name:line: reason`).
    public init(text: String, name: String) throws(CIDRSetError) {
        for (line, entry) in AddressBlock.listEntries(in: text) {
            guard insert(entry) else {
                throw CIDRSetError(description: "\(name):\(line): '\(entry.excerpt())' is not an address or address block (like 10.0.0.0/8 or 2001:db8::/32)")
            }
        }
    }

    /// Reads an allowlist file in any form `AddressList` reads.
    public static func load(path: String) throws -> CIDRSet { try load(paths: [path]) }

    /// Every block of every file, in any form `AddressList` reads.
    public static func load(paths: [String]) throws -> CIDRSet {
        var set = CIDRSet()
        for path in paths {
            for entry in try AddressList.read(path: path).entries { set.insert(entry.block) }
        }
        return set
    }

    /// Adds `10.1.2.0/24`, `192.0.2.7`, `2001:db8::/32` or `::1`; false if it is none of these.
    @discardableResult
    public mutating func insert(_ text: some StringProtocol) -> Bool {
        guard let block = AddressBlock(text) else { return false }
        insert(block)
        return true
    }

    /// Adds a block.
    public mutating func insert(_ block: AddressBlock) {
        let length = block.mappedPrefixLength
        let key = Key(high: block.address.high, low: block.address.low)
        if byLength[length, default: []].insert(key).inserted { count += 1 }
        lengths = byLength.keys.sorted()
    }

    public func contains(_ address: IPAddress) -> Bool {
        for length in lengths where byLength[length]!.contains(CIDRSet.masked(address, length)) { return true }
        return false
    }

    public var isEmpty: Bool { count == 0 }

    private static func masked(_ a: IPAddress, _ length: Int) -> Key {
        let highMask: UInt64 = length >= 64 ? ~0 : (length == 0 ? 0 : ~0 << (64 - length))
        let lowMask: UInt64 = length <= 64 ? 0 : (length >= 128 ? ~0 : ~0 << (128 - length))
        return Key(high: a.high & highMask, low: a.low & lowMask)
    }
}

public struct CIDRSetError: Error, Sendable, CustomStringConvertible {
    public var description: String
}
