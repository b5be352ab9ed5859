import FlowRecords

/// A hash table from addresses to small values, for the tables that hold millions of addresses (the
/// sources whose one flow detection holds).
///
/// Why not `Dictionary`: at a million entries a dictionary has 2²¹ buckets (it doubles at three
/// quarters full), keys and values in two arrays, so a lookup that reads the value misses the cache
/// twice; and growing it allocates the next table while the last is still held, half as much again
/// for the moment of the copy. This table keeps each key beside its value, grows by half rather than
/// doubling, and is cut by the hash into 64 segments that grow one at a time, so that growing holds a
/// sixty-fourth more rather than the whole table twice. At a million 48-byte values it takes about
/// 100 MB where the dictionary took 168 MB, 252 MB while it grew.
///
/// Hashing is `Hashable`'s, seeded per process, so that addresses chosen to collide cannot be found
/// ahead of time; the order of iteration is the table's own, as a dictionary's is.
struct AddressTable<Value>: Sequence, ExpressibleByDictionaryLiteral {
    typealias Element = (key: IPAddress, value: Value)

    struct Slot {
        var key: IPAddress
        var value: Value
    }

    /// Open addressing with linear probing; `nil` is an empty slot.
    struct Segment {
        var slots: ContiguousArray<Slot?> = []
        var count = 0
    }

    static var segmentBits: Int { 6 }
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

    /// The slots held, empty ones included: what the table costs, in `MemoryLayout<Slot?>.stride` each.
    var capacity: Int { segments.reduce(0) { $0 + $1.slots.count } }

    /// The segment of a hash (its top bits), and the bits left to place the key in it.
    @inline(__always)
    static func split(_ key: IPAddress) -> (segment: Int, bits: UInt64) {
        let hash = UInt64(bitPattern: Int64(key.hashValue))
        return (Int(hash >> UInt64(64 - segmentBits)), hash << UInt64(segmentBits))
    }

    /// A key's first slot in a segment of `capacity` slots: the hash bits scaled to the capacity (so
    /// that the capacity need not be a power of two).
    @inline(__always)
    static func home(_ bits: UInt64, _ capacity: Int) -> Int {
        Int(bits.multipliedFullWidth(by: UInt64(capacity)).high)
    }

    /// The slot that holds `key` in segment `s`, if one does.
    @inline(__always)
    func find(_ key: IPAddress, _ s: Int, _ bits: UInt64) -> Int? {
        segments[s].slots.withUnsafeBufferPointer { slots in
            let capacity = slots.count
            guard capacity > 0 else { return nil }
            var i = Self.home(bits, capacity)
            while let slot = slots[i] {
                if slot.key == key { return i }
                i += 1
                if i == capacity { i = 0 }
            }
            return nil
        }
    }

    subscript(key: IPAddress) -> Value? {
        get {
            let (s, bits) = Self.split(key)
            guard let i = find(key, s, bits) else { return nil }
            return segments[s].slots[i]!.value
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
        let (s, bits) = Self.split(key)
        guard let i = find(key, s, bits) else { return nil }
        return segments[s].slots.withUnsafeMutableBufferPointer { slots in body(&slots[i]!.value) }
    }

    /// - Returns: the value replaced, if the key had one.
    @discardableResult
    mutating func updateValue(_ value: Value, forKey key: IPAddress) -> Value? {
        let (s, bits) = Self.split(key)
        if let i = find(key, s, bits) {
            let old = segments[s].slots[i]!.value
            segments[s].slots[i]!.value = value
            return old
        }
        // Grown by half at three quarters full: a quarter of the slots stay empty, so that a probe for
        // a key that is not there soon meets an empty one.
        let capacity = segments[s].slots.count
        if 4 * (segments[s].count + 1) > 3 * capacity { grow(s, to: Swift.max(8, capacity + capacity / 2)) }
        Self.place(Slot(key: key, value: value), bits, in: &segments[s])
        count += 1
        return nil
    }

    /// Puts a slot in the first empty slot from its home (the key is not in the segment).
    @inline(__always)
    static func place(_ slot: Slot, _ bits: UInt64, in segment: inout Segment) {
        segment.slots.withUnsafeMutableBufferPointer { slots in
            let capacity = slots.count
            var i = home(bits, capacity)
            while slots[i] != nil {
                i += 1
                if i == capacity { i = 0 }
            }
            slots[i] = slot
        }
        segment.count += 1
    }

    mutating func grow(_ s: Int, to capacity: Int) {
        var grown = Segment(slots: ContiguousArray(repeating: nil, count: capacity), count: 0)
        for case let slot? in segments[s].slots { Self.place(slot, Self.split(slot.key).bits, in: &grown) }
        segments[s] = grown
    }

    /// - Returns: the value removed, if the key had one.
    @discardableResult
    mutating func removeValue(forKey key: IPAddress) -> Value? {
        let (s, bits) = Self.split(key)
        guard let found = find(key, s, bits) else { return nil }
        count -= 1
        segments[s].count -= 1
        return segments[s].slots.withUnsafeMutableBufferPointer { slots in
            let removed = slots[found]!.value
            // Backward shift: each later key of the run moves into the hole if its home is not between
            // the hole and itself, so that every key stays reachable from its home with no marker left.
            let capacity = slots.count
            var hole = found
            var j = found
            while true {
                j += 1
                if j == capacity { j = 0 }
                guard let slot = slots[j] else { break }
                let home = Self.home(Self.split(slot.key).bits, capacity)
                let fromHome = (j - home + capacity) % capacity
                let fromHole = (j - hole + capacity) % capacity
                if fromHome >= fromHole {
                    slots[hole] = slot
                    hole = j
                }
            }
            slots[hole] = nil
            return removed
        }
    }

    /// Empties the table and gives its memory back.
    mutating func removeAll() { self = AddressTable() }

    /// Makes room for `count` keys in all, so that adding them grows no segment: an even share each,
    /// with room for the hash's unevenness (six standard deviations of a segment's share).
    mutating func reserveCapacity(_ count: Int) {
        let share = count / segments.count + 1
        let wanted = share + 6 * Int(Double(share).squareRoot()) + 16
        for s in segments.indices where 4 * wanted > 3 * segments[s].slots.count {
            grow(s, to: (4 * wanted) / 3 + 1)
        }
    }

    struct Iterator: IteratorProtocol {
        let segments: [Segment]
        var s = 0, i = 0

        mutating func next() -> Element? {
            while s < segments.count {
                let slots = segments[s].slots
                while i < slots.count {
                    defer { i += 1 }
                    if let slot = slots[i] { return (slot.key, slot.value) }
                }
                s += 1
                i = 0
            }
            return nil
        }
    }

    func makeIterator() -> Iterator { Iterator(segments: segments) }

    var underestimatedCount: Int { count }
}

extension AddressTable: Sendable where Value: Sendable {}
extension AddressTable.Slot: Sendable where Value: Sendable {}
extension AddressTable.Segment: Sendable where Value: Sendable {}
