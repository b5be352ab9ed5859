import FlowRecords

/// A person browsing: page views every few tens of seconds, each a DNS lookup and a handful of HTTPS
/// (sometimes HTTP) connections to one to three outside servers. Now and then a server is down.
public struct WebBrowsing: Behaviour {
    public var pageInterval: ClosedRange<Double> = 10...120
    public var kind: String { "web" }
    public var label: TrafficLabel { .benign }

    public init(pageInterval: ClosedRange<Double> = 10...120) { self.pageInterval = pageInterval }

    public func flows(sources: [IPAddress], context: SynthContext, rng: inout SplitMix64) -> [FlowRecord] {
        let me = sources[0]
        let resolver = context.network.resolvers.first ?? context.network.hosts[0].address
        let favourites = (0..<8).map { _ in context.externalServers[rng.int(0...(context.externalServers.count - 1))] }
        var flows: [FlowRecord] = []
        var t = context.start + rng.uniform(0...pageInterval.upperBound)
        while t < context.end {
            flows.append(
                Flows.exchange(
                    from: me, to: resolver, 53, at: t, request: UInt64(rng.int(30...60)),
                    reply: UInt64(rng.int(60...300)), rng: &rng))
            let servers = rng.int(1...3)
            for _ in 0..<servers {
                let server =
                    rng.chance(0.7)
                    ? favourites[rng.int(0...7)]
                    : context.externalServers[rng.int(0...(context.externalServers.count - 1))]
                for _ in 0..<rng.int(1...4) {
                    let at = t + rng.uniform(0.02...1.5)
                    if rng.chance(0.01) {
                        // A server that does not answer: a failed connection in a benign source.
                        var r = Flows.session(from: me, to: server, 443, at: at, duration: 0, sent: 0, received: 0, rng: &rng)
                        r.tcpFlags = [.syn]; r.outcome = .unanswered
                        r.sourcePackets = 2; r.sourceBytes = 120; r.destinationPackets = 0; r.destinationBytes = 0
                        r.end = at + 3
                        flows.append(r)
                    } else {
                        flows.append(
                            Flows.session(
                                from: me, to: server, rng.chance(0.9) ? 443 : 80, at: at, duration: rng.uniform(0.05...30),
                                sent: UInt64(rng.int(300...4000)), received: UInt64(rng.int(2000...400_000)), rng: &rng))
                    }
                }
            }
            t += rng.uniform(pageInterval)
        }
        return flows
    }
}

/// A server's housekeeping: DNS lookups every few seconds to tens of seconds, NTP every 64-256 s.
public struct DNSAndNTP: Behaviour {
    public var dnsInterval: ClosedRange<Double> = 5...60
    public var kind: String { "dns-ntp" }
    public var label: TrafficLabel { .benign }

    public init(dnsInterval: ClosedRange<Double> = 5...60) { self.dnsInterval = dnsInterval }

    public func flows(sources: [IPAddress], context: SynthContext, rng: inout SplitMix64) -> [FlowRecord] {
        let me = sources[0]
        // A host is configured with two resolvers and a few time servers.
        let resolvers = context.network.resolvers.isEmpty ? [context.network.hosts[0].address] : Array(context.network.resolvers.prefix(2))
        let clocks = context.network.timeServers.isEmpty ? resolvers : Array(context.network.timeServers.suffix(3))
        var flows: [FlowRecord] = []
        var t = context.start + rng.uniform(0...dnsInterval.upperBound)
        while t < context.end {
            flows.append(
                Flows.exchange(
                    from: me, to: resolvers[rng.int(0...(resolvers.count - 1))], 53, at: t,
                    request: UInt64(rng.int(30...60)), reply: UInt64(rng.int(60...300)), rng: &rng))
            t += rng.uniform(dnsInterval)
        }
        t = context.start + rng.uniform(0...64)
        while t < context.end {
            for clock in clocks.prefix(3) {
                flows.append(Flows.exchange(from: me, to: clock, 123, at: t + rng.uniform(0...0.2), request: 48, reply: 48, rng: &rng))
            }
            t += [64.0, 128, 256][rng.int(0...2)]
        }
        return flows
    }
}

/// A monitoring server scraping one port (Prometheus node exporter, 9100) on every host that runs
/// it, every few seconds to every few minutes; all answered. Looks like a horizontal scan to a threshold that ignores outcomes.
public struct MonitoringScraper: Behaviour {
    /// Seconds between passes: from busy monitoring (10 s) to inventory sweeps (10 min) that an
    /// image window may hold only once.
    public var interval: ClosedRange<Double> = 10...600
    public var minimumHosts = 50
    public var kind: String { "scraper" }
    public var label: TrafficLabel { .benign }

    public init(interval: ClosedRange<Double> = 10...600, minimumHosts: Int = 50) {
        self.interval = interval
        self.minimumHosts = minimumHosts
    }

    public func flows(sources: [IPAddress], context: SynthContext, rng: inout SplitMix64) -> [FlowRecord] {
        let me = sources[0]
        let targets = Array(context.network.exporters.prefix(rng.int(minimumHosts...(minimumHosts + 30))))
        let every = rng.uniform(interval)
        // Half the scrapers go through their targets at once, half spread them over the interval
        // (as Prometheus does), so that their first contacts are spread in time like a slow sweep's.
        let pace = rng.chance(0.5) ? 0.01 : every / Double(max(targets.count, 1))
        var flows: [FlowRecord] = []
        var t = context.start + rng.uniform(0...every)
        while t < context.end {
            for (i, host) in targets.enumerated() {
                flows.append(
                    Flows.session(
                        from: me, to: host, 9100, at: t + Double(i) * pace + rng.uniform(0...0.05),
                        duration: rng.uniform(0.005...0.08), sent: UInt64(rng.int(150...250)),
                        received: UInt64(rng.int(8000...60000)), rng: &rng))
            }
            t += every
        }
        return flows
    }
}

/// A load balancer's health checks: up to five service ports on a few hosts every few seconds.
/// Mostly answered; sometimes one checked service is down and refuses every check.
public struct HealthChecker: Behaviour {
    public var ports = 5
    public var hosts: ClosedRange<Int> = 2...4
    public var interval: ClosedRange<Double> = 5...10
    /// Chance that one checked service is down for the whole span.
    public var serviceDown = 0.3
    public var kind: String { "health-check" }
    public var label: TrafficLabel { .benign }

    public init(ports: Int = 5, hosts: ClosedRange<Int> = 2...4, interval: ClosedRange<Double> = 5...10, serviceDown: Double = 0.3) {
        self.ports = ports
        self.hosts = hosts
        self.interval = interval
        self.serviceDown = serviceDown
    }

    public func flows(sources: [IPAddress], context: SynthContext, rng: inout SplitMix64) -> [FlowRecord] {
        let servers = context.network.hosts.filter { !$0.firewalled && ($0.role == .web || $0.role == .database) }
        let pool = servers.isEmpty ? context.network.hosts : servers
        var checks: [(IPAddress, UInt16)] = []
        for _ in 0..<rng.int(hosts) {
            let host = pool[rng.int(0...(pool.count - 1))]
            for port in host.tcp.sorted().prefix(ports) where !checks.contains(where: { $0 == (host.address, port) }) {
                checks.append((host.address, port))
            }
        }
        if rng.chance(serviceDown), let (host, _) = checks.first {
            checks.append((host, 8443))  // a service the balancer expects but that is not running
        }
        let every = rng.uniform(interval)
        var flows: [FlowRecord] = []
        var t = context.start + rng.uniform(0...every)
        while t < context.end {
            for (host, port) in checks {
                flows.append(
                    Flows.connect(
                        from: sources[0], to: host, port, at: t + rng.uniform(0...0.5), sent: 80, received: 200,
                        duration: rng.uniform(0.002...0.05), network: context.network, rng: &rng))
            }
            t += every
        }
        return flows
    }
}

/// A misconfigured client retrying a closed port on one host every few seconds for minutes: many
/// failures, but one port and one host.
public struct RetryingClient: Behaviour {
    public var retryInterval: ClosedRange<Double> = 2...10
    public var episode: ClosedRange<Double> = 300...1200
    public var kind: String { "retrying-client" }
    public var label: TrafficLabel { .benign }

    public init(retryInterval: ClosedRange<Double> = 2...10, episode: ClosedRange<Double> = 300...1200) {
        self.retryInterval = retryInterval
        self.episode = episode
    }

    public func flows(sources: [IPAddress], context: SynthContext, rng: inout SplitMix64) -> [FlowRecord] {
        let candidates = context.network.hosts.filter { !$0.firewalled }
        let host = candidates[rng.int(0...(candidates.count - 1))]
        let closed = ([8443, 8080, 5432, 6379, 27017, 9200] as [UInt16]).filter { !host.tcp.contains($0) }
        let port = closed[rng.int(0...(closed.count - 1))]
        let length = min(rng.uniform(episode), context.duration)
        var t = context.start + rng.uniform(0...(context.duration - length))
        let end = t + length
        var flows: [FlowRecord] = []
        while t < end {
            flows.append(
                Flows.connect(
                    from: sources[0], to: host.address, port, at: t, sent: 100, received: 100,
                    duration: 0.01, network: context.network, rng: &rng))
            t += rng.uniform(retryInterval)
        }
        return flows
    }
}

/// A nightly-style backup: one or two long transfers to a backup server.
public struct BackupJob: Behaviour {
    public var kind: String { "backup" }
    public var label: TrafficLabel { .benign }

    public init() {}

    public func flows(sources: [IPAddress], context: SynthContext, rng: inout SplitMix64) -> [FlowRecord] {
        let servers = context.network.hosts.filter { $0.tcp.contains(22) && !$0.firewalled }
        let server = (servers.isEmpty ? context.network.hosts : servers)[0].address
        return (0..<rng.int(1...2)).map { _ in
            // A minute to half an hour, and never longer than most of a short span.
            let longest = min(1800, context.duration * 0.8)
            let length = rng.uniform(min(60, longest * 0.5)...longest)
            let at = context.start + rng.uniform(0...(context.duration - length))
            return Flows.session(
                from: sources[0], to: server, 22, at: at, duration: length,
                sent: UInt64(rng.int(50_000_000...2_000_000_000)), received: UInt64(rng.int(100_000...5_000_000)), rng: &rng)
        }
    }
}

/// A peer-to-peer client fanning out to dozens of outside peers on random high ports over UDP and
/// TCP; many peers are gone, so a good share of attempts fail. Many hosts, many ports, mixed outcomes.
public struct PeerToPeer: Behaviour {
    public var peers: ClosedRange<Int> = 30...80
    public var kind: String { "p2p" }
    public var label: TrafficLabel { .benign }

    public init(peers: ClosedRange<Int> = 30...80) { self.peers = peers }

    public func flows(sources: [IPAddress], context: SynthContext, rng: inout SplitMix64) -> [FlowRecord] {
        let me = sources[0]
        let count = rng.int(peers)
        let swarm: [(IPAddress, UInt16, Bool)] = (0..<count).map { _ in
            (context.externalServers[rng.int(0...(context.externalServers.count - 1))], UInt16(rng.int(10000...65000)), rng.chance(0.6))
        }
        var flows: [FlowRecord] = []
        var t = context.start + rng.uniform(0...60)
        while t < context.end {
            let (peer, port, alive) = swarm[rng.int(0...(swarm.count - 1))]
            let udp = rng.chance(0.6)
            if alive {
                flows.append(
                    udp
                        ? Flows.exchange(from: me, to: peer, port, at: t, request: UInt64(rng.int(60...500)), reply: UInt64(rng.int(60...1400)), rng: &rng)
                        : Flows.session(
                            from: me, to: peer, port, at: t, duration: rng.uniform(1...300), sent: UInt64(rng.int(500...200_000)),
                            received: UInt64(rng.int(500...2_000_000)), rng: &rng))
            } else {
                var r = Flows.exchange(from: me, to: peer, port, at: t, request: 100, reply: 0, rng: &rng)
                r.destinationPackets = 0; r.destinationBytes = 0; r.end = t; r.outcome = .unanswered
                if !udp {
                    r.transport = .tcp; r.tcpFlags = [.syn]; r.sourceBytes = 60; r.sourcePackets = 2
                }
                flows.append(r)
            }
            t += rng.exponential(mean: 4)
        }
        return flows
    }
}

/// A phone or laptop as real networks see one: HTTPS to a dozen or two CDN hosts (a few edges dead),
/// DNS over TLS (853) to outside resolvers that often refuse it, and then plain DNS, STUN/TURN
/// binding requests (UDP 3478/3480) for video calls to relay servers many of which never answer,
/// and a push-notification connection (5223) that drops and reconnects. About a quarter to a third of
/// its attempts fail, over three or four ports and a score of hosts: the picture a busy client
/// draws, that a model which has only seen quiet clients takes for a sweep.
public struct BusyClient: Behaviour {
    public var kind: String { "busy-client" }
    public var label: TrafficLabel { .benign }

    public init() {}

    public func flows(sources: [IPAddress], context: SynthContext, rng: inout SplitMix64) -> [FlowRecord] {
        let me = sources[0]
        let resolver = context.network.resolvers.first ?? context.network.hosts[0].address
        func pick() -> IPAddress { context.externalServers[rng.int(0...(context.externalServers.count - 1))] }
        let edges = (0..<rng.int(12...23)).map { _ in (pick(), rng.chance(0.15)) }
        let dot = (0..<rng.int(2...4)).map { _ in (pick(), rng.chance(0.6)) }
        let relays = (0..<rng.int(4...8)).map { _ in (pick(), UInt16(rng.chance(0.5) ? 3478 : 3480), rng.chance(0.5)) }
        let push = pick()
        func failed(_ server: IPAddress, _ port: UInt16, _ t: Double, refused: Bool, udp: Bool = false) -> FlowRecord {
            var r =
                udp
                ? Flows.exchange(from: me, to: server, port, at: t, request: 20, reply: 0, rng: &rng)
                : Flows.session(from: me, to: server, port, at: t, duration: 0, sent: 0, received: 0, rng: &rng)
            r.destinationPackets = refused ? 1 : 0
            r.destinationBytes = refused ? 40 : 0
            r.sourcePackets = udp ? 1 : (refused ? 1 : 2)
            r.sourceBytes = udp ? 48 : (refused ? 60 : 120)
            if !udp { r.tcpFlags = refused ? [.syn, .rst] : [.syn] }
            r.outcome = refused ? .rejected : .unanswered
            r.end = t + (refused ? 0.01 : 3)
            return r
        }
        var flows: [FlowRecord] = []
        var t = context.start + rng.uniform(0...30)
        while t < context.end {
            // A burst of app activity: lookups (DoT first), a few HTTPS fetches, sometimes a call.
            let (resolverOut, dotDead) = dot[rng.int(0...(dot.count - 1))]
            if dotDead {
                flows.append(failed(resolverOut, 853, t, refused: rng.chance(0.5)))
                flows.append(Flows.exchange(from: me, to: resolver, 53, at: t + 0.2, request: 40, reply: 120, rng: &rng))
            } else {
                flows.append(Flows.session(from: me, to: resolverOut, 853, at: t, duration: rng.uniform(0.1...20), sent: 400, received: 900, rng: &rng))
            }
            for _ in 0..<rng.int(1...5) {
                let (edge, dead) = edges[rng.int(0...(edges.count - 1))]
                let at = t + rng.uniform(0.1...2)
                flows.append(
                    dead && rng.chance(0.7)
                        ? failed(edge, 443, at, refused: false)
                        : Flows.session(
                            from: me, to: edge, 443, at: at, duration: rng.uniform(0.05...60), sent: UInt64(rng.int(400...8000)),
                            received: UInt64(rng.int(2000...900_000)), rng: &rng))
            }
            if rng.chance(0.25) {
                // A call: binding requests to every relay, a reply from the live ones.
                for (i, (relay, port, silent)) in relays.enumerated() {
                    let at = t + 0.5 + Double(i) * 0.05
                    flows.append(
                        silent
                            ? failed(relay, port, at, refused: false, udp: true)
                            : Flows.exchange(from: me, to: relay, port, at: at, request: 20, reply: 32, rng: &rng))
                }
            }
            if rng.chance(0.1) {
                flows.append(
                    rng.chance(0.3)
                        ? failed(push, 5223, t + 1, refused: true)
                        : Flows.session(from: me, to: push, 5223, at: t + 1, duration: rng.uniform(60...600), sent: 2000, received: 3000, rng: &rng))
            }
            t += rng.exponential(mean: 40)
        }
        return flows
    }
}
