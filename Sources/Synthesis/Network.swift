import FlowRecords
import Foundation
// Behaviours take their randomness as a SplitMix64, so users of Synthesis see it too.
@_exported import Randomness

/// A block of IPv4 addresses written as CIDR (`10.1.0.0/16`).
public struct IPv4Block: Sendable, Equatable, CustomStringConvertible {
    public let base: UInt32
    public let prefix: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let address = IPAddress(String(parts[0])), let v4 = address.ipv4,
            let prefix = Int(parts[1]), (8...30).contains(prefix)
        else { return nil }
        let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix)
        base = v4 & mask
        self.prefix = prefix
    }

    /// Usable host addresses (network and broadcast excluded).
    public var hostCount: Int { (1 << (32 - prefix)) - 2 }

    /// The `index`-th host address (0-based, wrapping).
    public func host(_ index: Int) -> IPAddress {
        IPAddress(ipv4: base &+ UInt32(1 + index % hostCount))
    }

    public var description: String {
        "\(IPAddress(ipv4: base))/\(prefix)"
    }
}

/// The simulated network that scans and clients talk to: internal hosts with services, and how each
/// answers a probe. Closed ports answer TCP with RST and UDP with ICMP port unreachable (rate-limited,
/// so some UDP probes go unanswered); firewalled hosts drop everything; addresses with no host are
/// silent.
public struct SimulatedNetwork: Sendable {
    public enum Role: String, Sendable, CaseIterable {
        case web, ssh, windows, database, infrastructure, workstation, monitored
    }

    public struct Host: Sendable {
        public var address: IPAddress
        public var role: Role
        public var tcp: Set<UInt16>
        public var udp: Set<UInt16>
        /// Drops probes to closed ports instead of refusing them.
        public var firewalled: Bool
    }

    public let block: IPv4Block
    public private(set) var hosts: [Host] = []
    private var index: [IPAddress: Int] = [:]
    /// Addresses of the DNS resolvers, NTP servers, and hosts running a metrics exporter.
    public private(set) var resolvers: [IPAddress] = []
    public private(set) var timeServers: [IPAddress] = []
    public private(set) var exporters: [IPAddress] = []

    /// Probability that a closed UDP port's ICMP unreachable is sent (hosts rate-limit them).
    public var icmpUnreachableRate = 0.7

    public init(block: IPv4Block, hostCount: Int, rng: inout SplitMix64) {
        self.block = block
        let count = min(hostCount, block.hostCount / 2)
        for i in 0..<count {
            // Hosts are spread over the block, leaving gaps of silent addresses.
            let address = block.host(i * 2 + (rng.chance(0.5) ? 1 : 0))
            let role = Role.allCases[i < 2 ? 4 : rng.int(0...(Role.allCases.count - 1))]
            var tcp: Set<UInt16> = [], udp: Set<UInt16> = []
            switch role {
            case .web: tcp = [80, 443]; if rng.chance(0.3) { tcp.insert(8080) }
            case .ssh: tcp = [22]
            case .windows: tcp = [135, 139, 445, 3389]; udp = [137, 138]
            case .database: tcp = [22, 5432]; if rng.chance(0.5) { tcp.insert(3306) }
            case .infrastructure: tcp = [22, 53]; udp = [53, 123, 161]
            case .workstation: tcp = rng.chance(0.2) ? [22] : []
            case .monitored: tcp = [22, 9100]; udp = [161]
            }
            if role != .workstation && role != .windows { tcp.insert(9100) }  // node exporter almost everywhere
            let host = Host(address: address, role: role, tcp: tcp, udp: udp, firewalled: rng.chance(0.15) && role == .workstation)
            index[address] = hosts.count
            hosts.append(host)
            if role == .infrastructure {
                resolvers.append(address)
                timeServers.append(address)
            }
            if tcp.contains(9100) && !host.firewalled { exporters.append(address) }
        }
    }

    public func host(_ address: IPAddress) -> Host? {
        index[address].map { hosts[$0] }
    }

    /// What a probe of `port` on `address` gets back.
    public enum Answer: Sendable {
        case open, closed, silent
    }

    public func answer(_ address: IPAddress, port: UInt16, transport: Transport, rng: inout SplitMix64) -> Answer {
        guard let host = host(address) else { return .silent }
        let open = transport == .udp ? host.udp.contains(port) : host.tcp.contains(port)
        if open { return .open }
        if host.firewalled { return .silent }
        if transport == .udp && !rng.chance(icmpUnreachableRate) { return .silent }
        return .closed
    }
}
