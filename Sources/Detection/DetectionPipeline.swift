import FlowRecords
import Foundation

/// Flow records in, alerts out: the one path every way of running detection takes: `detect`,
/// `eval detect`, `POST /v1/detect`, `publish` (which stops after pairing and hands the attempts to
/// NATS) and each partition of the NATS worker. A change to detection is made here once.
///
/// Records arrive a log at a time: `beginLog(_:)` with the log's format, `add(_:)` for each record,
/// `endLog()`. A log in a format that records each direction of a connection apart (nfdump, AWS VPC)
/// goes through a `DirectionPairer` first, so that a probe and its answer become one attempt; other
/// formats already record attempts. Records added outside a log (the worker's, paired by `publish`
/// before they were sent) are attempts too. Each attempt is shown to `inspect`, then goes to the
/// stage: a `ScanDetection`, whose alerts arrive through `onAlert` (and `onDistributedAlert`), or a sink. `finish()` ends the
/// input: every open window is judged and every open episode alerted.
///
/// With a `reorder` span, attempts pass through a `ReorderBuffer` between `inspect` (which sees them
/// as they arrive) and detection (which sees them in start order, as far as the span allows): input
/// whose flows arrive up to `reorder` seconds out of order is then judged as if it had been sorted.
/// The buffer spans logs (`endLog()` leaves it alone: logs may overlap in time) and is emptied by
/// `finish()`. When more than `lateWarningShare` of the flows (and at least `lateWarningMinimum`)
/// have reached detection after their window had closed, `onLateFlows` is called, once.
///
/// Not for concurrent use: one pipeline holds one input's state. A server makes one per request
/// from a `DetectionRecipe`.
public final class DetectionPipeline {
    /// What pairing did for one log.
    public struct Pairing: Sendable, Equatable {
        /// Attempts whose probe and answer were paired.
        public var paired: Int
        /// Records with no reverse within the horizon, passed on alone.
        public var unpaired: Int
        public var horizon: Double
    }

    /// What the pipeline knows of the order its input came in: for the warning that it is out of
    /// order, and what to do about it.
    public struct LateFlows: Sendable, Equatable {
        /// Flows detection counted late so far (`DetectionStatistics.lateFlows`), of `flows`.
        public var late: Int
        public var flows: Int
        /// The most seconds an attempt started before the newest start that arrived before it (as
        /// read, before reordering): a `reorder` span at least this long puts the input seen so far in order.
        public var largestLag: Double
        /// The reorder span in effect (0: none).
        public var reorder: Double
        /// Attempts the reorder buffer released before their span had passed, because it was full.
        public var releasedEarly: Int
    }

    /// The share of late flows above which `onLateFlows` is called: 1 %. Exporters and merged logs
    /// put a few flows out of order, which `DetectionSettings.lateness` absorbs; beyond 1 % the
    /// input is out of order, and alerts change with the order of its lines.
    public static let lateWarningShare = 0.01
    /// Late flows needed before `onLateFlows` is called, so that a handful in a small input does not.
    public static let lateWarningMinimum = 100

    /// The scan detection the attempts go to; nil when they go to a sink or to partitions.
    public let detection: ScanDetection?
    /// Detection partitioned across threads (`init(recipe:model:partitions:)` with 2 or more).
    public let partitioned: PartitionedDetection?
    /// Sees every attempt (after pairing) before the stage does.
    public var inspect: ((FlowRecord) throws -> Void)?
    /// Called once, the first time more than `lateWarningShare` of the flows detection has counted,
    /// and at least `lateWarningMinimum`, arrived after their window had closed.
    public var onLateFlows: ((LateFlows) -> Void)?
    /// Records added, as read (before pairing).
    // The counters and buffers below are touched on every record, by one thread at a time, and no
    // callback runs inside a mutation of them: unchecked, as `ScanDetection`'s state is.
    @exclusivity(unchecked)
    public private(set) var records = 0
    /// Seconds attempts are held to be put in start order (0: they go to the stage as they arrive).
    public let reorder: Double
    /// The most seconds an attempt started before the newest start that arrived before it.
    @exclusivity(unchecked)
    public private(set) var largestLag = 0.0

    /// Where attempts go when there is no detection (`init(sink:)`).
    private let sink: ((FlowRecord) throws -> Void)?
    @exclusivity(unchecked)
    private var pairer: DirectionPairer?
    @exclusivity(unchecked)
    private var buffer: ReorderBuffer?
    @exclusivity(unchecked)
    private var newestStart = -Double.infinity
    @exclusivity(unchecked)
    private var warnedLate = false

    /// Detection by `detection`.
    /// - Parameters:
    ///   - reorder: seconds of input time attempts are held to be put in start order; 0 for none.
    ///   - reorderLimit: most attempts held at once (`ReorderBuffer.maximumHeld`).
    public convenience init(detection: ScanDetection, reorder: Double = 0, reorderLimit: Int = ReorderBuffer.defaultMaximumHeld) {
        self.init(detection: detection, partitioned: nil, reorder: reorder, reorderLimit: reorderLimit)
    }

    /// Detection partitioned by source across threads; reordering, when asked, is done before the
    /// attempts are shared out, so each partition sees them in start order.
    public convenience init(partitioned: PartitionedDetection, reorder: Double = 0, reorderLimit: Int = ReorderBuffer.defaultMaximumHeld) {
        self.init(detection: nil, partitioned: partitioned, reorder: reorder, reorderLimit: reorderLimit)
    }

    /// Detection by one of the two, with a reorder span.
    private init(detection: ScanDetection?, partitioned: PartitionedDetection?, reorder: Double, reorderLimit: Int) {
        precondition(reorder >= 0 && reorder.isFinite, "reorder must be a non-negative number of seconds")
        self.detection = detection
        self.partitioned = partitioned
        sink = nil
        self.reorder = reorder
        if reorder > 0 { buffer = ReorderBuffer(span: reorder, maximumHeld: reorderLimit) }
    }

    /// Detection with a recipe's detectors and reorder span (`model`: the scan CNN when the recipe uses
    /// it), in `partitions` partitions on as many threads when that is 2 or more (`PartitionedDetection`).
    public convenience init(recipe: DetectionRecipe, model: ScanModel?, partitions: Int = 1) {
        if partitions > 1 {
            self.init(
                partitioned: PartitionedDetection(recipe: recipe, model: model, partitions: partitions), reorder: recipe.reorder,
                reorderLimit: recipe.reorderLimit)
        } else {
            self.init(detection: recipe.make(model: model), reorder: recipe.reorder, reorderLimit: recipe.reorderLimit)
        }
    }

    /// Reading and pairing only: every attempt goes to `sink` (what `publish` sends to the workers).
    public init(sink: @escaping (FlowRecord) throws -> Void) {
        detection = nil
        partitioned = nil
        self.sink = sink
        reorder = 0
    }

    /// Alerts as episodes end (detection only).
    public var onAlert: (ScanAlert) -> Void {
        get { detection?.onAlert ?? partitioned?.onAlert ?? { _ in } }
        set {
            detection?.onAlert = newValue
            partitioned?.onAlert = newValue
        }
    }

    /// Distributed-scan alerts as their episodes start, go on and end (detection with the
    /// distributed-scan detector only).
    public var onDistributedAlert: (DistributedScanAlert) -> Void {
        get { detection?.onDistributedAlert ?? partitioned?.onDistributedAlert ?? { _ in } }
        set {
            detection?.onDistributedAlert = newValue
            partitioned?.onDistributedAlert = newValue
        }
    }

    /// How alerts are written as lines, for a consumer that writes them as they come: with partitioned
    /// detection each partition writes its alerts' lines on its own thread (`PartitionedDetection.lines`),
    /// and `deliveredLine` has the line of the alert being delivered. One detection writes none: its
    /// consumer writes the line itself. Set before the first record.
    public var alertLines: PartitionedDetection.Lines? {
        get { partitioned?.lines }
        set { partitioned?.lines = newValue }
    }

    /// The line `alertLines` wrote for the alert `onAlert` or `onDistributedAlert` is being given; nil
    /// when none was written (one detection, or no `alertLines`).
    public var deliveredLine: String? { partitioned?.deliveredLine }

    /// What detection did (zero for a sink); partitioned, as of the last round the partitions finished.
    public var statistics: DetectionStatistics { detection?.statistics ?? partitioned?.statistics ?? DetectionStatistics() }

    /// What the pipeline knows of its input's order so far.
    public var lateFlows: LateFlows {
        let s = statistics
        return LateFlows(
            late: s.lateFlows, flows: s.flows, largestLag: largestLag, reorder: reorder, releasedEarly: buffer?.releasedEarly ?? 0)
    }

    /// Attempts held in the reorder buffer now.
    public var held: Int { buffer?.held ?? 0 }

    /// A log in `format` begins: its records are paired when the format records each direction apart.
    public func beginLog(_ format: FlowFormat) {
        pairer = format.recordsOneDirection ? DirectionPairer() : nil
    }

    /// One record of the current log (or, outside a log, one attempt).
    public func add(_ record: FlowRecord) throws {
        records += 1
        if pairer != nil { try pairer!.add(record, emit: attempt) } else { try attempt(record) }
    }

    /// The current log has ended: records still waiting for their reverse go on alone. Attempts held
    /// for reordering stay held: the next log may hold flows that started before them.
    /// - Returns: what pairing did, or nil when the log needed none.
    @discardableResult
    public func endLog() throws -> Pairing? {
        guard pairer != nil else { return nil }
        try pairer!.finish(emit: attempt)
        let result = Pairing(paired: pairer!.paired, unpaired: pairer!.unpaired, horizon: pairer!.horizon)
        pairer = nil
        return result
    }

    private func attempt(_ flow: FlowRecord) throws {
        if let inspect { try inspect(flow) }
        if flow.start > newestStart {
            newestStart = flow.start
        } else if newestStart - flow.start > largestLag {
            largestLag = newestStart - flow.start
        }
        if buffer != nil {
            try reordering { try $0.add(flow, emit: stage) }
        } else {
            try stage(flow)
        }
        checkLateShare()
    }

    /// Detection, or the sink. A direct call: through a stored closure (`detection.add` partially
    /// applied) each record was copied and its strings retained once more, about a twentieth of
    /// `detect`'s time.
    @inline(__always)
    private func stage(_ flow: FlowRecord) throws {
        if let detection {
            try detection.add(flow)
        } else if let partitioned {
            try partitioned.add(flow)
        } else {
            try sink!(flow)
        }
    }

    /// Runs `body` on the reorder buffer, taken out of the pipeline meanwhile, so that what the stage
    /// calls back (`onAlert`) may read the pipeline.
    private func reordering(_ body: (inout ReorderBuffer) throws -> Void) rethrows {
        guard var taken = buffer.take() else { return }
        defer { buffer = taken }
        try body(&taken)
    }

    private func checkLateShare() {
        guard !warnedLate, detection != nil || partitioned != nil, statistics.lateFlows >= Self.lateWarningMinimum else { return }
        let report = lateFlows
        guard Double(report.late) > Self.lateWarningShare * Double(report.flows) else { return }
        warnedLate = true
        onLateFlows?(report)
    }

    /// Reads a whole log held in memory (a request body) through the pipeline, as one log.
    /// - Parameter pace: called as reading goes on (about every 256 KiB and every 4096 records), to
    ///   stop a read that has run out of time by throwing.
    public func read(bytes: [UInt8], name: String, options: ReadOptions, pace: (Int) throws -> Void = { _ in })
        throws -> (summary: ReadSummary, pairing: Pairing?)
    {
        var count = 0
        let summary = try FlowReader(options: options).read(bytes: bytes, name: name, onFormat: beginLog, pace: pace) { record in
            count += 1
            if count & 4095 == 0 { try pace(count) }
            try add(record)
        }
        return (summary, try endLog())
    }

    /// Moves detection's clock (see `ScanDetection.advance(to:)`): for a partition told the other
    /// partitions' time. With a reorder span, the attempts the watermark makes safe go to detection
    /// first, and detection's clock moves to `time - reorder`, where the attempts it has been given
    /// can have reached: the attempts still held are not made late by it.
    public func advance(to time: Double) throws {
        if buffer != nil {
            try reordering { try $0.advance(to: time, emit: stage) }
            checkLateShare()
            try detection?.advance(to: time - reorder)
            try partitioned?.advance(to: time - reorder)
        } else {
            try detection?.advance(to: time)
            try partitioned?.advance(to: time)
        }
    }

    /// Delivers the alerts detection has raised and still holds: partitioned detection delivers a
    /// round's alerts once every partition is through it, so a followed log that has been read to its end
    /// calls this before it waits for more. Nothing for one detection, which delivers at once.
    public func deliver() throws {
        try partitioned?.deliver()
    }

    /// Detection's whole state (`ScanDetection.checkpoint()`), for another process to resume from;
    /// empty for a sink. Taken between logs: records waiting for their reverse are not in it. Nor
    /// are attempts held for reordering: a pipeline that reorders has none only once it has
    /// finished, so one that is checkpointed (the NATS worker's) does not reorder.
    public func checkpoint() -> [UInt8] {
        precondition(pairer == nil, "a pipeline is checkpointed between logs")
        precondition(buffer?.isEmpty ?? true, "a pipeline is checkpointed with no attempts held for reordering")
        precondition(partitioned == nil, "a partitioned pipeline is not checkpointed")
        return detection?.checkpoint() ?? []
    }

    /// Resumes from `checkpoint()`'s bytes (`ScanDetection.restore(from:)`).
    public func restore(from bytes: [UInt8]) throws {
        precondition(partitioned == nil, "a partitioned pipeline is not restored")
        try detection?.restore(from: bytes)
    }

    /// The end of the input: a log still open ends, the attempts held for reordering go to detection,
    /// every open window is judged and every open episode alerted.
    public func finish() throws {
        try endLog()
        try reordering { try $0.flush(emit: stage) }
        checkLateShare()
        try detection?.finish()
        try partitioned?.finish()
        checkLateShare()
    }
}
