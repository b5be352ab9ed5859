#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Allocation-free parsing of numbers, times and fields straight from UTF-8 bytes.
///
/// Every reader's hot path runs through these functions; none of them creates a `String`.
public enum ByteParsing {
    /// Removes leading and trailing spaces and tabs (nfdump pads numbers, Argus pads directions).
    /// Most fields have neither: that check is inlined, the trimming loop is not.
    @inlinable
    public static func trimmed(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return bytes }
        let first = base[0], last = base[bytes.count - 1]
        if first != 0x20 && first != 0x09 && last != 0x20 && last != 0x09 { return bytes }
        return trimmedSlow(bytes)
    }

    @usableFromInline
    static func trimmedSlow(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        if start == 0 && end == bytes.count { return bytes }
        return UnsafeBufferPointer(rebasing: bytes[start..<end])
    }

    /// A decimal unsigned integer ("0x..." hex is accepted too, as Argus writes ICMP ports).
    /// Nil on empty input, any other character, or overflow.
    @inlinable @inline(__always)
    public static func unsigned(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return nil }
        let n = bytes.count
        guard n <= 19 else { return longUnsigned(bytes) }
        // Nineteen digits cannot overflow 64 bits. A "0x" prefix shows up as the 'x' that ends the
        // digits at offset 1, so plain numbers pay nothing for it. (Byte by byte: most numbers are
        // short, and reading them eight bytes at a time, as `decimal` does, measured slower here.)
        var value: UInt64 = 0
        var i = 0
        repeat {
            let d = base[i] &- UInt8(ascii: "0")
            guard d < 10 else {
                guard i == 1, n > 2, base[0] == UInt8(ascii: "0"), base[1] | 0x20 == UInt8(ascii: "x") else { return nil }
                return hex(UnsafeBufferPointer(rebasing: bytes[2...]))
            }
            value = value &* 10 &+ UInt64(d)
            i &+= 1
        } while i < n
        return value
    }

    /// `unsigned` for twenty or more bytes: hex, or decimal with overflow checks.
    @usableFromInline
    static func longUnsigned(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64? {
        if bytes[0] == UInt8(ascii: "0"), bytes[1] | 0x20 == UInt8(ascii: "x") {
            return hex(UnsafeBufferPointer(rebasing: bytes[2...]))
        }
        var value: UInt64 = 0
        for b in bytes {
            let d = b &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(d))
            guard !o1, !o2 else { return nil }
            value = s
        }
        return value
    }

    @inlinable
    public static func hex(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard !bytes.isEmpty, bytes.count <= 16 else { return nil }
        var value: UInt64 = 0
        for b in bytes {
            guard let h = IPAddress.hexValue(b) else { return nil }
            value = value << 4 | UInt64(h)
        }
        return value
    }

    /// A port number 0...65535 (decimal or 0x hex).
    @inlinable @inline(__always)
    public static func port(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt16? {
        guard let v = unsigned(bytes), v <= 65535 else { return nil }
        return UInt16(v)
    }

    /// A decimal number such as `1655071198.444458`, `-3`, `0.5`, `1e-3` or `9003.680336487907`.
    /// Plain fixed-point text (the common case) is converted exactly digit by digit; text with an
    /// exponent or more than 18 significant digits falls back to the standard library.
    ///
    /// The digits are read eight at a time (`digitRun`): a timestamp such as `1700000000.004130`
    /// takes three word steps instead of sixteen byte steps, and a text of up to eight bytes such as
    /// a duration `0.000207` is read and converted as one word (`shortDecimal`).
    @inlinable
    public static func decimal(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return nil }
        let n = bytes.count
        if n <= 8, let value = shortDecimal(loadWord(base, at: 0, end: n), n) { return value }
        var i = 0
        var negative = false
        if base[0] == UInt8(ascii: "-") || base[0] == UInt8(ascii: "+") {
            negative = base[0] == UInt8(ascii: "-")
            i = 1
        }
        // Integer part, then fraction part (of which the first 18 digits count).
        let (integer, integerDigits) = digitRun(base, from: &i, to: n)
        guard integerDigits <= 18 else { return slowDecimal(bytes) }
        var fraction: UInt64 = 0
        var fractionDigits = 0
        if i < n, base[i] == UInt8(ascii: ".") {
            i += 1
            let fractionStart = i
            (fraction, fractionDigits) = digitRun(base, from: &i, to: n)
            if fractionDigits > 18 {
                fraction = 0
                for k in 0..<18 { fraction = fraction &* 10 &+ UInt64(base[fractionStart &+ k] &- UInt8(ascii: "0")) }
            }
        }
        if i < n {
            return base[i] | 0x20 == UInt8(ascii: "e") && integerDigits + fractionDigits > 0 ? slowDecimal(bytes) : nil
        }
        guard integerDigits > 0 || fractionDigits > 0 else { return nil }
        let value = fixedPoint(integer, fraction, fractionDigits: min(fractionDigits, 18))
        return negative ? -value : value
    }

    /// `decimal` of the `n` (at most eight) bytes in `word` when they are digits, or digits, a dot
    /// and digits (`0.000207`), found and converted within the one word; nil for anything else, which
    /// the general reading handles.
    @inlinable @inline(__always)
    static func shortDecimal(_ word: UInt64, _ n: Int) -> Double? {
        // The first non-digit is exact, and so is the next one after a dot (which carries nothing).
        let notDigit = nonDigits(word)
        let dot = notDigit.trailingZeroBitCount &>> 3
        if dot == n { return fixedPoint(eightDigitValue(word &<< UInt64(8 &* (8 &- n))), 0, fractionDigits: 0) }
        guard dot &+ 1 < n, (word &>> UInt64(8 &* dot)) & 0xFF == UInt64(UInt8(ascii: ".")) else { return nil }
        // Digits from after the dot to the end (a word of eight has no zero byte to stop the count).
        let fractionDigits = n &- dot &- 1
        let run = (notDigit &>> UInt64(8 &* (dot &+ 1))).trailingZeroBitCount &>> 3
        guard min(run, 7 &- dot) == fractionDigits else { return nil }
        let integer = dot == 0 ? 0 : eightDigitValue(word &<< UInt64(8 &* (8 &- dot)))
        let fraction = eightDigitValue((word &>> UInt64(8 &* (dot &+ 1))) &<< UInt64(8 &* (8 &- fractionDigits)))
        return fixedPoint(integer, fraction, fractionDigits: fractionDigits)
    }

    /// `integer.fraction` as a `Double`, the fraction having `fractionDigits` (at most 18) digits:
    /// the one rounding `decimal` and the calendar seconds share.
    @inlinable @inline(__always)
    static func fixedPoint(_ integer: UInt64, _ fraction: UInt64, fractionDigits: Int) -> Double {
        // Below 10^18, so converting from Int64 (one instruction) is exact, as from UInt64.
        var value = Double(Int64(truncatingIfNeeded: integer))
        if fractionDigits > 0 {
            value += Double(Int64(truncatingIfNeeded: fraction)) / Double(Int64(truncatingIfNeeded: powerOfTen(fractionDigits)))
        }
        return value
    }

    /// Reads the run of ASCII digits at `base[i..<n]`, leaving `i` after it. Returns its length and
    /// its value, which is exact for up to 19 digits (and wraps around beyond).
    ///
    /// Eight bytes at a time: one mask finds how many of them are digits, and three multiplications
    /// combine those digits into a number (the SWAR method described by Lemire, "Faster parsing of
    /// 8-digit integers").
    @inlinable @inline(__always)
    static func digitRun(_ base: UnsafePointer<UInt8>, from i: inout Int, to n: Int) -> (value: UInt64, digits: Int) {
        var value: UInt64 = 0
        var digits = 0
        while true {
            let word = loadWord(base, at: i, end: n)
            let run = leadingDigits(word)
            if run > 0 {
                value = value &* powerOfTen(run) &+ eightDigitValue(word &<< (8 &* UInt64(8 &- run)))
            }
            digits &+= run
            i &+= run
            if run < 8 { return (value, digits) }
        }
    }

    /// The bytes `base[i..<min(i + 8, end)]` as a little-endian word, zero above `end`, without
    /// reading outside `base[0..<end]`: a short tail is re-read as the last eight bytes and shifted.
    @inlinable @inline(__always)
    static func loadWord(_ base: UnsafePointer<UInt8>, at i: Int, end: Int) -> UInt64 {
        let remaining = end &- i
        if remaining >= 8 { return UInt64(littleEndian: UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)) }
        if remaining <= 0 { return 0 }
        if end >= 8 {
            let last = UInt64(littleEndian: UnsafeRawPointer(base + end - 8).loadUnaligned(as: UInt64.self))
            return last &>> (8 &* UInt64(8 &- remaining))
        }
        var word: UInt64 = 0
        for k in 0..<remaining { word |= UInt64(base[i &+ k]) &<< (8 &* UInt64(k)) }
        return word
    }

    /// How many of the bytes of `word`, from the lowest, are ASCII digits before the first other byte (0...8).
    @inlinable @inline(__always)
    static func leadingDigits(_ word: UInt64) -> Int {
        // A carry out of a byte in `nonDigits` (0xFA and above) can only disturb the bytes after
        // it, which come after a non-digit anyway.
        nonDigits(word).trailingZeroBitCount &>> 3
    }

    /// Bits in the high nibble of each byte of `word` that is not an ASCII digit: a digit is
    /// 0x30...0x39, high nibble 3, and adding 6 leaves that nibble at 3. Exact for a byte unless the
    /// byte below it is 0xFA or more (whose addition carries into it).
    @inlinable @inline(__always)
    static func nonDigits(_ word: UInt64) -> UInt64 {
        let high: UInt64 = 0xF0F0_F0F0_F0F0_F0F0, three: UInt64 = 0x3030_3030_3030_3030
        return ((word & high) ^ three) | (((word &+ 0x0606_0606_0606_0606) & high) ^ three)
    }

    /// The high bit of each byte of `x` that is zero, and no other bit (exact, unlike the shorter
    /// `(x - 0x01…) & ~x & 0x80…`, which can flag a byte above a real zero).
    @inlinable @inline(__always)
    static func zeroBytes(_ x: UInt64) -> UInt64 {
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        return ~(((x & low7) &+ low7) | x | low7)
    }

    /// The number written by the eight ASCII digits of `word`, the lowest byte first; zero bytes
    /// count as leading zeros.
    @inlinable @inline(__always)
    static func eightDigitValue(_ word: UInt64) -> UInt64 {
        // (Shifts bind tighter than multiplications in Swift: the parentheses matter.)
        var v = ((word & 0x0F0F_0F0F_0F0F_0F0F) &* 2561) &>> 8
        v = ((v & 0x00FF_00FF_00FF_00FF) &* 6_553_601) &>> 16
        return ((v & 0x0000_FFFF_0000_FFFF) &* 42_949_672_960_001) &>> 32
    }

    /// The high bit (0x80) of each byte of `word` that is an ASCII capital letter, 'A'...'Z'.
    @inlinable @inline(__always)
    static func upperCaseLetters(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let low7 = word & 0x7F7F_7F7F_7F7F_7F7F  // no carries between bytes below: at most 0x7F + 0x3F
        let atLeastA = low7 &+ ones &* (0x80 - 0x41), pastZ = low7 &+ ones &* (0x80 - 0x5B)
        return atLeastA & ~pastZ & ~word & 0x8080_8080_8080_8080
    }

    /// 10^k for k in 0...19 (a table lookup once compiled).
    @inlinable @inline(__always)
    static func powerOfTen(_ k: Int) -> UInt64 {
        switch k {
        case 0: 1
        case 1: 10
        case 2: 100
        case 3: 1_000
        case 4: 10_000
        case 5: 100_000
        case 6: 1_000_000
        case 7: 10_000_000
        case 8: 100_000_000
        case 9: 1_000_000_000
        case 10: 10_000_000_000
        case 11: 100_000_000_000
        case 12: 1_000_000_000_000
        case 13: 10_000_000_000_000
        case 14: 100_000_000_000_000
        case 15: 1_000_000_000_000_000
        case 16: 10_000_000_000_000_000
        case 17: 100_000_000_000_000_000
        case 18: 1_000_000_000_000_000_000
        default: 10_000_000_000_000_000_000
        }
    }

    @usableFromInline
    static func slowDecimal(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let v = Double(text), v.isFinite else { return nil }
        return v
    }

    /// Case-insensitive ASCII comparison against a lower-case literal.
    @inlinable
    public static func equalsLowercase(_ bytes: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
        guard bytes.count == literal.utf8CodeUnitCount else { return false }
        let l = literal.utf8Start
        for i in 0..<bytes.count {
            let b = bytes[i]
            let lower = (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z")) ? b | 0x20 : b
            guard lower == l[i] else { return false }
        }
        return true
    }

    @inlinable @inline(__always)
    public static func equals(_ bytes: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
        guard bytes.count == literal.utf8CodeUnitCount else { return false }
        // A loop rather than memcmp: literals are short and their length is known once inlined,
        // so this unrolls into a few compares instead of a library call.
        let b = bytes.baseAddress!, l = literal.utf8Start
        for i in 0..<bytes.count where b[i] != l[i] { return false }
        return true
    }

    @inlinable
    public static func hasPrefix(_ bytes: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
        guard bytes.count >= literal.utf8CodeUnitCount else { return false }
        return memcmp(bytes.baseAddress!, literal.utf8Start, literal.utf8CodeUnitCount) == 0
    }

    /// A short, printable excerpt of a line for error messages.
    public static func excerpt(_ bytes: UnsafeBufferPointer<UInt8>, limit: Int = 60) -> String {
        var text = ""
        for b in bytes.prefix(limit) {
            if b >= 0x20 && b < 0x7F {
                text.unicodeScalars.append(UnicodeScalar(b))
            } else if b == 0x09 {
                text += "\\t"
            } else {
                text += "\\x" + String(b, radix: 16)
            }
        }
        if bytes.count > limit { text += "…" }
        return text
    }
}
