/// Splits a line into fields on a one-byte delimiter, in storage reused from line to line.
///
/// The scan reads eight bytes at a time and looks for the delimiter in all of them at once (the
/// "has zero byte" bit trick on `word ^ delimiter×0x0101…`), so long lines with few delimiters cost
/// little more than short ones.
struct FieldSplitter {
    /// Immutable pointers (no exclusivity checks on access); a line with more fields than this keeps
    /// its first `capacity` fields, which no format reaches (CICFlowMeter has 91 columns).
    private final class Storage {
        let starts: UnsafeMutablePointer<Int32>
        let ends: UnsafeMutablePointer<Int32>
        static let capacity = 4096

        init() {
            starts = .allocate(capacity: Storage.capacity)
            ends = .allocate(capacity: Storage.capacity)
        }

        deinit {
            starts.deallocate()
            ends.deallocate()
        }
    }

    private let storage = Storage()
    private(set) var count = 0

    @inline(__always)
    private mutating func record(_ start: Int, _ end: Int) {
        guard count < Storage.capacity else { return }
        storage.starts[count] = Int32(truncatingIfNeeded: start)
        storage.ends[count] = Int32(truncatingIfNeeded: end)
        count += 1
    }

    /// Splits `line`. With `collapsing`, runs of delimiters count as one and leading or trailing
    /// ones are ignored (space-separated formats). With `limit`, stops after that many fields
    /// (the caller reads no further), leaving `count == limit` when the line has at least that many.
    /// - Complexity: O(n) in the line length, about n/8 word operations.
    @inline(__always)
    mutating func split(_ line: UnsafeBufferPointer<UInt8>, on delimiter: UInt8, collapsing: Bool = false, limit: Int = .max) {
        count = 0
        guard let base = line.baseAddress, !line.isEmpty else {
            record(0, 0)
            return
        }
        let n = line.count
        if collapsing {
            var i = 0
            while i < n && count < limit {
                while i < n, base[i] == delimiter { i += 1 }
                guard i < n else { break }
                let start = i
                while i < n, base[i] != delimiter { i += 1 }
                record(start, i)
            }
            return
        }
        let pattern = UInt64(delimiter) &* 0x0101_0101_0101_0101
        var fieldStart = 0
        var i = 0
        while i + 8 <= n {
            let word = UInt64(littleEndian: UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)) ^ pattern
            var candidates = (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080
            while candidates != 0 {
                let at = i + candidates.trailingZeroBitCount >> 3
                // The trick can flag a byte just above a real match; check each one.
                if base[at] == delimiter {
                    record(fieldStart, at)
                    if count == limit { return }
                    fieldStart = at + 1
                }
                candidates &= candidates &- 1
            }
            i += 8
        }
        while i < n {
            if base[i] == delimiter {
                record(fieldStart, i)
                if count == limit { return }
                fieldStart = i + 1
            }
            i += 1
        }
        record(fieldStart, n)
    }

    @inline(__always)
    func field(_ index: Int, in line: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        precondition(index < count, "field index out of range")
        let start = Int(storage.starts[index]), end = Int(storage.ends[index])
        return UnsafeBufferPointer(start: line.baseAddress! + start, count: end - start)
    }

    /// The fields as strings, for header lines.
    func strings(in line: UnsafeBufferPointer<UInt8>) -> [String] {
        (0..<count).map { String(decoding: field($0, in: line), as: UTF8.self) }
    }
}

/// Shares the `String`s of values that repeat from record to record (states, labels): a short value
/// is found by comparing two machine words with a handful of recent ones, a longer one through a
/// dictionary, so that a labelled log with millions of rows creates a few dozen strings.
struct StringInterner {
    private var keys: [(UInt64, UInt64, Int)] = []
    private var values: [String] = []
    private var long: [[UInt8]: String] = [:]
    private static let shortCapacity = 64

    mutating func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        guard bytes.count <= 16, let base = bytes.baseAddress else {
            if bytes.isEmpty { return "" }
            let key = Array(bytes)
            if let s = long[key] { return s }
            let s = String(decoding: bytes, as: UTF8.self)
            if long.count < 4096 { long[key] = s }
            return s
        }
        var a: UInt64 = 0, b: UInt64 = 0
        for i in 0..<min(8, bytes.count) { a |= UInt64(base[i]) << (8 * UInt64(i)) }
        if bytes.count > 8 { for i in 8..<bytes.count { b |= UInt64(base[i]) << (8 * UInt64(i - 8)) } }
        for (k, key) in keys.enumerated() where key.0 == a && key.1 == b && key.2 == bytes.count {
            return values[k]
        }
        let s = String(decoding: bytes, as: UTF8.self)
        if keys.count < Self.shortCapacity {
            keys.append((a, b, bytes.count))
            values.append(s)
        }
        return s
    }
}
