import FlowRecords

/// Which ports a vertical scan probes.
public enum PortSelection: Sendable, Equatable {
    /// nmap's `--top-ports N` (low ports dominate the list).
    case top(Int)
    /// Every port below 1024.
    case wellKnown
    /// All 65,535 ports.
    case full
    /// Ports 1 to n with n drawn from the range, as `nmap -p 1-n`: small scans whose ports share a few
    /// rows of the activity image.
    case first(ClosedRange<Int>)

    func ports(rng: inout SplitMix64) -> [UInt16] {
        switch self {
        case .top(let n): PortRanking.topTCP(n)
        case .wellKnown: Array(1...1023)
        case .full: Array(1...65535)
        case .first(let range): Array(1...UInt16(clamping: rng.int(range)))
        }
    }
}

/// Sends `probes` in order, `rate` per second with jitter; silent probes are retried once after
/// a second (nmap's `--max-retries 1`).
private func sweep(
    _ targets: [(IPAddress, UInt16)], from source: IPAddress, startingAt t0: Double, rate: Double, style: ProbeStyle,
    context: SynthContext, rng: inout SplitMix64
) -> [FlowRecord] {
    var flows: [FlowRecord] = []
    flows.reserveCapacity(targets.count + targets.count / 4)
    var t = t0
    // Raw-packet scans use one source port; connect scans take a new ephemeral port each time.
    let rawPort = UInt16(rng.int(33000...65000))
    var ephemeral = UInt16(rng.int(33000...50000))
    for (target, port) in targets {
        t += rng.exponential(mean: 1 / rate)
        guard t < context.end else { break }
        let sourcePort: UInt16
        if style == .connect { ephemeral = ephemeral &+ 1; sourcePort = ephemeral } else { sourcePort = rawPort }
        let r = Flows.probe(from: source, port: sourcePort, to: target, port, at: t, style: style, network: context.network, rng: &rng)
        flows.append(r)
        if r.outcome == .unanswered && style != .udp && rng.chance(0.5), t + 1 < context.end {
            var retry = r
            retry.start = t + rng.uniform(0.9...1.3)
            retry.end = retry.start
            flows.append(retry)
        }
    }
    return flows
}

private func startTime(_ context: SynthContext, span: Double, rng: inout SplitMix64) -> Double {
    context.start + rng.uniform(0...max(0, context.duration - span))
}

/// Many ports of one host (nmap -sS/-sT against one target).
public struct VerticalScan: Behaviour {
    public var ports: PortSelection = .top(1000)
    public var rate: ClosedRange<Double> = 200...2000
    public var style: ProbeStyle = .syn
    public var kind: String { "vertical" }
    public var label: TrafficLabel { .scan }

    public init(ports: PortSelection = .top(1000), rate: ClosedRange<Double> = 200...2000, style: ProbeStyle = .syn) {
        self.ports = ports
        self.rate = rate
        self.style = style
    }

    public func flows(sources: [IPAddress], context: SynthContext, rng: inout SplitMix64) -> [FlowRecord] {
        let target = context.network.hosts[rng.int(0...(context.network.hosts.count - 1))].address
        let chosen = ports.ports(rng: &rng).shuffled(using: &rng)  // nmap randomises the order of the ports it picked
        let r = rng.uniform(rate)
        let t0 = startTime(context, span: Double(chosen.count) / r * 1.5, rng: &rng)
        return sweep(chosen.map { (target, $0) }, from: sources[0], startingAt: t0, rate: r, style: style, context: context, rng: &rng)
    }
}

/// One port across many hosts of the network.
public struct HorizontalScan: Behaviour {
    public var ports: [UInt16] = [22, 23, 445, 3389, 80, 5900, 1433, 6379]
    public var hosts: ClosedRange<Int> = 60...254
    public var rate: ClosedRange<Double> = 20...500
    public var kind: String { "horizontal" }
    public var label: TrafficLabel { .scan }

    public init(
        ports: [UInt16] = [22, 23, 445, 3389, 80, 5900, 1433, 6379], hosts: ClosedRange<Int> = 60...254,
        rate: ClosedRange<Double> = 20...500
    ) {
        self.ports = ports
        self.hosts = hosts
        self.rate = rate
    }

    public func flows(sources: [IPAddress], context: SynthContext, rng: inout SplitMix64) -> [FlowRecord] {
        let port = ports[rng.int(0...(ports.count - 1))]
        let count = rng.int(hosts)
        let first = rng.int(0...max(0, context.network.block.hostCount - count - 1))
        let targets = (0..<count).map { (context.network.block.host(first + $0), port) }
        let r = rng.uniform(rate)
        let t0 = startTime(context, span: Double(count) / r * 1.5, rng: &rng)
        return sweep(targets, from: sources[0], startingAt: t0, rate: r, style: .syn, context: context, rng: &rng)
    }
}

/// A few ports across a range of hosts (a service sweep: "who runs SSH, RDP or SMB here?").
public struct BlockScan: Behaviour {
    public var ports: ClosedRange<Int> = 3...12
    public var hosts: ClosedRange<Int> = 16...64
    public var rate: ClosedRange<Double> = 50...1000
    public var kind: String { "block" }
    public var label: TrafficLabel { .scan }

    public init(ports: ClosedRange<Int> = 3...12, hosts: ClosedRange<Int> = 16...64, rate: ClosedRange<Double> = 50...1000) {
        self.ports = ports
        self.hosts = hosts
        self.rate = rate
    }

    public func flows(sources: [IPAddress], context: SynthContext, rng: inout SplitMix64) -> [FlowRecord] {
        let portList = Array(PortRanking.topTCP(40).shuffled(using: &rng).prefix(rng.int(ports)))
        let count = rng.int(hosts)
        let first = rng.int(0...max(0, context.network.block.hostCount - count - 1))
        var targets: [(IPAddress, UInt16)] = []
        for h in 0..<count { for p in portList { targets.append((context.network.block.host(first + h), p)) } }
        targets.shuffle(using: &rng)
        let r = rng.uniform(rate)
        let t0 = startTime(context, span: Double(targets.count) / r * 1.5, rng: &rng)
        return sweep(targets, from: sources[0], startingAt: t0, rate: r, style: .syn, context: context, rng: &rng)
    }
}

/// FIN, NULL or XMAS probes of one host's ports: closed ports answer RST, open ones say nothing.
public struct StealthScan: Behaviour {
    public var style: ProbeStyle
    public var ports: PortSelection = .top(300)
    public var rate: ClosedRange<Double> = 100...1000
    public var kind: String { "stealth-\(style.rawValue)" }
    public var label: TrafficLabel { .scan }

    public init(style: ProbeStyle, ports: PortSelection = .top(300), rate: ClosedRange<Double> = 100...1000) {
        precondition([.fin, .null, .xmas].contains(style), "a stealth scan uses FIN, NULL or XMAS probes")
        self.style = style
        self.ports = ports
        self.rate = rate
    }

    public func flows(sources: [IPAddress], context: SynthContext, rng: inout SplitMix64) -> [FlowRecord] {
        let target = context.network.hosts[rng.int(0...(context.network.hosts.count - 1))].address
        let chosen = ports.ports(rng: &rng).shuffled(using: &rng)
        let r = rng.uniform(rate)
        let t0 = startTime(context, span: Double(chosen.count) / r * 1.5, rng: &rng)
        return sweep(chosen.map { (target, $0) }, from: sources[0], startingAt: t0, rate: r, style: style, context: context, rng: &rng)
    }
}

/// UDP probes of the common UDP services of one host (slow: targets rate-limit ICMP errors).
public struct UDPScan: Behaviour {
    public var ports: ClosedRange<Int> = 20...40
    public var rate: ClosedRange<Double> = 1...20
    public var kind: String { "udp" }
    public var label: TrafficLabel { .scan }

    public init(ports: ClosedRange<Int> = 20...40, rate: ClosedRange<Double> = 1...20) {
        self.ports = ports
        self.rate = rate
    }

    public func flows(sources: [IPAddress], context: SynthContext, rng: inout SplitMix64) -> [FlowRecord] {
        let target = context.network.hosts[rng.int(0...(context.network.hosts.count - 1))].address
        let chosen = Array(PortRanking.nmapTopUDP.prefix(rng.int(ports))).shuffled(using: &rng)
        let r = rng.uniform(rate)
        let t0 = startTime(context, span: Double(chosen.count) / r * 1.5, rng: &rng)
        return sweep(chosen.map { (target, $0) }, from: sources[0], startingAt: t0, rate: r, style: .udp, context: context, rng: &rng)
    }
}

/// One probe every `interval` seconds (at least 30) for the whole time span, to stay under
/// per-minute thresholds: ports of one host, or one port across hosts.
public struct SlowScan: Behaviour {
    public var interval: ClosedRange<Double> = 30...90
    public var horizontal = false
    public var kind: String { horizontal ? "slow-horizontal" : "slow" }
    public var label: TrafficLabel { .scan }

    public init(interval: ClosedRange<Double> = 30...90, horizontal: Bool = false) {
        precondition(interval.lowerBound >= 30, "a slow scan probes at most every 30 s")
        self.interval = interval
        self.horizontal = horizontal
    }

    public func flows(sources: [IPAddress], context: SynthContext, rng: inout SplitMix64) -> [FlowRecord] {
        let network = context.network
        let target = network.hosts[rng.int(0...(network.hosts.count - 1))].address
        let port = PortRanking.nmapTopTCP[rng.int(0...9)]
        let first = rng.int(0...max(0, network.block.hostCount - 400))
        let ports = PortRanking.topTCP(1000).shuffled(using: &rng)
        var flows: [FlowRecord] = []
        var t = context.start + rng.uniform(0...interval.upperBound)
        var i = 0
        let sourcePort = UInt16(rng.int(33000...65000))
        while t < context.end {
            let (host, p) = horizontal ? (network.block.host(first + i), port) : (target, ports[i % ports.count])
            flows.append(Flows.probe(from: sources[0], port: sourcePort, to: host, p, at: t, style: .syn, network: network, rng: &rng))
            t += rng.uniform(interval)
            i += 1
        }
        return flows
    }
}

/// Several sources splitting one port range on one target, each probing only its share, so that no
/// single source looks busy.
public struct DistributedScan: Behaviour {
    public var sources: Int = 4
    public var ports: PortSelection = .wellKnown
    public var rate: ClosedRange<Double> = 20...200
    public var kind: String { "distributed" }
    public var label: TrafficLabel { .scan }
    public var sourceCount: Int { sources }

    public init(sources: Int = 4, ports: PortSelection = .wellKnown, rate: ClosedRange<Double> = 20...200) {
        precondition(sources >= 2, "a distributed scan has at least two sources")
        self.sources = sources
        self.ports = ports
        self.rate = rate
    }

    public func flows(sources addresses: [IPAddress], context: SynthContext, rng: inout SplitMix64) -> [FlowRecord] {
        let target = context.network.hosts[rng.int(0...(context.network.hosts.count - 1))].address
        let all = ports.ports(rng: &rng).shuffled(using: &rng)
        let r = rng.uniform(rate)
        let share = (all.count + addresses.count - 1) / addresses.count
        let t0 = startTime(context, span: Double(share) / r * 1.5, rng: &rng)
        var flows: [FlowRecord] = []
        for (k, source) in addresses.enumerated() {
            let mine = all[(k * share)..<min(all.count, (k + 1) * share)]
            flows += sweep(
                mine.map { (target, $0) }, from: source, startingAt: t0 + rng.uniform(0...5), rate: r,
                style: .syn, context: context, rng: &rng)
        }
        return flows
    }
}

/// Internet background scanning of one host: many sources (scanning services, botnets), each sending
/// one to five probes at a random moment of the span to the ports such scanners favour, as a host
/// exposed to the Internet sees every day. No source sends enough to be called a scanner alone; the
/// host is scanned by all of them together.
public struct BackgroundScanning: Behaviour {
    public var sources: Int = 120
    public var probes: ClosedRange<Int> = 1...5
    public var kind: String { "background" }
    public var label: TrafficLabel { .scan }
    public var sourceCount: Int { sources }

    /// Ports that Internet-wide scanners probe most (telnet, SMB, SSH, web, RDP, SIP, databases, IoT),
    /// with a random port now and then.
    static let favoured: [UInt16] = [23, 445, 22, 80, 3389, 5060, 1433, 8080, 81, 5555, 7000, 2323, 443, 8443, 6379, 3306, 21, 25, 8088, 9200]

    public init(sources: Int = 120, probes: ClosedRange<Int> = 1...5) {
        precondition(sources >= 2 && probes.lowerBound >= 1, "background scanning has several sources, each with a probe")
        self.sources = sources
        self.probes = probes
    }

    public func flows(sources addresses: [IPAddress], context: SynthContext, rng: inout SplitMix64) -> [FlowRecord] {
        let target = context.network.hosts[rng.int(0...(context.network.hosts.count - 1))].address
        var flows: [FlowRecord] = []
        for source in addresses {
            var t = context.start + rng.uniform(0...max(0, context.duration - 60))
            let sourcePort = UInt16(rng.int(33000...65000))
            for _ in 0..<rng.int(probes) {
                let port = rng.chance(0.85) ? Self.favoured[rng.int(0...(Self.favoured.count - 1))] : UInt16(rng.int(1024...65535))
                flows.append(Flows.probe(from: source, port: sourcePort, to: target, port, at: t, style: .syn, network: context.network, rng: &rng))
                t += rng.uniform(0.5...10)
                guard t < context.end else { break }
            }
        }
        return flows
    }
}

/// A scan hidden in a busy workstation's own traffic: it browses as a web client does and, among
/// that, probes a handful of one host's ports every window (5–14 per 10 minutes, the top 1,000 in
/// nmap's order), so that no window holds a scan's share of failures and answered connections
/// to many other hosts surround every probe.
public struct MaskedScan: Behaviour {
    public var probesPerWindow: ClosedRange<Int> = 5...14
    public var window = 600.0
    public var kind: String { "masked" }
    public var label: TrafficLabel { .scan }

    public init(probesPerWindow: ClosedRange<Int> = 5...14, window: Double = 600) {
        precondition(probesPerWindow.lowerBound >= 1 && window > 0, "a masked scan probes at least once a window")
        self.probesPerWindow = probesPerWindow
        self.window = window
    }

    public func flows(sources: [IPAddress], context: SynthContext, rng: inout SplitMix64) -> [FlowRecord] {
        let target = context.network.hosts[rng.int(0...(context.network.hosts.count - 1))].address
        let ports = PortRanking.topTCP(1000)
        var flows = WebBrowsing(pageInterval: 5...40).flows(sources: sources, context: context, rng: &rng)
        let style: ProbeStyle = rng.chance(0.5) ? .syn : .connect
        var next = 0
        var start = context.start
        while start < context.end, next < ports.count {
            for _ in 0..<rng.int(probesPerWindow) where next < ports.count {
                let t = start + rng.uniform(0...window)
                guard t < context.end else { continue }
                let sourcePort = UInt16(rng.int(33000...65000))
                flows.append(Flows.probe(from: sources[0], port: sourcePort, to: target, ports[next], at: t, style: style, network: context.network, rng: &rng))
                next += 1
            }
            start += window
        }
        return flows
    }
}
