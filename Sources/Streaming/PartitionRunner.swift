import Detection
import FlowRecords
import Foundation
import Support

/// How a worker consumes and checkpoints.
public struct WorkerSettings: Sendable {
    /// Seconds between checkpoints of a partition whose state has changed. Flows are acknowledged only
    /// by a checkpoint, so this bounds how much a new owner replays, not what is kept.
    public var checkpointInterval = 2.0
    /// ... and after this many flows.
    public var checkpointFlows = 250_000
    /// Messages fetched at once (each a batch of flows).
    public var fetchBatch = 64
    /// Seconds a lease lives without renewal: how long a dead worker's partitions wait for a new owner.
    public var leaseTTL = 6.0
    /// Stop at the first malformed message instead of skipping and counting it.
    public var strict = false
    public var replicas = 1

    public init() {}
}

/// An alert a partition published: its JSON line, as on `alerts.<partition>`, and its severity (for
/// syslog, which carries it apart). Workers publish scan alerts only, so the dataset is `flowhound.scan`.
public struct PublishedAlert: Sendable {
    public let line: String
    public let severity: AlertFields.Severity
    public let partition: Int
}

/// What a partition's owner did while it held it.
public struct PartitionReport: Sendable {
    public var partition: Int
    /// Flows of the partition's own sources.
    public var flows = 0
    /// Failed attempts of other partitions' sources, sent for a destination this partition owns.
    public var destinationCopies = 0
    public var messages = 0
    public var skippedDuplicates = 0
    public var malformed = 0
    public var alerts = 0
    /// Alerts raised again after a restart and not published twice.
    public var suppressedAlerts = 0
    public var checkpoints = 0
    public var checkpointBytes = 0
    /// The CPU seconds the partition's thread spent on each part of its work: calls to the broker
    /// (fetching flow messages, acknowledging them, publishing alerts; waiting costs none), applying
    /// flows to detection (decoding the messages included), and checkpointing (encoding the
    /// pipeline's state, then writing it to the bucket). The NATS client's own threads, which read
    /// and write the sockets, are not in them.
    public var brokerCPUSeconds = 0.0
    public var detectionCPUSeconds = 0.0
    public var checkpointEncodeCPUSeconds = 0.0
    public var checkpointStoreCPUSeconds = 0.0
    /// The longest checkpoint, encoding and writing together, in wall-clock seconds.
    public var longestCheckpointSeconds = 0.0
}

/// Seconds since `start` on the monotonic clock.
func secondsSince(_ start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

/// One partition's detection while this worker holds its lease, on a thread of its own: restores the
/// checkpoint, recreates the partition's durable consumer so that delivery resumes right after the
/// last acknowledged flow, applies flow messages in stream order, publishes alerts, checkpoints, and
/// only then acknowledges the flows the checkpoint covers.
///
/// No alert is lost: flows are acknowledged only once their effect is in a checkpoint, so after a
/// crash they are delivered again. None is published twice: alerts are numbered per partition, the
/// numbers are part of the checkpoint, and on taking a partition the worker reads the number of the
/// last alert on `alerts.<partition>`; replaying from the checkpoint raises the same alerts with the
/// same numbers (detection is deterministic), and those already published are skipped.
final class PartitionRunner: @unchecked Sendable {
    let partition: Int
    let partitioning: Partitioning
    let epoch: UInt64
    private let nc: NATSConnection
    private let topology: Topology
    private let settings: WorkerSettings
    private let recipe: DetectionRecipe
    private let model: ScanModel?
    private let state: KeyValueBucket
    private let log: @Sendable (String) -> Void
    private let onAlert: @Sendable (PublishedAlert) -> Void

    private let lock = NSLock()
    private var stopRequested = false
    private var abandon = false
    private var done = false
    private var failure: String?
    private var _report: PartitionReport

    init(
        partition: Int, partitioning: Partitioning, epoch: UInt64, nc: NATSConnection, topology: Topology, settings: WorkerSettings,
        recipe: DetectionRecipe, model: ScanModel?, state: KeyValueBucket,
        log: @escaping @Sendable (String) -> Void, onAlert: @escaping @Sendable (PublishedAlert) -> Void
    ) {
        self.partition = partition
        self.partitioning = partitioning
        self.epoch = epoch
        self.nc = nc
        self.topology = topology
        self.settings = settings
        self.recipe = recipe
        self.model = model
        self.state = state
        self.log = log
        self.onAlert = onAlert
        _report = PartitionReport(partition: partition)
    }

    func start() {
        let thread = Thread { [self] in
            do { try run() } catch { lock.withLock { failure = "\(error)" } }
            lock.withLock { done = true }
        }
        thread.name = "partition-\(partition)"
        thread.start()
    }

    /// Asks the runner to stop: after a last checkpoint, or at once without one (`abandon`, when the
    /// lease is lost and another worker may own the partition).
    func stop(abandon: Bool = false) {
        lock.withLock {
            stopRequested = true
            self.abandon = self.abandon || abandon
        }
    }

    var isDone: Bool { lock.withLock { done } }
    var failureReason: String? { lock.withLock { failure } }
    var report: PartitionReport { lock.withLock { _report } }

    /// Waits until the runner has stopped.
    func join() {
        while !isDone { Thread.sleep(forTimeInterval: 0.01) }
    }

    private var shouldStop: (stop: Bool, abandon: Bool) { lock.withLock { (stopRequested, abandon) } }

    private func run() throws {
        let store = CheckpointStore(bucket: state, partition: partition, epoch: epoch, maxPayload: nc.maxPayload)
        var checkpoint = try store.load()
        var pipeline = DetectionPipeline(recipe: recipe, model: model)
        if !checkpoint.state.isEmpty { try pipeline.restore(from: checkpoint.state) }
        let published = try lastPublishedAlert()
        // Claim the manifest at once: a previous owner still running fails its next compare-and-set.
        guard try store.save(checkpoint) else { throw NATSError("partition \(partition): another worker wrote its checkpoint first") }
        try store.removePreviousOwnersChunks()
        log(
            "partition \(partition): taken (resuming after stream sequence \(checkpoint.appliedSequence), \(checkpoint.flows) flows and \(checkpoint.alerts) alerts so far)"
        )

        try nc.deleteConsumer(stream: topology.stream, name: topology.consumer(partition))
        try nc.addPullConsumer(
            stream: topology.stream, name: topology.consumer(partition), subject: topology.subject(partition),
            ackWait: max(60, settings.checkpointInterval * 10), maxAckPending: 1_000_000)
        let subscription = try nc.pullSubscription(stream: topology.stream, consumer: topology.consumer(partition), subject: topology.subject(partition))

        var alertError: Error?
        var ordinal = checkpoint.alerts
        let alertSubject = topology.alertSubject(partition)
        let streamName = topology.stream
        let partition = self.partition
        let partitioning = self.partitioning
        func hook(_ p: DetectionPipeline) {
            p.onAlert = { publish($0.json(), $0.severity) }
            p.onDistributedAlert = { publish($0.json(), $0.severity) }
            if partitioning.count > 1 { p.detection?.partitionOwns = { partitioning.partition(of: $0) == partition } }
        }
        var warnedOldPublisher = false
        var publishSeconds = 0.0
        func publish(_ line: String, _ severity: AlertFields.Severity) {
            ordinal += 1
            guard alertError == nil else { return }
            if ordinal <= published {
                lock.withLock { _report.suppressedAlerts += 1 }
                return
            }
            let started = CPUTime.thread
            defer { publishSeconds += CPUTime.thread - started }
            do {
                try nc.publish(
                    subject: alertSubject, data: Array(line.utf8),
                    headers: [
                        ("Nats-Msg-Id", "\(streamName).\(partition).\(ordinal)"),
                        ("Flowhound-Partition", String(partition)),
                        ("Flowhound-Alert", String(ordinal)),
                    ])
                lock.withLock { _report.alerts += 1 }
                onAlert(PublishedAlert(line: line, severity: severity, partition: partition))
            } catch { alertError = error }
        }
        hook(pipeline)

        var unacknowledged: [Message] = []
        var flowsSince = 0
        var dirty = false
        var lastCheckpoint = Date()

        func save() throws {
            let started = ContinuousClock.now, cpu = CPUTime.thread
            checkpoint.alerts = ordinal
            checkpoint.state = pipeline.checkpoint()
            let encoded = CPUTime.thread
            guard try store.save(checkpoint) else {
                throw NATSError("partition \(partition): another worker has taken it (its checkpoint changed); stopping")
            }
            let stored = CPUTime.thread, wall = secondsSince(started)
            for m in unacknowledged { try m.acknowledge() }
            unacknowledged.removeAll()
            let acknowledged = CPUTime.thread
            lock.withLock {
                _report.checkpoints += 1
                _report.checkpointBytes = checkpoint.state.count
                _report.checkpointEncodeCPUSeconds += encoded - cpu
                _report.checkpointStoreCPUSeconds += stored - encoded
                _report.brokerCPUSeconds += acknowledged - stored
                _report.longestCheckpointSeconds = max(_report.longestCheckpointSeconds, wall)
            }
            flowsSince = 0
            dirty = false
            lastCheckpoint = Date()
        }

        while true {
            let (stop, abandon) = shouldStop
            if stop {
                if !abandon && dirty { try save() }
                return
            }
            let fetchStarted = CPUTime.thread
            let messages = try subscription.fetch(batch: settings.fetchBatch, timeoutMilliseconds: 200)
            let fetched = CPUTime.thread - fetchStarted
            lock.withLock { _report.brokerCPUSeconds += fetched }
            if messages.isEmpty {
                if dirty && Date().timeIntervalSince(lastCheckpoint) >= settings.checkpointInterval { try save() }
                continue
            }
            let applyStarted = CPUTime.thread
            publishSeconds = 0
            for m in messages {
                let (sequence, _) = try m.metadata()
                unacknowledged.append(m)
                if sequence <= checkpoint.appliedSequence {
                    lock.withLock { _report.skippedDuplicates += 1 }
                    continue
                }
                let message: FlowMessage
                do {
                    message = try FlowMessage(decoding: m.data)
                } catch {
                    let text = "\(m.subject) stream sequence \(sequence): \(error)"
                    if settings.strict { throw NATSError(text) }
                    log("skipped a malformed message: \(text)")
                    lock.withLock { _report.malformed += 1 }
                    checkpoint.appliedSequence = sequence
                    dirty = true
                    continue
                }
                switch message {
                case .flows(let records):
                    if partitioning.count > 1, !warnedOldPublisher, let version = FlowMessage.version(of: m.data), version < 3 {
                        warnedOldPublisher = true
                        log(
                            "partition \(partition): flows from a publisher older than flow message version 3, which sends each attempt to its source's partition only: the distributed-scan counts of this partition's hosts miss other partitions' sources until every publisher is upgraded"
                        )
                    }
                    var copies = 0
                    for r in records {
                        if partitioning.count > 1 && partitioning.partition(of: r.source) != partition { copies += 1 }
                        try pipeline.add(r)
                    }
                    flowsSince += records.count
                    checkpoint.flows += UInt64(records.count - copies)
                    lock.withLock {
                        _report.flows += records.count - copies
                        _report.destinationCopies += copies
                        _report.messages += 1
                    }
                case .watermark(let t):
                    try pipeline.advance(to: t)
                case .endOfInput:
                    try pipeline.finish()
                    pipeline = DetectionPipeline(recipe: recipe, model: model)
                    hook(pipeline)
                }
                if let alertError { throw alertError }
                checkpoint.appliedSequence = sequence
                dirty = true
            }
            let applied = CPUTime.thread - applyStarted
            lock.withLock {
                _report.detectionCPUSeconds += applied - publishSeconds
                _report.brokerCPUSeconds += publishSeconds
            }
            if flowsSince >= settings.checkpointFlows || Date().timeIntervalSince(lastCheckpoint) >= settings.checkpointInterval {
                try save()
            }
        }
    }

    /// The number of the last alert this partition published (0: none).
    private func lastPublishedAlert() throws -> UInt64 {
        guard let last = try nc.lastMessage(stream: topology.alertsStream, subject: topology.alertSubject(partition)) else { return 0 }
        guard let text = last.header("Flowhound-Alert"), let n = UInt64(text) else {
            throw NATSError("the last message on \(topology.alertSubject(partition)) has no Flowhound-Alert number; is another program publishing there?")
        }
        return n
    }
}
