/// The `count` entries that come first by time, then by key, in that order: what evicting the least
/// recently seen share of a table needs. The same entries, in the same order, as sorting them all and
/// taking the first `count`, in O(n + count log count) on average where the sort takes O(n log n).
/// Times must not be NaN.
@inlinable public func leastRecent<Key: Comparable>(_ entries: [(time: Double, key: Key)], count: Int) -> [(time: Double, key: Key)] {
    leastRecent(count: count, of: entries.count) { visit in
        for e in entries { visit(e.time, e.key) }
    }
}

/// `leastRecent(_:count:)` of the entries `each` lists, without gathering them first: `each` calls its
/// argument once for every entry (about `total` of them), the same entries on every call, and is
/// called twice. Only the times and the chosen entries are held, so a table's states are read where
/// they lie.
@inlinable public func leastRecent<Key: Comparable>(
    count: Int, of total: Int, _ each: ((Double, Key) -> Void) -> Void
) -> [(time: Double, key: Key)] {
    func earlier(_ a: (time: Double, key: Key), _ b: (time: Double, key: Key)) -> Bool {
        a.time != b.time ? a.time < b.time : a.key < b.key
    }
    guard count > 0 else { return [] }
    var times: [Double] = []
    times.reserveCapacity(total)
    each { time, _ in times.append(time) }
    var chosen: [(time: Double, key: Key)] = []
    guard count < times.count else {
        chosen.reserveCapacity(times.count)
        each { chosen.append((time: $0, key: $1)) }
        return chosen.sorted(by: earlier)
    }
    let cutoff = kthSmallest(&times, count - 1)
    var ties: [(time: Double, key: Key)] = []
    chosen.reserveCapacity(count)
    each { time, key in
        if time < cutoff {
            chosen.append((time: time, key: key))
        } else if time == cutoff {
            ties.append((time: time, key: key))
        }
    }
    chosen += ties.sorted(by: earlier).prefix(count - chosen.count)
    return chosen.sorted(by: earlier)
}

/// The `k`-th smallest (0-based) of `values`, which it reorders: quickselect with the median of three
/// as pivot, O(n) on average. After 2·log₂ n rounds the rest of the range is sorted instead, so that
/// no order of the values, however crafted, costs more than O(n log n).
@usableFromInline func kthSmallest(_ values: inout [Double], _ k: Int) -> Double {
    precondition(values.indices.contains(k), "k must index the values")
    var lo = 0, hi = values.count - 1
    var rounds = 2 * (Int.bitWidth - values.count.leadingZeroBitCount)
    while lo < hi {
        if rounds == 0 {
            values[lo...hi].sort()
            return values[k]
        }
        rounds -= 1
        let a = values[lo], b = values[lo + (hi - lo) / 2], c = values[hi]
        let pivot = max(min(a, b), min(max(a, b), c))
        // Hoare's partition: [lo, j] ≤ pivot, [i, hi] ≥ pivot, and what lies between equals it. The
        // pivot is one of the range's values, so neither scan runs off it.
        var i = lo, j = hi
        while i <= j {
            while values[i] < pivot { i += 1 }
            while values[j] > pivot { j -= 1 }
            if i <= j {
                values.swapAt(i, j)
                i += 1
                j -= 1
            }
        }
        if k <= j {
            hi = j
        } else if k >= i {
            lo = i
        } else {
            return values[k]
        }
    }
    return values[k]
}
