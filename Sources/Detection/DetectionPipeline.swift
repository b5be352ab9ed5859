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
/// stage: a `ScanDetection`, whose alerts arrive through `onAlert`, or a sink. `finish()` ends the
/// input: every open window is judged and every open episode alerted.
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

    /// The scan detection the attempts go to; nil when they go to a sink.
    public let detection: ScanDetection?
    /// Sees every attempt (after pairing) before the stage does.
    public var inspect: ((FlowRecord) throws -> Void)?
    /// Records added, as read (before pairing).
    public private(set) var records = 0

    private let stage: (FlowRecord) throws -> Void
    private var pairer: DirectionPairer?

    /// Detection by `detection`.
    public init(detection: ScanDetection) {
        self.detection = detection
        stage = detection.add
    }

    /// Detection with a recipe's detectors (`model`: the scan CNN when the recipe uses it).
    public convenience init(recipe: DetectionRecipe, model: ScanModel?) {
        self.init(detection: recipe.make(model: model))
    }

    /// Reading and pairing only: every attempt goes to `sink` (what `publish` sends to the workers).
    public init(sink: @escaping (FlowRecord) throws -> Void) {
        detection = nil
        stage = sink
    }

    /// Alerts as episodes end (detection only).
    public var onAlert: (ScanAlert) -> Void {
        get { detection?.onAlert ?? { _ in } }
        set { detection?.onAlert = newValue }
    }

    /// What detection did (zero for a sink).
    public var statistics: DetectionStatistics { detection?.statistics ?? DetectionStatistics() }

    /// A log in `format` begins: its records are paired when the format records each direction apart.
    public func beginLog(_ format: FlowFormat) {
        pairer = format.recordsOneDirection ? DirectionPairer() : nil
    }

    /// One record of the current log (or, outside a log, one attempt).
    public func add(_ record: FlowRecord) throws {
        records += 1
        if pairer != nil { try pairer!.add(record, emit: attempt) } else { try attempt(record) }
    }

    /// The current log has ended: records still waiting for their reverse go on alone.
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
        try stage(flow)
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
    /// partitions' time.
    public func advance(to time: Double) throws {
        try detection?.advance(to: time)
    }

    /// Detection's whole state (`ScanDetection.checkpoint()`), for another process to resume from;
    /// empty for a sink. Taken between logs: records waiting for their reverse are not in it.
    public func checkpoint() -> [UInt8] {
        precondition(pairer == nil, "a pipeline is checkpointed between logs")
        return detection?.checkpoint() ?? []
    }

    /// Resumes from `checkpoint()`'s bytes (`ScanDetection.restore(from:)`).
    public func restore(from bytes: [UInt8]) throws {
        try detection?.restore(from: bytes)
    }

    /// The end of the input: a log still open ends, every open window is judged and every open episode
    /// alerted.
    public func finish() throws {
        try endLog()
        try detection?.finish()
    }
}
