import ActivityImage
import FlowRecords
import Foundation
import Support

/// A checkpoint written by a pipeline configured otherwise: restoring it would not continue the same
/// detection. The description names the first difference.
public struct CheckpointMismatchError: Error, CustomStringConvertible, Equatable, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Checkpoints: the whole state of a pipeline as bytes, so that another process can restore it into a
/// pipeline made from the same recipe and go on with the same behaviour, alert for alert.
///
/// Format (version 7; see `checkpointVersion` for what older versions lack), in the `WireWriter` encoding:
/// - `FHCK`, then the format version (a varint);
/// - the configuration that changes behaviour: detector names in order, window, lateness, quiet period,
///   idle timeout, maximum sources, policy, each detector's weight, weighted threshold, batch, and the
///   parameters of the built-in detectors (`threshold`'s counts, `trw`'s probabilities, `cnn`'s
///   threshold and filters, not its weights). The allowlist is left out on purpose: it can change
///   between runs, and applies to flows and alerts from then on;
/// - the state: statistics, clock, sources (window, activity, the detectors' memory, last seen, how far
///   the open window was judged open and whether it is due again), the window and expiry
///   buckets (their address lists in their order), open episodes, windows waiting to be judged, and
///   the distributed-scan detector's watched hosts and open episodes.
///
/// Tables and sets are written in ascending order, so equal states give equal bytes.
extension ScanDetection {
    static let checkpointMagic = Array("FHCK".utf8)
    /// Version 2 adds `episodesEndedEarly` to the statistics; version 3 the start and update alert
    /// counts, the threshold detector's counts of the open window, and each episode's detection time
    /// and updates; version 4 the count of open windows judged and each source's open-window
    /// judgement (its failed targets when last judged open, and whether it is due). Older checkpoints
    /// still restore (with zeros, an episode detected at its first flow, and open windows not yet
    /// judged open); version 5 the slow-scan detector's failed targets, and the walk's failed first
    /// contacts by port and its restarts for spread failures; version 6 the distributed-scan
    /// detector's counts, watched hosts and episodes, and the count of multicast and broadcast flows;
    /// version 7 each window's and episode's answered ports, transport and first and last flows (an
    /// older checkpoint restores without them: no answered ports so far, and no transport named);
    /// version 8 the sources whose first flow is held (`firstContacts`), with that flow (the fields
    /// detection reads; the others as a new record has them), its window
    /// and whether a sweep closed it (older checkpoints have none).
    static let checkpointVersion: UInt64 = 8

    /// The pipeline's whole state. Call it between `add`s (a pipeline is not for concurrent use).
    /// - Complexity: O(n log n) in the sources, hosts and ports held.
    public func checkpoint() -> [UInt8] {
        var w = WireWriter(capacity: 1024 + sources.count * 96)
        w.raw(Self.checkpointMagic)
        w.varint(Self.checkpointVersion)
        CheckpointConfiguration(self).encode(to: &w)

        let s = statistics
        for n in [
            s.flows, s.windows, s.flaggedWindows, s.alerts, s.silenced, s.allowlistedFlows, s.icmpErrors,
            s.lateFlows, s.evictedSources, s.peakSources, s.episodesEndedEarly, s.startAlerts, s.updateAlerts,
            s.openWindows, s.distributedAlerts, s.distributedStartAlerts, s.evictedTargets, s.multicastFlows,
        ] { w.int(n) }
        w.f64(now)
        w.f64(nextSweep)

        w.count(sources.count)
        for (source, state) in sources.sorted(by: { $0.key < $1.key }) {
            w.address(source)
            w.signed(state.window)
            state.activity.encode(to: &w)
            state.memory.encode(to: &w)
            w.f64(state.lastSeen)
            w.int(Int(state.openJudgedTargets))
            w.bool(state.openDue)
        }
        w.count(firstContacts.count)
        for (source, held) in firstContacts.sorted(by: { $0.key < $1.key }) {
            held.flow(of: source).encode(to: &w)
            w.signed(windowIndex(held.start))
            w.bool(held.closed)
        }
        for buckets in [windowBuckets, expiryBuckets] {
            w.count(buckets.count)
            for (window, list) in buckets.sorted(by: { $0.key < $1.key }) {
                w.signed(window)
                w.count(list.count)
                for source in list { w.address(source) }
            }
        }
        w.count(episodes.count)
        for (_, episode) in episodes.sorted(by: { $0.key < $1.key }) { episode.encode(to: &w) }
        w.count(pending.count)
        for window in pending {
            w.address(window.source)
            w.f64(window.windowStart)
            window.activity.encode(to: &w)
            window.memory.encode(to: &w)
        }
        let watched = watchedTargets
        w.count(watched.count)
        for (target, state) in watched.sorted(by: { $0.key < $1.key }) {
            w.address(target)
            state.encode(to: &w)
        }
        w.count(targetEpisodes.count)
        for (_, episode) in targetEpisodes.sorted(by: { $0.key < $1.key }) { episode.encode(to: &w) }
        return w.bytes
    }

    /// Replaces the pipeline's state with a checkpoint's. The pipeline must be configured as the one that
    /// wrote it (else `CheckpointMismatchError`, naming the first difference); damaged or cut bytes are a
    /// `WireError`. When it throws, the pipeline is as it was.
    public func restore(from bytes: [UInt8]) throws {
        var r = WireReader(bytes)
        let magic = try r.raw(Self.checkpointMagic.count, "the checkpoint's magic")
        guard magic.elementsEqual(Self.checkpointMagic) else {
            throw WireError("not a Flowhound detection checkpoint: it starts with \(magic.map { String(format: "%02x", $0) }.joined(separator: " ")), not FHCK")
        }
        let version = try r.varint("the checkpoint's format version")
        guard (1...Self.checkpointVersion).contains(version) else {
            throw WireError("checkpoint format version \(version) is not one this Flowhound reads (it reads versions 1 to \(Self.checkpointVersion))")
        }
        let written = try CheckpointConfiguration(from: &r)
        if let difference = CheckpointConfiguration(self).difference(from: written) { throw CheckpointMismatchError(difference) }

        var s = DetectionStatistics()
        s.flows = try r.int("flows")
        s.windows = try r.int("windows")
        s.flaggedWindows = try r.int("flagged windows")
        s.alerts = try r.int("alerts")
        s.silenced = try r.int("silenced alerts")
        s.allowlistedFlows = try r.int("allowlisted flows")
        s.icmpErrors = try r.int("ICMP errors")
        s.lateFlows = try r.int("late flows")
        s.evictedSources = try r.int("evicted sources")
        s.peakSources = try r.int("peak sources")
        if version >= 2 { s.episodesEndedEarly = try r.int("episodes ended early") }
        if version >= 3 {
            s.startAlerts = try r.int("start alerts")
            s.updateAlerts = try r.int("update alerts")
        }
        if version >= 4 { s.openWindows = try r.int("open windows judged") }
        if version >= 6 {
            s.distributedAlerts = try r.int("distributed-scan alerts")
            s.distributedStartAlerts = try r.int("distributed-scan start alerts")
            s.evictedTargets = try r.int("hosts no longer watched")
            s.multicastFlows = try r.int("multicast and broadcast flows")
        }
        let now = try readTime(&r, "clock", orStart: true)
        let nextSweep = try readTime(&r, "next sweep", orStart: true)

        let sourceCount = try r.count("count of sources", minimumItemSize: 5 + 1 + 22 + 13 + 8)
        var sources: [IPAddress: SourceState] = [:]
        sources.reserveCapacity(sourceCount)
        var previous: IPAddress? = nil
        for _ in 0..<sourceCount {
            let source = try r.address("source")
            try ascending(source, after: previous, "sources")
            previous = source
            let window = try r.signed("window of \(source)")
            let activity = try ActivityAccumulator(from: &r, withFlowDetail: version >= 7)
            let memory = try SourceMemory(from: &r, version: version)
            let lastSeen = try readTime(&r, "last seen of \(source)", orStart: false)
            var state = SourceState(window: window, activity: activity, memory: memory, lastSeen: lastSeen)
            if version >= 4 {
                let judged = try r.int("failed targets of \(source)'s window when judged open")
                guard judged <= activity.failedTargets.count else {
                    throw WireError("\(source): judged open at \(judged) failed targets, more than its window's \(activity.failedTargets.count)")
                }
                state.openJudgedTargets = Int32(judged)
                state.openDue = try r.bool("whether \(source)'s open window is due")
            }
            sources[source] = state
        }
        var firstContacts = AddressTable<FirstContact>()
        if version >= 8 {
            // A record takes at least 40 bytes (FlowMessage's bound).
            let count = try r.count("count of held first flows", minimumItemSize: 40 + 1 + 1)
            firstContacts.reserveCapacity(count)
            previous = nil
            for _ in 0..<count {
                let flow = try FlowRecord(from: &r)
                try ascending(flow.source, after: previous, "held first flows")
                previous = flow.source
                guard sources[flow.source] == nil else { throw WireError("\(flow.source) is both held and a source with state") }
                let window = try r.signed("window of \(flow.source)'s held flow")
                guard window == windowIndex(flow.start) else {
                    throw WireError("\(flow.source)'s held flow starts at \(flow.start), outside its window \(window)")
                }
                firstContacts[flow.source] = FirstContact(flow: flow, closed: try r.bool("whether \(flow.source)'s window closed"))
            }
        }
        var bucketTables: [[Int64: AddressBlocks]] = []
        for name in ["window buckets", "expiry buckets"] {
            let count = try r.count("count of \(name)", minimumItemSize: 2)
            var table: [Int64: AddressBlocks] = [:]
            table.reserveCapacity(count)
            var previous: Int64? = nil
            for _ in 0..<count {
                let window = try r.signed("window of \(name)")
                if let previous, window <= previous { throw WireError("\(name): window \(window) after \(previous), not in ascending order") }
                previous = window
                let n = try r.count("sources in \(name)", minimumItemSize: 5)
                var list = AddressBlocks()
                for _ in 0..<n { list.append(try r.address("source in \(name)")) }
                table[window] = list
            }
            bucketTables.append(table)
        }
        let episodeCount = try r.count("count of episodes", minimumItemSize: 5 + 16 + 3 + 4 + 2 + 2 + 8)
        var episodes: [IPAddress: Episode] = [:]
        episodes.reserveCapacity(episodeCount)
        previous = nil
        for _ in 0..<episodeCount {
            let episode = try Episode(from: &r, version: version)
            try ascending(episode.alert.source, after: previous, "episodes")
            previous = episode.alert.source
            episodes[episode.alert.source] = episode
        }
        let pendingCount = try r.count("count of pending windows", minimumItemSize: 5 + 8 + 22 + 13)
        var pending: [ClosedWindow] = []
        pending.reserveCapacity(pendingCount)
        for _ in 0..<pendingCount {
            let source = try r.address("source of a pending window")
            let start = try readTime(&r, "start of a pending window of \(source)", orStart: false)
            let activity = try ActivityAccumulator(from: &r, withFlowDetail: version >= 7)
            guard activity.flows > 0 else { throw WireError("pending window of \(source) at \(start) has no flows") }
            let memory = try SourceMemory(from: &r, version: version)
            pending.append(ClosedWindow(source: source, windowStart: start, windowLength: settings.window, activity: activity, memory: memory))
        }
        var targets: [IPAddress: TargetState] = [:]
        var heldTargets = AddressTable<HeldProbe>()
        var targetEpisodes: [IPAddress: TargetEpisode] = [:]
        if version >= 6 {
            // Written only by a pipeline with the detector (the configuration says so, and matched).
            let d = distributed ?? DistributedScanDetector()
            let targetCount = try r.count("count of watched hosts", minimumItemSize: 5 + 2 + 16)
            guard targetCount <= d.maxTargets else { throw WireError("\(targetCount) watched hosts, more than the \(d.maxTargets) the detector holds") }
            previous = nil
            for _ in 0..<targetCount {
                let target = try r.address("watched host")
                try ascending(target, after: previous, "watched hosts")
                previous = target
                let state = try TargetState(from: &r, target, d)
                // A host with one attempt is held as the pipeline would have held it.
                if d.holdsFirstProbes, let held = HeldProbe(state) {
                    heldTargets[target] = held
                } else {
                    targets[target] = state
                }
            }
            let episodeCount = try r.count("count of distributed-scan episodes", minimumItemSize: 5 + 8 * 5)
            guard episodeCount <= DistributedScanDetector.maximumOpenEpisodes else {
                throw WireError("\(episodeCount) distributed-scan episodes, more than the \(DistributedScanDetector.maximumOpenEpisodes) held at once")
            }
            previous = nil
            for _ in 0..<episodeCount {
                let episode = try TargetEpisode(from: &r)
                try ascending(episode.target, after: previous, "distributed-scan episodes")
                previous = episode.target
                targetEpisodes[episode.target] = episode
            }
        }
        guard r.isAtEnd else { throw WireError("\(r.remaining) byte\(r.remaining == 1 ? "" : "s") after the end of the checkpoint") }

        statistics = s
        self.now = now
        self.nextSweep = nextSweep
        self.sources = sources
        self.firstContacts = firstContacts
        windowBuckets = bucketTables[0]
        expiryBuckets = bucketTables[1]
        bucketEntries = bucketTables.reduce(0) { $0 + $1.values.reduce(0) { $0 + $1.count } }
        self.episodes = episodes
        self.pending = pending
        self.targets = targets
        self.heldTargets = heldTargets
        self.targetEpisodes = targetEpisodes
        // A pipeline that does not hold first flows gives them state, as it would have on arrival.
        if !holdsFirstContacts { promoteFirstContacts() }
        for source in episodes.keys where sources[source] != nil { self.sources[source]!.inEpisode = true }
        dueSources = sources.filter(\.value.openDue).keys.sorted()
        // Where the writer's next open-window judgement was: the first multiple of the interval after
        // its clock (one runs whenever the clock reaches it).
        if !openJudges.isEmpty {
            nextOpenJudgement = now.isFinite ? schedule.openJudgement(after: now) : -.infinity
        }
    }

    /// A time the clock or a window can take: finite with a window number that fits 64 bits, or (for
    /// the clock before the first flow) minus infinity.
    private func readTime(_ r: inout WireReader, _ what: String, orStart: Bool) throws -> Double {
        let t = try r.f64(what)
        if orStart && t == -.infinity { return t }
        guard t.isFinite, abs(t / settings.window) < 1e18 else { throw WireError("\(what) is \(t), not a time") }
        return t
    }

    private func ascending(_ source: IPAddress, after previous: IPAddress?, _ what: String) throws {
        if let previous, !(previous < source) { throw WireError("\(what): \(source) after \(previous), not in ascending order") }
    }
}

/// What a checkpoint holds of the pipeline's configuration, each part as the mismatch error shows it.
struct CheckpointConfiguration {
    var detectors: [String]
    var window: Double
    var lateness: Double
    var quietPeriod: Double
    var idleTimeout: Double
    var maxSources: Int
    var policy: String
    /// Each detector's weight, in detector order (weights for detectors that do not run change nothing).
    var weights: [Double]
    var weightedThreshold: Double
    var batch: Int
    /// The built-in detectors' settings, named.
    var parameters: [(name: String, value: Double)]

    init(_ d: ScanDetection) {
        let s = d.settings
        detectors = d.detectors.map(\.name) + (d.distributed.map { [$0.name] } ?? [])
        window = s.window
        lateness = s.lateness
        quietPeriod = s.quietPeriod
        idleTimeout = s.idleTimeout
        maxSources = s.maxSources
        policy = s.policy.rawValue
        weights = d.detectors.map { s.weights[$0.name] ?? 1 }
        weightedThreshold = s.weightedThreshold
        batch = s.batch
        parameters = d.detectors.flatMap(\.parameters) + (d.distributed?.parameters ?? [])
    }

    func encode(to w: inout WireWriter) {
        w.count(detectors.count)
        for name in detectors { w.string(name) }
        for v in [window, lateness, quietPeriod, idleTimeout] { w.f64(v) }
        w.signed(Int64(maxSources))
        w.string(policy)
        w.count(weights.count)
        for v in weights { w.f64(v) }
        w.f64(weightedThreshold)
        w.signed(Int64(batch))
        w.count(parameters.count)
        for (name, value) in parameters {
            w.string(name)
            w.f64(value)
        }
    }

    init(from r: inout WireReader) throws {
        detectors = []
        for _ in 0..<(try r.count("count of detectors")) { detectors.append(try r.string("detector name")) }
        window = try r.f64("window")
        lateness = try r.f64("lateness")
        quietPeriod = try r.f64("quiet period")
        idleTimeout = try r.f64("idle timeout")
        maxSources = Int(try r.signed("maximum sources"))
        policy = try r.string("policy")
        weights = []
        for _ in 0..<(try r.count("count of weights", minimumItemSize: 8)) { weights.append(try r.f64("weight")) }
        weightedThreshold = try r.f64("weighted threshold")
        batch = Int(try r.signed("batch"))
        parameters = []
        for _ in 0..<(try r.count("count of detector parameters", minimumItemSize: 9)) {
            parameters.append((try r.string("detector parameter"), try r.f64("detector parameter")))
        }
    }

    /// Detector parameters added after checkpoints were first written, with the value that gives the
    /// behaviour of the Flowhound that wrote them without it: a checkpoint that lacks one was written
    /// with that value.
    static let legacyParameters: [String: Double] = ["cnn alone failed share": 0, "cnn alone failed ports": 0, "threshold sweep host share": 0]

    /// How this pipeline's configuration (self) differs from the one a checkpoint was `written` with,
    /// first difference only, or nil when it does not.
    func difference(from written: CheckpointConfiguration) -> String? {
        var written = written
        for (i, p) in parameters.enumerated() where !written.parameters.contains(where: { $0.name == p.name }) {
            if let legacy = Self.legacyParameters[p.name] { written.parameters.insert((p.name, legacy), at: min(i, written.parameters.count)) }
        }
        func seconds(_ v: Double) -> String { "\(number(v)) s" }
        func weightList(_ c: CheckpointConfiguration) -> String {
            zip(c.detectors, c.weights).map { "\($0)=\(number($1))" }.joined(separator: ", ")
        }
        var parts: [(String, String, String)] = [
            ("detectors", written.detectors.joined(separator: "+"), detectors.joined(separator: "+")),
            ("window", seconds(written.window), seconds(window)),
            ("lateness", seconds(written.lateness), seconds(lateness)),
            ("quiet period", seconds(written.quietPeriod), seconds(quietPeriod)),
            ("idle timeout", seconds(written.idleTimeout), seconds(idleTimeout)),
            ("maximum sources", "\(written.maxSources)", "\(maxSources)"),
            ("policy", written.policy, policy),
            ("weights", weightList(written), weightList(self)),
            ("weighted threshold", number(written.weightedThreshold), number(weightedThreshold)),
            ("batch", "\(written.batch)", "\(batch)"),
        ]
        // Same detectors by now; their parameters differ in name only between Flowhound versions.
        let writtenNames = written.parameters.map(\.name), names = parameters.map(\.name)
        if writtenNames != names {
            let missing = names.filter { !writtenNames.contains($0) }, extra = writtenNames.filter { !names.contains($0) }
            parts.append(
                (
                    "detector parameters", extra.isEmpty ? "no \(missing.joined(separator: ", "))" : extra.joined(separator: ", "),
                    missing.isEmpty ? "no \(extra.joined(separator: ", "))" : missing.joined(separator: ", ")
                ))
        } else {
            for (a, b) in zip(written.parameters, parameters) { parts.append((b.name, number(a.value), number(b.value))) }
        }
        for (name, then, now) in parts where then != now { return "checkpoint was written with \(name) \(then), this pipeline uses \(now)" }
        return nil
    }
}

/// `600` for whole numbers, else the shortest text that reads back as the same value (distinct values
/// never print alike).
private func number(_ v: Double) -> String {
    v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)"
}

extension SourceMemory {
    /// Each detector's memory in turn: the walk, then (version 3) the threshold counts and whether
    /// they crossed a bound.
    func encode(to w: inout WireWriter) {
        walk.encode(to: &w)
        w.count(threshold.portsByHost.count)
        for (host, ports) in threshold.portsByHost.sorted(by: { $0.key < $1.key }) {
            w.int(host)
            w.int(ports)
        }
        w.count(threshold.hostsByPort.count)
        for (port, hosts) in threshold.hostsByPort.sorted(by: { $0.key < $1.key }) {
            w.u16(port)
            w.int(hosts)
        }
        w.bool(threshold.crossed)
        w.count(slow.targets.count)
        for (target, last) in slow.targets.sorted(by: { $0.key < $1.key }) {
            w.address(target.host)
            w.u16(target.port)
            w.f64(last)
        }
        w.f64(slow.pruned)
        w.bool(slow.crossed)
        w.count(walk.failedPorts.count)
        for (port, n) in walk.failedPorts.sorted(by: { $0.key < $1.key }) {
            w.u16(port)
            w.int(n)
        }
        w.int(walk.spreadRestarts)
    }

    init(from r: inout WireReader, version: UInt64) throws {
        self.init()
        walk = try RandomWalkState(from: &r)
        guard version >= 3 else { return }
        var previousHost = -1
        for _ in 0..<(try r.count("count of threshold hosts", minimumItemSize: 2)) {
            let host = try r.int("threshold host"), ports = try r.int("failed ports on a threshold host")
            guard host > previousHost, ports > 0 else { throw WireError("threshold counts: host \(host) with \(ports) ports out of order") }
            previousHost = host
            threshold.portsByHost[host] = ports
        }
        var previousPort = -1
        for _ in 0..<(try r.count("count of threshold ports", minimumItemSize: 3)) {
            let port = try r.u16("threshold port"), hosts = try r.int("failed hosts on a threshold port")
            guard Int(port) > previousPort, hosts > 0 else { throw WireError("threshold counts: port \(port) with \(hosts) hosts out of order") }
            previousPort = Int(port)
            threshold.hostsByPort[port] = hosts
        }
        threshold.crossed = try r.bool("whether the threshold was crossed")
        guard version >= 5 else { return }
        let count = try r.count("count of slow-scan targets", minimumItemSize: 5 + 2 + 8)
        guard count <= SlowScanDetector.maximumTargets + 1 else {
            throw WireError("\(count) slow-scan targets, more than the \(SlowScanDetector.maximumTargets + 1) a source holds")
        }
        var previous: SlowScanState.Target? = nil
        for _ in 0..<count {
            let target = SlowScanState.Target(host: try r.address("slow-scan target host"), port: try r.u16("slow-scan target port"))
            let last = try r.f64("slow-scan target time")
            guard previous.map({ $0 < target }) ?? true, last.isFinite else {
                throw WireError("slow-scan target \(target.host) port \(target.port) out of order or at no time")
            }
            previous = target
            slow.targets[target] = last
        }
        slow.recount()
        slow.pruned = try r.f64("slow-scan pruning time")
        guard slow.pruned.isFinite || slow.pruned == -.infinity else { throw WireError("slow-scan pruning time \(slow.pruned) is not a time") }
        slow.crossed = try r.bool("whether the slow-scan bound was crossed")
        var previousWalkPort = -1, failed = 0
        for _ in 0..<(try r.count("count of the walk's failed ports", minimumItemSize: 3)) {
            let port = try r.u16("walk failed port"), n = try r.int("failed first contacts on a walk port")
            guard Int(port) > previousWalkPort, n > 0, n <= walk.failures - failed else {
                throw WireError("walk failed ports: port \(port) with \(n) out of order, or more than the walk's \(walk.failures) failures")
            }
            previousWalkPort = Int(port)
            failed += n
            walk.failedPorts[port] = n
        }
        guard failed == walk.failures || walk.decision == .scanner && failed == 0 else {
            throw WireError("walk: \(failed) failed first contacts by port, but \(walk.failures) failures")
        }
        walk.spreadRestarts = try r.int("walk restarts for spread failures")
    }
}

extension RandomWalkState {
    func encode(to w: inout WireWriter) {
        w.f64(logRatio)
        w.u8(decision == .scanner ? 1 : 0)
        w.int(benignDecisions)
        w.int(contacts)
        w.int(failures)
        w.count(contacted.count)
        for host in contacted.sorted() { w.address(host) }
    }

    init(from r: inout WireReader) throws {
        self.init()
        logRatio = try r.f64("walk log ratio")
        switch try r.u8("walk decision") {
        case 0: decision = .pending
        case 1: decision = .scanner
        case let d: throw WireError("walk decision is \(d), not 0 (pending) or 1 (scanner), at byte \(r.offset - 1)")
        }
        benignDecisions = try r.int("walk benign decisions")
        contacts = try r.int("walk contacts")
        failures = try r.int("walk failures")
        guard failures <= contacts else { throw WireError("walk: \(failures) failures of \(contacts) contacts") }
        let n = try r.count("count of contacted hosts", minimumItemSize: 5)
        contacted.reserveCapacity(n)
        var previous: IPAddress? = nil
        for _ in 0..<n {
            let host = try r.address("contacted host")
            if let previous, !(previous < host) { throw WireError("contacted hosts: \(host) after \(previous), not in ascending order") }
            previous = host
            contacted.insert(host)
        }
    }
}

extension ScanDetection.Episode {
    func encode(to w: inout WireWriter) {
        let a = alert
        precondition(a.sourceReputation == nil, "an open episode has no source reputation")
        w.address(a.source)
        w.f64(a.firstSeen)
        w.f64(a.lastSeen)
        w.int(a.windows)
        w.int(a.flows)
        w.int(a.failedFlows)
        w.count(a.ports.count)
        for port in a.ports { w.u16(port) }
        w.count(a.hosts.count)
        for host in a.hosts { w.address(host) }
        w.count(a.scores.count)
        for (name, score) in a.scores.sorted(by: { $0.key < $1.key }) {
            w.string(name)
            w.f64(score)
        }
        w.count(a.reasons.count)
        for (name, reason) in a.reasons.sorted(by: { $0.key < $1.key }) {
            w.string(name)
            w.string(reason)
        }
        w.bool(a.busiestHost != nil)
        if let (host, failedPorts) = a.busiestHost {
            w.address(host)
            w.int(failedPorts)
        }
        w.bool(a.busiestPort != nil)
        if let (port, failedHosts) = a.busiestPort {
            w.u16(port)
            w.int(failedHosts)
        }
        w.ascending(portSet.sorted().lazy.map { UInt64($0) })
        w.count(hostSet.count)
        for host in hostSet.sorted() { w.address(host) }
        w.f64(lastFlaggedEnd)
        w.f64(detectedAt)
        w.f64(lastUpdate)
        w.int(updates)
        w.ascending(answeredSet.sorted().lazy.map { UInt64($0) })
        w.varint(UInt64(soleTransport))
        w.flowKey(a.firstFlow)
        w.flowKey(a.lastFlow)
    }

    init(from r: inout WireReader, version: UInt64) throws {
        let source = try r.address("episode source")
        let firstSeen = try r.f64("episode first seen"), lastSeen = try r.f64("episode last seen")
        guard firstSeen.isFinite, lastSeen.isFinite, firstSeen <= lastSeen else {
            throw WireError("episode of \(source): first and last seen (\(firstSeen), \(lastSeen)) are not times in order")
        }
        let windows = try r.int("episode windows"), flows = try r.int("episode flows"), failedFlows = try r.int("episode failed flows")
        var ports: [UInt16] = []
        for _ in 0..<(try r.count("count of episode ports", minimumItemSize: 2)) { ports.append(try r.u16("episode port")) }
        var hosts: [IPAddress] = []
        for _ in 0..<(try r.count("count of episode hosts", minimumItemSize: 5)) { hosts.append(try r.address("episode host")) }
        var scores: [String: Double] = [:]
        for _ in 0..<(try r.count("count of episode scores", minimumItemSize: 9)) {
            let name = try r.string("detector of an episode score")
            guard scores.updateValue(try r.f64("episode score"), forKey: name) == nil else {
                throw WireError("episode of \(source): score of \(name) appears twice")
            }
        }
        var reasons: [String: String] = [:]
        for _ in 0..<(try r.count("count of episode reasons", minimumItemSize: 2)) {
            let name = try r.string("detector of an episode reason")
            guard reasons.updateValue(try r.string("episode reason"), forKey: name) == nil else {
                throw WireError("episode of \(source): reason of \(name) appears twice")
            }
        }
        var busiestHost: (host: IPAddress, failedPorts: Int)? = nil
        if try r.bool("presence of the episode's busiest host") {
            busiestHost = (try r.address("episode busiest host"), try r.int("failed ports on the episode's busiest host"))
        }
        var busiestPort: (port: UInt16, failedHosts: Int)? = nil
        if try r.bool("presence of the episode's busiest port") {
            busiestPort = (try r.u16("episode busiest port"), try r.int("failed hosts on the episode's busiest port"))
        }
        let portSet = Set(try r.ascending("episode port set", maximum: UInt64(UInt16.max)).lazy.map { UInt16($0) })
        let hostCount = try r.count("count of episode host set", minimumItemSize: 5)
        var hostSet = Set<IPAddress>(minimumCapacity: hostCount)
        var previous: IPAddress? = nil
        for _ in 0..<hostCount {
            let host = try r.address("episode host set")
            if let previous, !(previous < host) { throw WireError("episode host set: \(host) after \(previous), not in ascending order") }
            previous = host
            hostSet.insert(host)
        }
        let lastFlaggedEnd = try r.f64("episode last flagged window end")
        guard lastFlaggedEnd.isFinite else { throw WireError("episode of \(source): last flagged window ends at \(lastFlaggedEnd)") }
        var detectedAt = firstSeen, lastUpdate = firstSeen, updates = 0
        if version >= 3 {
            detectedAt = try r.f64("episode detection time")
            lastUpdate = try r.f64("episode last update")
            updates = try r.int("episode updates")
            guard firstSeen <= detectedAt, detectedAt <= lastUpdate, lastUpdate <= lastSeen, updates >= 0 else {
                throw WireError("episode of \(source): detected at \(detectedAt), last update \(lastUpdate), \(updates) updates")
            }
        }
        var answeredSet = Set<UInt16>(), soleTransport = ActivityAccumulator.mixedTransports
        var firstFlow: FlowKey? = nil, lastFlow: FlowKey? = nil
        if version >= 7 {
            answeredSet = Set(try r.ascending("episode answered ports", maximum: UInt64(UInt16.max)).lazy.map { UInt16($0) })
            let transport = try r.varint("episode transport")
            guard transport <= UInt64(ActivityAccumulator.mixedTransports), answeredSet.isSubset(of: portSet) else {
                throw WireError("episode of \(source): transport \(transport), or answered ports outside its ports")
            }
            soleTransport = UInt16(transport)
            firstFlow = try r.flowKey("episode first flow")
            lastFlow = try r.flowKey("episode last flow")
        } else if windows == 0 {
            soleTransport = ActivityAccumulator.noTransport
        }
        var alert = ScanAlert(
            source: source, firstSeen: firstSeen, lastSeen: lastSeen, windows: windows, flows: flows,
            failedFlows: failedFlows, ports: ports, hosts: hosts, scores: scores, reasons: reasons,
            busiestHost: busiestHost, busiestPort: busiestPort, sourceReputation: nil)
        alert.firstFlow = firstFlow
        alert.lastFlow = lastFlow
        self.init(
            alert: alert, portSet: portSet, hostSet: hostSet, answeredSet: answeredSet, soleTransport: soleTransport,
            lastFlaggedEnd: lastFlaggedEnd, detectedAt: detectedAt, lastUpdate: lastUpdate, updates: updates)
    }
}

extension TargetState {
    func encode(to w: inout WireWriter) {
        w.count(sources.count)
        for (source, probes) in sources.sorted(by: { $0.key < $1.key }) {
            w.address(source)
            w.f64(probes.first)
            w.f64(probes.last)
            w.int(probes.failures)
        }
        w.count(ports.count)
        for (port, last) in ports.sorted(by: { $0.key < $1.key }) {
            w.u16(port)
            w.f64(last)
        }
        w.f64(pruned)
        w.f64(lastSeen)
    }

    init(from r: inout WireReader, _ target: IPAddress, _ d: DistributedScanDetector) throws {
        self.init(at: 0)
        let sourceCount = try r.count("count of sources on \(target)", minimumItemSize: 5 + 16 + 1)
        guard sourceCount <= d.sourceCap else { throw WireError("\(target): \(sourceCount) sources, more than the \(d.sourceCap) a watched host holds") }
        var previous: IPAddress? = nil
        for _ in 0..<sourceCount {
            let source = try r.address("source on \(target)")
            if let previous, !(previous < source) { throw WireError("sources on \(target): \(source) after \(previous), not in ascending order") }
            previous = source
            let probes = Probes(first: try r.f64("first failure"), last: try r.f64("last failure"), failures: try r.int("failures"))
            guard probes.first.isFinite, probes.last.isFinite, probes.first <= probes.last, probes.failures > 0 else {
                throw WireError("\(source) on \(target): failures \(probes.failures) from \(probes.first) to \(probes.last)")
            }
            sources[source] = probes
        }
        let portCount = try r.count("count of ports on \(target)", minimumItemSize: 2 + 8)
        guard portCount <= d.portCap else { throw WireError("\(target): \(portCount) ports, more than the \(d.portCap) a watched host holds") }
        var previousPort = -1
        for _ in 0..<portCount {
            let port = try r.u16("port on \(target)"), last = try r.f64("last failure on a port")
            guard Int(port) > previousPort, last.isFinite else { throw WireError("port \(port) on \(target) out of order or at no time") }
            previousPort = Int(port)
            ports[port] = last
        }
        pruned = try r.f64("pruning time of \(target)")
        lastSeen = try r.f64("last failure on \(target)")
        guard pruned.isFinite, lastSeen.isFinite, sources.values.allSatisfy({ $0.last <= lastSeen }) else {
            throw WireError("\(target): pruned at \(pruned), last failure at \(lastSeen)")
        }
    }
}

extension TargetEpisode {
    func encode(to w: inout WireWriter) {
        w.address(target)
        w.f64(firstSeen)
        w.f64(lastSeen)
        w.int(failedFlows)
        w.count(sources.count)
        for (source, failures) in sources.sorted(by: { $0.key < $1.key }) {
            w.address(source)
            w.int(failures)
        }
        w.int(unnamedFailures)
        w.ascending(ports.sorted().lazy.map { UInt64($0) })
        w.string(reason)
        w.f64(detectedAt)
        w.f64(lastUpdate)
        w.int(updates)
    }

    init(from r: inout WireReader) throws {
        let target = try r.address("distributed-scan target")
        let firstSeen = try r.f64("first seen of \(target)"), lastSeen = try r.f64("last seen of \(target)")
        guard firstSeen.isFinite, lastSeen.isFinite, firstSeen <= lastSeen else {
            throw WireError("distributed scan of \(target): first and last seen (\(firstSeen), \(lastSeen)) are not times in order")
        }
        let failedFlows = try r.int("failed attempts on \(target)")
        let count = try r.count("count of sources of \(target)", minimumItemSize: 5 + 1)
        guard count <= DistributedScanDetector.maximumEpisodeSources else {
            throw WireError("distributed scan of \(target): \(count) sources, more than the \(DistributedScanDetector.maximumEpisodeSources) an episode names")
        }
        var sources: [IPAddress: Int] = [:]
        var previous: IPAddress? = nil, named = 0
        for _ in 0..<count {
            let source = try r.address("source of \(target)")
            if let previous, !(previous < source) { throw WireError("sources of \(target): \(source) after \(previous), not in ascending order") }
            previous = source
            let failures = try r.int("failures of \(source)")
            guard failures > 0 else { throw WireError("\(source) on \(target): \(failures) failures") }
            named += failures
            sources[source] = failures
        }
        let unnamed = try r.int("failures of unnamed sources on \(target)")
        guard named <= failedFlows, unnamed == failedFlows - named else {
            throw WireError("distributed scan of \(target): \(named) named and \(unnamed) unnamed failures, of \(failedFlows)")
        }
        let ports = Set(try r.ascending("ports of \(target)", maximum: UInt64(UInt16.max)).lazy.map { UInt16($0) })
        let reason = try r.string("reason of \(target)")
        let detectedAt = try r.f64("detection time of \(target)"), lastUpdate = try r.f64("last update of \(target)")
        let updates = try r.int("updates of \(target)")
        guard firstSeen <= detectedAt, detectedAt <= lastUpdate, lastUpdate <= lastSeen, updates >= 0 else {
            throw WireError("distributed scan of \(target): detected at \(detectedAt), last update \(lastUpdate), \(updates) updates")
        }
        self.init(
            target: target, firstSeen: firstSeen, lastSeen: lastSeen, failedFlows: failedFlows, sources: sources, unnamedFailures: unnamed,
            ports: ports, reason: reason, detectedAt: detectedAt, lastUpdate: lastUpdate, updates: updates)
    }
}
