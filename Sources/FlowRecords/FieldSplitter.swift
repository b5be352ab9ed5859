/// Splits a line into fields on a one-byte delimiter, in storage reused from line to line.
///
/// The scan reads eight bytes at a time and finds every delimiter among them at once (an exact
/// "which bytes are zero" mask of `word ^ delimiter×0x0101…`), so long lines with few delimiters cost
/// little more than short ones, and each delimiter costs a few instructions and two stores.
struct FieldSplitter {
    /// Immutable pointers (no exclusivity checks on access); a line with more fields than this keeps
    /// its first `capacity` fields, which no format reaches (CICFlowMeter has 91 columns).
    private final class Storage {
        let starts: UnsafeMutablePointer<Int32>
        let ends: UnsafeMutablePointer<Int32>
        static let capacity = 4096
        /// Room past `capacity`: the scan writes every delimiter of a word before it checks the count.
        static let slack = 16

        init() {
            starts = .allocate(capacity: Storage.capacity + Storage.slack + 1)
            ends = .allocate(capacity: Storage.capacity + Storage.slack)
        }

        deinit {
            starts.deallocate()
            ends.deallocate()
        }
    }

    private let storage = Storage()

    /// The fields of a split line: plain values (the line, two pointers and a count) that a parser
    /// keeps in registers, rather than reading them back from the splitter (which the compiler
    /// must assume any store through a pointer may have changed). Valid until the next split.
    struct Fields {
        let line: UnsafeBufferPointer<UInt8>
        fileprivate let starts: UnsafePointer<Int32>
        fileprivate let ends: UnsafePointer<Int32>
        let count: Int

        @inline(__always)
        subscript(_ index: Int) -> UnsafeBufferPointer<UInt8> {
            precondition(index < count, "field index out of range")
            let start = Int(starts[index]), end = Int(ends[index])
            return UnsafeBufferPointer(start: line.baseAddress! + start, count: end - start)
        }

        /// The fields as strings, for header lines.
        func strings() -> [String] {
            (0..<count).map { String(decoding: self[$0], as: UTF8.self) }
        }
    }

    /// Splits `line`. With `collapsing`, runs of delimiters count as one and leading or trailing
    /// ones are ignored (space-separated formats). With `limit`, stops after that many fields
    /// (the caller reads no further), leaving `count == limit` when the line has at least that many.
    /// - Complexity: O(n) in the line length, about n/8 word operations.
    @inline(__always)
    func split(_ line: UnsafeBufferPointer<UInt8>, on delimiter: UInt8, collapsing: Bool = false, limit: Int = .max) -> Fields {
        var count: Int
        if let base = line.baseAddress, !line.isEmpty {
            count = splitWords(base, line.count, delimiter, limit: limit)
            // Collapsing only differs when some field is empty (a leading, trailing or doubled
            // delimiter), which space-separated logs rarely have: check for one, and only then take
            // the byte loop.
            if collapsing && hasEmptyField(count) {
                count = splitCollapsing(base, line.count, delimiter, limit: limit)
            }
        } else {
            storage.starts[0] = 0
            storage.ends[0] = 0
            count = 1
        }
        return Fields(line: line, starts: storage.starts, ends: storage.ends, count: count)
    }

    /// The word-at-a-time scan, without collapsing. Returns the field count.
    @inline(__always)
    private func splitWords(_ base: UnsafePointer<UInt8>, _ n: Int, _ delimiter: UInt8, limit: Int) -> Int {
        let starts = storage.starts, ends = storage.ends
        let cap = min(limit, Storage.capacity)
        let pattern = UInt64(delimiter) &* 0x0101_0101_0101_0101
        var found = 0  // delimiters found so far: fields 0..<found are complete
        starts[0] = 0
        /// Records the delimiters flagged in `matches` (one high bit per byte), `offset` being the
        /// position of the word's first byte.
        @inline(__always) func take(_ matches: UInt64, at offset: Int) {
            var matches = matches
            while matches != 0 {
                let at = offset &+ matches.trailingZeroBitCount &>> 3
                ends[found] = Int32(truncatingIfNeeded: at)
                starts[found &+ 1] = Int32(truncatingIfNeeded: at &+ 1)
                found &+= 1
                matches &= matches &- 1
            }
        }
        var i = 0
        while i &+ 8 <= n {
            take(ByteParsing.zeroBytes(Self.load(base + i) ^ pattern), at: i)
            if found >= cap { return cap }
            i &+= 8
        }
        if i < n {
            if n >= 8 {
                // The last partial word: reload the line's last eight bytes and drop those already seen.
                let seen = 8 &- (n &- i)
                take(ByteParsing.zeroBytes(Self.load(base + n - 8) ^ pattern) & (~0 << (8 &* UInt64(seen))), at: n &- 8)
            } else {
                while i < n {
                    if base[i] == delimiter { take(0x80, at: i) }
                    i &+= 1
                }
            }
            if found >= cap { return cap }
        }
        ends[found] = Int32(truncatingIfNeeded: n)
        return found &+ 1
    }

    @inline(__always)
    private static func load(_ p: UnsafePointer<UInt8>) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: UInt64.self))
    }

    /// After `splitWords`: whether two delimiters are adjacent, or one starts or ends the line.
    private func hasEmptyField(_ count: Int) -> Bool {
        let starts = storage.starts, ends = storage.ends
        for i in 0..<count where starts[i] == ends[i] { return true }
        return false
    }

    /// Byte by byte, runs of delimiters counting as one. Returns the field count.
    private func splitCollapsing(_ base: UnsafePointer<UInt8>, _ n: Int, _ delimiter: UInt8, limit: Int) -> Int {
        let starts = storage.starts, ends = storage.ends
        var count = 0
        var i = 0
        while i < n && count < limit {
            while i < n, base[i] == delimiter { i += 1 }
            guard i < n else { break }
            let start = i
            while i < n, base[i] != delimiter { i += 1 }
            guard count < Storage.capacity else { continue }
            starts[count] = Int32(truncatingIfNeeded: start)
            ends[count] = Int32(truncatingIfNeeded: i)
            count += 1
        }
        return count
    }
}

/// Shares the `String`s of values that repeat from record to record (states, labels): a short value
/// is found by comparing two machine words with those of the values seen so far (through a small
/// hash index, then a scan), a longer one through a dictionary, so that a labelled log with millions
/// of rows creates a few dozen strings.
struct StringInterner {
    private var keys: [(UInt64, UInt64, Int)] = []
    private var values: [String] = []
    private var long: [[UInt8]: String] = [:]
    /// For each hash of a short value, where in `keys` a value with that hash was last found: a
    /// hint, checked against the key before use (so that most lookups compare one entry).
    private var index = [Int](repeating: 0, count: StringInterner.indexSize)
    private static let shortCapacity = 64
    private static let indexSize = 128

    mutating func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        guard bytes.count <= 16, let base = bytes.baseAddress else {
            if bytes.isEmpty { return "" }
            let key = Array(bytes)
            if let s = long[key] { return s }
            let s = String(decoding: bytes, as: UTF8.self)
            if long.count < 4096 { long[key] = s }
            return s
        }
        let n = bytes.count
        let a = ByteParsing.loadWord(base, at: 0, end: n), b = ByteParsing.loadWord(base, at: 8, end: n)
        let hash = Int(truncatingIfNeeded: ((a ^ b &* 31 ^ UInt64(n)) &* 0x9E37_79B9_7F4A_7C15) &>> 57)
        let k = index[hash]
        if k < keys.count, keys[k] == (a, b, n) { return values[k] }
        for (k, key) in keys.enumerated() where key.0 == a && key.1 == b && key.2 == n {
            index[hash] = k
            return values[k]
        }
        let s = String(decoding: bytes, as: UTF8.self)
        if keys.count < Self.shortCapacity {
            index[hash] = keys.count
            keys.append((a, b, n))
            values.append(s)
        }
        return s
    }
}
