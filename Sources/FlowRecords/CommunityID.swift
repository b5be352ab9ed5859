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

    public init(start: Double, source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16, transport: Transport) {
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
            transport: r.transport)
    }

    public var communityID: String? {
        CommunityID.of(source: source, sourcePort: sourcePort, destination: destination, destinationPort: destinationPort, transport: transport)
    }
}
