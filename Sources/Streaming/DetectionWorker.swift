import Detection
import FlowRecords
import Foundation
import Support

/// A worker process: holds leases on partitions and runs detection on each one it holds.
///
/// Leases live in the `<stream>-leases` bucket, whose values expire after `leaseTTL` seconds unless
/// renewed. Every worker renews its member key and its leases every third of that, counts the live
/// members, and aims at an even share: it takes free partitions (compare-and-set create) while it
/// holds fewer than ⌈partitions ÷ members⌉ of those it may run, and hands one back per round (after a
/// last checkpoint) while it holds more. A worker that dies stops renewing; within `leaseTTL` its
/// leases expire and the others take its partitions, each from its last checkpoint.
public final class DetectionWorker: @unchecked Sendable {
    public let id: String
    private let nc: NATSConnection
    private let topology: Topology
    private let settings: WorkerSettings
    private let recipe: DetectionRecipe
    private let model: ScanModel?
    private let allowed: [Int]
    private let partitioning: Partitioning
    private let leases: KeyValueBucket
    private let state: KeyValueBucket
    private let log: @Sendable (String) -> Void
    private let onAlert: @Sendable (PublishedAlert) -> Void

    private var held: [Int: (revision: UInt64, runner: PartitionRunner)] = [:]
    /// Partitions whose runner failed, and when to try again.
    private var backoff: [Int: Date] = [:]
    private let reportsLock = NSLock()
    private var finished: [PartitionReport] = []

    /// - Parameters:
    ///   - recipe: detection for every partition; it does not reorder (`reorder` 0): a partition
    ///     checkpoints often, and held attempts are not in a checkpoint.
    ///   - partitions: the partitions this worker may run (`Partitioning.parse`), nil for all.
    ///   - partitionCount: the count to record when this is the deployment's first process.
    ///   - onAlert: each alert published: its JSON line, severity and partition.
    public init(
        _ nc: NATSConnection, id: String, topology: Topology, partitions: String?, partitionCount: Int?,
        settings: WorkerSettings, recipe: DetectionRecipe, model: ScanModel?,
        log: @escaping @Sendable (String) -> Void, onAlert: @escaping @Sendable (PublishedAlert) -> Void
    ) throws {
        precondition(recipe.reorder == 0, "a worker's partitions do not reorder: their checkpoints hold no attempts")
        self.nc = nc
        self.id = id
        self.topology = topology
        self.settings = settings
        self.model = model
        self.log = log
        self.onAlert = onAlert
        (state, leases, partitioning) = try DetectionWorker.setUp(nc, topology, settings, partitionCount)
        self.recipe = recipe
        allowed = try partitions.map(partitioning.parse) ?? Array(0..<partitioning.count)
    }

    /// Creates (or opens) the streams and buckets. Workers often start together, and in a cluster a
    /// new stream answers only once its replicas have elected a leader: retried for half a minute.
    private static func setUp(_ nc: NATSConnection, _ topology: Topology, _ settings: WorkerSettings, _ partitionCount: Int?) throws
        -> (KeyValueBucket, KeyValueBucket, Partitioning)
    {
        try retryingTransientErrors {
            try topology.ensureStreams(nc, replicas: settings.replicas)
            let state = try nc.keyValue(bucket: topology.stateBucket, replicas: settings.replicas)
            let leases = try nc.keyValue(bucket: topology.leaseBucket, ttl: settings.leaseTTL, replicas: settings.replicas)
            return (state, leases, try topology.partitioning(state, requested: partitionCount))
        }
    }

    public var heldPartitions: [Int] { held.keys.sorted() }

    /// Reports of the partitions this worker has run and given up, and of those it holds now.
    public var reports: [PartitionReport] {
        reportsLock.withLock { finished } + held.values.map(\.runner.report)
    }

    /// CPU seconds the worker's own thread spent in lease rounds (renewing its member key and leases,
    /// counting members, taking and handing back partitions), beside the partitions' threads.
    public private(set) var leaseRoundCPUSeconds = 0.0
    /// Lease rounds run.
    public private(set) var leaseRounds = 0

    /// Runs until `shouldStop` returns true (or, with `drain`, until the flows stream is empty: every
    /// flow published so far has been checkpointed), then hands every partition back after a last
    /// checkpoint.
    public func run(drain: Bool = false, shouldStop: () -> Bool) throws {
        let period = settings.leaseTTL / 3
        let memberKey = "member.\(id)"
        defer {
            // Every runner checkpoints at once; then each is waited for.
            for h in held.values { h.runner.stop() }
            for p in held.keys { giveUp(p, checkpoint: true) }
            try? leases.delete(memberKey)
        }
        let started = Date()
        var lastGoodRound = Date()
        while !shouldStop() {
            do {
                let roundStarted = CPUTime.thread
                defer {
                    leaseRoundCPUSeconds += CPUTime.thread - roundStarted
                    leaseRounds += 1
                }
                try leases.put(memberKey, Array(allowed.map(String.init).joined(separator: ",").utf8))
                try round()
                lastGoodRound = Date()
                if drain && Date().timeIntervalSince(started) > period, try nc.state(stream: topology.stream).messages == 0 { break }
            } catch let error as NATSError where error.isTransient {
                // A server restarting or a cluster electing a leader: try again next round. Once the
                // leases may have expired, the partitions may be someone else's.
                log("lease round failed: \(error); retrying")
                if Date().timeIntervalSince(lastGoodRound) > settings.leaseTTL {
                    for p in held.keys {
                        log("partition \(p): leases not renewed for \(Int(settings.leaseTTL)) s; dropping it without a checkpoint")
                        giveUp(p, checkpoint: false)
                    }
                }
            }
            let until = Date().addingTimeInterval(period)
            while Date() < until && !shouldStop() { Thread.sleep(forTimeInterval: 0.05) }
        }
    }

    private func round() throws {
        // Runners that stopped on their own (an error, or another owner took over).
        for (p, h) in held where h.runner.isDone {
            if let reason = h.runner.failureReason { log("partition \(p): \(reason)") }
            giveUp(p, checkpoint: true)
            backoff[p] = Date().addingTimeInterval(settings.leaseTTL)
        }
        for (p, h) in held {
            if let revision = try leases.update("lease.\(p)", Array(id.utf8), last: h.revision) {
                held[p] = (revision, h.runner)
            } else {
                log("partition \(p): lease lost (renewed too late?); dropping it without a checkpoint")
                giveUp(p, checkpoint: false)
            }
        }
        // A worker that stopped leaves a delete marker, counted until it expires.
        let members = max(1, try leases.subjectCount(prefix: "member."))
        let target = min(allowed.count, (partitioning.count + members - 1) / members)
        if held.count > target, let p = held.keys.max() {
            log("partition \(p): handing over (\(members) workers share \(partitioning.count) partitions)")
            giveUp(p, checkpoint: true)
            return
        }
        let now = Date()
        for p in allowed where held.count < target && held[p] == nil && (backoff[p].map { $0 <= now } ?? true) {
            guard let revision = try leases.create("lease.\(p)", Array(id.utf8)) else { continue }
            let runner = PartitionRunner(
                partition: p, partitioning: partitioning, epoch: revision, nc: nc, topology: topology, settings: settings,
                recipe: recipe, model: model?.replica(), state: state, log: log, onAlert: onAlert)
            held[p] = (revision, runner)
            runner.start()
        }
    }

    /// Stops partition `p`'s runner and waits for it. With `checkpoint`, the runner checkpoints first and
    /// the lease is handed back; without (the lease is lost, or may be), it stops at once and the lease
    /// is left to expire or to its new owner.
    private func giveUp(_ p: Int, checkpoint: Bool) {
        guard let h = held.removeValue(forKey: p) else { return }
        h.runner.stop(abandon: !checkpoint)
        h.runner.join()
        retire(h.runner)
        if checkpoint { release(p, h.revision) }
    }

    private func retire(_ runner: PartitionRunner) {
        let r = runner.report
        reportsLock.withLock { finished.append(r) }
        log(
            "partition \(r.partition): gave up after \(r.flows) flows (and \(r.destinationCopies) failed attempts of other partitions' sources on its hosts), \(r.alerts) alerts published (\(r.suppressedAlerts) already published before a restart), \(r.checkpoints) checkpoints"
        )
    }

    /// Deletes the lease if it is still this worker's.
    private func release(_ p: Int, _ revision: UInt64) {
        if let current = try? leases.get("lease.\(p)"), current.revision == revision { try? leases.delete("lease.\(p)") }
    }
}
