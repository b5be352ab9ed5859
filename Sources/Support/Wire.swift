/// Compact little-endian binary encoding, for records on the wire and state in checkpoints: fixed-width
/// integers and doubles, LEB128 varints for counts, length-prefixed strings, addresses in 5 or 17 bytes.
/// Every reader check names what was cut short, so a damaged message is one clear error.
public struct WireWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }

    public mutating func u16(_ v: UInt16) { fixed(UInt64(v), 2) }
    public mutating func u32(_ v: UInt32) { fixed(UInt64(v), 4) }
    public mutating func u64(_ v: UInt64) { fixed(v, 8) }
    public mutating func f64(_ v: Double) { fixed(v.bitPattern, 8) }
    public mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }

    private mutating func fixed(_ v: UInt64, _ width: Int) {
        for i in 0..<width { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }

    /// Unsigned LEB128: 1 byte below 128.
    public mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    public mutating func count(_ n: Int) { varint(UInt64(n)) }

    /// A total or counter (not the length of what follows): a varint.
    public mutating func int(_ v: Int) {
        precondition(v >= 0, "int writes non-negative values")
        varint(UInt64(v))
    }

    /// Strictly ascending values (a sorted set) as their count, the first, then each gap less one:
    /// a run of consecutive ports takes a byte each.
    public mutating func ascending(_ values: some Collection<UInt64>) {
        count(values.count)
        var previous: UInt64? = nil
        for v in values {
            if let previous {
                precondition(v > previous, "ascending values must increase")
                varint(v - previous - 1)
            } else {
                varint(v)
            }
            previous = v
        }
    }

    /// Zig-zag signed varint.
    public mutating func signed(_ v: Int64) { varint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }

    public mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { u in
            count(u.count)
            bytes.append(contentsOf: u)
        }
    }

    public mutating func optionalString(_ s: String?) {
        bool(s != nil)
        if let s { string(s) }
    }

    public mutating func raw(_ b: some Collection<UInt8>) { bytes.append(contentsOf: b) }
}

public struct WireError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Reads what `WireWriter` wrote, checking every length against what is left.
public struct WireReader {
    public let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    public var isAtEnd: Bool { offset >= bytes.count }
    public var remaining: Int { bytes.count - offset }

    private mutating func take(_ n: Int, _ what: @autoclosure () -> String) throws -> Int {
        guard n >= 0, n <= bytes.count - offset else {
            throw WireError("cut short reading \(what()) at byte \(offset) of \(bytes.count)")
        }
        defer { offset += n }
        return offset
    }

    private mutating func fixed(_ width: Int, _ what: @autoclosure () -> String) throws -> UInt64 {
        let at = try take(width, what())
        var v: UInt64 = 0
        for i in 0..<width { v |= UInt64(bytes[at + i]) << (8 * UInt64(i)) }
        return v
    }

    public mutating func u8(_ what: @autoclosure () -> String = "a byte") throws -> UInt8 { bytes[try take(1, what())] }
    public mutating func u16(_ what: @autoclosure () -> String = "a 16-bit value") throws -> UInt16 { UInt16(try fixed(2, what())) }
    public mutating func u32(_ what: @autoclosure () -> String = "a 32-bit value") throws -> UInt32 { UInt32(try fixed(4, what())) }
    public mutating func u64(_ what: @autoclosure () -> String = "a 64-bit value") throws -> UInt64 { try fixed(8, what()) }
    public mutating func f64(_ what: @autoclosure () -> String = "a number") throws -> Double { Double(bitPattern: try fixed(8, what())) }

    public mutating func bool(_ what: @autoclosure () -> String = "a flag") throws -> Bool {
        switch try u8(what()) {
        case 0: return false
        case 1: return true
        case let b: throw WireError("\(what()) is \(b), not 0 or 1, at byte \(offset - 1)")
        }
    }

    public mutating func varint(_ what: @autoclosure () -> String = "a count") throws -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try u8(what())
            guard shift < 64 else { throw WireError("\(what()) is longer than 64 bits at byte \(offset - 1)") }
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }

    /// A count no larger than `limit` (and no larger than the bytes left when each item takes at least
    /// `minimumItemSize`), so that a damaged count cannot ask for gigabytes.
    public mutating func count(_ what: @autoclosure () -> String, minimumItemSize: Int = 1, limit: Int = Int(Int32.max)) throws -> Int {
        let n = try varint(what())
        let fits = minimumItemSize > 0 ? UInt64(remaining / minimumItemSize) : UInt64(limit)
        guard n <= UInt64(limit), n <= fits else {
            throw WireError("\(what()) of \(n) at byte \(offset) is more than the \(remaining) bytes left can hold")
        }
        return Int(n)
    }

    /// A total or counter written by `int`, at most `limit`: by default 2^53, more than anything counts
    /// and far enough from `Int.max` that adding to it cannot overflow.
    public mutating func int(_ what: @autoclosure () -> String, limit: Int = 1 << 53) throws -> Int {
        let n = try varint(what())
        guard n <= UInt64(limit) else { throw WireError("\(what()) is \(n), more than \(limit), at byte \(offset)") }
        return Int(n)
    }

    /// What `ascending` wrote: strictly ascending values, none above `maximum`.
    public mutating func ascending(_ what: @autoclosure () -> String, maximum: UInt64 = .max) throws -> [UInt64] {
        let n = try count("count of \(what())")
        var values: [UInt64] = []
        values.reserveCapacity(n)
        for i in 0..<n {
            let gap = try varint(what())
            var v = gap
            if i > 0 {
                let (next, o1) = values[i - 1].addingReportingOverflow(1)
                let (sum, o2) = next.addingReportingOverflow(gap)
                guard !o1 && !o2 else { throw WireError("\(what()) goes past 64 bits at byte \(offset)") }
                v = sum
            }
            guard v <= maximum else { throw WireError("\(what()) holds \(v), more than \(maximum), at byte \(offset)") }
            values.append(v)
        }
        return values
    }

    public mutating func signed(_ what: @autoclosure () -> String = "a number") throws -> Int64 {
        let z = try varint(what())
        return Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1)
    }

    public mutating func string(_ what: @autoclosure () -> String = "a string") throws -> String {
        let n = try count("length of \(what())")
        let at = try take(n, what())
        return String(decoding: bytes[at..<at + n], as: UTF8.self)
    }

    public mutating func optionalString(_ what: @autoclosure () -> String = "a string") throws -> String? {
        try bool("presence of \(what())") ? try string(what()) : nil
    }

    public mutating func raw(_ n: Int, _ what: @autoclosure () -> String) throws -> ArraySlice<UInt8> {
        let at = try take(n, what())
        return bytes[at..<at + n]
    }
}
