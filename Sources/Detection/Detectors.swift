import ActivityImage
import FlowRecords
import Foundation
import Neural
import Support

/// One source's closed window, as the detectors see it.
public struct ClosedWindow: Sendable {
    public var source: IPAddress
    public var windowStart: Double
    public var windowLength: Double
    public var activity: ActivityAccumulator
    /// What the detectors remembered of the source when the window closed (it spans windows).
    public var memory: SourceMemory

    /// The most distinct ports that failed on any one host, and that host.
    public var busiestHost: (host: IPAddress, failedPorts: Int)? {
        var perRank: [Int: Int] = [:]
        for t in activity.failedTargets { perRank[Int(t >> 16), default: 0] += 1 }
        guard let (rank, count) = perRank.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }) else { return nil }
        let host = activity.hosts.first { $0.value == rank }!.key
        return (host, count)
    }

    /// The most distinct hosts that failed on any one port, and that port.
    public var busiestPort: (port: UInt16, failedHosts: Int)? {
        var perPort: [UInt16: Int] = [:]
        for t in activity.failedTargets { perPort[UInt16(truncatingIfNeeded: t), default: 0] += 1 }
        guard let (port, count) = perPort.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }) else { return nil }
        return (port, count)
    }
}

/// What one detector says of one window: a score in 0...1 and whether it raises an alert.
public struct Verdict: Sendable, Equatable {
    public var score: Double
    public var flagged: Bool
    /// Why, in a few words (`998 failed ports on 10.1.0.5 ≥ 15`).
    public var reason: String
    /// Whether the flag may start an episode when no other detector flags (policy `any`): false when
    /// the detector's evidence alone is too weak (`CNNDetector.aloneFailedShare`).
    public var alone: Bool

    public init(score: Double, flagged: Bool, reason: String, alone: Bool = true) {
        self.score = score
        self.flagged = flagged
        self.reason = reason
        self.alone = alone
    }

    public static let silent = Verdict(score: 0, flagged: false, reason: "")
}

/// What the detectors keep of one source across flows and windows, held with the source's window
/// and carried into every window it closes (`ClosedWindow.memory`), checkpoints included.
///
/// One value type with a field per detector that remembers, rather than a box per detector: it is
/// stored inline with the source (no allocation, no dynamic cast per flow), copied into a closed
/// window as it was at that moment, and written to checkpoints whole. A detector that needs memory
/// adds its field here, with its wire form in `DetectionCheckpoint.swift`.
public struct SourceMemory: Sendable, Equatable {
    /// Threshold Random Walk: the first contacts and the likelihood ratio so far.
    public var walk = RandomWalkState()
    /// The threshold detector's counts in the open window, so that it decides at the flow that
    /// crosses a bound.
    public var threshold = ThresholdCounts()
    /// The slow-scan detector's failed targets over its horizon.
    public var slow = SlowScanState()

    public init() {}
}

/// Distinct failed targets of the open window, counted as they arrive: per destination host (by its
/// rank in the window) the failed ports, per port the failed hosts. Empty for a source with no
/// failures, so it costs nothing for most sources.
public struct ThresholdCounts: Sendable, Equatable {
    var portsByHost: [Int: Int] = [:]
    var hostsByPort: [UInt16: Int] = [:]
    /// A bound was reached in the open window: counting stops (the window is flagged when it closes).
    var crossed = false

    public init() {}
}

/// One flow just added to its source's open window, as a detector that decides per flow sees it
/// (what it needs beside the source's memory, without the record itself: this is on every flow).
public struct FlowStep {
    /// The failed (host rank, port) target this flow added to the window, if it added one.
    public var newFailedTarget: (host: Int, port: UInt16)?
    /// Distinct failed targets in the open window, this flow's included.
    public var failedTargets: Int
    /// Attempts in the open window, and how many failed, this flow's included.
    public var flows: Int
    public var failedFlows: Int
    /// Distinct hosts the source touched in the open window, this flow's included.
    public var hosts: Int
}

/// A scan detector: sees each source's flows with that source's `SourceMemory`, and judges closed
/// windows in batches (so that a model can score many at once).
public protocol ScanDetector {
    /// `threshold`, `trw` or `cnn`: the name in alerts and on the command line.
    var name: String { get }
    /// Whether `observe` must see every flow (false by default: the detector judges the window's
    /// activity alone). Detection calls `observe` only on detectors that say so.
    var observesFlows: Bool { get }
    /// One flow of a source, in arrival order, with what the detectors remember of that source.
    func observe(_ flow: FlowRecord, _ memory: inout SourceMemory)
    /// A source's scan episode has ended: forget what would make its return count before it is seen
    /// again (TRW starts a new walk, so a scanner that comes back must fail again to be flagged).
    func restart(_ memory: inout SourceMemory)
    /// One verdict per window, in order.
    func judge(_ windows: [ClosedWindow]) throws -> [Verdict]
    /// Whether the detector is a sequential test that can flag a source at the flow that crosses its
    /// bound, before the window closes (false by default). Detection then calls `decide` on each flow.
    var decidesPerFlow: Bool { get }
    /// After `observe`: whether the source has crossed the detector's bound in the open window, at
    /// this flow or before. Called on every flow, so it only counts and compares; the verdict and its
    /// reason come from `judge` on the window so far when an episode starts. A window that crossed
    /// here is flagged by `judge` when it closes too.
    func decide(_ step: FlowStep, _ memory: inout SourceMemory) -> Bool
    /// A source's window closed (a new one opens with its next flow): forget what counts one window.
    func windowClosed(_ memory: inout SourceMemory)
    /// Seconds of log time between judgements of open windows, for a detector that judges a source's
    /// window before it closes by scoring what it holds so far (nil by default: closed windows only).
    /// Detection then judges, each time its clock passes a multiple of it, the open windows for which
    /// `worthJudgingOpen` holds, in one batch.
    var openWindowInterval: Double? { get }
    /// Whether a source's open window, last judged open when it held `judgedTargets` distinct failed
    /// targets (0: not yet), is worth judging again. Called on flows, so it only counts and compares.
    func worthJudgingOpen(_ activity: ActivityAccumulator, judgedTargets: Int) -> Bool
    /// The settings that change verdicts, by name, as checkpoints record them (a checkpoint restores
    /// only into a pipeline with the same).
    var parameters: [(name: String, value: Double)] { get }
    /// Whether `judge` could flag a window holding `activity`, with `memory` as the window closes:
    /// false only when it surely would not (true by default). Detection retires a window no detector
    /// could flag without judging it, as most windows of a source with a flow or two are, so a
    /// million such sources cost no judgements. Called as each window closes, so it only compares.
    func mayFlag(_ activity: ActivityAccumulator, _ memory: SourceMemory) -> Bool
    /// Whether a flag of `window` could stand alone (`Verdict.alone`): false only when it surely could
    /// not (true by default). An open window's flag that cannot stand alone starts no episode, so
    /// detection does not score open windows for which no open-window judge's flag could.
    func mayFlagAlone(_ window: ClosedWindow) -> Bool
    /// The fewest flows of a source that this detector could flag, in a window or at a flow (1 by
    /// default). When every detector needs two or more, detection holds a new source's first flow in a
    /// flow record instead of giving it state until a second arrives.
    var minimumFlowsToFlag: Int { get }
}

extension ScanDetector {
    public var observesFlows: Bool { false }
    public func observe(_ flow: FlowRecord, _ memory: inout SourceMemory) {}
    public func restart(_ memory: inout SourceMemory) {}
    public var decidesPerFlow: Bool { false }
    public func decide(_ step: FlowStep, _ memory: inout SourceMemory) -> Bool { false }
    public func windowClosed(_ memory: inout SourceMemory) {}
    public var openWindowInterval: Double? { nil }
    public func worthJudgingOpen(_ activity: ActivityAccumulator, judgedTargets: Int) -> Bool { false }
    public func mayFlag(_ activity: ActivityAccumulator, _ memory: SourceMemory) -> Bool { true }
    public func mayFlagAlone(_ window: ClosedWindow) -> Bool { true }
    public var minimumFlowsToFlag: Int { 1 }
}

/// Counts failed attempts as Zeek's scan policy and Snort's port_scan do: distinct ports that failed
/// on one host (a vertical scan) and distinct hosts that failed on one port (a horizontal scan), in
/// one window. Only failures count, so a scraper that succeeds everywhere is never flagged.
public struct ThresholdDetector: ScanDetector, Sendable {
    public var name: String { "threshold" }
    /// Distinct failed ports on one host that make a vertical scan. Zeek uses 15 in 5 minutes. Lower
    /// catches smaller scans and flags more clients that retry several closed services.
    public var portsPerHost = 15
    /// Distinct failed hosts on one port that make a horizontal scan. Zeek uses 25 in 5 minutes. Lower
    /// catches smaller sweeps and flags more clients whose peers are often gone (P2P, stale DNS).
    public var hostsPerPort = 25
    /// Distinct failed (host, port) targets in all that make a block scan, when neither count above is
    /// reached. Lower catches scans spread thin over ports and hosts, and flags busy P2P clients sooner.
    public var failedTargets = 50
    /// Distinct failed hosts on one port that make a small horizontal scan when failures are also at
    /// least `sweepFailedShare` of the source's attempts in the window (Slips: 6 hosts). Lower catches
    /// smaller sweeps, and flags more clients whose peers on one port are often gone.
    public var sweepHosts = 6
    /// The share of the window's attempts that must have failed for `sweepHosts` to count: a client
    /// that reaches most of what it tries (a browser with a few dead CDN edges) is not sweeping.
    public var sweepFailedShare = 0.25
    /// The share of the window's distinct hosts that the sweep's failed hosts must make up: a sweep's
    /// targets are much of what it touches, where a busy client's dead CDN edges on 443 are a fraction
    /// of the score of hosts it reaches. The smallest real sweep in the test data (Slips' horizontal
    /// scan: 10 failed hosts on port 80 among the 29 the source touched, the rest its web traffic)
    /// makes 0.34. Higher spares busier clients, and misses sweeps hidden among more traffic.
    public var sweepHostShare = 0.3

    /// Every bound counts distinct failed targets (ports of a host, hosts of a port, all of them), so a
    /// window with fewer than the smallest bound is flagged only if a bound was crossed at a flow.
    public func mayFlag(_ activity: ActivityAccumulator, _ memory: SourceMemory) -> Bool {
        memory.threshold.crossed || activity.failedTargets.count >= smallestBound
    }

    /// A bound is a count of distinct failed targets, each a flow at least.
    public var minimumFlowsToFlag: Int { max(1, smallestBound) }

    /// The fewest distinct failed targets any bound needs.
    var smallestBound: Int { min(portsPerHost, hostsPerPort, failedTargets, sweepHosts) }

    public init() {}

    public func judge(_ windows: [ClosedWindow]) -> [Verdict] {
        windows.map { w in
            let host = w.busiestHost, port = w.busiestPort
            let vertical = Double(host?.failedPorts ?? 0) / Double(portsPerHost)
            let horizontal = Double(port?.failedHosts ?? 0) / Double(hostsPerPort)
            let block = Double(w.activity.failedTargets.count) / Double(failedTargets)
            let share = Double(w.activity.failedFlows) / Double(max(1, w.activity.flows))
            let failedOnPort = port?.failedHosts ?? 0
            let sweeping = share >= sweepFailedShare && Double(failedOnPort) >= sweepHostShare * Double(w.activity.hosts.count)
            let sweep = sweeping ? Double(failedOnPort) / Double(sweepHosts) : 0
            var score = min(1, max(vertical, horizontal, block, sweep))
            var reason = ""
            if let host, vertical >= 1 {
                reason = "\(host.failedPorts) failed ports on \(host.host) ≥ \(portsPerHost)"
            } else if let port, horizontal >= 1 {
                reason = "\(port.failedHosts) failed hosts on port \(port.port) ≥ \(hostsPerPort)"
            } else if block >= 1 {
                reason = "\(w.activity.failedTargets.count) failed targets ≥ \(failedTargets)"
            } else if let port, sweep >= 1 {
                reason =
                    "\(port.failedHosts) failed hosts on port \(port.port) ≥ \(sweepHosts), of \(w.activity.hosts.count) hosts touched; \(Int((share * 100).rounded()))% of attempts failed"
            } else if w.memory.threshold.crossed {
                // Crossed at a flow (`decide`), and the whole window fell back under the bounds: the
                // share of failures fell as the source went on. The window still started its episode.
                score = 1
                reason = "a bound crossed within the window (\(port?.failedHosts ?? 0) failed hosts on port \(port?.port ?? 0) at most)"
            }
            return Verdict(score: score, flagged: score >= 1, reason: reason)
        }
    }

    public var decidesPerFlow: Bool { true }

    /// Counts the flow's new failed target and tells whether a count reached its bound: the bounds
    /// `judge` applies to the whole window, so a window that crossed here is flagged there.
    /// - Complexity: O(1).
    public func decide(_ step: FlowStep, _ memory: inout SourceMemory) -> Bool {
        if memory.threshold.crossed { return true }
        guard let target = step.newFailedTarget else { return false }
        let ports = memory.threshold.portsByHost[target.host, default: 0] + 1
        memory.threshold.portsByHost[target.host] = ports
        let hosts = memory.threshold.hostsByPort[target.port, default: 0] + 1
        memory.threshold.hostsByPort[target.port] = hosts
        if ports >= portsPerHost || hosts >= hostsPerPort || step.failedTargets >= failedTargets
            || (hosts >= sweepHosts && Double(step.failedFlows) >= sweepFailedShare * Double(step.flows)
                && Double(hosts) >= sweepHostShare * Double(step.hosts))
        {
            // The counts are no longer needed: free them.
            memory.threshold = ThresholdCounts()
            memory.threshold.crossed = true
        }
        return memory.threshold.crossed
    }

    public func windowClosed(_ memory: inout SourceMemory) {
        if memory.threshold != ThresholdCounts() { memory.threshold = ThresholdCounts() }
    }

    public var parameters: [(name: String, value: Double)] {
        [
            ("threshold ports per host", Double(portsPerHost)), ("threshold hosts per port", Double(hostsPerPort)),
            ("threshold targets", Double(failedTargets)), ("threshold sweep hosts", Double(sweepHosts)),
            ("threshold sweep failed share", sweepFailedShare), ("threshold sweep host share", sweepHostShare),
        ]
    }
}

/// A source's distinct failed targets over the slow-scan detector's horizon: each (host, port) with
/// the last time it failed, and the counts per host and per port they make. Empty for a source with no
/// failures; at most `SlowScanDetector.maximumTargets` targets.
public struct SlowScanState: Sendable, Equatable {
    struct Target: Hashable, Sendable, Comparable {
        var host: IPAddress
        var port: UInt16
        static func < (a: Target, b: Target) -> Bool { a.host != b.host ? a.host < b.host : a.port < b.port }
    }
    var targets: [Target: Double] = [:]
    /// The counts per host and per port, kept from `countedFrom` targets on (empty below: counted
    /// from the targets when asked). Most sources fail on a few targets over the horizon, and two
    /// more tables for each of them were a fifth of detection's memory at a quarter of a million
    /// sources.
    private(set) var portsByHost: [IPAddress: Int] = [:]
    private(set) var hostsByPort: [UInt16: Int] = [:]
    /// When targets older than the horizon were last dropped.
    var pruned = -Double.infinity
    /// A bound was reached: the source scans slowly (until its episode ends).
    var crossed = false

    static let countedFrom = 16

    public init() {}

    /// The counts, from the targets (none below `countedFrom`).
    mutating func recount() {
        portsByHost = [:]
        hostsByPort = [:]
        guard targets.count >= Self.countedFrom else { return }
        for t in targets.keys {
            portsByHost[t.host, default: 0] += 1
            hostsByPort[t.port, default: 0] += 1
        }
    }

    /// Counts a target just added to `targets`. - Returns: the host's failed ports and the port's
    /// failed hosts, the new target's included.
    mutating func counted(_ target: Target) -> (ports: Int, hosts: Int) {
        if targets.count < Self.countedFrom { return countedByScan(target) }
        if targets.count == Self.countedFrom {
            recount()
            return (portsByHost[target.host]!, hostsByPort[target.port]!)
        }
        let ports = portsByHost[target.host, default: 0] + 1
        portsByHost[target.host] = ports
        let hosts = hostsByPort[target.port, default: 0] + 1
        hostsByPort[target.port] = hosts
        return (ports, hosts)
    }

    /// The failed ports of `target`'s host and the failed hosts of its port, read off the targets
    /// (below `countedFrom`, where the tables are not kept).
    private func countedByScan(_ target: Target) -> (ports: Int, hosts: Int) {
        var ports = 0, hosts = 0
        for t in targets.keys {
            if t.host == target.host { ports += 1 }
            if t.port == target.port { hosts += 1 }
        }
        return (ports, hosts)
    }

    /// The host with the most failed ports and the port with the most failed hosts (ties: the lower
    /// address or port), with their counts.
    var busiest: (host: (key: IPAddress, value: Int)?, port: (key: UInt16, value: Int)?) {
        if targets.count >= Self.countedFrom {
            return (
                portsByHost.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key },
                hostsByPort.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }
            )
        }
        var host: (key: IPAddress, value: Int)? = nil, port: (key: UInt16, value: Int)? = nil
        for t in targets.keys {
            let (ports, hosts) = countedByScan(t)
            if host.map({ ports > $0.value || ports == $0.value && t.host < $0.key }) ?? true { host = (t.host, ports) }
            if port.map({ hosts > $0.value || hosts == $0.value && t.port < $0.key }) ?? true { port = (t.port, hosts) }
        }
        return (host, port)
    }

    /// Drops the targets that last failed before `cutoff`.
    mutating func drop(before cutoff: Double) {
        let old = targets.count
        targets = targets.filter { $0.value >= cutoff }
        if targets.count != old { recount() }
    }
}

/// Slow and hidden scans: distinct failed ports on one host, and distinct failed hosts on one port,
/// counted over hours (`horizon`) rather than one window, so that a scan that sends a probe every few
/// minutes, adds a couple of ports a window, or hides a handful of failures a window among successful
/// connections, adds up. Only failures count, each target once, so a client retrying one closed
/// service never does. Decides at the flow that reaches a bound; a window is flagged while the
/// source, having reached one, still fails in it.
public struct SlowScanDetector: ScanDetector, Sendable {
    public var name: String { "slow" }
    /// Distinct failed ports on one host within the horizon that make a slow vertical scan. Lower
    /// catches slower and smaller scans, and flags more clients of hosts with many closed services.
    public var portsPerHost = 30
    /// Distinct failed hosts on one port within the horizon that make a slow horizontal scan. Lower
    /// catches slower sweeps, and flags more clients whose peers on one port come and go.
    public var hostsPerPort = 50
    /// Seconds over which failed targets count. Longer catches slower scans, and lets a benign
    /// client's occasional failures add up over more time.
    public var horizon = 6 * 3600.0
    /// Most failed targets remembered per source (the oldest are dropped beyond it): memory per source
    /// stays bounded whatever it sends.
    public static let maximumTargets = 512

    public init() {}

    public var observesFlows: Bool { true }

    /// - Complexity: amortised O(1); O(targets) once per eighth of the horizon, and when the most
    ///   targets are held.
    public func observe(_ flow: FlowRecord, _ memory: inout SourceMemory) {
        guard flow.outcome.isFailure, !memory.slow.crossed else { return }
        if flow.start - memory.slow.pruned >= horizon / 8 {
            memory.slow.drop(before: flow.start - horizon)
            memory.slow.pruned = flow.start
        }
        let target = SlowScanState.Target(host: flow.destination, port: flow.destinationPort)
        if let last = memory.slow.targets[target] {
            if flow.start > last { memory.slow.targets[target] = flow.start }
            return
        }
        memory.slow.targets[target] = flow.start
        let (ports, hosts) = memory.slow.counted(target)
        if ports >= portsPerHost || hosts >= hostsPerPort {
            memory.slow.crossed = true
        } else if memory.slow.targets.count > Self.maximumTargets {
            // Spread over many hosts and ports without reaching a bound: keep the newest half. Ties go
            // by target, not by the table's hash order, so every process keeps the same ones.
            let kept = memory.slow.targets.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .prefix(Self.maximumTargets / 2)
            memory.slow.targets = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
            memory.slow.recount()
        }
    }

    public func restart(_ memory: inout SourceMemory) { memory.slow = SlowScanState() }

    public var decidesPerFlow: Bool { true }

    public func decide(_ step: FlowStep, _ memory: inout SourceMemory) -> Bool { memory.slow.crossed }

    public var parameters: [(name: String, value: Double)] {
        [("slow ports per host", Double(portsPerHost)), ("slow hosts per port", Double(hostsPerPort)), ("slow horizon", horizon)]
    }

    /// Only a source past a bound, in a window with a failure, flags.
    public func mayFlag(_ activity: ActivityAccumulator, _ memory: SourceMemory) -> Bool {
        memory.slow.crossed && activity.failedTargets.count > 0
    }

    /// Each bound counts distinct failed targets.
    public var minimumFlowsToFlag: Int { max(1, min(portsPerHost, hostsPerPort)) }

    public func judge(_ windows: [ClosedWindow]) -> [Verdict] {
        let hours = CivilTime.durationText(horizon)
        return windows.map { w in
            let s = w.memory.slow
            let (host, port) = s.busiest
            let vertical = Double(host?.value ?? 0) / Double(portsPerHost)
            let horizontal = Double(port?.value ?? 0) / Double(hostsPerPort)
            let flagged = s.crossed && w.activity.failedTargets.count > 0
            var reason = ""
            if flagged, let host, vertical >= horizontal {
                reason = "\(host.value) failed ports on \(host.key) within \(hours) ≥ \(portsPerHost)"
            } else if flagged, let port {
                reason = "\(port.value) failed hosts on port \(port.key) within \(hours) ≥ \(hostsPerPort)"
            }
            return Verdict(score: flagged ? 1 : min(0.99, max(vertical, horizontal)), flagged: flagged, reason: reason)
        }
    }
}

/// The Threshold Random Walk state of one source: the likelihood ratio so far over its first contacts.
public struct RandomWalkState: Sendable, Equatable {
    /// Natural logarithm of the likelihood ratio (scanner vs benign).
    public var logRatio = 0.0
    public var decision: Decision = .pending
    /// Times the walk reached the benign bound and started over.
    public var benignDecisions = 0
    /// First contacts seen, and how many failed.
    public var contacts = 0
    public var failures = 0
    /// Hosts contacted so far (dropped once decided).
    var contacted: Set<IPAddress> = []
    /// The current test's failed first contacts by destination port.
    var failedPorts: [UInt16: Int] = [:]
    /// Times the walk reached the scanner bound with its failures spread over as many ports as hosts,
    /// and started over.
    public var spreadRestarts = 0

    public enum Decision: String, Sendable, Equatable { case pending, scanner }

    public init() {}
}

/// Threshold Random Walk (Jung, Paxson, Berger, Balakrishnan, IEEE S&P 2004): a sequential hypothesis
/// test on whether each *new* host a source contacts answers. A benign source's first contacts succeed
/// with probability θ0, a scanner's with θ1; each success multiplies the likelihood ratio by θ1/θ0,
/// each failure by (1−θ1)/(1−θ0), until it crosses η1 = PD/PF (scanner) or η0 = (1−PD)/(1−PF) (benign;
/// the walk then starts over). It needs no window and catches slow horizontal scans; a vertical scan
/// of one host is one contact, which is why it works beside the other two.
///
/// A sweep probes its hosts on a port or a few; a peer-to-peer client's dead peers listen each on a
/// port of its own. So the walk decides only when at least half of its failed first contacts share a
/// port; failures spread wider start a new test, as the benign bound does (`spreadRestarts`).
///
/// A UDP attempt with no answer is no evidence either way: most UDP services answer only what they
/// understand, and a phone's STUN binding requests to relays that never answer are how video calls
/// start. It is not a contact; a UDP port that answers ICMP unreachable is a failure as in TCP.
public struct RandomWalkDetector: ScanDetector, Sendable {
    public var name: String { "trw" }
    /// Chance that a benign source's first contact succeeds. Lower tolerates clients with more dead peers.
    public var theta0 = 0.8
    /// Chance that a scanner's first contact succeeds. Higher catches scanners that hit more live hosts,
    /// and flags benign sources sooner.
    public var theta1 = 0.2
    /// Detection probability aimed at. Higher needs more failures before calling a scanner.
    public var detectionProbability = 0.99
    /// False-positive probability allowed. Lower needs more failures before calling a scanner.
    public var falsePositiveProbability = 0.01

    public init() {}

    public var upper: Double { log(detectionProbability / falsePositiveProbability) }
    public var lower: Double { log((1 - detectionProbability) / (1 - falsePositiveProbability)) }

    public var observesFlows: Bool { true }

    public func observe(_ flow: FlowRecord, _ memory: inout SourceMemory) { observe(flow, &memory.walk) }

    public func restart(_ memory: inout SourceMemory) { memory.walk = RandomWalkState() }

    public var decidesPerFlow: Bool { true }

    /// The walk crossed the scanner bound (at this flow or before).
    public func decide(_ step: FlowStep, _ memory: inout SourceMemory) -> Bool { memory.walk.decision == .scanner }

    public var parameters: [(name: String, value: Double)] {
        [
            ("trw theta0", theta0), ("trw theta1", theta1), ("trw detection probability", detectionProbability),
            ("trw false-positive probability", falsePositiveProbability),
        ]
    }

    /// Feeds one flow; only a first contact with a host moves the walk.
    /// - Complexity: amortised O(1).
    public func observe(_ flow: FlowRecord, _ state: inout RandomWalkState) {
        guard state.decision == .pending, flow.transport != .udp || flow.outcome != .unanswered,
            state.contacted.insert(flow.destination).inserted
        else { return }
        state.contacts += 1
        if flow.outcome.isFailure {
            state.failures += 1
            state.logRatio += log((1 - theta1) / (1 - theta0))
            state.failedPorts[flow.destinationPort, default: 0] += 1
        } else {
            state.logRatio += log(theta1 / theta0)
        }
        if state.logRatio >= upper {
            if 2 * (state.failedPorts.values.max() ?? 0) >= state.failures {
                state.decision = .scanner
                state.contacted = []
                state.failedPorts = [:]
            } else {
                state.spreadRestarts += 1
                state.logRatio = 0
                state.contacts = 0
                state.failures = 0
                state.failedPorts = [:]
            }
        } else if state.logRatio <= lower {
            // Benign so far: start a new test, so that a source that turns to scanning later is caught.
            // Hosts already contacted stay known and do not count again.
            state.benignDecisions += 1
            state.logRatio = 0
            state.contacts = 0
            state.failures = 0
            state.failedPorts = [:]
        }
    }

    /// Only a walk that reached the scanner bound flags.
    public func mayFlag(_ activity: ActivityAccumulator, _ memory: SourceMemory) -> Bool { memory.walk.decision == .scanner }

    /// The walk starts at 0 and only a failed first contact moves it up, by log((1 − θ1)/(1 − θ0)):
    /// it reaches the scanner bound after that many failures at the fewest.
    public var minimumFlowsToFlag: Int {
        let step = log((1 - theta1) / (1 - theta0))
        guard step > 0, step.isFinite else { return 1 }
        let failures = (upper / step).rounded(.up)
        return failures.isFinite && failures >= 1 ? Int(min(failures, 1e6)) : 1
    }

    public func judge(_ windows: [ClosedWindow]) -> [Verdict] {
        let (lo, hi) = (lower, upper)
        return windows.map { w in
            let s = w.memory.walk
            let score = s.decision == .scanner ? 1 : min(1, max(0, (s.logRatio - lo) / (hi - lo)))
            let flagged = s.decision == .scanner
            return Verdict(
                score: score, flagged: flagged,
                reason: flagged ? "\(s.failures) of \(s.contacts) first contacts failed" : "")
        }
    }
}

/// The scan CNN on the window's activity image. Only windows with a few distinct failed targets, and
/// failures among a fair share of their attempts, are drawn and scored (`ImageSchedule.worthScoring`);
/// the rest score 0. Scans leave failures. Real workstations that talk to a hundred hosts (CIC-IDS2017
/// benign, Stratosphere test captures) and get nearly every answer drew images the model had not seen
/// and were flagged before this filter.
///
/// It also judges open windows (`openWindowInterval`), so that a scan only the CNN recognises alerts
/// within a minute or so of log time rather than when its window closes: an open window is scored when
/// the log's clock passes a multiple of `schedule.interval` after it first passes the filter, and again
/// at later such moments whenever its distinct failed targets have grown by a quarter. The image of an
/// open window is that of a whole window holding its flows so far (see `ImageSchedule`).
public struct CNNDetector: ScanDetector {
    public var name: String { "cnn" }
    public let model: ScanModel
    /// Scan probability at or above which a window is flagged. Lower catches more, flags more.
    public var threshold = 0.5
    /// Which windows are scored, and how often open ones are.
    public var schedule = ImageSchedule()
    /// When no other detector flags (policy `any`), the CNN's flag alerts only if at least this share
    /// of the window's attempts failed, or if `aloneFailedPorts` ports failed on one host. Busy benign
    /// clients (dead CDN edges, refused DNS over TLS, silent STUN relays) that the CNN takes for sweeps
    /// mostly fail in 20–75 % of their attempts, one port on each host; the scans it alone finds in the real
    /// logs fail in 86–100 %, or (a few top ports of a server with some open) on several ports of one
    /// host. 0 lets it alert alone on any window; higher needs more failures before an image alone is
    /// believed.
    public var aloneFailedShare = CNNDetector.defaultAloneFailedShare
    public static let defaultAloneFailedShare = 0.8
    /// Distinct failed ports on one host that let the CNN's flag alert alone whatever the share of
    /// failures (see `aloneFailedShare`): a small vertical scan.
    public var aloneFailedPorts = 5
    public var threads = defaultThreadCount
    /// Images scored in one batch at most (5 MB of pixels).
    static let imagesAtOnce = 256

    public init(model: ScanModel) { self.model = model }

    public var parameters: [(name: String, value: Double)] {
        [
            ("cnn threshold", threshold), ("cnn minimum failed targets", Double(schedule.minimumFailedTargets)),
            ("cnn minimum failed share", schedule.minimumFailedShare), ("cnn open-window interval", schedule.interval),
            ("cnn alone failed share", aloneFailedShare), ("cnn alone failed ports", Double(aloneFailedPorts)),
        ]
    }

    public var openWindowInterval: Double? { schedule.interval }

    public func worthJudgingOpen(_ activity: ActivityAccumulator, judgedTargets: Int) -> Bool {
        schedule.worthRescoring(activity, scoredTargets: judgedTargets)
    }

    /// The share of the window's attempts that failed reaches `aloneFailedShare`, or the ports that
    /// failed on one host reach `aloneFailedPorts`.
    public func mayFlagAlone(_ window: ClosedWindow) -> Bool {
        let a = window.activity
        return Double(a.failedFlows) >= aloneFailedShare * Double(a.flows) || (window.busiestHost?.failedPorts ?? 0) >= aloneFailedPorts
    }

    /// Only windows the schedule scores can be flagged.
    public func mayFlag(_ activity: ActivityAccumulator, _ memory: SourceMemory) -> Bool { schedule.worthScoring(activity) }

    /// The schedule scores windows with this many distinct failed targets at least.
    public var minimumFlowsToFlag: Int { max(1, schedule.minimumFailedTargets) }

    public func judge(_ windows: [ClosedWindow]) throws -> [Verdict] {
        let chosen = windows.indices.filter { schedule.worthScoring(windows[$0].activity) }
        var verdicts = [Verdict](repeating: .silent, count: windows.count)
        guard !chosen.isEmpty else { return verdicts }
        // At most `imagesAtOnce` images at a time: a sweep can close tens of thousands of windows
        // (the end of a log, an hour of background scanners), and their images at once took 20 KB
        // each, 225 MB for 11,000.
        var start = 0
        while start < chosen.count {
            let part = chosen[start..<min(start + Self.imagesAtOnce, chosen.count)]
            start = part.endIndex
            var features = ContiguousArray<Float>(repeating: 0, count: part.count * ActivityImage.count)
            features.withUnsafeMutableBufferPointer { all in
                for (n, i) in part.enumerated() {
                    let slice = UnsafeMutableBufferPointer(rebasing: all[(n * ActivityImage.count)..<((n + 1) * ActivityImage.count)])
                    windows[i].activity.render(into: slice)
                }
            }
            let samples = try Samples(
                sampleShape: model.network.inputShape, features: features, labels: [Int32](repeating: 0, count: part.count))
            let scores = try model.scanProbabilities(samples, threads: threads)
            for (i, score) in zip(part, scores) {
                let flagged = score >= threshold
                verdicts[i] = Verdict(
                    score: score, flagged: flagged, reason: flagged ? "activity image scored \(String(format: "%.2f", score))" : "",
                    alone: !flagged || mayFlagAlone(windows[i]))
            }
        }
        return verdicts
    }
}

/// How the detectors' verdicts become an alert.
public enum EnsemblePolicy: String, Sendable, CaseIterable, Codable {
    /// Any detector flags: misses least (an allowlist silences what is known to be fine). A flag
    /// that may not stand alone (`Verdict.alone`) needs a second detector's.
    case any
    /// More than half of the detectors flag.
    case majority
    /// The mean score reaches `weightedThreshold`.
    case weighted

    public func decide(_ verdicts: [Verdict], weights: [Double], weightedThreshold: Double) -> Bool {
        switch self {
        case .any:
            var flags = 0
            for v in verdicts where v.flagged {
                if v.alone { return true }
                flags += 1
            }
            return flags >= 2
        case .majority: return verdicts.filter(\.flagged).count * 2 > verdicts.count
        case .weighted:
            let total = weights.reduce(0, +)
            guard total > 0 else { return false }
            return zip(verdicts, weights).reduce(0) { $0 + $1.0.score * $1.1 } / total >= weightedThreshold
        }
    }
}
