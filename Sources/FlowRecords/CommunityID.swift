import Support

/// The Community ID (version 1) of a flow: the hash that Zeek, Suricata, Elastic and others write
/// for the same connection, so that an alert can be joined with the records behind it in any of
/// them (`network.community_id` in ECS). Defined for TCP, UDP and SCTP, whose ports are ports.
/// Specification: https://github.com/corelight/community-id-spec
public enum CommunityID {
    /// `1:` and the base64 of SHA-1 over the seed, both ends in a canonical order, the protocol and
    /// the ports; nil for a transport without ports.
    public static func of(
        source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16, transport: Transport, seed: UInt16 = 0
    ) -> String? {
        guard applies(source: source, destination: destination, transport: transport) else { return nil }
        var text: [UInt8] = []
        text.reserveCapacity(length)
        append(source: source, sourcePort: sourcePort, destination: destination, destinationPort: destinationPort, transport: transport, seed: seed, to: &text)
        return String(decoding: text, as: UTF8.self)
    }

    /// Whether a flow has a Community ID: a transport with ports (TCP, UDP, SCTP), and both ends of one
    /// address family.
    public static func applies(source: IPAddress, destination: IPAddress, transport: Transport) -> Bool {
        (transport == .tcp || transport == .udp || transport == .sctp) && source.isIPv4 == destination.isIPv4
    }

    /// The length of every Community ID: `1:` and 28 characters of base64.
    public static let length = 30

    /// Appends the flow's Community ID (`of`'s text) to `out` without allocating; the flow must have
    /// one (`applies`). Its characters (`1:`, base64) need no escape in JSON.
    public static func append(
        source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16, transport: Transport, seed: UInt16 = 0,
        to out: inout [UInt8]
    ) {
        precondition(applies(source: source, destination: destination, transport: transport), "a flow with a Community ID")
        // seed (2), the lower end's address, the higher end's, protocol, 0, the lower end's port, the higher's.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 40) { input in
            let size = source.isIPv4 ? 4 : 16
            input[0] = UInt8(seed >> 8)
            input[1] = UInt8(truncatingIfNeeded: seed)
            write(source, size, into: input.baseAddress! + 2)
            write(destination, size, into: input.baseAddress! + 2 + size)
            var (lowPort, highPort) = (sourcePort, destinationPort)
            // The ends ordered by address bytes, then port.
            let a = UnsafeBufferPointer(start: input.baseAddress! + 2, count: size)
            let b = UnsafeBufferPointer(start: input.baseAddress! + 2 + size, count: size)
            if !(a.lexicographicallyPrecedes(b) || (a.elementsEqual(b) && sourcePort <= destinationPort)) {
                for i in 0..<size { input.swapAt(2 + i, 2 + size + i) }
                swap(&lowPort, &highPort)
            }
            let at = 2 + 2 * size
            input[at] = transport.rawValue
            input[at + 1] = 0
            input[at + 2] = UInt8(lowPort >> 8)
            input[at + 3] = UInt8(truncatingIfNeeded: lowPort)
            input[at + 4] = UInt8(highPort >> 8)
            input[at + 5] = UInt8(truncatingIfNeeded: highPort)
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digest in
                sha1(UnsafeRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(input)[0..<(at + 6)]), into: UnsafeMutableRawBufferPointer(digest))
                out.append(UInt8(ascii: "1"))
                out.append(UInt8(ascii: ":"))
                appendBase64(UnsafeBufferPointer(digest), to: &out)
            }
        }
    }

    /// An address's bytes in network order: its four IPv4 bytes, or its sixteen.
    private static func write(_ a: IPAddress, _ size: Int, into p: UnsafeMutablePointer<UInt8>) {
        if size == 4 {
            UnsafeMutableRawPointer(p).storeBytes(of: UInt32(truncatingIfNeeded: a.low).bigEndian, as: UInt32.self)
        } else {
            UnsafeMutableRawPointer(p).storeBytes(of: a.high.bigEndian, as: UInt64.self)
            UnsafeMutableRawPointer(p + 8).storeBytes(of: a.low.bigEndian, as: UInt64.self)
        }
    }

    private static let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Standard base64 (RFC 4648, with `=` padding), as Foundation's `base64EncodedString()` writes it.
    static func appendBase64(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        base64Alphabet.withUnsafeBufferPointer { alphabet in
            var i = 0
            while i + 3 <= bytes.count {
                let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
                out.append(alphabet[Int(v >> 18)])
                out.append(alphabet[Int(v >> 12 & 63)])
                out.append(alphabet[Int(v >> 6 & 63)])
                out.append(alphabet[Int(v & 63)])
                i += 3
            }
            let rest = bytes.count - i
            guard rest > 0 else { return }
            let v = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
            out.append(alphabet[Int(v >> 18)])
            out.append(alphabet[Int(v >> 12 & 63)])
            out.append(rest == 2 ? alphabet[Int(v >> 6 & 63)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
    }
}

/// A flow as its record can be found again in the log or in another tool: when it started, its ends
/// and its transport. Alerts name the first and last flows behind them this way.
public struct FlowKey: Sendable, Equatable {
    public var start: Double
    public var source: IPAddress
    public var sourcePort: UInt16
    public var destination: IPAddress
    public var destinationPort: UInt16
    public var transport: Transport
    /// The record's identifier in its log (Zeek's `uid`), when it has one.
    public var uid: RecordUID

    public init(
        start: Double, source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16, transport: Transport,
        uid: RecordUID = RecordUID()
    ) {
        self.uid = uid
        self.start = start
        self.source = source
        self.sourcePort = sourcePort
        self.destination = destination
        self.destinationPort = destinationPort
        self.transport = transport
    }

    @inlinable public init(_ r: FlowRecord) {
        self.init(
            start: r.start, source: r.source, sourcePort: r.sourcePort, destination: r.destination, destinationPort: r.destinationPort,
            transport: r.transport, uid: r.uid)
    }

    public var communityID: String? {
        CommunityID.of(source: source, sourcePort: sourcePort, destination: destination, destinationPort: destinationPort, transport: transport)
    }

    /// Whether the flow has a Community ID (`CommunityID.applies`).
    public var hasCommunityID: Bool { CommunityID.applies(source: source, destination: destination, transport: transport) }

    /// Appends `communityID`'s text to `out` without building a string; the flow must have one.
    public func appendCommunityID(to out: inout [UInt8]) {
        CommunityID.append(
            source: source, sourcePort: sourcePort, destination: destination, destinationPort: destinationPort, transport: transport, to: &out)
    }
}

/// A record's own identifier in its log, as Zeek's `uid` (`C8tXa06y6QqZs389h3`): up to 21 letters and
/// digits, held in 16 bytes without allocating (six bits a character), so that every record can carry
/// it. Empty when the log has none, or when it is not letters and digits.
public struct RecordUID: Hashable, Sendable, CustomStringConvertible {
    /// The characters as one 128-bit number, six bits each (1–62; no character is 0).
    public private(set) var high: UInt64 = 0
    public private(set) var low: UInt64 = 0

    public static let maximumLength = 21

    public init() {}

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Each byte's six-bit code: 1–62 for the digits and letters, 0 for anything else.
    static let codes: [UInt8] = (0..<256).map { b in
        switch b {
        case 48...57: UInt8(b - 48 + 1)
        case 65...90: UInt8(b - 65 + 11)
        case 97...122: UInt8(b - 97 + 37)
        default: 0
        }
    }

    /// Nil for text longer than 21 characters or with anything but ASCII letters and digits.
    public init?(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count <= Self.maximumLength else { return nil }
        var high: UInt64 = 0, low: UInt64 = 0
        var invalid = false
        Self.codes.withUnsafeBufferPointer { codes in
            for b in bytes {
                let code = codes[Int(b)]
                invalid = invalid || code == 0
                high = high << 6 | low >> 58
                low = low << 6 | UInt64(code)
            }
        }
        if invalid { return nil }
        self.high = high
        self.low = low
    }

    public init?(_ text: String) {
        var text = text
        guard let uid = text.withUTF8({ RecordUID($0) }) else { return nil }
        self = uid
    }

    public var isEmpty: Bool { high == 0 && low == 0 }

    /// Whether the number is one that `init?(_:)` makes: six-bit groups of 1–62, without gaps.
    public var isValid: Bool {
        var (h, l) = (high, low)
        var count = 0
        while h != 0 || l != 0 {
            let code = l & 63
            guard code >= 1, code <= 62 else { return false }
            l = l >> 6 | h << 58
            h >>= 6
            count += 1
        }
        return count <= Self.maximumLength
    }

    public var description: String {
        var codes: [UInt8] = []
        var (h, l) = (high, low)
        while h != 0 || l != 0 {
            codes.append(UInt8(l & 63))
            l = l >> 6 | h << 58
            h >>= 6
        }
        return String(
            decoding: codes.reversed().map { c -> UInt8 in
                switch c {
                case 1...10: UInt8(ascii: "0") + c - 1
                case 11...36: UInt8(ascii: "A") + c - 11
                default: UInt8(ascii: "a") + c - 37
                }
            }, as: UTF8.self)
    }
}
