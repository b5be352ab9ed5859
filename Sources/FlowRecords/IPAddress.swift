import Support

/// An IPv4 or IPv6 address as a 16-byte value.
///
/// IPv4 addresses are stored in their IPv4-mapped IPv6 form (`::ffff:a.b.c.d`), as Zeek does, so
/// one type covers both families, hashes and compares without branching, and never allocates.
/// `::ffff:192.0.2.1` written in a log is therefore the same address as `192.0.2.1`.
public struct IPAddress: Hashable, Comparable, Sendable {
    /// The high 64 bits of the IPv6 form, in host order.
    public let high: UInt64
    /// The low 64 bits of the IPv6 form, in host order.
    public let low: UInt64

    @usableFromInline static let mappedPrefix: UInt64 = 0x0000_FFFF_0000_0000

    @inlinable public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// An IPv4 address from its 32-bit value in host order (`0xC0000201` is 192.0.2.1).
    @inlinable public init(ipv4 value: UInt32) {
        self.high = 0
        self.low = IPAddress.mappedPrefix | UInt64(value)
    }

    /// The hash that `Set` and `Dictionary` use for an address key (`Hashable`'s customisation point).
    /// An IPv4 address is all in `low` (`high` is 0), so it is hashed as that one word: the standard
    /// library's single-word SipHash, keyed like every other hash, without a `Hasher`'s set-up for
    /// two words. Address tables are looked up several times for every flow, and hashing is much of their
    /// cost. IPv6 addresses are hashed in full, as `hash(into:)` does. Equal addresses hash alike.
    @inlinable public func _rawHashValue(seed: Int) -> Int {
        if high == 0 { return low._rawHashValue(seed: seed) }
        var hasher = Hasher()
        hasher.combine(seed)
        hasher.combine(high)
        hasher.combine(low)
        return hasher.finalize()
    }

    /// True for IPv4 addresses (including those written in IPv4-mapped IPv6 form).
    @inlinable public var isIPv4: Bool {
        high == 0 && (low & 0xFFFF_FFFF_0000_0000) == IPAddress.mappedPrefix
    }

    /// True for a multicast address (224.0.0.0/4, ff00::/8) or the IPv4 limited broadcast
    /// (255.255.255.255): what discovery and announcements go to, never a host that answers a connection.
    @inlinable public var isMulticastOrBroadcast: Bool {
        if let v4 = ipv4 { return v4 >> 28 == 0xE || v4 == 0xFFFF_FFFF }
        return high >> 56 == 0xFF
    }

    /// The 32-bit IPv4 value, or nil for an IPv6 address.
    @inlinable public var ipv4: UInt32? {
        isIPv4 ? UInt32(truncatingIfNeeded: low) : nil
    }

    @inlinable public static func < (a: IPAddress, b: IPAddress) -> Bool {
        a.high != b.high ? a.high < b.high : a.low < b.low
    }

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (with `::`, an embedded IPv4 tail and an
    /// optional `%zone`, which is dropped). Returns nil for anything else.
    public init?(_ text: String) {
        var text = text
        guard let parsed = text.withUTF8({ IPAddress(bytes: $0) }) else { return nil }
        self = parsed
    }

    /// Parses an address from UTF-8 bytes without allocating.
    /// - Complexity: O(n) in the length of `bytes`.
    @inlinable
    public init?(bytes: UnsafeBufferPointer<UInt8>) {
        // Dotted-quad text is the common case and never contains a colon, so it is tried first;
        // anything else is IPv6 if it has a colon within its first five bytes (IPv4 never does).
        if let v4 = IPAddress.parseIPv4(bytes) {
            self.init(ipv4: v4)
            return
        }
        guard !bytes.isEmpty else { return nil }
        var hasColon = false
        for i in 0..<min(bytes.count, 5) where bytes[i] == UInt8(ascii: ":") {
            hasColon = true
            break
        }
        guard hasColon, let v6 = IPAddress.parseIPv6(bytes) else { return nil }
        self = v6
    }

    /// Dotted-quad IPv4: exactly four decimal octets of one to three digits each (leading zeros
    /// allowed), at most 255, separated by single dots, and nothing else.
    ///
    /// Written as four unrolled octet reads at a moving offset rather than a byte loop with a
    /// state machine: about a third of the instructions.
    @inlinable @inline(__always)
    static func parseIPv4(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt32? {
        guard let base = bytes.baseAddress else { return nil }
        let n = bytes.count
        var i = 0
        /// One to three digits at `i`, at most 255; nil otherwise.
        @inline(__always) func octet() -> UInt32? {
            guard i < n else { return nil }
            var value = UInt32(base[i] &- UInt8(ascii: "0"))
            guard value < 10 else { return nil }
            i &+= 1
            for _ in 0..<2 {
                guard i < n else { break }
                let d = UInt32(base[i] &- UInt8(ascii: "0"))
                guard d < 10 else { break }
                value = value &* 10 &+ d
                i &+= 1
            }
            return value <= 255 ? value : nil
        }
        @inline(__always) func dot() -> Bool {
            guard i < n, base[i] == UInt8(ascii: ".") else { return false }
            i &+= 1
            return true
        }
        guard let a = octet(), dot(), let b = octet(), dot(), let c = octet(), dot(), let d = octet(), i == n else {
            return nil
        }
        return a << 24 | b << 16 | c << 8 | d
    }

    @inlinable
    static func hexValue(_ byte: UInt8) -> UInt16? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt16(byte &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt16(byte &- UInt8(ascii: "a") &+ 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt16(byte &- UInt8(ascii: "A") &+ 10)
        default: return nil
        }
    }

    @usableFromInline
    static func parseIPv6(_ input: UnsafeBufferPointer<UInt8>) -> IPAddress? {
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 8) { groups in
            groups.initialize(repeating: 0)
            return parseIPv6(input, into: groups)
        }
    }

    /// Parses into eight 16-bit groups (stack storage supplied by the caller).
    static func parseIPv6(_ input: UnsafeBufferPointer<UInt8>, into groups: UnsafeMutableBufferPointer<UInt16>) -> IPAddress? {
        var end = input.count
        // Drop a zone index such as %eth0.
        for i in 0..<input.count where input[i] == UInt8(ascii: "%") {
            end = i
            break
        }
        guard end >= 2 else { return nil }
        var count = 0
        var gap = -1  // index in groups where "::" stands
        var i = 0
        if input[0] == UInt8(ascii: ":") {
            guard input[1] == UInt8(ascii: ":") else { return nil }
            gap = 0
            i = 2
        }
        while i < end {
            var j = i
            var isIPv4Tail = false
            while j < end, input[j] != UInt8(ascii: ":") {
                if input[j] == UInt8(ascii: ".") { isIPv4Tail = true }
                j += 1
            }
            if isIPv4Tail {
                guard j == end, count <= 6,
                    let v4 = parseIPv4(UnsafeBufferPointer(rebasing: input[i..<j]))
                else { return nil }
                groups[count] = UInt16(v4 >> 16)
                groups[count + 1] = UInt16(v4 & 0xFFFF)
                count += 2
                i = j
                break
            }
            guard j > i, j - i <= 4, count < 8 else { return nil }
            var value: UInt16 = 0
            for k in i..<j {
                guard let h = hexValue(input[k]) else { return nil }
                value = value << 4 | h
            }
            groups[count] = value
            count += 1
            i = j
            if i < end {
                i += 1  // past the colon
                if i < end, input[i] == UInt8(ascii: ":") {
                    guard gap < 0 else { return nil }
                    gap = count
                    i += 1
                } else if i == end {
                    return nil  // trailing single colon
                }
            }
        }
        if gap >= 0 {
            guard count < 8 else { return nil }
            let tail = count - gap
            let shift = 8 - count
            for k in stride(from: tail - 1, through: 0, by: -1) {
                groups[gap + shift + k] = groups[gap + k]
            }
            for k in gap..<(gap + shift) { groups[k] = 0 }
        } else {
            guard count == 8 else { return nil }
        }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for k in 0..<4 { high = high << 16 | UInt64(groups[k]) }
        for k in 4..<8 { low = low << 16 | UInt64(groups[k]) }
        return IPAddress(high: high, low: low)
    }
}

extension IPAddress: CustomStringConvertible, LosslessStringConvertible {
    /// Dotted quad for IPv4; RFC 5952 canonical text for IPv6 (lower case, longest zero run as `::`).
    public var description: String {
        if let v4 = ipv4 {
            // At most 15 characters: a small string, written in place.
            return String(unsafeUninitializedCapacity: 15) { IPAddress.dottedQuad(v4, into: $0) }
        }
        var groups = [UInt16](repeating: 0, count: 8)
        for k in 0..<4 {
            groups[k] = UInt16(truncatingIfNeeded: high >> (48 - 16 * UInt64(k)))
            groups[k + 4] = UInt16(truncatingIfNeeded: low >> (48 - 16 * UInt64(k)))
        }
        // Longest run of two or more zero groups; the first one wins a tie (RFC 5952 4.2.3).
        var bestStart = -1, bestLength = 1
        var k = 0
        while k < 8 {
            if groups[k] == 0 {
                var e = k
                while e < 8, groups[e] == 0 { e += 1 }
                if e - k > bestLength { bestStart = k; bestLength = e - k }
                k = e
            } else {
                k += 1
            }
        }
        var text = ""
        k = 0
        while k < 8 {
            if k == bestStart {
                text += "::"
                k += bestLength
                continue
            }
            if !text.isEmpty, !text.hasSuffix(":") { text += ":" }
            text += String(groups[k], radix: 16)
            k += 1
        }
        return text
    }
}

extension IPAddress {
    /// Appends `description`'s UTF-8 to `out`; an IPv4 address without building a string. The text
    /// (digits, dots, hexadecimal and colons) needs no escape in JSON.
    public func appendText(to out: inout [UInt8]) {
        guard let v4 = ipv4 else {
            out.append(contentsOf: description.utf8)
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 15) { text in
            out.append(contentsOf: UnsafeBufferPointer(rebasing: text[0..<IPAddress.dottedQuad(v4, into: text)]))
        }
    }

    /// Writes `v4` as a dotted quad to the start of `text` (15 bytes at least); returns its length.
    static func dottedQuad(_ v4: UInt32, into text: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var at = 0
        for shift in stride(from: 24, through: 0, by: -8) {
            let octet = UInt8(truncatingIfNeeded: v4 >> UInt32(shift))
            if octet >= 100 {
                text[at] = UInt8(ascii: "0") + octet / 100
                at += 1
            }
            if octet >= 10 {
                text[at] = UInt8(ascii: "0") + octet / 10 % 10
                at += 1
            }
            text[at] = UInt8(ascii: "0") + octet % 10
            at += 1
            if shift > 0 {
                text[at] = UInt8(ascii: ".")
                at += 1
            }
        }
        return at
    }
}

extension JSONLineWriter {
    /// An address as a JSON string (its `description`), written without building the string.
    public mutating func address(_ a: IPAddress) {
        plainString { a.appendText(to: &$0) }
    }

    /// An array of addresses.
    public mutating func addresses(_ items: some Sequence<IPAddress>) {
        beginArray()
        for a in items { address(a) }
        endArray()
    }
}

extension IPAddress: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let address = IPAddress(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(text.excerpt())' is not an IPv4 or IPv6 address")
        }
        self = address
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
