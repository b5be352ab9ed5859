import FlowRecords

/// One row of ground truth: `source,label,kind`.
public struct TruthEntry: Sendable, Equatable {
    public var source: IPAddress
    public var label: TrafficLabel
    public var kind: String

    public init(source: IPAddress, label: TrafficLabel, kind: String) {
        self.source = source
        self.label = label
        self.kind = kind
    }

    public static let csvHeader = "source,label,kind"
    public var csvLine: String { "\(source),\(label.rawValue),\(kind)" }
}

/// What `flowhound synth` generates: a time span, a simulated network, benign sources of every kind,
/// and a share of scanners of every kind.
public struct SynthConfig: Sendable {
    public var seed: UInt64 = 1
    /// Start of the traffic, Unix seconds (default 2024-01-01T00:00:00Z).
    public var start: Double = 1_704_067_200
    public var duration: Double = 3600
    /// The internal network that is scanned and served.
    public var network = IPv4Block("10.1.0.0/16")!
    /// Internal hosts with services in `network`.
    public var hosts = 200
    /// Where benign clients sit.
    public var clients = IPv4Block("10.2.0.0/16")!
    /// Where outside scanners come from (the benchmarking range, RFC 2544), and inside ones.
    public var scanners = IPv4Block("198.18.0.0/15")!
    public var insiders = IPv4Block("10.3.0.0/16")!
    /// Share of scanners that scan from inside (`insiders`).
    public var insiderShare = 0.3
    /// Outside servers and peers (TEST-NET-2 and -3).
    public var external = [IPv4Block("198.51.100.0/24")!, IPv4Block("203.0.113.0/24")!]
    public var benignSources = 40
    /// Fraction of all sources that scan.
    public var scanPrevalence = 0.25
    public var scanBehaviours: [any Behaviour] = SynthConfig.allScans
    public var benignBehaviours: [any Behaviour] = SynthConfig.allBenign

    public init() {}

    public static let allScans: [any Behaviour] = [
        VerticalScan(), VerticalScan(ports: .top(100), rate: 50...500, style: .connect), HorizontalScan(), BlockScan(),
        StealthScan(style: .fin), StealthScan(style: .null), StealthScan(style: .xmas), UDPScan(), SlowScan(),
        SlowScan(horizontal: true), DistributedScan(),
        // Small scans (nmap -p 1-n): a few image rows, easily mistaken for one busy port.
        VerticalScan(ports: .first(10...100), rate: 20...1000), StealthScan(style: .fin, ports: .first(10...60)),
        StealthScan(style: .xmas, ports: .first(10...60)), VerticalScan(ports: .first(10...100), rate: 20...500, style: .connect),
    ]

    /// Scan kinds generated only when named (`--scan-kinds`), so that they change no default mix (and
    /// no model trained on it): many-source scanning of one host, which no per-source detector flags,
    /// and a scan hidden among a workstation's own connections.
    public static let namedOnlyScans: [any Behaviour] = [BackgroundScanning(), MaskedScan()]

    /// Benign kinds; the first one (web browsing) is the most common, every other appears at least once.
    public static let allBenign: [any Behaviour] = [
        WebBrowsing(), DNSAndNTP(), MonitoringScraper(), HealthChecker(), RetryingClient(), BackupJob(), PeerToPeer(),
    ]

    /// Benign kinds generated only when named (`--benign-kinds`), so that they change no default mix:
    /// a busy phone or laptop whose failures look like a small sweep.
    public static let namedOnlyBenign: [any Behaviour] = [BusyClient()]

    /// Why these address blocks cannot hold the configured sources without reusing addresses, or nil.
    public var capacityProblem: String? {
        let scanSources =
            scanBehaviours.isEmpty
            ? 0
            : (0..<scanCount).reduce(0) { $0 + scanBehaviours[$1 % scanBehaviours.count].sourceCount }
        if benignSources > clients.hostCount - 10 {
            return "\(benignSources) benign sources do not fit in \(clients) (at most \(clients.hostCount - 10))"
        }
        for (block, share) in [(scanners, 1 - insiderShare), (insiders, insiderShare)] where share > 0 {
            if scanSources > block.hostCount - 10 {
                return "up to \(scanSources) scanning sources do not fit in \(block) (at most \(block.hostCount - 10))"
            }
        }
        return nil
    }

    /// Number of scanning behaviours for the configured benign sources and prevalence.
    public var scanCount: Int {
        guard scanPrevalence > 0 else { return 0 }
        let p = min(scanPrevalence, 0.95)
        return max(1, Int((Double(benignSources) * p / (1 - p)).rounded()))
    }
}

/// Generates labelled traffic: the same configuration and seed always give the same flows in the same order.
public struct TrafficGenerator: Sendable {
    public let config: SynthConfig

    public init(config: SynthConfig) {
        self.config = config
    }

    /// The flows, sorted by start time, and the ground truth, one entry per source.
    /// - Complexity: O(n log n) in the number of flows.
    public func generate() -> (flows: [FlowRecord], truth: [TruthEntry]) {
        var setup = SplitMix64.stream(seed: config.seed, index: 0)
        let network = SimulatedNetwork(block: config.network, hostCount: config.hosts, rng: &setup)
        var external: [IPAddress] = []
        for block in config.external { for i in 0..<min(block.hostCount, 254) { external.append(block.host(i)) } }
        let context = SynthContext(network: network, start: config.start, duration: config.duration, externalServers: external)

        // Which behaviour each part of the scenario plays, in a fixed order.
        var plan: [any Behaviour] = []
        let benign = config.benignBehaviours
        for i in 0..<config.benignSources {
            // Every kind once, then two thirds web browsing and the rest spread over the other kinds.
            if i < benign.count {
                plan.append(benign[i])
            } else if setup.chance(2.0 / 3.0) || benign.count == 1 {
                plan.append(benign[0])
            } else {
                plan.append(benign[setup.int(1...(benign.count - 1))])
            }
        }
        for i in 0..<config.scanCount where !config.scanBehaviours.isEmpty {
            plan.append(config.scanBehaviours[i % config.scanBehaviours.count])
        }

        // Addresses: clients in order, scanners from outside or inside, never reused.
        var clientIndex = 0, outsideIndex = 0, insideIndex = 0
        var flows: [FlowRecord] = []
        var truth: [TruthEntry] = []
        for (index, behaviour) in plan.enumerated() {
            var rng = SplitMix64.stream(seed: config.seed, index: UInt64(index + 1))
            var sources: [IPAddress] = []
            for _ in 0..<behaviour.sourceCount {
                switch behaviour.label {
                case .benign:
                    sources.append(config.clients.host(10 + clientIndex))
                    clientIndex += 1
                case .scan:
                    if rng.chance(config.insiderShare) {
                        sources.append(config.insiders.host(10 + insideIndex))
                        insideIndex += 1
                    } else {
                        sources.append(config.scanners.host(10 + outsideIndex))
                        outsideIndex += 1
                    }
                }
            }
            for source in sources { truth.append(TruthEntry(source: source, label: behaviour.label, kind: behaviour.kind)) }
            flows += behaviour.flows(sources: sources, context: context, rng: &rng)
                .filter { $0.start >= context.start && $0.start < context.end }
        }
        // Stable sort: ties keep generation order, so the output is the same bytes every time.
        let order = flows.indices.sorted { flows[$0].start != flows[$1].start ? flows[$0].start < flows[$1].start : $0 < $1 }
        return (order.map { flows[$0] }, truth)
    }
}
