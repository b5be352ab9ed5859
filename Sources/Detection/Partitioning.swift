import FlowRecords

/// Which partition a source address belongs to: FNV-1a (32 bit) over the address's 16-byte IPv6 form
/// (IPv4 as `::ffff:a.b.c.d`), modulo the partition count. Fixed for good: publishers and workers of
/// any version must agree, and a source's state lives in one partition only. The NATS publisher and
/// workers partition with it, and so does `PartitionedDetection` across the cores of one process.
public struct Partitioning: Sendable, Equatable {
    public let count: Int

    public init(count: Int) {
        precondition((1...1024).contains(count), "partition count must be in 1...1024")
        self.count = count
    }

    public static func hash(_ a: IPAddress) -> UInt32 {
        if a.isIPv4 {
            // The first twelve bytes of an IPv4 address's form are the same for all: their state is a
            // constant (a test holds it to the loop's), and four bytes are left to mix.
            var h: UInt32 = 0xB397_038B
            for shift in stride(from: 24, through: 0, by: -8) {
                h ^= UInt32(UInt8(truncatingIfNeeded: a.low >> UInt64(shift)))
                h = h &* 0x0100_0193
            }
            return h
        }
        return hashAllBytes(a)
    }

    /// The hash over all sixteen bytes, whatever the address: what `hash` must equal.
    static func hashAllBytes(_ a: IPAddress) -> UInt32 {
        var h: UInt32 = 0x811C_9DC5
        mix(&h, a.high)
        mix(&h, a.low)
        return h
    }

    /// FNV-1a over a word's bytes, most significant first.
    @inline(__always)
    private static func mix(_ h: inout UInt32, _ word: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) {
            h ^= UInt32(UInt8(truncatingIfNeeded: word >> UInt64(shift)))
            h = h &* 0x0100_0193
        }
    }

    @inline(__always)
    public func partition(of a: IPAddress) -> Int { Int(Partitioning.hash(a) % UInt32(count)) }

    /// Where a record goes: its source's partition, and its destination's too when that is another
    /// and the record is a failed attempt that detection counts (not an ICMP error, not to a multicast
    /// or broadcast address), for the host's distributed-scan watch there.
    @inline(__always)
    public func partitions(of r: FlowRecord) -> (source: Int, destination: Int?) {
        let p = partition(of: r.source)
        guard count > 1, r.outcome.isFailure, !r.isICMPError, !r.destination.isMulticastOrBroadcast else { return (p, nil) }
        let q = partition(of: r.destination)
        return (p, q == p ? nil : q)
    }
}
