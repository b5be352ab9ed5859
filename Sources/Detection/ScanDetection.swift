import ActivityImage
import FlowRecords
import Foundation
import Support

/// Settings of the streaming pipeline, each with the trade-off it makes.
public struct DetectionSettings: Sendable {
    /// Window length, seconds. The CNN's images cover the window it was trained on (600 s for the
    /// default model), so `ScanDetection` uses that when a CNN runs. Longer windows catch slower scans by
    /// threshold and cost memory per active source.
    public var window: Double = 600
    /// How late a flow may arrive (input time) and still count in its window: exporters write flows
    /// when they end, a little out of order. Longer tolerates more disorder and delays decisions.
    public var lateness: Double = 60
    /// A source's scan episode ends after this long without a flagged window; a scan after that alerts
    /// again. Longer merges a scan that pauses into one alert, shorter repeats alerts.
    public var quietPeriod: Double = 1800
    /// A source with no flow for this long is forgotten (its walk included). Longer remembers slow
    /// scanners' first contacts, and holds more memory.
    public var idleTimeout: Double = 3600
    /// Most sources held at once; beyond it the least recently seen are evicted, counted and reported.
    public var maxSources = 1_000_000
    public var policy = EnsemblePolicy.any
    /// Detector weights for the `weighted` policy (by name; missing ones weigh 1).
    public var weights: [String: Double] = [:]
    public var weightedThreshold = 0.5
    /// Windows judged together (the CNN scores them in one batch).
    public var batch = 1024
    /// Seconds of log time between `update` alerts of an episode that goes on (nil: none, only
    /// `start` and `end`). Shorter tells a SIEM more often how a long scan grows.
    public var updateInterval: Double? = nil

    public init() {}
}

/// What the pipeline did, for the closing report.
public struct DetectionStatistics: Sendable, Codable {
    public var flows = 0
    public var windows = 0
    public var flaggedWindows = 0
    public var alerts = 0
    /// Start alerts: episodes recognised (the end alerts are `alerts`).
    public var startAlerts = 0
    /// Open windows scored before they closed (by the CNN, `ScanDetector.openWindowInterval`); not
    /// those whose flag could not start an episode alone (`ScanDetector.mayFlagAlone`).
    public var openWindows = 0
    /// Update alerts (with `updateInterval`).
    public var updateAlerts = 0
    /// Alerts of allowlisted sources, not printed.
    public var silenced = 0
    /// Flows to allowlisted destinations, not counted.
    public var allowlistedFlows = 0
    /// ICMP error messages (destination unreachable, time exceeded, ...): answers, not attempts by
    /// their sender, so left out.
    public var icmpErrors = 0
    /// Flows to multicast or broadcast addresses (discovery, announcements: LLMNR, mDNS, SSDP, DHCP):
    /// nothing answers them as a host answers a connection, so they are no attempts; left out.
    public var multicastFlows = 0
    /// Flows that arrived after their window had closed (counted in the source's current window).
    public var lateFlows = 0
    /// Sources dropped because `maxSources` was reached.
    public var evictedSources = 0
    public var peakSources = 0
    /// Episodes ended (and alerted) before their quiet period because `maxSources` episodes were
    /// open: a later flagged window of the same source starts a new one. Distributed-scan episodes
    /// ended early at `DistributedScanDetector.maximumOpenEpisodes` count here too.
    public var episodesEndedEarly = 0
    /// Distributed-scan episodes: end alerts (`alerts` counts sources' episodes only).
    public var distributedAlerts = 0
    /// Distributed-scan episodes recognised: their start alerts.
    public var distributedStartAlerts = 0
    /// Hosts the distributed-scan detector stopped watching at its `maxTargets`.
    public var evictedTargets = 0
}

extension DetectionStatistics {
    /// Adds another detection's counts (a partition's): every count is a sum; `peakSources` becomes
    /// the sum of the peaks, an upper bound of the sources held at once.
    public mutating func add(_ o: DetectionStatistics) {
        flows += o.flows
        windows += o.windows
        flaggedWindows += o.flaggedWindows
        alerts += o.alerts
        startAlerts += o.startAlerts
        openWindows += o.openWindows
        updateAlerts += o.updateAlerts
        silenced += o.silenced
        allowlistedFlows += o.allowlistedFlows
        icmpErrors += o.icmpErrors
        multicastFlows += o.multicastFlows
        lateFlows += o.lateFlows
        evictedSources += o.evictedSources
        peakSources += o.peakSources
        episodesEndedEarly += o.episodesEndedEarly
        distributedAlerts += o.distributedAlerts
        distributedStartAlerts += o.distributedStartAlerts
        evictedTargets += o.evictedTargets
    }
}

/// When detection's clock acts after `now`: the next sweep (the end of `now`'s window plus `lateness`,
/// when windows that can no longer receive flows close) and the next open-window judgement (the next
/// multiple of `openWindowInterval`). `ScanDetection` keeps its clock by it, and `PartitionedDetection`
/// by the same, to give its partitions the time at the moments one detection's clock acts.
struct DetectionSchedule: Sendable {
    let window: Double
    let lateness: Double
    /// Infinite when no detector judges open windows.
    let openWindowInterval: Double

    func sweep(after now: Double) -> Double { (Double(Int64((now / window).rounded(.down))) + 1) * window + lateness }

    func openJudgement(after now: Double) -> Double { ((now / openWindowInterval).rounded(.down) + 1) * openWindowInterval }
}

/// Port-scan detection over a stream of flows in (roughly) time order: per-source windows with bounded
/// memory, the detectors judging each closed window (and the CNN open ones), an ensemble policy, and
/// a start and an end alert per scan episode.
///
/// Feed flows with `add`, then call `finish`; alerts arrive through `onAlert` as episodes start (at the
/// flow that crosses a sequential detector's bound, at the minute an open window is judged flagged, or
/// when a flagged window is judged), go on (`updateInterval`) and end. Detection
/// partitioned by source gives each partition the others' time with `advance(to:)`; `checkpoint()` and
/// `restore(from:)` move a pipeline's state to another process.
public final class ScanDetection {
    public let settings: DetectionSettings
    public let detectors: [any ScanDetector]
    /// The detectors that see every flow (`ScanDetector.observesFlows`).
    let observers: [any ScanDetector]
    /// The detectors that decide at the flow that crosses their bound (`ScanDetector.decidesPerFlow`),
    /// when the policy lets one detector decide (`any`); empty otherwise, so that episodes then start
    /// when a window is judged.
    let deciders: [any ScanDetector]
    /// The detectors that judge open windows (`ScanDetector.openWindowInterval`), when the policy lets
    /// one detector decide (`any`); empty otherwise.
    let openJudges: [any ScanDetector]
    /// Log time between judgements of open windows: the shortest of `openJudges`' intervals.
    let openWindowInterval: Double
    /// When the clock acts: sweeps and open-window judgements.
    let schedule: DetectionSchedule
    public let allowlist: CIDRSet
    /// The destination-centric detector, when it runs: it judges hosts, not sources, and raises its
    /// own alerts (`onDistributedAlert`) whatever the policy.
    public let distributed: DistributedScanDetector?
    @exclusivity(unchecked)
    public internal(set) var statistics = DetectionStatistics()
    public var onAlert: (ScanAlert) -> Void = { _ in }
    /// Distributed-scan alerts as their episodes start, go on and end.
    public var onDistributedAlert: (DistributedScanAlert) -> Void = { _ in }
    /// When this detection is one partition of several (a NATS worker's): whether the partition owns
    /// an address. It judges the sources it owns and watches the hosts it owns; a failed attempt whose
    /// source another partition owns comes too, sent for its destination, and only the distributed
    /// watch sees it. Nil: one detection sees every flow.
    public var partitionOwns: ((IPAddress) -> Bool)?
    /// Whether windows that no detector could flag are retired without being judged (`mayFlag`).
    var retiresUnjudgeable: Bool {
        didSet { holdsFirstContacts = Self.holdsFirstContacts(retiring: retiresUnjudgeable, detectors) }
    }
    /// Whether a new source's first flow is held in `firstContacts` until a second comes: exact when
    /// one flow can flag nothing (every detector needs two or more) and such windows are retired.
    var holdsFirstContacts = false

    /// Holding is exact when windows of one flow are retired and one flow can flag nothing.
    static func holdsFirstContacts(retiring: Bool, _ detectors: [any ScanDetector]) -> Bool {
        retiring && detectors.allSatisfy { $0.minimumFlowsToFlag >= 2 }
    }

    /// A source's state, held through one reference. The state is about 400 bytes (its window's
    /// accumulator with the first and last flows, the detectors' memory): inline in `sources`, the
    /// table's spare capacity cost that much per empty slot, and growing it moved every state, which
    /// was 80 % of the heap and much of the time with a quarter of a million sources. A slot is now
    /// 24 bytes and the states themselves are allocated for the sources there are.
    ///
    /// Copy-on-write keeps value semantics: a copy taken out (`let state = sources[x]`) is a snapshot,
    /// and changing the table's state while such a copy lives copies it first. The hot paths reach the
    /// state in place (`withState(at:)`) and take no copy.
    struct SourceState {
        final class Storage {
            @exclusivity(unchecked) var window: Int64
            @exclusivity(unchecked) var activity: ActivityAccumulator
            @exclusivity(unchecked) var memory: SourceMemory
            @exclusivity(unchecked) var lastSeen: Double
            @exclusivity(unchecked) var inEpisode: Bool
            @exclusivity(unchecked) var openJudgedTargets: Int32
            @exclusivity(unchecked) var openDue: Bool

            init(
                window: Int64, activity: ActivityAccumulator, memory: SourceMemory, lastSeen: Double, inEpisode: Bool,
                openJudgedTargets: Int32, openDue: Bool
            ) {
                self.window = window
                self.activity = activity
                self.memory = memory
                self.lastSeen = lastSeen
                self.inEpisode = inEpisode
                self.openJudgedTargets = openJudgedTargets
                self.openDue = openDue
            }

            func copy() -> Storage {
                Storage(
                    window: window, activity: activity, memory: memory, lastSeen: lastSeen, inEpisode: inEpisode,
                    openJudgedTargets: openJudgedTargets, openDue: openDue)
            }

            /// Empties the open window (the next flow opens a new one); the detectors that decide per
            /// flow forget what they counted in it.
            func clearWindow(_ deciders: [any ScanDetector]) {
                activity = ActivityAccumulator()
                for detector in deciders { detector.windowClosed(&memory) }
                openJudgedTargets = 0
                openDue = false
            }

            /// The open window as the detectors see it.
            func closed(_ source: IPAddress, windowLength: Double) -> ClosedWindow {
                ClosedWindow(
                    source: source, windowStart: Double(window) * windowLength, windowLength: windowLength,
                    activity: activity, memory: memory)
            }
        }

        private var storage: Storage

        init(window: Int64, activity: ActivityAccumulator = ActivityAccumulator(), memory: SourceMemory = SourceMemory(), lastSeen: Double) {
            storage = Storage(
                window: window, activity: activity, memory: memory, lastSeen: lastSeen, inEpisode: false, openJudgedTargets: 0,
                openDue: false)
        }

        /// The storage, copied first if a copy of this state shares it.
        @inline(__always)
        private mutating func unique() -> Storage {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            return storage
        }

        var window: Int64 {
            get { storage.window }
            set { unique().window = newValue }
        }
        var activity: ActivityAccumulator {
            _read { yield storage.activity }
            _modify { yield &unique().activity }
        }
        var memory: SourceMemory {
            _read { yield storage.memory }
            _modify { yield &unique().memory }
        }
        var lastSeen: Double {
            get { storage.lastSeen }
            set { unique().lastSeen = newValue }
        }
        /// A hint that the source has an open episode, so that a decided source's flows need not look
        /// it up (`episodes` is the truth: a source evicted and back, or restored, starts without it).
        var inEpisode: Bool {
            get { storage.inEpisode }
            set { unique().inEpisode = newValue }
        }
        /// Distinct failed targets of the open window when it was last judged open (0: not yet).
        var openJudgedTargets: Int32 {
            get { storage.openJudgedTargets }
            set { unique().openJudgedTargets = newValue }
        }
        /// The open window is listed in `dueSources`, to be judged at the next open-window judgement.
        var openDue: Bool {
            get { storage.openDue }
            set { unique().openDue = newValue }
        }

        /// Empties the open window (the next flow opens a new one); the detectors that decide per flow
        /// forget what they counted in it.
        mutating func clearWindow(_ deciders: [any ScanDetector]) { unique().clearWindow(deciders) }

        /// The open window as the detectors see it.
        func closed(_ source: IPAddress, windowLength: Double) -> ClosedWindow { storage.closed(source, windowLength: windowLength) }

        /// The storage, this state's alone, to change many of its parts at once through one reference
        /// (every flow: the accessors would check that it is unshared at each part).
        mutating func uniqueStorage() -> Storage { unique() }
    }

    /// A held first flow: what detection reads of it (the parts of a `FlowKey`, and the outcome), 48
    /// bytes where a `FlowRecord` takes about 200 with its strings; its source is the table's key, and
    /// its window is its start's (`windowIndex(start)`).
    struct FirstContact {
        var start: Double
        var destination: IPAddress
        var uid: RecordUID
        var sourcePort: UInt16
        var destinationPort: UInt16
        var transport: Transport
        var outcome: Outcome
        var closed = false

        init(flow: FlowRecord, closed: Bool = false) {
            start = flow.start
            destination = flow.destination
            uid = flow.uid
            sourcePort = flow.sourcePort
            destinationPort = flow.destinationPort
            transport = flow.transport
            outcome = flow.outcome
            self.closed = closed
        }

        /// The flow as detection saw it when it arrived: every field detection reads is the original's
        /// (packets, bytes, flags and labels are not kept; no detector reads them: one that does must
        /// keep them here).
        func flow(of source: IPAddress) -> FlowRecord {
            var r = FlowRecord(
                start: start, end: start, source: source, destination: destination, sourcePort: sourcePort,
                destinationPort: destinationPort, transport: transport, outcome: outcome)
            r.uid = uid
            return r
        }
    }

    struct Episode {
        var alert: ScanAlert
        var portSet: Set<UInt16>
        var hostSet: Set<IPAddress>
        var answeredSet: Set<UInt16> = []
        /// As `ActivityAccumulator`'s: one transport's number, none yet, or mixed.
        var soleTransport = ActivityAccumulator.noTransport
        var lastFlaggedEnd: Double
        /// Log time of the flow that decided it, and of its latest update alert.
        var detectedAt: Double
        var lastUpdate: Double
        var updates = 0

        /// Adds a window's answered ports, transport and first and last flows.
        mutating func add(flowDetailOf a: ActivityAccumulator) {
            answeredSet.formUnion(a.answeredPorts)
            soleTransport = ActivityAccumulator.merge(soleTransport, a.soleTransport)
            if let f = a.firstFlow, f.start < alert.firstFlow?.start ?? .infinity { alert.firstFlow = f }
            if let l = a.lastFlow, l.start >= alert.lastFlow?.start ?? -.infinity { alert.lastFlow = l }
        }
    }

    // The state below is internal for `checkpoint()` and `restore(from:)` (DetectionCheckpoint.swift),
    // which must carry every part of it.
    // `@exclusivity(unchecked)`: these are touched on every flow, and a pipeline is used by one thread
    // at a time whose callbacks (`onAlert`) never run inside a mutation of them; Swift's run-time
    // exclusivity checks on them cost about a tenth of `detect`'s throughput.
    @exclusivity(unchecked)
    var sources: [IPAddress: SourceState] = [:]
    /// Sources seen once, with that flow, while `holdsFirstContacts`: a compact flow in a 64-byte slot
    /// (about 110 bytes with the table's spare capacity) rather than a source's state with its tables
    /// (about 1.5 KB), for the millions of sources that send a single flow.
    /// `closed`: a sweep has closed the flow's window (and filed the source to be forgotten).
    @exclusivity(unchecked)
    var firstContacts = AddressTable<FirstContact>()
    /// Sources by the window they opened, so that a sweep visits only the windows it closes (an entry
    /// is stale when its source has moved on or gone).
    @exclusivity(unchecked)
    var windowBuckets: [Int64: AddressBlocks] = [:]
    /// Quiet sources by the window in which they become idle.
    @exclusivity(unchecked)
    var expiryBuckets: [Int64: AddressBlocks] = [:]
    @exclusivity(unchecked)
    var episodes: [IPAddress: Episode] = [:]
    @exclusivity(unchecked)
    var pending: [ClosedWindow] = []
    @exclusivity(unchecked)
    var now = -Double.infinity
    @exclusivity(unchecked)
    var nextSweep = -Double.infinity
    /// Addresses held in `windowBuckets` and `expiryBuckets` together, stale entries included: kept
    /// near the number of sources by `compactBuckets`, whatever the flows.
    @exclusivity(unchecked)
    var bucketEntries = 0
    /// Sources whose open window became worth judging (`SourceState.openDue`) since the last
    /// open-window judgement; may hold a source twice, or one no longer due.
    @exclusivity(unchecked)
    var dueSources: [IPAddress] = []
    /// Log time of the next open-window judgement: a multiple of `openWindowInterval`.
    @exclusivity(unchecked)
    var nextOpenJudgement = -Double.infinity
    /// Hosts the distributed-scan detector watches (with failed attempts, no episode yet).
    @exclusivity(unchecked)
    var targets: [IPAddress: TargetState] = [:]
    /// Hosts with one failed attempt so far, held alone (`DistributedScanDetector.holdsFirstProbes`).
    @exclusivity(unchecked)
    var heldTargets = AddressTable<HeldProbe>()
    /// Open distributed-scan episodes, by host.
    @exclusivity(unchecked)
    var targetEpisodes: [IPAddress: TargetEpisode] = [:]

    /// - Parameters:
    ///   - detectors: the detectors that judge windows; those that observe flows also see every flow.
    ///   - distributed: the distributed-scan detector, which sees every failed attempt; nil for none.
    public init(
        settings: DetectionSettings, detectors: [any ScanDetector], distributed: DistributedScanDetector? = nil, allowlist: CIDRSet = CIDRSet()
    ) {
        self.settings = settings
        self.detectors = detectors
        self.distributed = distributed
        observers = detectors.filter(\.observesFlows)
        deciders = settings.policy == .any ? detectors.filter(\.decidesPerFlow) : []
        openJudges = settings.policy == .any ? detectors.filter { $0.openWindowInterval != nil } : []
        openWindowInterval = openJudges.compactMap(\.openWindowInterval).min() ?? .infinity
        schedule = DetectionSchedule(window: settings.window, lateness: settings.lateness, openWindowInterval: openWindowInterval)
        // A weighted policy adds scores, which windows that no detector flags still have.
        retiresUnjudgeable = settings.policy != .weighted
        holdsFirstContacts = Self.holdsFirstContacts(retiring: retiresUnjudgeable, detectors)
        if openJudges.isEmpty { nextOpenJudgement = .infinity }
        self.allowlist = allowlist
    }

    /// A failed attempt sent to this partition for its destination (`watches`: the partition owns the
    /// destination): the distributed watch counts it as `add` would, and nothing else does (its source's
    /// partition judges the source, and counts it).
    private func watchOnly(_ flow: FlowRecord, watches: Bool) throws {
        guard let distributed, watches, flow.outcome.isFailure, !flow.isICMPError else { return }
        if !allowlist.isEmpty && allowlist.contains(flow.destination) { return }
        try moveClock(to: flow.start)
        if flow.destination.isMulticastOrBroadcast { return }
        watchTarget(flow, distributed)
    }

    func windowIndex(_ t: Double) -> Int64 { Int64((t / settings.window).rounded(.down)) }

    /// - Complexity: amortised O(1) per flow, plus a sweep over active sources once a window.
    public func add(_ flow: FlowRecord) throws {
        if let owns = partitionOwns {
            // Only failed attempts are watched: the destination's owner is needed for those alone.
            try add(flow, ownsSource: owns(flow.source), watchesDestination: flow.outcome.isFailure && owns(flow.destination))
        } else {
            try add(flow, ownsSource: true, watchesDestination: true)
        }
    }

    /// `add` for a partition whose router has found the owners (`PartitionedDetection`): whether this
    /// partition owns the flow's source, and whether it watches its destination.
    @inline(__always)
    func add(_ flow: FlowRecord, ownsSource: Bool, watchesDestination: Bool) throws {
        if !ownsSource {
            try watchOnly(flow, watches: watchesDestination)
            return
        }
        statistics.flows += 1
        if flow.isICMPError {
            statistics.icmpErrors += 1
            return
        }
        if !allowlist.isEmpty && allowlist.contains(flow.destination) {
            statistics.allowlistedFlows += 1
            return
        }
        try moveClock(to: flow.start)
        if flow.destination.isMulticastOrBroadcast {
            statistics.multicastFlows += 1
            return
        }
        if let distributed, flow.outcome.isFailure, watchesDestination { watchTarget(flow, distributed) }
        let w = windowIndex(flow.start)
        // By index: `sources[flow.source] == nil` would copy the state out (a retain per table), and
        // the index reaches the state again without hashing.
        var found = sources.index(forKey: flow.source)
        if found == nil {
            if holdsFirstContacts {
                // A source's first flow is held, not given state: most sources never send a second.
                guard let held = firstContacts.removeValue(forKey: flow.source) else {
                    try holdFirstContact(flow, w)
                    return
                }
                found = promote(held, of: flow.source)
            } else {
                if sources.count >= settings.maxSources { try evictLeastRecent() }
                sources[flow.source] = SourceState(window: w, lastSeen: flow.start)
                found = sources.index(forKey: flow.source)
                fileWindow(w, flow.source)
                statistics.peakSources = max(statistics.peakSources, sources.count)
            }
        }
        let effects = absorb(flow, w, at: found!)
        if effects.late { statistics.lateFlows += 1 }
        if effects.due { dueSources.append(flow.source) }
        if effects.moved { fileWindow(w, flow.source) }
        if let closed = effects.closed { try enqueue(closed) }
        if effects.crossed { try startAtFlow(flow) }
    }

    /// What adding a flow to its source's state calls for.
    struct FlowEffects {
        var closed: ClosedWindow? = nil
        var late = false
        var moved = false
        var crossed = false
        var due = false
    }

    /// Adds `flow` (of window `w`) to the state of its source at `index`, in place: copying the state
    /// out would copy its tables. The caller carries out the effects.
    private func absorb(_ flow: FlowRecord, _ w: Int64, at index: Dictionary<IPAddress, SourceState>.Index) -> FlowEffects {
        var closed: ClosedWindow? = nil
        let source = flow.source
        let windowLength = settings.window
        let observers = self.observers
        let deciders = self.deciders
        let judgesOpenWindows = !openJudges.isEmpty
        var late = false
        var moved = false
        var crossed = false
        var due = false
        // Nothing changes `sources` between the lookup and here, so `index` still finds the state.
        withState(at: index) { table in
            let state = table.uniqueStorage()
            if w > state.window {
                moved = true
                if state.activity.flows > 0 && needsJudging(source, inEpisode: state.inEpisode, state.activity, state.memory) {
                    closed = state.closed(source, windowLength: windowLength)
                }
                state.clearWindow(deciders)
                state.window = w
            } else if w < state.window {
                late = true
            }
            let failedBefore = state.activity.failedTargets.count
            let hostRank = state.activity.add(flow)
            // Through the buffer: an array's subscript, like a for-in loop, copies each existential (a
            // retain of a boxed detector) per flow; the buffer's element is used where it lies.
            observers.withUnsafeBufferPointer { list in
                for i in list.indices { list[i].observe(flow, &state.memory) }
            }
            state.lastSeen = max(state.lastSeen, flow.start)
            if !deciders.isEmpty {
                // Every flow is counted, while an episode is open too (it may end before the window does).
                let failed = state.activity.failedTargets.count
                let step = FlowStep(
                    newFailedTarget: failed > failedBefore ? (hostRank, flow.destinationPort) : nil,
                    failedTargets: failed, flows: state.activity.flows, failedFlows: state.activity.failedFlows,
                    hosts: state.activity.hosts.count)
                deciders.withUnsafeBufferPointer { list in
                    for i in list.indices where list[i].decide(step, &state.memory) { crossed = true }
                }
                if state.inEpisode { crossed = false }
            }
            if judgesOpenWindows && !state.openDue && !state.inEpisode {
                let openJudges = self.openJudges
                let judged = Int(state.openJudgedTargets)
                for i in openJudges.indices where openJudges[i].worthJudgingOpen(state.activity, judgedTargets: judged) {
                    state.openDue = true
                    due = true
                    break
                }
            }
        }
        return FlowEffects(closed: closed, late: late, moved: moved, crossed: crossed, due: due)
    }

    /// Holds a new source's first flow (`w`, its window) in `firstContacts`, filed as a source's window is.
    private func holdFirstContact(_ flow: FlowRecord, _ w: Int64) throws {
        if sources.count + firstContacts.count >= settings.maxSources { try evictLeastRecent() }
        firstContacts[flow.source] = FirstContact(flow: flow)
        fileWindow(w, flow.source)
        statistics.peakSources = max(statistics.peakSources, sources.count + firstContacts.count)
    }

    /// Gives a held source its state: its first flow added as it would have been on arrival, and its
    /// window closed if a sweep closed it since (a window of one flow, which no detector could flag, is
    /// retired with no other effect: `holdsFirstContacts`). The source's buckets were filed while held.
    private func promote(_ held: FirstContact, of source: IPAddress) -> Dictionary<IPAddress, SourceState>.Index {
        let window = windowIndex(held.start)
        sources[source] = SourceState(window: window, lastSeen: held.start)
        let index = sources.index(forKey: source)!
        let effects = absorb(held.flow(of: source), window, at: index)
        // A new state's first flow neither moves nor closes a window, and one flow crosses no bound.
        assert(
            effects.closed == nil && !effects.late && !effects.moved && !effects.crossed && !effects.due,
            "a source's first flow has no effect beyond its state")
        if held.closed {
            let deciders = self.deciders
            withState(at: index) { $0.clearWindow(deciders) }
        }
        return index
    }

    /// Gives every held source its state, as if none had been held (before a checkpoint).
    func promoteFirstContacts() {
        for (source, held) in firstContacts.sorted(by: { $0.key < $1.key }) { _ = promote(held, of: source) }
        firstContacts = [:]
    }

    /// A sequential detector decided at `flow`: the episode starts now, before its window closes.
    private func startAtFlow(_ flow: FlowRecord) throws {
        guard let index = sources.index(forKey: flow.source) else { return }
        let window = sources.values[index].closed(flow.source, windowLength: settings.window)
        // The open window so far, judged by the detectors that decide per flow: their verdicts and
        // reasons are those of the window up to this flow.
        let verdicts = try deciders.map { try $0.judge([window])[0] }
        try startEarly(window, judgedBy: deciders, verdicts, detectedAt: flow.start)
    }

    /// An episode starts in a source's open `window`, recognised at `detectedAt` by `detectors` with
    /// `verdicts`, before the window closes. Its start alert tells what the source had done so far in
    /// the window; the window itself joins the episode when it closes and is judged (flagged or not,
    /// as the window the episode was recognised in), so the end alert's totals are those of judged
    /// windows alone.
    private func startEarly(
        _ window: ClosedWindow, judgedBy detectors: [any ScanDetector], _ verdicts: [Verdict], detectedAt: Double
    ) throws {
        guard episodes[window.source] == nil else {
            withState(window.source) { $0.inEpisode = true }
            return
        }
        if episodes.count >= settings.maxSources { try endOldestEpisodes() }
        let a = window.activity
        var start = ScanAlert(
            source: window.source, firstSeen: a.firstSeen, lastSeen: a.lastSeen, windows: 1, flows: a.flows,
            failedFlows: a.failedFlows, ports: a.ports.sorted(), hosts: a.hosts.keys.sorted(), scores: [:], reasons: [:],
            busiestHost: window.busiestHost, busiestPort: window.busiestPort)
        start.answeredPorts = a.answeredPorts.sorted()
        start.transport = a.transport
        start.firstFlow = a.firstFlow
        start.lastFlow = a.lastFlow
        for (detector, verdict) in zip(detectors, verdicts) {
            start.scores[detector.name] = verdict.score
            if verdict.flagged { start.reasons[detector.name] = verdict.reason }
        }
        // The end alert names the detectors that recognised the episode, whatever the window's verdict
        // as a whole.
        let episode = Episode(
            alert: ScanAlert(
                source: window.source, firstSeen: a.firstSeen, lastSeen: a.lastSeen, windows: 0, flows: 0,
                failedFlows: 0, ports: [], hosts: [], scores: start.scores, reasons: start.reasons, busiestHost: nil, busiestPort: nil),
            portSet: [], hostSet: [], lastFlaggedEnd: window.windowStart + window.windowLength,
            detectedAt: detectedAt, lastUpdate: detectedAt)
        episodes[window.source] = episode
        if let index = sources.index(forKey: window.source) { withState(at: index) { $0.inEpisode = true } }
        announce(start, of: episode, phase: .start)
    }

    /// Judges the open windows that became worth it since the last time (`dueSources`), in one batch,
    /// by the detectors that judge open windows; a flagged one starts its source's episode, detected
    /// at the window's latest flow. Runs when the clock passes a multiple of `openWindowInterval`,
    /// before the flow that moved it is added, so each window is judged as it was at that moment.
    private func judgeOpenWindows() throws {
        nextOpenJudgement = schedule.openJudgement(after: now)
        guard !dueSources.isEmpty else { return }
        let due = Set(dueSources).sorted()
        dueSources = []
        let openJudges = self.openJudges
        var windows: [ClosedWindow] = []
        for source in due {
            // By index, found once: the key's subscript would copy the state out to read a flag.
            guard let index = sources.index(forKey: source), sources.values[index].openDue else { continue }
            var judge = false
            // The truth, not the `inEpisode` hint: judged or not, whatever a restore or an eviction did to it.
            let inEpisode = episodes[source] != nil
            withState(at: index) { state in
                state.openDue = false
                state.inEpisode = inEpisode
                let judged = Int(state.openJudgedTargets)
                // Still worth it (a window's share of failures can fall as it grows), and no episode yet.
                guard !inEpisode, openJudges.contains(where: { $0.worthJudgingOpen(state.activity, judgedTargets: judged) }) else { return }
                state.openJudgedTargets = Int32(clamping: state.activity.failedTargets.count)
                judge = true
            }
            guard judge else { continue }
            // Judged all the same (the bookkeeping above), but scored only where a flag could start an
            // episode: a flag that cannot stand alone starts none (see below).
            let window = sources.values[index].closed(source, windowLength: settings.window)
            if openJudges.contains(where: { $0.mayFlagAlone(window) }) { windows.append(window) }
        }
        guard !windows.isEmpty else { return }
        statistics.openWindows += windows.count
        let verdicts = try openJudges.map { try $0.judge(windows) }
        for (i, window) in windows.enumerated() {
            let these = verdicts.map { $0[i] }
            guard these.contains(where: { $0.flagged && $0.alone }) else { continue }
            try startEarly(window, judgedBy: openJudges, these, detectedAt: window.activity.lastSeen)
        }
    }

    private func fileWindow(_ w: Int64, _ source: IPAddress) {
        windowBuckets[w, default: []].append(source)
        bucketEntries += 1
    }

    private func fileExpiry(_ e: Int64, _ source: IPAddress) {
        expiryBuckets[e, default: []].append(source)
        bucketEntries += 1
    }

    /// Files a source whose window closed to be forgotten once idle since `lastSeen`.
    private func fileIdle(_ source: IPAddress, lastSeen: Double) {
        fileExpiry(windowIndex(lastSeen + settings.idleTimeout), source)
    }

    /// When a source whose window has closed was last seen (a held one: its flow's start); nil for
    /// one gone or with an open window. What the expiry buckets act on.
    private func lastSeenIfClosed(_ source: IPAddress) -> Double? {
        if let state = sources[source] { return state.activity.flows == 0 ? state.lastSeen : nil }
        if let held = firstContacts[source], held.closed { return held.start }
        return nil
    }

    /// A watermark: moves the pipeline's clock to `time` if that is later, closing windows, ending quiet
    /// episodes and forgetting idle sources exactly as a flow starting at `time` would before it is added.
    ///
    /// For detection partitioned by source: a partition that receives its own flows with `add`, and the
    /// start time of every flow the other partitions count with `advance`, in the order they arrive,
    /// closes windows and ends episodes at the same moments as a single pipeline seeing all flows, and
    /// so raises the same alerts for its sources. ICMP errors and flows to allowlisted destinations do
    /// not move the clock, so they are no watermarks. Not every flow is needed: the clock only acts
    /// when it passes a window boundary plus `lateness`, or a multiple of `openWindowInterval` when a
    /// detector judges open windows, so the start time of each flow that passes one (before that
    /// flow) is enough. Watermarks at the first flow of each minute suit the default interval of a
    /// minute; with a shorter one a partition judges open windows later than a single pipeline. Other
    /// times are not: a sweep at a time no flow had would judge idle sources against another clock.
    /// The partitions' `maxSources` and `batch` count their own sources and windows, so evictions, and
    /// batches the CNN scores, can differ from the single pipeline's.
    public func advance(to time: Double) throws {
        try moveClock(to: time)
    }

    /// The clock step of `add` and `advance`: time only moves forward, and a sweep runs once it passes
    /// the next window's closing time.
    private func moveClock(to time: Double) throws {
        guard time > now else { return }
        now = time
        if now >= nextSweep { try sweep() }
        if now >= nextOpenJudgement { try judgeOpenWindows() }
    }

    @inline(__always)
    private func withState(_ source: IPAddress, _ body: (inout SourceState) -> Void) {
        body(&sources[source]!)
    }

    /// `withState` for a state found at `index` (on every flow, and wherever the index is at hand):
    /// through `values` the state is mutated where it lies, where the key's subscript moves it into an
    /// optional and back with a copy and a destroy of every table it holds (a retain and a release each).
    @inline(__always)
    private func withState(at index: Dictionary<IPAddress, SourceState>.Index, _ body: (inout SourceState) -> Void) {
        body(&sources.values[index])
    }

    /// Judges what is pending and reports every episode still open.
    public func finish() throws {
        for (source, state) in sources where state.activity.flows > 0 && needsJudging(source, state) {
            pending.append(state.closed(source, windowLength: settings.window))
        }
        sources = [:]
        // A held source's window holds one flow: nothing to judge.
        firstContacts = [:]
        windowBuckets = [:]
        expiryBuckets = [:]
        bucketEntries = 0
        dueSources = []
        try judgePendingInWindowOrder()
        for source in episodes.keys.sorted() { emit(episodes[source]!) }
        episodes = [:]
        finishTargets()
    }

    private func enqueue(_ w: ClosedWindow) throws {
        pending.append(w)
        if pending.count >= settings.batch { try judgePending() }
    }

    /// Closes windows that can no longer receive flows, ends quiet episodes, forgets idle sources.
    private func sweep() throws {
        nextSweep = schedule.sweep(after: now)
        let closeBefore = windowIndex(now - settings.lateness)
        for w in windowBuckets.keys.filter({ $0 < closeBefore }).sorted() {
            let list = windowBuckets.removeValue(forKey: w)!
            bucketEntries -= list.count
            for source in list {
                // By index, with no copy of the state taken out: changing the state while a copy
                // lives would copy it.
                guard let index = sources.index(forKey: source) else {
                    let idle = firstContacts.modify(source) { held -> Double? in
                        guard windowIndex(held.start) == w, !held.closed else { return nil }
                        held.closed = true
                        return held.start
                    }
                    if let lastSeen = idle ?? nil { fileIdle(source, lastSeen: lastSeen) }
                    continue
                }
                guard sources.values[index].window == w, sources.values[index].activity.flows > 0 else { continue }
                if needsJudging(source, sources.values[index]) {
                    pending.append(closeWindow(of: source, at: index))
                } else {
                    retireWindow(of: source, at: index)
                }
            }
        }
        let current = windowIndex(now)
        for e in expiryBuckets.keys.filter({ $0 <= current }).sorted() {
            let list = expiryBuckets.removeValue(forKey: e)!
            bucketEntries -= list.count
            for source in list {
                // Gone already, or active again (its next closed window files it anew).
                guard let lastSeen = lastSeenIfClosed(source) else { continue }
                if lastSeen + settings.idleTimeout < now {
                    sources[source] = nil
                    firstContacts[source] = nil
                } else {
                    fileExpiry(current + 1, source)
                }
            }
        }
        try judgePendingInWindowOrder()
        let ended = episodes.filter { $0.value.lastFlaggedEnd + settings.quietPeriod <= now }.keys.sorted()
        for source in ended {
            emit(episodes[source]!)
            episodes[source] = nil
        }
        if let distributed { sweepTargets(distributed) }
    }

    /// Evicts the least recently seen tenth of the sources. Their open windows are judged (in batches,
    /// as windows a source moves past are), so that nothing an evicted source did is held after it:
    /// memory follows `maxSources` whatever arrives, spoofed sources by the million included.
    private func evictLeastRecent() throws {
        // Drop the oldest tenth at once so that eviction does not run on every new source.
        let drop = max(1, settings.maxSources / 10)
        // Ties (sources last seen at the same moment) go by address, not by the table's hash order, so
        // that the same flows evict the same sources in every process, restored from a checkpoint or not.
        // Only times and addresses are ordered, not the states.
        let oldest = leastRecent(count: drop, of: sources.count + firstContacts.count) { visit in
            for (source, state) in sources { visit(state.lastSeen, source) }
            for (source, contact) in firstContacts { visit(contact.start, source) }
        }
        for (_, source) in oldest {
            // A held source's window holds one flow: nothing to judge.
            if firstContacts.removeValue(forKey: source) != nil { continue }
            guard let state = sources.removeValue(forKey: source) else { continue }
            if state.activity.flows > 0 && needsJudging(source, state) {
                try enqueue(state.closed(source, windowLength: settings.window))
            }
        }
        statistics.evictedSources += oldest.count
        compactBuckets()
    }

    /// Drops the bucket entries that can no longer act (sources evicted or moved on, duplicates)
    /// once they outnumber the sources twice over, so that the buckets stay in proportion to the
    /// sources held. Behaviour is unchanged: a window bucket acts only on sources whose open window
    /// it is, and an idle source is forgotten at the first sweep after its idle time, which its
    /// latest expiry entry always reaches.
    /// - Complexity: O(entries), run once the entries have doubled: amortised O(1) per flow.
    func compactBuckets() {
        guard bucketEntries > 2 * (sources.count + firstContacts.count) + 4096 else { return }
        var kept = 0
        for (w, list) in windowBuckets {
            var seen = Set<IPAddress>()
            let live = list.filter { source in
                if let state = sources[source] {
                    guard state.window == w, state.activity.flows > 0 else { return false }
                } else {
                    guard let held = firstContacts[source], windowIndex(held.start) == w, !held.closed else { return false }
                }
                return seen.insert(source).inserted
            }
            windowBuckets[w] = live.isEmpty ? nil : AddressBlocks(live)
            kept += live.count
        }
        var seen = Set<IPAddress>()
        for e in expiryBuckets.keys.sorted(by: >) {
            let live = expiryBuckets[e]!.filter { source in lastSeenIfClosed(source) != nil && seen.insert(source).inserted }
            expiryBuckets[e] = live.isEmpty ? nil : AddressBlocks(live)
            kept += live.count
        }
        bucketEntries = kept
    }

    /// Judges what is pending, oldest window first (then by source), so alerts come out in time order.
    private func judgePendingInWindowOrder() throws {
        pending.sort { $0.windowStart != $1.windowStart ? $0.windowStart < $1.windowStart : $0.source < $1.source }
        try judgePending()
    }

    private func judgePending() throws {
        guard !pending.isEmpty else { return }
        let windows = pending
        pending = []
        try judge(windows)
    }

    /// Judges closed windows together and records the flagged ones in their episodes.
    private func judge(_ windows: [ClosedWindow]) throws {
        guard !windows.isEmpty else { return }
        statistics.windows += windows.count
        let verdicts = try detectors.map { try $0.judge(windows) }
        let weights = detectors.map { settings.weights[$0.name] ?? 1 }
        for (i, w) in windows.enumerated() {
            let these = verdicts.map { $0[i] }
            if settings.policy.decide(these, weights: weights, weightedThreshold: settings.weightedThreshold) {
                statistics.flaggedWindows += 1
            } else if let e = episodes[w.source], e.alert.windows == 0, w.windowStart <= e.detectedAt,
                e.detectedAt < w.windowStart + w.windowLength
            {
                // The window an episode was recognised in while it was open (by the CNN on its first
                // part, say) is the episode's first window, whatever its verdict as a whole.
            } else {
                continue
            }
            try record(w, these)
        }
    }

    /// Adds a flagged window to its source's episode, or starts one.
    private func record(_ w: ClosedWindow, _ verdicts: [Verdict]) throws {
        let a = w.activity
        let windowEnd = w.windowStart + w.windowLength
        if let open = episodes[w.source], w.windowStart - open.lastFlaggedEnd > settings.quietPeriod {
            emit(open)
            episodes[w.source] = nil
        }
        if episodes[w.source] == nil && episodes.count >= settings.maxSources { try endOldestEpisodes() }
        let isNew = episodes[w.source] == nil
        var e =
            episodes[w.source]
            ?? Episode(
                alert: ScanAlert(
                    source: w.source, firstSeen: a.firstSeen, lastSeen: a.lastSeen, windows: 0, flows: 0,
                    failedFlows: 0, ports: [], hosts: [], scores: [:], reasons: [:], busiestHost: nil, busiestPort: nil),
                portSet: [], hostSet: [], lastFlaggedEnd: windowEnd, detectedAt: a.lastSeen, lastUpdate: a.lastSeen)
        e.alert.firstSeen = min(e.alert.firstSeen, a.firstSeen)
        e.alert.lastSeen = max(e.alert.lastSeen, a.lastSeen)
        e.alert.windows += 1
        e.alert.flows += a.flows
        e.alert.failedFlows += a.failedFlows
        e.portSet.formUnion(a.ports)
        e.hostSet.formUnion(a.hosts.keys)
        e.add(flowDetailOf: a)
        e.lastFlaggedEnd = max(e.lastFlaggedEnd, windowEnd)
        if let h = w.busiestHost, h.failedPorts > e.alert.busiestHost?.failedPorts ?? 0 { e.alert.busiestHost = h }
        if let p = w.busiestPort, p.failedHosts > e.alert.busiestPort?.failedHosts ?? 0 { e.alert.busiestPort = p }
        for (detector, verdict) in zip(detectors, verdicts) {
            e.alert.scores[detector.name] = max(e.alert.scores[detector.name] ?? 0, verdict.score)
            // The first judged window's reasons replace those of the open window that started the
            // episode (the same window, seen whole); later windows add detectors, not reasons.
            if verdict.flagged && (e.alert.reasons[detector.name] == nil || e.alert.windows == 1) {
                e.alert.reasons[detector.name] = verdict.reason
            }
        }
        if isNew {
            if sources[w.source] != nil { withState(w.source) { $0.inEpisode = true } }
            // Recognised when this window was judged: at its last flow.
            announce(totals(e), of: e, phase: .start)
        } else if let interval = settings.updateInterval, a.lastSeen - e.lastUpdate >= interval {
            e.updates += 1
            e.lastUpdate = a.lastSeen
            announce(totals(e), of: e, phase: .update)
        }
        episodes[w.source] = e
    }

    /// Judges a source's windows at once: those waiting in `pending` (it was evicted) and its open
    /// one. An episode that started at a flow of such a window and must end before the window is
    /// judged (open episodes at `maxSources`) ends with the window in its totals, as it would have
    /// at the window's close, rather than empty and then again. The source goes on in a new window.
    private func judgeWindows(of source: IPAddress) throws {
        var windows = pending.filter { $0.source == source }
        if windows.count > 0 { pending.removeAll { $0.source == source } }
        if let index = sources.index(forKey: source), sources.values[index].activity.flows > 0 {
            windows.append(closeWindow(of: source, at: index))
        }
        try judge(windows)
    }

    /// Whether a source's closing window must be judged: it is in an episode (whose windows join it
    /// whatever their verdict), or a detector could flag it. The others would be judged unflagged and
    /// dropped; they are retired unjudged instead.
    private func needsJudging(_ source: IPAddress, _ state: SourceState) -> Bool {
        needsJudging(source, inEpisode: state.inEpisode, state.activity, state.memory)
    }

    private func needsJudging(_ source: IPAddress, inEpisode: Bool, _ activity: ActivityAccumulator, _ memory: SourceMemory) -> Bool {
        guard retiresUnjudgeable, !inEpisode, episodes[source] == nil else { return true }
        return detectors.withUnsafeBufferPointer { list in
            for i in list.indices where list[i].mayFlag(activity, memory) { return true }
            return false
        }
    }

    /// `closeWindow` for a window no detector could flag: the same bookkeeping, no judgement.
    private func retireWindow(of source: IPAddress, at index: Dictionary<IPAddress, SourceState>.Index) {
        let deciders = self.deciders
        var lastSeen = 0.0
        withState(at: index) { state in
            state.clearWindow(deciders)
            lastSeen = state.lastSeen
        }
        fileIdle(source, lastSeen: lastSeen)
    }

    /// Closes a source's open window (its state is at `index`): the window as the detectors see it;
    /// the source is left with an empty window and filed to be forgotten once idle.
    private func closeWindow(of source: IPAddress, at index: Dictionary<IPAddress, SourceState>.Index) -> ClosedWindow {
        let window = sources.values[index].closed(source, windowLength: settings.window)
        retireWindow(of: source, at: index)
        return window
    }

    /// Sends a start or update alert of an open episode (nothing for an allowlisted source).
    private func announce(_ found: ScanAlert, of e: Episode, phase: ScanAlert.Phase) {
        guard !allowlist.contains(found.source) else { return }
        var alert = found
        label(&alert, e, phase)
        if phase == .start { statistics.startAlerts += 1 } else { statistics.updateAlerts += 1 }
        onAlert(alert)
    }

    /// The episode's alert with its ports and hosts so far.
    private func totals(_ e: Episode) -> ScanAlert {
        var alert = e.alert
        alert.ports = e.portSet.sorted()
        alert.hosts = e.hostSet.sorted()
        alert.answeredPorts = e.answeredSet.sorted()
        alert.transport = ActivityAccumulator.transport(e.soleTransport)
        return alert
    }

    /// The lifecycle fields every alert of episode `e` carries.
    private func label(_ alert: inout ScanAlert, _ e: Episode, _ phase: ScanAlert.Phase) {
        alert.phase = phase
        alert.detectedAt = e.detectedAt
        alert.episodeID = Self.episodeID(e.alert.source, e.detectedAt)
        alert.update = phase == .update ? e.updates : 0
    }

    /// 16 hex digits of SHA-256 over the source and the time the episode was recognised: the same in
    /// every process that sees the same flows, so a replay from a checkpoint keeps the identifiers.
    static func episodeID(_ source: IPAddress, _ detectedAt: Double) -> String {
        shortID(source.description, time: detectedAt)
    }

    /// Ends the tenth of the open episodes flagged longest ago, alerting each: open episodes are held
    /// to `maxSources` as sources are, whatever arrives.
    private func endOldestEpisodes() throws {
        let drop = max(1, settings.maxSources / 10)
        let oldest = episodes.map { (end: $0.value.lastFlaggedEnd, source: $0.key) }.sorted {
            $0.end != $1.end ? $0.end < $1.end : $0.source < $1.source
        }.prefix(drop)
        for (_, source) in oldest {
            if episodes[source]!.alert.windows == 0 { try judgeWindows(of: source) }
            emit(episodes.removeValue(forKey: source)!)
        }
        statistics.episodesEndedEarly += oldest.count
    }

    private func emit(_ e: Episode) {
        // The detectors start over: a scanner that comes back after a quiet period must be caught again.
        if sources[e.alert.source] != nil {
            let detectors = self.detectors
            withState(e.alert.source) { state in
                for detector in detectors { detector.restart(&state.memory) }
                state.inEpisode = false
            }
        }
        var alert = totals(e)
        if allowlist.contains(alert.source) {
            statistics.silenced += 1
            return
        }
        label(&alert, e, .end)
        statistics.alerts += 1
        onAlert(alert)
    }
}
