import Foundation

/// A set of address blocks (`10.0.0.0/8`, `2001:db8::/32`, single addresses) read from allowlists:
/// one block a line, `#` starts a comment, blank lines ignored.
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
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let entry = line.trimmingCharacters(in: .whitespaces)
            if entry.isEmpty { continue }
            guard insert(entry) else {
                throw CIDRSetError(description: "\(name):\(i + 1): '\(entry)' is not an address or address block (like 10.0.0.0/8 or 2001:db8::/32)")
            }
        }
    }

    /// Reads an allowlist file.
    public static func load(path: String) throws -> CIDRSet {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CIDRSetError(description: "\(path): cannot be read")
        }
        return try CIDRSet(text: String(decoding: data, as: UTF8.self), name: path)
    }

    /// Adds `10.1.2.0/24`, `192.0.2.7`, `2001:db8::/32` or `::1`; false if it is none of these.
    @discardableResult
    public mutating func insert(_ text: some StringProtocol) -> Bool {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let address = IPAddress(String(first)) else { return false }
        let maximum = address.isIPv4 ? 32 : 128
        var prefix = maximum
        if parts.count == 2 {
            guard let p = Int(parts[1]), (0...maximum).contains(p) else { return false }
            prefix = p
        }
        let length = address.isIPv4 ? 96 + prefix : prefix
        let key = CIDRSet.masked(address, length)
        if byLength[length, default: []].insert(key).inserted { count += 1 }
        lengths = byLength.keys.sorted()
        return true
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
