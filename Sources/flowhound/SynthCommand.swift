import ArgumentParser
import FlowRecords
import Foundation
import Support
import Synthesis

/// A length of time written as `90s`, `30m`, `1h`, `2d` or plain seconds.
struct Duration: ExpressibleByArgument, CustomStringConvertible {
    var seconds: Double

    init(seconds: Double) { self.seconds = seconds }

    /// In the largest unit that writes it whole (`60s` is `1m`), as `--help` shows defaults.
    var description: String {
        for (unit, scale) in [("d", 86400.0), ("h", 3600.0), ("m", 60.0)] where seconds >= scale && (seconds / scale).rounded() == seconds / scale {
            return "\(Int(seconds / scale))\(unit)"
        }
        return seconds == seconds.rounded() && seconds < 1e15 ? "\(Int(seconds))s" : "\(OptionCheck.number(seconds))s"
    }

    init?(argument: String) {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var text = argument.lowercased()
        var scale = 1.0
        if let last = text.last, let unit = units[last] {
            scale = unit
            text.removeLast()
        }
        // Any number: every option checks its own range (OptionCheck), and says what it must be.
        guard let value = Double(text) else { return nil }
        seconds = value * scale
    }
}

extension IPv4Block: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate labelled traffic: benign sources and port scans, as a flow log and a ground-truth file.",
        discussion: """
            A simulated network (--network, --hosts) with web, SSH, Windows, database and infrastructure \
            hosts answers probes as real ones do: open ports answer, closed ports refuse (TCP RST, ICMP \
            port unreachable, rate-limited), firewalled hosts and empty addresses stay silent.

            Scans: \(SynthConfig.allScans.map(\.kind).uniqued().joined(separator: ", ")); only when named in \
            --scan-kinds: \(SynthConfig.namedOnlyScans.map(\.kind).joined(separator: ", ")) (background: Internet \
            background scanning, 120 sources sending 1-5 probes each to one host; masked: a workstation \
            that browses and probes 5-14 ports of one host every 10 minutes).
            Benign: \(SynthConfig.allBenign.map(\.kind).joined(separator: ", ")) (including the hard \
            cases: a scraper touching one port on 50+ hosts, health checks, a client retrying a closed port, \
            peer-to-peer fan-out); only when named in --benign-kinds: \
            \(SynthConfig.namedOnlyBenign.map(\.kind).joined(separator: ", ")) (a phone or laptop: HTTPS to a score of \
            CDN hosts with a few dead, DNS over TLS refused, STUN relays that never answer, push reconnects).

            The ground truth is CSV with a header: source,label,kind (label scan or benign). The same \
            seed and options always give the same bytes.

            Example: flowhound synth --seed 7 --duration 1h --format zeek -o conn.log --truth truth.csv
            """)

    @Option(help: "Seed for the random generator.")
    var seed: UInt64

    @Option(help: "Time span: 90s, 30m, 1h, 2d.")
    var duration = Duration(argument: "1h")!

    @Option(help: "Start time, Unix seconds (default 2024-01-01T00:00:00Z).")
    var start: Double = 1_704_067_200

    @Option(help: "Output format: jsonl, csv, zeek, nfdump, argus or vpc.")
    var format: RecordEncoding = .zeek

    @Option(name: .shortAndLong, help: "Flow log to write ('-' for standard output).")
    var output: String

    @Option(help: "Ground-truth CSV to write (source,label,kind).")
    var truth: String

    @Option(help: "Number of benign sources.")
    var benign = 40

    @Option(help: "Fraction of all sources that scan, 0 to 0.95.")
    var scanPrevalence = 0.25

    @Option(help: "Only these scan kinds (comma-separated), e.g. vertical,horizontal.")
    var scanKinds: String?

    @Option(help: "Only these benign kinds (comma-separated), e.g. web,scraper.")
    var benignKinds: String?

    @Option(help: "Internal network that is served and scanned (IPv4 CIDR, /8 to /30).")
    var network = IPv4Block("10.1.0.0/16")!

    @Option(help: "Hosts with services in the internal network.")
    var hosts = 200

    @Option(help: "Where benign clients sit (IPv4 CIDR).")
    var clients = IPv4Block("10.2.0.0/16")!

    @Option(help: "Where outside scanners come from (IPv4 CIDR).")
    var scanners = IPv4Block("198.18.0.0/15")!

    @Option(help: "Where inside scanners come from (IPv4 CIDR).")
    var insiders = IPv4Block("10.3.0.0/16")!

    @Option(help: "Share of scanners that scan from inside, 0 to 1.")
    var insiderShare = 0.3

    func validate() throws {
        try OptionCheck.require(benign, "--benign", in: 0...1_000_000)
        try OptionCheck.require(duration.seconds, "--duration", in: 1...366 * OptionCheck.day, unit: "seconds")
        // Unix seconds from 1970 to 2100: every reader and writer handles those times.
        try OptionCheck.require(start, "--start", in: 0...4_102_444_800, unit: "(Unix seconds)")
        guard (0...0.95).contains(scanPrevalence) else { throw ValidationError("--scan-prevalence must be between 0 and 0.95") }
        try OptionCheck.require(hosts, "--hosts", in: 1...1 << 24)
        guard (0...1).contains(insiderShare) else { throw ValidationError("--insider-share must be between 0 and 1") }
        guard hosts * 2 <= network.hostCount else {
            throw ValidationError("--network \(network) is too small for \(hosts) hosts (it needs twice as many addresses)")
        }
        if let problem = try configuration().capacityProblem { throw ValidationError(problem) }
        _ = try selected(scanKinds, from: SynthConfig.allScans, named: SynthConfig.namedOnlyScans, option: "--scan-kinds")
        _ = try selected(benignKinds, from: SynthConfig.allBenign, named: SynthConfig.namedOnlyBenign, option: "--benign-kinds")
        if benign == 0 && scanPrevalence > 0 {
            throw ValidationError("with --benign 0 there is nothing to take a share of; set --benign")
        }
    }

    /// The behaviours `names` lists, from `all` and from those generated only when `named`; all of
    /// `all` when `names` is nil.
    func selected(_ names: String?, from defaults: [any Behaviour], named: [any Behaviour] = [], option: String) throws -> [any Behaviour] {
        guard let names else { return defaults }
        let all = defaults + named
        let wanted = names.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let known = all.map(\.kind).uniqued()
        for name in wanted where !known.contains(name) {
            throw ValidationError("\(option): unknown kind '\(name)'; known: \(known.joined(separator: ", "))")
        }
        return all.filter { wanted.contains($0.kind) }
    }

    func configuration() throws -> SynthConfig {
        var config = SynthConfig()
        config.seed = seed
        config.start = start
        config.duration = duration.seconds
        config.benignSources = benign
        config.scanPrevalence = scanPrevalence
        config.network = network
        config.hosts = hosts
        config.clients = clients
        config.scanners = scanners
        config.insiders = insiders
        config.insiderShare = insiderShare
        config.scanBehaviours = try selected(scanKinds, from: SynthConfig.allScans, named: SynthConfig.namedOnlyScans, option: "--scan-kinds")
        config.benignBehaviours = try selected(benignKinds, from: SynthConfig.allBenign, named: SynthConfig.namedOnlyBenign, option: "--benign-kinds")
        return config
    }

    func run() throws {
        let config = try configuration()
        let started = Date()
        let (flows, truthEntries) = TrafficGenerator(config: config).generate()
        try Diagnostics.run {
            try AtomicFile.write(to: output) { fd in
                let writer = FlowWriter(encoding: format, fileDescriptor: fd)
                try writer.writeHeader()
                for flow in flows { try writer.write(flow) }
                try writer.flush()
            }
            try AtomicFile.write(to: truth) { fd in
                let text = ([TruthEntry.csvHeader] + truthEntries.map(\.csvLine)).joined(separator: "\n") + "\n"
                let writer = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
                writer.write(Data(text.utf8))
            }
        }
        let seconds = Date().timeIntervalSince(started)
        let scans = truthEntries.filter { $0.label == .scan }.count
        Diagnostics.note(
            "wrote \(flows.count) flows from \(truthEntries.count) sources (\(scans) scanning) to \(output == "-" ? "<stdout>" : output) as \(format.rawValue), truth to \(truth) (\(Int(Double(flows.count) / max(seconds, 1e-9))) flows/s)"
        )
    }
}

extension Sequence where Element: Hashable {
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
