import Detection
import FlowRecords
import Foundation

/// The names a deployment shares: the flows stream and its per-partition subjects, the alerts stream,
/// the consumers, and the two key-value buckets (leases, with a time to live; state, without).
public struct Topology: Sendable {
    public let stream: String
    public let alertsStream: String

    public init(stream: String, alertsStream: String = "alerts") throws {
        for (what, name, setting) in [("flows stream", stream, Setting.flowStream), ("alerts stream", alertsStream, .alertStream)] {
            guard !name.isEmpty,
                name.utf8.allSatisfy({ $0 == 0x2D || $0 == 0x5F || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) })
            else {
                throw NATSError("\(what) '\(name)': a stream name is letters, digits, '-' and '_'", setting: setting)
            }
        }
        guard stream != alertsStream else { throw NATSError("the flows and alerts streams must differ", setting: .alertStream) }
        self.stream = stream
        self.alertsStream = alertsStream
    }

    public func subject(_ partition: Int) -> String { "\(stream).\(partition)" }
    public func alertSubject(_ partition: Int) -> String { "\(alertsStream).\(partition)" }
    public func consumer(_ partition: Int) -> String { "flowhound-\(stream)-\(partition)" }
    public var leaseBucket: String { "\(stream)-leases" }
    public var stateBucket: String { "\(stream)-state" }

    /// Creates the flows stream (a work queue: a flow is removed once its partition's worker has made
    /// its effect durable) and the alerts stream, if missing.
    public func ensureStreams(_ nc: NATSConnection, replicas: Int) throws {
        try nc.ensureStream(stream, subjects: ["\(stream).*"], retention: .workQueue, replicas: replicas)
        try nc.ensureStream(alertsStream, subjects: ["\(alertsStream).*"], retention: .limits, replicas: replicas)
    }

    /// The deployment's partition count, recorded in the state bucket by whichever publisher or worker
    /// came first. `requested` must agree with it when given.
    public func partitioning(_ state: KeyValueBucket, requested: Int?) throws -> Partitioning {
        if let found = try state.get("partitions") {
            guard let n = Int(String(decoding: found.value, as: UTF8.self)), (1...1024).contains(n) else {
                throw NATSError("key 'partitions' in bucket \(state.name) holds '\(String(decoding: found.value, as: UTF8.self))', not a partition count")
            }
            if let requested, requested != n {
                throw NATSError(
                    "stream \(stream) is partitioned \(n) ways; the partition count asked for, \(requested), disagrees",
                    setting: .partitionCount)
            }
            return Partitioning(count: n)
        }
        let n = requested ?? 8
        guard (1...1024).contains(n) else { throw NATSError("the partition count must be in 1...1024", setting: .partitionCount) }
        if try state.create("partitions", Array(String(n).utf8)) == nil {
            return try partitioning(state, requested: requested)  // another process recorded it first
        }
        return Partitioning(count: n)
    }
}
