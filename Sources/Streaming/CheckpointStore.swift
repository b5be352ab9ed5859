import FlowRecords
import Foundation
import Support

/// Where a partition's detection stands: the stream position its state includes, the alerts it has
/// raised, and the state itself (`ScanDetection.checkpoint()`).
public struct PartitionCheckpoint: Sendable, Equatable {
    /// Stream sequence of the last flow message applied (0: none).
    public var appliedSequence: UInt64 = 0
    /// Alerts raised so far; the next one is number `alerts + 1`.
    public var alerts: UInt64 = 0
    /// Flow records applied so far.
    public var flows: UInt64 = 0
    /// The detection pipeline's state; empty for a partition that has seen nothing.
    public var state: [UInt8] = []

    public init() {}
}

/// Checkpoints in the state bucket, written so that a crash at any moment leaves the last complete
/// one readable and a stale owner cannot overwrite a newer one.
///
/// The state is cut into chunks under `chunk.<partition>.<epoch>.<slot>.<n>` (values stay below the
/// server's message size limit); then the manifest `checkpoint.<partition>`, holding the position,
/// the chunk count and the state's SHA-256, is swapped in by compare-and-set on its revision. Slots
/// alternate, so the chunks the current manifest names are never the ones being written. The epoch is
/// the owner's lease revision: an owner that lost its lease writes its own keys and then fails the
/// compare-and-set.
public final class CheckpointStore {
    public let bucket: KeyValueBucket
    public let partition: Int
    public let epoch: UInt64
    public let chunkSize: Int
    /// Revision of the manifest this owner last read or wrote (0: none yet).
    private var manifestRevision: UInt64 = 0
    /// Epoch of the checkpoint `load` read.
    private var previousEpoch: UInt64?
    private var slot = 0
    private var written: [Int] = [0, 0]

    public init(bucket: KeyValueBucket, partition: Int, epoch: UInt64, maxPayload: Int) {
        self.bucket = bucket
        self.partition = partition
        self.epoch = epoch
        chunkSize = max(4096, min(512 << 10, maxPayload - 4096))
    }

    var manifestKey: String { "checkpoint.\(partition)" }
    func chunkKey(epoch: UInt64, slot: Int, _ n: Int) -> String { "chunk.\(partition).\(epoch).\(slot).\(n)" }

    struct Manifest {
        var checkpoint: PartitionCheckpoint
        var epoch: UInt64
        var slot: Int
        var chunks: Int
        var size: Int
        var digest: [UInt8]

        func encoded(partition: Int) -> [UInt8] {
            var w = WireWriter()
            w.raw(Array("FHCM".utf8))
            w.u8(1)
            w.count(partition)
            w.u64(checkpoint.appliedSequence)
            w.u64(checkpoint.alerts)
            w.u64(checkpoint.flows)
            w.u64(epoch)
            w.u8(UInt8(slot))
            w.count(chunks)
            w.count(size)
            w.raw(digest)
            return w.bytes
        }
    }

    /// The partition's last checkpoint, or an empty one when it has none.
    public func load() throws -> PartitionCheckpoint {
        guard let (bytes, revision) = try bucket.get(manifestKey) else {
            manifestRevision = 0
            return PartitionCheckpoint()
        }
        let where_ = "checkpoint of partition \(partition) in bucket \(bucket.name)"
        let m: Manifest
        do { m = try Manifest(bytes, partition: partition) } catch { throw NATSError("\(where_): \(error)") }
        var state: [UInt8] = []
        state.reserveCapacity(m.size)
        for n in 0..<m.chunks {
            guard let (chunk, _) = try bucket.get(chunkKey(epoch: m.epoch, slot: m.slot, n)) else {
                throw NATSError("\(where_): chunk \(n + 1) of \(m.chunks) is missing")
            }
            state += chunk
        }
        guard state.count == m.size, state.withUnsafeBytes(sha256) == m.digest else {
            throw NATSError("\(where_): the chunks do not add up to the state the manifest describes (size or SHA-256 differs)")
        }
        manifestRevision = revision
        previousEpoch = m.epoch
        var c = m.checkpoint
        c.state = state
        return c
    }

    /// Writes `checkpoint`. - Returns: false when the manifest changed since this owner last read or
    /// wrote it: another worker owns the partition now.
    public func save(_ checkpoint: PartitionCheckpoint) throws -> Bool {
        // A stale owner usually finds out here, before writing chunks nobody will read.
        guard try bucket.get(manifestKey)?.revision ?? 0 == manifestRevision else { return false }
        let next = 1 - slot
        let chunks = checkpoint.state.isEmpty ? 0 : (checkpoint.state.count + chunkSize - 1) / chunkSize
        for n in 0..<chunks {
            let lo = n * chunkSize
            try bucket.put(chunkKey(epoch: epoch, slot: next, n), Array(checkpoint.state[lo..<min(lo + chunkSize, checkpoint.state.count)]))
        }
        let manifest = Manifest(
            checkpoint: checkpoint, epoch: epoch, slot: next, chunks: chunks,
            size: checkpoint.state.count, digest: checkpoint.state.withUnsafeBytes(sha256))
        let bytes = manifest.encoded(partition: partition)
        let revision = manifestRevision == 0 ? try bucket.create(manifestKey, bytes) : try bucket.update(manifestKey, bytes, last: manifestRevision)
        guard let revision else { return false }
        // A smaller state leaves chunks of the slot's earlier, larger one behind.
        for n in chunks..<max(chunks, written[next]) { try bucket.delete(chunkKey(epoch: epoch, slot: next, n)) }
        written[next] = chunks
        manifestRevision = revision
        slot = next
        return true
    }

    /// Removes the chunks of the owner (epoch) whose checkpoint `load` read; call after a first `save`.
    public func removePreviousOwnersChunks() throws {
        guard let previous = previousEpoch, previous != epoch else { return }
        try bucket.purgeAll(prefix: "chunk.\(partition).\(previous).")
        previousEpoch = nil
    }
}

extension CheckpointStore.Manifest {
    init(_ bytes: [UInt8], partition: Int) throws {
        var r = WireReader(bytes)
        guard Array(try r.raw(4, "magic")) == Array("FHCM".utf8) else { throw WireError("not a Flowhound checkpoint manifest") }
        let version = try r.u8("version")
        guard version == 1 else { throw WireError("checkpoint manifest version \(version); this Flowhound reads version 1") }
        let p = try r.count("partition")
        guard p == partition else { throw WireError("manifest of partition \(p) under the key of partition \(partition)") }
        checkpoint = PartitionCheckpoint()
        checkpoint.appliedSequence = try r.u64("applied sequence")
        checkpoint.alerts = try r.u64("alert count")
        checkpoint.flows = try r.u64("flow count")
        epoch = try r.u64("epoch")
        slot = Int(try r.u8("slot"))
        chunks = try r.count("chunk count", minimumItemSize: 0, limit: 1 << 20)
        size = try r.count("state size", minimumItemSize: 0, limit: Int.max)
        digest = Array(try r.raw(32, "digest"))
        guard slot < 2, r.isAtEnd else { throw WireError("damaged checkpoint manifest") }
    }
}
