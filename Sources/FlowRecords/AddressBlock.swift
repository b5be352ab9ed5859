import Foundation

/// One address block: `10.0.0.0/8`, `2001:db8::/32`, or a single address (`192.0.2.7` is
/// `192.0.2.7/32`). The parser shared by allowlists (`CIDRSet`) and the prefix maps of the
/// Enrichment module.
///
/// IPv4 blocks take prefix lengths 0–32 and IPv6 blocks 0–128; an IPv4 block is stored in the
/// IPv4-mapped form (see `IPAddress`), so `10.0.0.0/8` covers `::ffff:10.0.0.0/104`. Bits beyond
/// the prefix are cleared: `10.1.2.3/8` is read as `10.0.0.0/8`.
public struct AddressBlock: Hashable, Sendable {
    /// The first address of the block (bits beyond the prefix cleared).
    public let address: IPAddress
    /// The prefix length within the block's family: 0–32 for IPv4, 0–128 for IPv6.
    public let prefixLength: Int

    /// A block from an address and a prefix length in the address's family (0–32 for IPv4,
    /// 0–128 for IPv6); nil if the length is out of range.
    public init?(address: IPAddress, prefixLength: Int) {
        let maximum = address.isIPv4 ? 32 : 128
        guard (0...maximum).contains(prefixLength) else { return nil }
        self.prefixLength = prefixLength
        self.address = address.masked(toLength: address.isIPv4 ? 96 + prefixLength : prefixLength)
    }

    /// Parses `10.1.2.0/24`, `192.0.2.7`, `2001:db8::/32` or `::1`; nil for anything else
    /// (surrounding spaces included: trim first).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, let address = IPAddress(String(first)) else { return nil }
        var prefix = address.isIPv4 ? 32 : 128
        if parts.count == 2 {
            guard let p = Int(parts[1]), !parts[1].hasPrefix("+") else { return nil }
            prefix = p
        }
        self.init(address: address, prefixLength: prefix)
    }

    /// The prefix length over the 128-bit form: the IPv4 lengths 0–32 become 96–128.
    @inlinable public var mappedPrefixLength: Int {
        address.isIPv4 ? 96 + prefixLength : prefixLength
    }

    /// Bits after the prefix: 0 for a single address, 8 for an IPv4 /24.
    @inlinable public var hostBits: Int { 128 - mappedPrefixLength }

    /// True if `candidate` lies in the block.
    public func contains(_ candidate: IPAddress) -> Bool {
        candidate.masked(toLength: mappedPrefixLength) == address
    }

    /// The non-empty entries of a list file: one block a line, `#` starts a comment, spaces,
    /// tabs and a trailing carriage return around an entry ignored. Each entry comes with its
    /// 1-based line number, for messages like `name:line: reason`.
    public static func listEntries(in text: String) -> [(line: Int, entry: Substring)] {
        var entries: [(line: Int, entry: Substring)] = []
        // "\r\n" is one Character in Swift, so split on every kind of line end, not on "\n".
        for (i, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let entry = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if entry.isEmpty { continue }
            entries.append((i + 1, Substring(entry)))
        }
        return entries
    }
}

extension AddressBlock: CustomStringConvertible, LosslessStringConvertible {
    /// `10.0.0.0/8`, `2001:db8::/32`: always with the prefix length.
    public var description: String { "\(address)/\(prefixLength)" }
}

extension IPAddress {
    /// The address with every bit after the first `length` bits of the 128-bit form cleared
    /// (`length` 0–128; an IPv4 /24 is length 120).
    @inlinable
    public func masked(toLength length: Int) -> IPAddress {
        let highMask: UInt64 = length >= 64 ? ~0 : (length <= 0 ? 0 : ~0 << UInt64(64 - length))
        let lowMask: UInt64 = length <= 64 ? 0 : (length >= 128 ? ~0 : ~0 << UInt64(128 - length))
        return IPAddress(high: high & highMask, low: low & lowMask)
    }
}
