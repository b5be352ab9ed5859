import Foundation
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
        guard transport == .tcp || transport == .udp || transport == .sctp else { return nil }
        // Both ends of one family, written as that family's bytes; the lower end first.
        guard source.isIPv4 == destination.isIPv4 else { return nil }
        var a = (bytes(source), sourcePort), b = (bytes(destination), destinationPort)
        if a.0.lexicographicallyPrecedes(b.0) || (a.0 == b.0 && a.1 <= b.1) {
        } else {
            swap(&a, &b)
        }
        var input: [UInt8] = [UInt8(seed >> 8), UInt8(truncatingIfNeeded: seed)]
        input += a.0
        input += b.0
        input += [transport.rawValue, 0, UInt8(a.1 >> 8), UInt8(truncatingIfNeeded: a.1), UInt8(b.1 >> 8), UInt8(truncatingIfNeeded: b.1)]
        return "1:" + Data(sha1(input)).base64EncodedString()
    }

    private static func bytes(_ a: IPAddress) -> [UInt8] {
        if let v4 = a.ipv4 { return (0..<4).map { UInt8(truncatingIfNeeded: v4 >> UInt32(24 - 8 * $0)) } }
        return (0..<16).map { i in UInt8(truncatingIfNeeded: (i < 8 ? a.high : a.low) >> UInt64(56 - 8 * (i % 8))) }
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
