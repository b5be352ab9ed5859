/// Puts records that arrive a little out of order back in time order, in bounded memory.
///
/// Exporters write a flow when it ends, so a long flow arrives after shorter ones that started
/// later, and logs merged from several exporters interleave. A consumer that keeps windows by start
/// time (`ScanDetection`) counts a record whose window has already closed as late. This buffer holds
/// each record until the newest `start` seen is more than `span` seconds past its own start, then
/// releases the records it holds in `start` order (equal starts in arrival order).
///
/// **Guarantee.** If no record starts more than `span` seconds before a record that arrived earlier,
/// the output is in `start` order, and stable. A record later than that is released as soon as it
/// arrives (it is older than every record held), behind records that started after it.
///
/// **Memory** is bounded: at most `maximumHeld` records wait. Beyond that the oldest are released at
/// once (before their span has passed) and counted in `releasedEarly`: input whose disorder is within
/// `span` can then come out of order, but memory does not grow whatever arrives. Records whose start
/// is not a finite number are released at once.
///
/// ```swift
/// var buffer = ReorderBuffer(span: 600)
/// try FlowReader().read(path: "flows.csv") { record in buffer.add(record) { detector.add($0) } }
/// buffer.flush { detector.add($0) }
/// ```
///
/// - Complexity: O(log n) per record, n the records held: a binary min-heap of small keys; the
///   records themselves stay in slots and are not moved while held.
public struct ReorderBuffer: Sendable {
    /// Seconds of input time (by `start`) a record is held for records that started before it.
    public let span: Double
    /// Most records held at once.
    public let maximumHeld: Int
    /// Records held unless told otherwise: a million flows is a few hundred megabytes at most.
    public static let defaultMaximumHeld = 1_000_000
    /// Records released before their span had passed because `maximumHeld` were held.
    public private(set) var releasedEarly = 0
    /// Most records held at once so far.
    public private(set) var peakHeld = 0
    /// The newest `start` seen (or given to `advance(to:)`): the buffer's clock.
    public private(set) var newest = -Double.infinity

    /// Records held now.
    public var held: Int { heap.count }
    public var isEmpty: Bool { heap.isEmpty }

    struct Key {
        var start: Double
        var arrival: UInt64
        var slot: Int32

        @inline(__always) static func < (a: Key, b: Key) -> Bool {
            a.start != b.start ? a.start < b.start : a.arrival < b.arrival
        }
    }

    /// A min-heap by (start, arrival).
    var heap: [Key] = []
    var slots: [FlowRecord] = []
    var freeSlots: [Int32] = []
    var arrivals: UInt64 = 0

    /// - Parameters:
    ///   - span: seconds of input time a record is held; 0 releases each record once a later start
    ///     arrives (ties still in arrival order).
    ///   - maximumHeld: most records held at once; the oldest beyond it are released early.
    public init(span: Double, maximumHeld: Int = ReorderBuffer.defaultMaximumHeld) {
        precondition(span >= 0 && span.isFinite, "span must be a non-negative number of seconds")
        precondition(maximumHeld >= 1 && maximumHeld < Int(Int32.max), "maximumHeld must be at least 1")
        self.span = span
        self.maximumHeld = maximumHeld
    }

    /// Takes the next record; calls `emit` for every record it makes safe to release, oldest first
    /// (zero, one or several, this one included when it is later than `span`).
    /// - Complexity: O(log n) per record held or released.
    public mutating func add(_ record: FlowRecord, emit: (FlowRecord) throws -> Void) rethrows {
        guard record.start.isFinite else {
            try emit(record)
            return
        }
        push(record)
        if record.start > newest { newest = record.start }
        try release(emit: emit)
        while heap.count > maximumHeld {
            releasedEarly += 1
            try emit(popMin())
        }
        peakHeld = max(peakHeld, heap.count)
    }

    /// Moves the clock to `time` if that is later, as a record starting at `time` would, and releases
    /// what it makes safe: for input that is known to have reached `time` without a record.
    public mutating func advance(to time: Double, emit: (FlowRecord) throws -> Void) rethrows {
        guard time > newest else { return }
        newest = time
        try release(emit: emit)
    }

    /// Releases every record held, oldest first. The buffer is empty afterwards and can take more
    /// input (the clock and counters are kept).
    public mutating func flush(emit: (FlowRecord) throws -> Void) rethrows {
        while !heap.isEmpty { try emit(popMin()) }
        slots.removeAll()
        freeSlots.removeAll()
    }

    /// Releases the records the clock has left more than `span` behind.
    @inline(__always)
    mutating func release(emit: (FlowRecord) throws -> Void) rethrows {
        while let first = heap.first, newest - first.start > span { try emit(popMin()) }
    }

    // MARK: Heap

    mutating func push(_ record: FlowRecord) {
        let slot: Int32
        if let reused = freeSlots.popLast() {
            slot = reused
            slots[Int(slot)] = record
        } else {
            slot = Int32(slots.count)
            slots.append(record)
        }
        heap.append(Key(start: record.start, arrival: arrivals, slot: slot))
        arrivals += 1
        var i = heap.count - 1
        let key = heap[i]
        while i > 0 {
            let parent = (i - 1) / 2
            guard key < heap[parent] else { break }
            heap[i] = heap[parent]
            i = parent
        }
        heap[i] = key
    }

    mutating func popMin() -> FlowRecord {
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            var i = 0
            let n = heap.count
            while true {
                let left = 2 * i + 1
                guard left < n else { break }
                let right = left + 1
                let child = right < n && heap[right] < heap[left] ? right : left
                guard heap[child] < last else { break }
                heap[i] = heap[child]
                i = child
            }
            heap[i] = last
        }
        freeSlots.append(top.slot)
        return slots[Int(top.slot)]
    }
}
