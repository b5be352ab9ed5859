import FlowRecords

/// Ground truth for one source.
public enum TrafficLabel: String, Sendable, Codable {
    case scan, benign
}

/// What every behaviour can see: the simulated network, the time span, and outside servers.
public struct SynthContext: Sendable {
    public var network: SimulatedNetwork
    public var start: Double
    public var duration: Double
    /// Outside web and service addresses (documentation ranges by default).
    public var externalServers: [IPAddress]
    public var end: Double { start + duration }
}

/// A parameterised kind of traffic one or more sources produce.
public protocol Behaviour: Sendable {
    var label: TrafficLabel { get }
    /// A short name used in ground truth and reports ("vertical", "scraper", ...).
    var kind: String { get }
    /// How many source addresses it needs (a distributed scan needs several).
    var sourceCount: Int { get }
    /// The flows of these sources over the context's time span.
    func flows(sources: [IPAddress], context: SynthContext, rng: inout SplitMix64) -> [FlowRecord]
}

extension Behaviour {
    public var sourceCount: Int { 1 }
}

/// How a scanner's probe looks on the wire.
public enum ProbeStyle: String, Sendable, CaseIterable {
    /// Half-open SYN (nmap -sS): open ports answer SYN-ACK and get a RST back.
    case syn
    /// Full connect (nmap -sT): open ports complete the handshake, then the scanner resets.
    case connect
    /// FIN, NULL, XMAS probes (nmap -sF, -sN, -sX): closed ports answer RST, open ones stay silent.
    case fin, null, xmas
    /// UDP probes (nmap -sU): services answer, closed ports draw ICMP port unreachable.
    case udp

    var probeFlags: TCPFlags {
        switch self {
        case .syn, .connect: [.syn]
        case .fin: [.fin]
        case .null: []
        case .xmas: [.fin, .psh, .urg]
        case .udp: []
        }
    }
}

/// Building blocks shared by the behaviours.
enum Flows {
    /// One probe and what the simulated network did with it.
    static func probe(
        from source: IPAddress, port sourcePort: UInt16, to target: IPAddress, _ port: UInt16, at t: Double,
        style: ProbeStyle, network: SimulatedNetwork, rng: inout SplitMix64
    ) -> FlowRecord {
        let transport: Transport = style == .udp ? .udp : .tcp
        let answer = network.answer(target, port: port, transport: transport, rng: &rng)
        let rtt = rng.uniform(0.0002...0.004)
        var r = FlowRecord(
            start: t, end: t, source: source, destination: target, sourcePort: sourcePort,
            destinationPort: port, transport: transport, sourcePackets: 1, sourceBytes: 44)
        switch (style, answer) {
        case (.udp, .open):
            r.sourceBytes = 28 + UInt64(rng.int(0...40))
            r.destinationPackets = 1
            r.destinationBytes = 28 + UInt64(rng.int(20...200))
            r.end = t + rtt
            r.outcome = .established
        case (.udp, .closed):
            r.sourceBytes = 28
            r.outcome = .rejected
        case (.udp, .silent):
            r.sourceBytes = 28
            r.outcome = .unanswered
        case (.syn, .open):
            r.tcpFlags = [.syn, .ack, .rst]
            r.sourcePackets = 2; r.sourceBytes = 84
            r.destinationPackets = 1; r.destinationBytes = 44
            r.end = t + rtt
            r.outcome = .established
        case (.connect, .open):
            r.tcpFlags = [.syn, .ack, .rst]
            r.sourcePackets = 3; r.sourceBytes = 124
            r.destinationPackets = 1; r.destinationBytes = 44
            r.end = t + rtt
            r.outcome = .established
        case (_, .closed):
            r.tcpFlags = style.probeFlags.union([.rst, .ack])
            r.sourceBytes = style == .syn || style == .connect ? 44 : 40
            r.destinationPackets = 1; r.destinationBytes = 40
            r.end = t + rtt
            r.outcome = .rejected
        case (_, .open), (_, .silent):
            // Stealth probes of open ports, and anything sent to a silent address, get nothing back.
            r.tcpFlags = style.probeFlags
            r.sourceBytes = style == .syn || style == .connect ? 44 : 40
            r.outcome = .unanswered
        }
        return r
    }

    /// A completed TCP conversation.
    static func session(
        from source: IPAddress, to server: IPAddress, _ port: UInt16, at t: Double, duration: Double,
        sent: UInt64, received: UInt64, rng: inout SplitMix64
    ) -> FlowRecord {
        let outPackets = 3 + sent / 1200 + UInt64(rng.int(0...3))
        let inPackets = 2 + received / 1400 + UInt64(rng.int(0...3))
        return FlowRecord(
            start: t, end: t + duration, source: source, destination: server,
            sourcePort: UInt16(rng.int(32768...60999)), destinationPort: port, transport: .tcp,
            sourcePackets: outPackets, sourceBytes: sent + 40 * outPackets,
            destinationPackets: inPackets, destinationBytes: received + 40 * inPackets,
            tcpFlags: [.syn, .ack, .psh, .fin], outcome: .established)
    }

    /// A UDP request and its reply.
    static func exchange(
        from source: IPAddress, to server: IPAddress, _ port: UInt16, at t: Double, request: UInt64, reply: UInt64,
        rng: inout SplitMix64
    ) -> FlowRecord {
        FlowRecord(
            start: t, end: t + rng.uniform(0.001...0.05), source: source, destination: server,
            sourcePort: port == 123 ? 123 : UInt16(rng.int(32768...60999)), destinationPort: port, transport: .udp,
            sourcePackets: 1, sourceBytes: 28 + request, destinationPackets: 1, destinationBytes: 28 + reply,
            outcome: .established)
    }

    /// The outcome a client's connection gets from the simulated network (for clients of internal hosts).
    static func connect(
        from source: IPAddress, to target: IPAddress, _ port: UInt16, at t: Double, sent: UInt64, received: UInt64,
        duration: Double, network: SimulatedNetwork, rng: inout SplitMix64
    ) -> FlowRecord {
        switch network.answer(target, port: port, transport: .tcp, rng: &rng) {
        case .open:
            return session(from: source, to: target, port, at: t, duration: duration, sent: sent, received: received, rng: &rng)
        case .closed, .silent:
            return probe(
                from: source, port: UInt16(rng.int(32768...60999)), to: target, port, at: t, style: .connect,
                network: network, rng: &rng)
        }
    }
}

/// Ports in the order nmap's `--top-ports` picks them (most frequently open first), as listed in
/// nmap-services; after the listed ones, the remaining ports below 1024, then the rest.
public enum PortRanking {
    public static let nmapTopTCP: [UInt16] = [
        80, 23, 443, 21, 22, 25, 3389, 110, 445, 139, 143, 53, 135, 3306, 8080, 1723, 111, 995, 993, 5900,
        1025, 587, 8888, 199, 1720, 465, 548, 113, 81, 6001, 10000, 514, 5060, 179, 1026, 2000, 8443, 8000, 32768, 554,
        26, 1433, 49152, 2001, 515, 8008, 49154, 1027, 5666, 646, 5000, 5631, 631, 49153, 8081, 2049, 88, 79, 5800, 106,
        2121, 1110, 49155, 6000, 513, 990, 5357, 427, 49156, 543, 544, 5101, 144, 7, 389, 8009, 3128, 444, 9999, 5009,
        7070, 5190, 3000, 5432, 1900, 3986, 13, 1029, 9, 5051, 6646, 49157, 1028, 873, 1755, 2717, 4899, 9100, 119, 37,
    ]

    public static let nmapTopUDP: [UInt16] = [
        631, 161, 137, 123, 138, 1434, 445, 135, 67, 53, 139, 500, 68, 520, 1900, 4500, 514, 49152, 162, 69,
        5353, 111, 49154, 1701, 998, 996, 997, 999, 3283, 49153, 1812, 136, 2222, 2049, 3278, 5060, 1025, 1813, 1026, 177,
    ]

    /// The first `count` TCP ports in nmap's order, extended by the other ports below 1024, then the rest.
    public static func topTCP(_ count: Int) -> [UInt16] {
        var seen = Set(nmapTopTCP.prefix(count))
        var ports = Array(nmapTopTCP.prefix(count))
        var next: UInt16 = 1
        while ports.count < min(count, 65535) {
            if !seen.contains(next) {
                ports.append(next)
                seen.insert(next)
            }
            next &+= 1
        }
        return ports
    }
}
