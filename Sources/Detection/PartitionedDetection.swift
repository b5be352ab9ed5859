import FlowRecords
import Foundation

/// Scan detection partitioned by source across the cores of one process (`detect --jobs N`): the
/// partitioning of the NATS scale-out (`Partitioning`), with threads in place of the broker.
///
/// The caller's thread routes each attempt to its source's partition, and a failed attempt to its
/// destination's partition too, for that host's distributed-scan watch (`Partitioning.partitions(of:)`).
/// Each partition is a `ScanDetection` that judges the sources and watches the hosts it owns
/// (`ScanDetection.partitionOwns`). The router keeps detection's clock: before the flow whose start
/// passes the next sweep (a window's end plus `lateness`) or the next open-window judgement, it gives
/// that start to every partition (`ScanDetection.advance(to:)`). Each partition therefore closes
/// windows, ends episodes and judges open windows at the same moments as one detection over every flow,
/// and raises the same alerts for its sources.
///
/// Work goes in rounds of about `round` attempts: while the partitions detect on the rounds handed
/// over (at most `roundsInFlight`), each on a thread of its own, the caller reads and routes the next.
/// Alerts reach `onAlert` and `onDistributedAlert` on the caller's thread when every partition is
/// through the round that raised them, or at `deliver()`, `advance(to:)` and `finish()`, in the order
/// of the flows that raised them; those raised at the same flow (a sweep's) come partition by
/// partition. So alerts are one detection's, each source's and each host's in the same order; alerts
/// of different sources raised close together (at one sweep, or in one batch of judged windows, which
/// a partition fills with its own) may come in another order.
///
/// What differs from one detection, as with the NATS workers: the memory caps are shared out
/// (`maxSources` and the distributed watch's `maxTargets`, each partition a share and a margin:
/// `share(_:of:)`), so which sources are evicted at a cap that binds can differ; the CNN scores each
/// partition's windows in its own batches, which can move a score in the fourth decimal; `peakSources`
/// is the sum of the partitions' peaks.
///
/// Not for concurrent use: one caller thread adds, advances and finishes. No checkpoints: a pipeline
/// that is checkpointed (the NATS worker's) is one partition already.
public final class PartitionedDetection {
    /// Attempts routed between hand-overs to the partitions: large enough that a hand-over (a wake-up
    /// of each thread) is rare, small enough that alerts are not held long and rounds stay in cache.
    public static let defaultRound = 8192
    /// Rounds handed over and not yet back, at most: enough that a partition a little behind the others
    /// does not hold up the reader, few enough that alerts are not held long.
    public static let roundsInFlight = 4

    public let partitioning: Partitioning
    /// Alerts as episodes start, go on and end, on the caller's thread.
    public var onAlert: (ScanAlert) -> Void = { _ in }
    /// Distributed-scan alerts, on the caller's thread.
    public var onDistributedAlert: (DistributedScanAlert) -> Void = { _ in }
    /// What the partitions did, summed, as of the last round that has come back.
    public private(set) var statistics = DetectionStatistics()

    /// How alerts are written as lines, when the consumer writes them as they come: each partition
    /// then writes its alerts' lines on its own thread, and `deliveredLine` holds the line of the alert
    /// being delivered. Writing is most of the reader's work on a log with many alerts (the JSON lines
    /// of 128,878 alerts took 21 % of the CPU samples of 1 M flows from 250 k sources). Set before the
    /// first `add`.
    public struct Lines: Sendable {
        public var scan: @Sendable (ScanAlert) -> String
        public var distributed: @Sendable (DistributedScanAlert) -> String

        public init(scan: @escaping @Sendable (ScanAlert) -> String, distributed: @escaping @Sendable (DistributedScanAlert) -> String) {
            self.scan = scan
            self.distributed = distributed
        }
    }

    public var lines: Lines? {
        didSet {
            precondition(ordinal == 0, "lines are set before the first attempt")
            for part in parts { part.lines = lines }
        }
    }

    /// The line `lines` wrote for the alert `onAlert` or `onDistributedAlert` is being given; nil
    /// without `lines`.
    public private(set) var deliveredLine: String?

    private let parts: [Part]
    private let round: Int
    /// The round being filled, a list of entries per partition.
    private var filling: [Round]
    /// Entries routed into it (flows, copies and clock moves).
    private var filled = 0
    /// The last ordinal of each round handed over and not yet back, oldest first.
    private var inFlight: [Int] = []
    /// Alerts of rounds come back that a later round's alerts must follow.
    private var held: [Emitted] = []
    /// Alerts taken from the partitions so far: each alert's number, which keeps a partition's own
    /// order among alerts raised at one flow.
    private var taken = 0
    /// Ordinal of the last attempt routed: what orders alerts.
    private var ordinal = 0
    /// Detection's clock, as one detection over every attempt would have it.
    private var clock = -Double.infinity
    private var nextSweep = -Double.infinity
    private var nextOpenJudgement: Double
    /// The partitions' schedule: the router's clock acts when theirs would.
    private let schedule: DetectionSchedule
    private let allowlist: CIDRSet
    /// The first error a partition threw: detection's state is then incomplete, and every later call
    /// throws it again.
    private var failure: (any Error)?

    /// Detection with `recipe` over `partitions` partitions.
    /// - Parameters:
    ///   - model: the scan CNN when the recipe uses it; partitions after the first get a replica each.
    ///   - partitions: 2 to 1024.
    ///   - round: attempts routed between hand-overs to the partitions.
    public init(recipe: DetectionRecipe, model: ScanModel?, partitions: Int, round: Int = PartitionedDetection.defaultRound) {
        precondition((2...1024).contains(partitions), "partitioned detection needs 2 to 1024 partitions")
        precondition(round >= 1, "a round holds one attempt or more")
        partitioning = Partitioning(count: partitions)
        self.round = round
        var share = recipe
        // The caps bound the whole process: each partition holds its share.
        share.settings.maxSources = Self.share(recipe.settings.maxSources, of: partitions)
        share.distributed.maxTargets = Self.share(recipe.distributed.maxTargets, of: partitions)
        share.cnnThreads = max(1, recipe.cnnThreads / partitions)
        parts = (0..<partitions).map { i in Part(share.make(model: i == 0 ? model : model?.replica()), number: i) }
        filling = (0..<partitions).map { _ in Round(capacity: round / partitions * 5 / 4 + 64) }
        let first = parts[0].detection
        schedule = first.schedule
        nextOpenJudgement = first.openJudges.isEmpty ? .infinity : -.infinity
        allowlist = first.allowlist
    }

    /// A partition's share of a cap of `total` among `count`: an even share and a margin of four
    /// standard deviations of a hash split (`4·√share`), so that a split a little uneven does not evict
    /// where one detection would not; never more than `total`. At the default 1,000,000 sources over two
    /// partitions the process may hold 0.6 % more than the cap.
    static func share(_ total: Int, of count: Int) -> Int {
        let even = (total + count - 1) / count
        return min(total, even + 4 * Int(Double(even).squareRoot().rounded(.up)))
    }

    /// One attempt: routed to its partitions, after the clock move it makes, if any.
    public func add(_ flow: FlowRecord) throws {
        if let failure { throw failure }
        ordinal += 1
        // The flows that move one detection's clock: not ICMP errors, not flows to allowlisted hosts.
        if flow.start > clock, !flow.isICMPError, allowlist.isEmpty || !allowlist.contains(flow.destination) {
            clock = flow.start
            if clock >= nextSweep || clock >= nextOpenJudgement { broadcastClock() }
        }
        let (p, copy) = partitioning.partitions(of: flow)
        filling[p].add(flow, ordinal, copy == nil ? .sourceAndDestination : .source)
        filled += 1
        if let q = copy {
            filling[q].add(flow, ordinal, .destinationCopy)
            filled += 1
        }
        if filled >= round { try handOver() }
    }

    /// Gives the clock to every partition, and moves the schedule on as detection does when its clock
    /// reaches a sweep or an open-window judgement.
    private func broadcastClock() {
        if clock >= nextSweep { nextSweep = schedule.sweep(after: clock) }
        if clock >= nextOpenJudgement { nextOpenJudgement = schedule.openJudgement(after: clock) }
        for p in filling.indices { filling[p].steps.append(Step(ordinal: ordinal, time: clock, kind: .clock)) }
        filled += filling.count
    }

    /// Moves detection's clock to `time` (a followed log's clock while it is quiet), and waits until
    /// every partition has caught up, so that the alerts due by then have been delivered.
    public func advance(to time: Double) throws {
        if let failure { throw failure }
        if time > clock {
            clock = time
            broadcastClock()
        }
        try deliver()
    }

    /// Hands over what has been routed and waits until the partitions are through it, delivering every
    /// alert raised so far: for a followed log read to its end.
    public func deliver() throws {
        if let failure { throw failure }
        try handOver()
        try collect(all: true)
    }

    /// Judges every open window and ends every episode, in every partition, and delivers their alerts.
    public func finish() throws {
        if let failure { throw failure }
        try handOver()
        ordinal = .max
        for part in parts { part.hand(.finish) }
        inFlight.append(.max)
        try collect(all: true)
    }

    deinit {
        // Rounds still out (after an error) are let finish before the threads stop.
        for _ in inFlight { for part in parts { part.done.wait() } }
        for part in parts { part.hand(.stop) }
    }

    /// Hands the round filled so far to the partitions, after taking back the oldest when too many
    /// are out.
    private func handOver() throws {
        guard filled > 0 else { return }
        for (p, part) in parts.enumerated() {
            part.hand(.run(filling[p]))
            filling[p] = part.spareRound() ?? Round(capacity: filling[p].steps.capacity)
        }
        inFlight.append(ordinal)
        filled = 0
        if inFlight.count > Self.roundsInFlight { try collect(all: false) }
    }

    /// Takes back the oldest round (every round with `all`) and delivers the alerts it completes, in
    /// order: those of the rounds back, by ordinal, partition by partition at one ordinal.
    private func collect(all: Bool) throws {
        guard !inFlight.isEmpty else { return }
        let rounds = all ? inFlight.count : 1
        for _ in 0..<rounds { for part in parts { part.done.wait() } }
        let through = inFlight[rounds - 1]
        inFlight.removeFirst(rounds)
        var sum = DetectionStatistics()
        var emitted = held
        held.removeAll()
        for (p, part) in parts.enumerated() {
            let (alerts, statistics, error) = part.takeResults()
            for alert in alerts {
                emitted.append(Emitted(ordinal: alert.ordinal, partition: p, number: taken, alert: alert.alert, line: alert.line))
                taken += 1
            }
            sum.add(statistics)
            if failure == nil, let error { failure = error }
        }
        statistics = sum
        // By flow, then partition, then as the partition raised them (`sort` is not promised stable).
        emitted.sort { ($0.ordinal, $0.partition, $0.number) < ($1.ordinal, $1.partition, $1.number) }
        // A partition ahead of the others may have sent alerts of a later round: they wait for it.
        let ready = emitted.firstIndex { $0.ordinal > through } ?? emitted.endIndex
        held = Array(emitted[ready...])
        for e in emitted[..<ready] {
            deliveredLine = e.line
            switch e.alert {
            case .scan(let a): onAlert(a)
            case .distributed(let a): onDistributedAlert(a)
            }
        }
        deliveredLine = nil
        if let failure { throw failure }
    }

    /// What a partition does at one step of a round.
    struct Step {
        enum Kind: UInt8 {
            /// The round's next flow: the partition owns its source, and its destination's watch too.
            case sourceAndDestination
            /// The next flow: the partition owns its source; another partition watches its destination.
            case source
            /// The next flow: a failed attempt sent for the destination's watch only.
            case destinationCopy
            /// Detection's clock moves to `time`.
            case clock
        }
        var ordinal: Int
        var time: Double
        var kind: Kind
    }

    /// One partition's part of a round: the steps, and the flows the flow steps take in turn (apart,
    /// so that a flow is copied once, into the list, and detection reads it where it lies).
    struct Round {
        var steps: [Step] = []
        var flows: [FlowRecord] = []

        init(capacity: Int) {
            steps.reserveCapacity(capacity)
            flows.reserveCapacity(capacity)
        }

        mutating func add(_ flow: FlowRecord, _ ordinal: Int, _ kind: Step.Kind) {
            flows.append(flow)
            steps.append(Step(ordinal: ordinal, time: 0, kind: kind))
        }

        mutating func empty() {
            steps.removeAll(keepingCapacity: true)
            flows.removeAll(keepingCapacity: true)
        }
    }

    enum Alert {
        case scan(ScanAlert)
        case distributed(DistributedScanAlert)
    }

    struct Emitted {
        var ordinal: Int
        var partition: Int
        var number: Int
        var alert: Alert
        var line: String?
    }

    /// One partition: its detection on a thread of its own, fed rounds through a queue. The thread owns
    /// the detection; the rest is shared under `lock`.
    ///
    /// A thread, not a dispatch queue's task: a queue runs no more tasks at once than there are cores,
    /// so partitions waited for a core the reader's own queue thread held rather than sharing it. The
    /// thread runs at a lower priority than the reader (nice 5): reading and routing is the one stage that
    /// is not shared out, and on a machine with few cores the partitions have what it leaves. On the
    /// 8.6 M-flow benchmark log over two cores, nice 5 took 3.34–3.40 s, nice 0 3.55–3.89 s, nice 10
    /// 3.57–3.68 s; on the many-source logs they were alike.
    final class Part: @unchecked Sendable {
        enum Command {
            case run(Round)
            case finish
            case stop
        }

        let detection: ScanDetection
        /// Signalled once for each command but `stop`, when it is done.
        let done = DispatchSemaphore(value: 0)
        private let go = DispatchSemaphore(value: 0)
        private let lock = NSLock()
        private var commands: [Command] = []
        private var spare: [Round] = []
        private var emitted: [Raised] = []
        /// Detection's statistics as the last command left them: the thread may be on a later round
        /// while the caller takes the results of an earlier one.
        private var counted = DetectionStatistics()
        private var failure: (any Error)?
        /// Ordinal of the attempt being detected on (the thread's): that of the alerts it raises.
        private var ordinal = 0
        /// Alerts raised during the current command (the thread's), passed on when it is done.
        private var raised: [Raised] = []
        /// Set between rounds (`PartitionedDetection.lines`), read by the thread during them.
        var lines: Lines?

        struct Raised {
            var ordinal: Int
            var alert: Alert
            var line: String?
        }

        init(_ detection: ScanDetection, number: Int) {
            self.detection = detection
            detection.onAlert = { [unowned self] in raised.append(Raised(ordinal: ordinal, alert: .scan($0), line: lines?.scan($0))) }
            detection.onDistributedAlert = { [unowned self] in
                raised.append(Raised(ordinal: ordinal, alert: .distributed($0), line: lines?.distributed($0)))
            }
            let thread = Thread { [self] in serve() }
            thread.name = "detect-\(number)"
            thread.stackSize = 8 << 20
            thread.start()
        }

        func hand(_ command: Command) {
            lock.withLock { commands.append(command) }
            go.signal()
        }

        /// A list a finished round left, emptied, for the next round to fill.
        func spareRound() -> Round? { lock.withLock { spare.popLast() } }

        /// The alerts raised since the last call, what detection has counted, and its error if any.
        func takeResults() -> (alerts: [Raised], statistics: DetectionStatistics, failure: (any Error)?) {
            lock.withLock {
                defer { emitted.removeAll(keepingCapacity: true) }
                return (emitted, counted, failure)
            }
        }

        private func serve() {
            lowerPriority()
            while true {
                go.wait()
                var command = lock.withLock { commands.removeFirst() }
                let failed = lock.withLock { failure != nil }
                var error: (any Error)? = nil
                var spent: Round? = nil
                switch command {
                case .stop: return
                case .run(var round):
                    // The command lets go of the round's lists, so that emptying them keeps their storage.
                    command = .stop
                    if !failed { error = run(round) }
                    round.empty()
                    spent = round
                case .finish:
                    ordinal = .max
                    if !failed {
                        do { try detection.finish() } catch let e { error = e }
                    }
                }
                let statistics = detection.statistics
                lock.withLock {
                    emitted += raised
                    counted = statistics
                    if failure == nil { failure = error }
                    if let spent { spare.append(spent) }
                }
                raised.removeAll(keepingCapacity: true)
                done.signal()
            }
        }

        private func run(_ round: Round) -> (any Error)? {
            var next = 0
            do {
                for step in round.steps {
                    ordinal = step.ordinal
                    switch step.kind {
                    case .sourceAndDestination:
                        try detection.add(round.flows[next], ownsSource: true, watchesDestination: true)
                        next += 1
                    case .source:
                        try detection.add(round.flows[next], ownsSource: true, watchesDestination: false)
                        next += 1
                    case .destinationCopy:
                        try detection.add(round.flows[next], ownsSource: false, watchesDestination: true)
                        next += 1
                    case .clock:
                        try detection.advance(to: step.time)
                    }
                }
                return nil
            } catch {
                return error
            }
        }

        /// Nice 5 for this thread: on Linux the nice value is a thread's own, and 0 names the calling thread.
        private func lowerPriority() {
            #if os(Linux)
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 5)
            #endif
        }
    }
}
