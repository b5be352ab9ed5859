import FlowRecords
import Support

/// A hash table from addresses to small values, for the tables that hold millions of addresses (the
/// sources whose one flow detection holds).
///
/// Why not `Dictionary`: at a million entries a dictionary has 2²¹ buckets (it doubles at three
/// quarters full), keys and values in two arrays, so a lookup that reads the value misses the cache
/// twice; and growing it allocates the next table while the last is still held, half as much again
/// for the moment of the copy. This table keeps each key beside its value, grows by a third rather
/// than doubling, and is cut by the hash into 64 segments that grow one at a time, so that growing
/// holds a sixty-fourth more rather than the whole table twice. At a million 48-byte values its
/// arrays take 86 MB (107 MB measured when it grew by half at three quarters full) where the
/// dictionary took 168 MB, 252 MB while it grew.
///
/// Hashing is `Hashable`'s, seeded per process, so that addresses chosen to collide cannot be found
/// ahead of time; the order of iteration is the table's own, as a dictionary's is.
struct AddressTable<Value>: Sequence, ExpressibleByDictionaryLiteral {
    typealias Element = (key: IPAddress, value: Value)

    struct Slot {
        var key: IPAddress
        var value: Value
    }

    /// Open addressing with linear probing. Beside each slot a control byte: 0 for an empty slot, else
    /// 0x80 and seven bits of its key's hash, so that a probe reads the control bytes, 64 to a cache
    /// line, and compares a key only where the seven bits match (a slot is 64 bytes, a line each).
    struct Segment {
        var control: [UInt8] = []
        var slots: ContiguousArray<Slot?> = []
        var count = 0
    }

    static var segmentBits: Int { 6 }
    /// Growing a segment whose slots take this many bytes or more gives the freed pages back to the
    /// system (`releaseFreedMemory`): a few calls a segment at most, from about 8,000 slots of 64 bytes.
    static var releasedBytes: Int { 512 << 10 }
    var segments: [Segment]
    private(set) var count = 0

    init() { segments = Array(repeating: Segment(), count: 1 << Self.segmentBits) }

    init(dictionaryLiteral elements: (IPAddress, Value)...) {
        self.init()
        for (key, value) in elements { self[key] = value }
    }

    var isEmpty: Bool { count == 0 }

    /// The keys, in the table's order.
    var keys: [IPAddress] { map(\.key) }

    /// The slots held, empty ones included: what the table costs, in `MemoryLayout<Slot?>.stride`
    /// and a control byte each.
    var capacity: Int { segments.reduce(0) { $0 + $1.slots.count } }

    /// Where a key goes: its segment (the hash's top bits), the bits that place it in the segment
    /// (the rest, shifted up), and its control byte (the low seven bits, and the high bit set).
    struct Hash {
        var segment: Int
        var bits: UInt64
        var tag: UInt8

        @inline(__always)
        init(_ key: IPAddress) {
            let hash = UInt64(bitPattern: Int64(key.hashValue))
            segment = Int(hash >> UInt64(64 - AddressTable.segmentBits))
            bits = hash << UInt64(AddressTable.segmentBits)
            tag = 0x80 | UInt8(truncatingIfNeeded: hash & 0x7F)
        }

        /// The key's first slot in a segment of `capacity` slots: the bits scaled to the capacity (so
        /// that the capacity need not be a power of two).
        @inline(__always)
        func home(_ capacity: Int) -> Int { Int(bits.multipliedFullWidth(by: UInt64(capacity)).high) }
    }

    /// The slot that holds `key` in its segment, if one does.
    @inline(__always)
    func find(_ key: IPAddress, _ h: Hash) -> Int? {
        segments[h.segment].control.withUnsafeBufferPointer { control in
            let capacity = control.count
            guard capacity > 0 else { return nil }
            return segments[h.segment].slots.withUnsafeBufferPointer { slots in
                var i = h.home(capacity)
                while true {
                    let c = control[i]
                    if c == 0 { return nil }
                    if c == h.tag && slots[i].unsafelyUnwrapped.key == key { return i }
                    i += 1
                    if i == capacity { i = 0 }
                }
            }
        }
    }

    subscript(key: IPAddress) -> Value? {
        get {
            let h = Hash(key)
            guard let i = find(key, h) else { return nil }
            return segments[h.segment].slots[i].unsafelyUnwrapped.value
        }
        set {
            if let newValue {
                updateValue(newValue, forKey: key)
            } else {
                removeValue(forKey: key)
            }
        }
    }

    /// Changes the value of `key` in place, if it has one: one lookup where reading and setting take two.
    /// - Returns: what `body` returns, or nil when the key has no value.
    @discardableResult
    mutating func modify<R>(_ key: IPAddress, _ body: (inout Value) -> R) -> R? {
        let h = Hash(key)
        guard let i = find(key, h) else { return nil }
        return segments[h.segment].slots.withUnsafeMutableBufferPointer { slots in body(&slots[i]!.value) }
    }

    /// - Returns: the value replaced, if the key had one.
    @discardableResult
    mutating func updateValue(_ value: Value, forKey key: IPAddress) -> Value? {
        let h = Hash(key)
        if let i = find(key, h) {
            let old = segments[h.segment].slots[i].unsafelyUnwrapped.value
            segments[h.segment].slots[i]!.value = value
            return old
        }
        // Grown by a third at four fifths full: a fifth of the slots stay empty, so that a probe for a
        // key that is not there soon meets an empty one (13 slots on average when fullest, a line or
        // two of control bytes). A segment holds 1.25-1.67 slots a key (1.33-2 grown by half at three
        // quarters full).
        let capacity = segments[h.segment].slots.count
        if 5 * (segments[h.segment].count + 1) > 4 * capacity { grow(h.segment, to: Swift.max(8, capacity + capacity / 3)) }
        Self.place(Slot(key: key, value: value), h, in: &segments[h.segment])
        count += 1
        return nil
    }

    /// Puts a slot in the first empty slot from its home (the key is not in the segment).
    @inline(__always)
    static func place(_ slot: Slot, _ h: Hash, in segment: inout Segment) {
        let capacity = segment.control.count
        var i = h.home(capacity)
        segment.control.withUnsafeMutableBufferPointer { control in
            while control[i] != 0 {
                i += 1
                if i == capacity { i = 0 }
            }
            control[i] = h.tag
        }
        segment.slots.withUnsafeMutableBufferPointer { slots in slots[i] = slot }
        segment.count += 1
    }

    mutating func grow(_ s: Int, to capacity: Int) {
        var grown = Segment(control: Array(repeating: 0, count: capacity), slots: ContiguousArray(repeating: nil, count: capacity), count: 0)
        for case let slot? in segments[s].slots { Self.place(slot, Hash(slot.key), in: &grown) }
        let freed = segments[s].slots.count * MemoryLayout<Slot?>.stride
        segments[s] = grown
        // The old arrays' pages go back to the system rather than stay in the heap: with this, a
        // million held sources' peak fell from 164 to 148 MiB (`detect --jobs 1` on
        // Benchmarks/run-sources.sh's one-flow log).
        if freed >= Self.releasedBytes { releaseFreedMemory() }
    }

    /// - Returns: the value removed, if the key had one.
    @discardableResult
    mutating func removeValue(forKey key: IPAddress) -> Value? {
        let h = Hash(key)
        guard let found = find(key, h) else { return nil }
        count -= 1
        // Taken out while it changes, so that its two arrays are this segment's alone.
        var segment = segments[h.segment]
        segments[h.segment] = Segment()
        defer { segments[h.segment] = segment }
        segment.count -= 1
        let capacity = segment.control.count
        return segment.control.withUnsafeMutableBufferPointer { control in
            segment.slots.withUnsafeMutableBufferPointer { slots in
                let removed = slots[found].unsafelyUnwrapped.value
                // Backward shift: each later key of the run moves into the hole if its home is not
                // between the hole and itself, so that every key stays reachable from its home with no
                // marker left.
                var hole = found
                var j = found
                while true {
                    j += 1
                    if j == capacity { j = 0 }
                    if control[j] == 0 { break }
                    let home = Hash(slots[j].unsafelyUnwrapped.key).home(capacity)
                    let fromHome = (j - home + capacity) % capacity
                    let fromHole = (j - hole + capacity) % capacity
                    if fromHome >= fromHole {
                        slots[hole] = slots[j]
                        control[hole] = control[j]
                        hole = j
                    }
                }
                slots[hole] = nil
                control[hole] = 0
                return removed
            }
        }
    }

    /// Empties the table and gives its memory back.
    mutating func removeAll() { self = AddressTable() }

    /// Makes room for `count` keys in all, so that adding them grows no segment: an even share each,
    /// with room for the hash's unevenness (six standard deviations of a segment's share).
    mutating func reserveCapacity(_ count: Int) {
        let share = count / segments.count + 1
        let wanted = share + 6 * Int(Double(share).squareRoot()) + 16
        for s in segments.indices where 5 * wanted > 4 * segments[s].slots.count {
            grow(s, to: (5 * wanted) / 4 + 1)
        }
    }

    struct Iterator: IteratorProtocol {
        let segments: [Segment]
        /// The segment being read, its arrays at hand.
        var s = -1, i = 0
        var control: [UInt8] = []
        var slots: ContiguousArray<Slot?> = []

        init(segments: [Segment]) { self.segments = segments }

        mutating func next() -> Element? {
            while true {
                while i < control.count {
                    defer { i += 1 }
                    if control[i] != 0, let slot = slots[i] { return (slot.key, slot.value) }
                }
                s += 1
                guard s < segments.count else { return nil }
                control = segments[s].control
                slots = segments[s].slots
                i = 0
            }
        }
    }

    func makeIterator() -> Iterator { Iterator(segments: segments) }

    var underestimatedCount: Int { count }
}

extension AddressTable: Sendable where Value: Sendable {}
extension AddressTable.Slot: Sendable where Value: Sendable {}
extension AddressTable.Segment: Sendable where Value: Sendable {}
