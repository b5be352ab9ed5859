import FlowRecords
import Foundation
import Support

/// Distributed scans: one host probed by many sources, each of which may send too few probes to be
/// called a scanner alone (Internet background scanning, a botnet sharing the work, decoys). The
/// detector watches destinations rather than sources: a host whose attempts from at least `sources`
/// distinct sources failed, on at least `ports` distinct ports, within `horizon`, is being scanned.
///
/// Only failed attempts (rejected or unanswered) count, so a busy server's clients never do; the
/// port bound keeps out a host that is down, or one closed service that many clients keep trying
/// (a dead resolver on 53, a CDN edge on 443), which fail on one or two ports. An episode starts at
/// the flow that reaches both bounds, takes in every later failed attempt on the host, and ends
/// after the quiet period without one, as a source's episode does. Sources that qualify alone
/// still have their own alerts.
public struct DistributedScanDetector: Sendable, Equatable {
    public var name: String { "distributed" }
    /// Distinct sources whose attempts on one host failed within the horizon that make a distributed
    /// scan of it. Lower catches scans shared among fewer sources, and flags more hosts that a few
    /// misconfigured clients keep trying.
    public var sources = 20
    /// Distinct ports those failed attempts were on. Lower catches many sources after one or two
    /// services (a worm), and flags more hosts that are down.
    public var ports = 5
    /// Seconds over which failed attempts on a host count. Longer catches slower, thinner scanning,
    /// and lets unrelated failures add up.
    public var horizon = 3600.0
    /// Most hosts watched at once (before an episode); beyond it the least recently probed tenth is
    /// dropped and counted, so memory is bounded whatever arrives.
    public var maxTargets = 65_536
    /// Sources an episode names, with their failed attempts; failures of sources beyond it are counted,
    /// not named.
    public static let maximumEpisodeSources = 4096
    /// Episodes open at once; beyond it the one quiet longest ends early (and is alerted).
    public static let maximumOpenEpisodes = 1024

    public init() {}

    /// Sources and ports a watched host remembers before an episode: the newest half is kept
    /// beyond it. Above the bounds, so that a host short of one bound keeps counting the other.
    var sourceCap: Int { max(64, 4 * sources) }
    var portCap: Int { max(64, 4 * ports) }

    /// Whether a host's first failed attempt is held alone (`HeldProbe`) until a second comes: exact
    /// when one attempt, one source on one port, reaches no bound.
    var holdsFirstProbes: Bool { sources > 1 || ports > 1 }

    /// Its settings as a checkpoint records them.
    var parameters: [(name: String, value: Double)] {
        [
            ("distributed sources", Double(sources)), ("distributed ports", Double(ports)), ("distributed horizon", horizon),
            ("distributed maximum targets", Double(maxTargets)),
        ]
    }
}

/// A watched host's failed attempts within the horizon: by source (first and last failure, and how
/// many) and by port (last failure).
struct TargetState: Equatable {
    struct Probes: Equatable {
        var first: Double
        var last: Double
        var failures: Int
    }

    var sources: [IPAddress: Probes] = [:]
    var ports: [UInt16: Double] = [:]
    /// When failures older than the horizon were last dropped.
    var pruned: Double
    var lastSeen: Double

    init(at time: Double) {
        pruned = time
        lastSeen = time
    }

    /// Counts a failed attempt on the host; true when the host has reached both of the detector's bounds.
    /// - Complexity: amortised O(1); O(sources + ports) once per eighth of the horizon, and when the
    ///   most are held.
    mutating func add(_ flow: FlowRecord, _ d: DistributedScanDetector) -> Bool {
        if flow.start - pruned >= d.horizon / 8 {
            drop(before: flow.start - d.horizon)
            pruned = flow.start
        }
        lastSeen = max(lastSeen, flow.start)
        if let i = sources.index(forKey: flow.source) {
            sources.values[i].first = min(sources.values[i].first, flow.start)
            sources.values[i].last = max(sources.values[i].last, flow.start)
            sources.values[i].failures += 1
        } else {
            sources[flow.source] = Probes(first: flow.start, last: flow.start, failures: 1)
        }
        if let i = ports.index(forKey: flow.destinationPort) {
            ports.values[i] = max(ports.values[i], flow.start)
        } else {
            ports[flow.destinationPort] = flow.start
        }
        if sources.count >= d.sources && ports.count >= d.ports { return true }
        // Ties go by address and port, not the tables' hash order, so every process keeps the same.
        if sources.count > d.sourceCap {
            let kept = sources.sorted { $0.value.last != $1.value.last ? $0.value.last > $1.value.last : $0.key < $1.key }
            sources = Dictionary(uniqueKeysWithValues: kept.prefix(d.sourceCap / 2).map { ($0.key, $0.value) })
        }
        if ports.count > d.portCap {
            let kept = ports.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            ports = Dictionary(uniqueKeysWithValues: kept.prefix(d.portCap / 2).map { ($0.key, $0.value) })
        }
        return false
    }

    /// Drops the sources and ports that last failed before `cutoff`.
    mutating func drop(before cutoff: Double) {
        sources = sources.filter { $0.value.last >= cutoff }
        ports = ports.filter { $0.value >= cutoff }
    }
}

/// A watched host's one failed attempt so far: 32 bytes where its `TargetState` would hold two tables.
/// Most hosts an edge sees probed are probed once and forgotten; the second attempt gives the host
/// the state it would have had (`state`).
struct HeldProbe: Equatable {
    var source: IPAddress
    var time: Double
    var port: UInt16

    init(_ flow: FlowRecord) {
        source = flow.source
        time = flow.start
        port = flow.destinationPort
    }

    /// The host's state after this attempt alone: a new state at its time with the attempt added.
    var state: TargetState {
        var state = TargetState(at: time)
        state.sources[source] = TargetState.Probes(first: time, last: time, failures: 1)
        state.ports[port] = time
        return state
    }

    /// The held form of a state that is one attempt's alone (as `state` makes it), if it is.
    init?(_ state: TargetState) {
        guard state.sources.count == 1, state.ports.count == 1, let (source, probes) = state.sources.first,
            let (port, last) = state.ports.first, probes.failures == 1, probes.first == probes.last, last == probes.first,
            state.pruned == probes.first, state.lastSeen == probes.first
        else { return nil }
        self.source = source
        time = probes.first
        self.port = port
    }
}

/// One distributed scan of one host, open: the sources and ports so far.
struct TargetEpisode: Equatable {
    var target: IPAddress
    var firstSeen: Double
    var lastSeen: Double
    /// Failed attempts on the host in the episode.
    var failedFlows = 0
    /// Failed attempts by source, at most `DistributedScanDetector.maximumEpisodeSources` sources.
    var sources: [IPAddress: Int] = [:]
    /// Failed attempts of sources not held (past the most an episode names).
    var unnamedFailures = 0
    var ports: Set<UInt16> = []
    /// The detector's reason at the flow that started it.
    var reason: String
    /// Log time of the flow that started it, and of its latest update alert.
    var detectedAt: Double
    var lastUpdate: Double
    var updates = 0

    mutating func add(_ flow: FlowRecord) {
        firstSeen = min(firstSeen, flow.start)
        lastSeen = max(lastSeen, flow.start)
        failedFlows += 1
        ports.insert(flow.destinationPort)
        if let i = sources.index(forKey: flow.source) {
            sources.values[i] += 1
        } else if sources.count < DistributedScanDetector.maximumEpisodeSources {
            sources[flow.source] = 1
        } else {
            unnamedFailures += 1
        }
    }

    /// The episode as an alert in `phase`.
    func alert(_ phase: ScanAlert.Phase) -> DistributedScanAlert {
        DistributedScanAlert(
            target: target, firstSeen: firstSeen, lastSeen: lastSeen, failedFlows: failedFlows,
            sources: sources.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ($0.key, $0.value) },
            sourcesTruncated: unnamedFailures > 0, ports: ports.sorted(), reason: reason, phase: phase,
            episodeID: DistributedScanAlert.episodeID(target, detectedAt), detectedAt: detectedAt,
            update: phase == .update ? updates : 0)
    }
}

extension ScanDetection {
    /// A failed attempt on `flow.destination`, as the distributed-scan detector sees it: added to the
    /// host's open episode, or counted, starting one when it reaches the bounds.
    func watchTarget(_ flow: FlowRecord, _ d: DistributedScanDetector) {
        let target = flow.destination
        if !allowlist.isEmpty && allowlist.contains(flow.source) { return }
        // Most of the time no episode is open: no lookup then.
        if !targetEpisodes.isEmpty, let i = targetEpisodes.index(forKey: target) {
            targetEpisodes.values[i].add(flow)
            if let interval = settings.updateInterval, flow.start - targetEpisodes.values[i].lastUpdate >= interval {
                targetEpisodes.values[i].updates += 1
                targetEpisodes.values[i].lastUpdate = flow.start
                statistics.updateAlerts += 1
                onDistributedAlert(targetEpisodes.values[i].alert(.update))
            }
            return
        }
        var found = targets.index(forKey: target)
        if found == nil {
            if d.holdsFirstProbes {
                // A host's first failure is held; the second gives it the state the first would have.
                guard let held = heldTargets.removeValue(forKey: target) else {
                    if targets.count + heldTargets.count >= d.maxTargets { forgetLeastRecentTargets(d) }
                    heldTargets[target] = HeldProbe(flow)
                    return
                }
                targets[target] = held.state
            } else {
                if targets.count >= d.maxTargets { forgetLeastRecentTargets(d) }
                targets[target] = TargetState(at: flow.start)
            }
            found = targets.index(forKey: target)
        }
        guard targets.values[found!].add(flow, d) else { return }
        let state = targets.remove(at: found!).value
        startTargetEpisode(target, state, d, at: flow.start)
    }

    private func startTargetEpisode(_ target: IPAddress, _ state: TargetState, _ d: DistributedScanDetector, at time: Double) {
        if targetEpisodes.count >= DistributedScanDetector.maximumOpenEpisodes {
            let quietest = targetEpisodes.values.min { $0.lastSeen != $1.lastSeen ? $0.lastSeen < $1.lastSeen : $0.target < $1.target }!
            endTargetEpisode(quietest.target)
            statistics.episodesEndedEarly += 1
        }
        var episode = TargetEpisode(
            target: target, firstSeen: state.sources.values.map(\.first).min() ?? time, lastSeen: state.lastSeen,
            reason:
                "\(state.sources.count) sources failed on \(state.ports.count) ports of \(target) within \(CivilTime.durationText(d.horizon)) ≥ \(d.sources) sources on \(d.ports) ports",
            detectedAt: time, lastUpdate: time)
        for (source, probes) in state.sources {
            episode.sources[source] = probes.failures
            episode.failedFlows += probes.failures
        }
        episode.ports = Set(state.ports.keys)
        targetEpisodes[target] = episode
        statistics.distributedStartAlerts += 1
        onDistributedAlert(episode.alert(.start))
    }

    private func endTargetEpisode(_ target: IPAddress) {
        guard let episode = targetEpisodes.removeValue(forKey: target) else { return }
        statistics.distributedAlerts += 1
        onDistributedAlert(episode.alert(.end))
    }

    /// Drops the least recently probed tenth of the watched hosts, held ones included (ties by address).
    private func forgetLeastRecentTargets(_ d: DistributedScanDetector) {
        let oldest = leastRecent(count: max(1, d.maxTargets / 10), of: targets.count + heldTargets.count) { visit in
            for (target, state) in targets { visit(state.lastSeen, target) }
            for (target, probe) in heldTargets { visit(probe.time, target) }
        }
        for (_, target) in oldest where heldTargets.removeValue(forKey: target) == nil { targets[target] = nil }
        statistics.evictedTargets += oldest.count
    }

    /// At each sweep: ends the episodes quiet for the quiet period (oldest first) and forgets the
    /// hosts with no failure within the horizon.
    func sweepTargets(_ d: DistributedScanDetector) {
        let ended = targetEpisodes.values.filter { $0.lastSeen + settings.quietPeriod <= now }
            .sorted { $0.lastSeen != $1.lastSeen ? $0.lastSeen < $1.lastSeen : $0.target < $1.target }
        for episode in ended { endTargetEpisode(episode.target) }
        if targets.contains(where: { $0.value.lastSeen + d.horizon < now }) {
            targets = targets.filter { $0.value.lastSeen + d.horizon >= now }
        }
        for (target, _) in heldTargets.filter({ $0.value.time + d.horizon < now }) { heldTargets.removeValue(forKey: target) }
    }

    /// The watched hosts with their states, held ones given theirs (what a checkpoint records).
    var watchedTargets: [(key: IPAddress, value: TargetState)] {
        targets.map { ($0.key, $0.value) } + heldTargets.map { ($0.key, $0.value.state) }
    }

    /// At the end of the input: every open episode ends, by host.
    func finishTargets() {
        for target in targetEpisodes.keys.sorted() { endTargetEpisode(target) }
        targets = [:]
        heldTargets.removeAll()
    }
}
