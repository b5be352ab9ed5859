import Detection
import FlowRecords
import Foundation
import Support

/// What a publisher did, for the closing report.
public struct PublishStatistics: Sendable {
    public var records = 0
    public var messages = 0
    public var watermarks = 0
    public var bytes = 0
    /// Times publishing waited because the most publishes allowed were unacknowledged (back-pressure).
    public var stalls = 0
    /// Failed attempts sent a second time, to their destination's partition.
    public var destinationCopies = 0
}

/// Publishes flow records to `<stream>.<partition>` in batches, with the publisher's clock as
/// watermarks, so that each partition's detection sees time pass as one pipeline over all flows would.
///
/// A record goes to its source's partition. A failed attempt goes to its destination's partition too
/// (when that is another), in the same order as every other record there: the distributed-scan watch
/// of a host counts the failures of every source on it, and lives where the host's address does.
///
/// A watermark goes to every partition before the first flow, and whenever the clock (the latest flow
/// start so far) crosses a multiple of `watermarkEvery` seconds, carrying the start of the flow that
/// crossed it: the buffered batches go out first, so it follows every earlier flow in each partition.
/// Detection sweeps (closes windows, ends episodes) only at multiples of 60 s (window + lateness), so
/// with the default 60 s each partition sweeps at the same moments, with the same clock, as `detect`
/// over the whole log; that is what makes the alerts of the workers equal those of `detect` on
/// time-ordered input.
public final class FlowPublisher {
    public let topology: Topology
    public let partitioning: Partitioning
    public let batch: Int
    public let watermarkEvery: Double
    public private(set) var statistics = PublishStatistics()
    private let nc: NATSConnection
    private var buffers: [[FlowRecord]]
    private var clock = -Double.infinity
    private var writer = WireWriter(capacity: 64 << 10)
    private let subjects: [String]

    public init(_ nc: NATSConnection, topology: Topology, partitioning: Partitioning, batch: Int = 512, watermarkEvery: Double = 60) {
        precondition(batch >= 1 && watermarkEvery > 0)
        self.nc = nc
        self.topology = topology
        self.partitioning = partitioning
        self.batch = batch
        self.watermarkEvery = watermarkEvery
        buffers = Array(repeating: [], count: partitioning.count)
        for i in buffers.indices { buffers[i].reserveCapacity(batch) }
        subjects = (0..<partitioning.count).map(topology.subject)
    }

    public func add(_ r: FlowRecord) throws {
        // ICMP errors do not move detection's clock (they are answers, left out), so neither do they
        // move the publisher's.
        if r.start > clock && !r.isICMPError {
            if clock == -.infinity || (r.start / watermarkEvery).rounded(.down) > (clock / watermarkEvery).rounded(.down) {
                try flushAll()
                try broadcast(.watermark(r.start))
                statistics.watermarks += 1
            }
            clock = r.start
        }
        let (p, copy) = partitioning.partitions(of: r)
        buffers[p].append(r)
        statistics.records += 1
        if buffers[p].count >= batch { try flush(p) }
        if let q = copy {
            buffers[q].append(r)
            statistics.destinationCopies += 1
            if buffers[q].count >= batch { try flush(q) }
        }
    }

    private func flush(_ p: Int) throws {
        guard !buffers[p].isEmpty else { return }
        writer = WireWriter(capacity: 64 << 10)
        FlowMessage.encodeFlows(buffers[p][...], into: &writer)
        try send(p, writer.bytes)
        buffers[p].removeAll(keepingCapacity: true)
    }

    private func flushAll() throws {
        for p in buffers.indices { try flush(p) }
    }

    private func broadcast(_ m: FlowMessage) throws {
        let bytes = m.encoded()
        for p in 0..<partitioning.count { try send(p, bytes) }
    }

    private func send(_ p: Int, _ bytes: [UInt8]) throws {
        statistics.stalls += try nc.publishAsync(subject: subjects[p], data: bytes)
        statistics.messages += 1
        statistics.bytes += bytes.count
    }

    /// Publishes what is buffered, the end-of-input marker when asked, and waits until JetStream has
    /// acknowledged every message.
    public func finish(endOfInput: Bool) throws {
        try flushAll()
        if endOfInput { try broadcast(.endOfInput(clock == -.infinity ? 0 : clock)) }
        try nc.finishPublishing()
    }
}
