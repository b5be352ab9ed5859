/// Allocation-free parsing of numbers, times and fields straight from UTF-8 bytes.
///
/// Every reader's hot path runs through these functions; none of them creates a `String`.
public enum ByteParsing {
    /// Removes leading and trailing spaces and tabs (nfdump pads numbers, Argus pads directions).
    @inlinable
    public static func trimmed(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        if start == 0 && end == bytes.count { return bytes }
        return UnsafeBufferPointer(rebasing: bytes[start..<end])
    }

    /// A decimal unsigned integer ("0x..." hex is accepted too, as Argus writes ICMP ports).
    /// Nil on empty input, any other character, or overflow.
    @inlinable
    public static func unsigned(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard !bytes.isEmpty else { return nil }
        if bytes.count > 2, bytes[0] == UInt8(ascii: "0"), bytes[1] | 0x20 == UInt8(ascii: "x") {
            return hex(UnsafeBufferPointer(rebasing: bytes[2...]))
        }
        var value: UInt64 = 0
        if bytes.count <= 19 {
            // Nineteen digits cannot overflow 64 bits.
            for b in bytes {
                let d = b &- UInt8(ascii: "0")
                guard d < 10 else { return nil }
                value = value &* 10 &+ UInt64(d)
            }
            return value
        }
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
    @inlinable
    public static func port(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt16? {
        guard let v = unsigned(bytes), v <= 65535 else { return nil }
        return UInt16(v)
    }

    /// A decimal number such as `1655071198.444458`, `-3`, `0.5`, `1e-3` or `9003.680336487907`.
    /// Plain fixed-point text (the common case) is converted exactly digit by digit; text with an
    /// exponent or more than 18 significant digits falls back to the standard library.
    @inlinable
    public static func decimal(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return nil }
        let n = bytes.count
        var i = 0
        var negative = false
        if base[0] == UInt8(ascii: "-") || base[0] == UInt8(ascii: "+") {
            negative = base[0] == UInt8(ascii: "-")
            i = 1
        }
        // Integer part, then fraction part: two tight digit loops.
        let integerStart = i
        var integer: UInt64 = 0
        while i < n {
            let d = base[i] &- UInt8(ascii: "0")
            if d >= 10 { break }
            integer = integer &* 10 &+ UInt64(d)
            i += 1
        }
        let integerDigits = i - integerStart
        guard integerDigits <= 18 else { return slowDecimal(bytes) }
        var fraction: UInt64 = 0
        var scale: UInt64 = 1
        var fractionDigits = 0
        if i < n, base[i] == UInt8(ascii: ".") {
            i += 1
            let fractionStart = i
            while i < n {
                let d = base[i] &- UInt8(ascii: "0")
                if d >= 10 { break }
                if i - fractionStart < 18 {
                    fraction = fraction &* 10 &+ UInt64(d)
                    scale &*= 10
                }
                i += 1
            }
            fractionDigits = i - fractionStart
        }
        if i < n {
            return base[i] | 0x20 == UInt8(ascii: "e") && integerDigits + fractionDigits > 0 ? slowDecimal(bytes) : nil
        }
        guard integerDigits > 0 || fractionDigits > 0 else { return nil }
        var value = Double(integer)
        if fractionDigits > 0 { value += Double(fraction) / Double(scale) }
        return negative ? -value : value
    }

    @usableFromInline
    static func slowDecimal(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let v = Double(text), v.isFinite else { return nil }
        return v
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    @inlinable
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// A calendar timestamp, read as UTC, in any of the layouts flow exporters write:
    /// - `2020-08-02 05:49:46`, `2020-08-02 05:49:46.123`, `2023-11-24T12:16:57.314165Z` (nfdump, Zeek JSON, CICFlowMeter);
    /// - `2019/04/04 16:23:00.325010` (Argus);
    /// - `7/7/2017 8:59`, `07/07/2017 08:59:59 PM` (day first, as CIC-IDS2017 writes it).
    /// Returns seconds since the Unix epoch, or nil when the text is none of these.
    @inlinable
    public static func dateTime(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        var i = 0
        let n = bytes.count
        @inline(__always) func number(maxDigits: Int) -> Int? {
            var v = 0
            var d = 0
            while i < n, d < maxDigits {
                let x = bytes[i] &- UInt8(ascii: "0")
                guard x < 10 else { break }
                v = v * 10 + Int(x)
                d += 1
                i += 1
            }
            return d > 0 ? v : nil
        }
        guard let a = number(maxDigits: 4), i < n else { return nil }
        let sep = bytes[i]
        guard sep == UInt8(ascii: "-") || sep == UInt8(ascii: "/") else { return nil }
        i += 1
        guard let b = number(maxDigits: 2), i < n, bytes[i] == sep else { return nil }
        i += 1
        guard let c = number(maxDigits: 4) else { return nil }
        let year: Int, month: Int, day: Int
        if a > 31 {
            (year, month, day) = (a, b, c)
        } else {
            (day, month, year) = (a, b, c)  // CIC-IDS2017 writes day/month/year
        }
        guard year >= 1970, year < 10000, (1...12).contains(month), (1...31).contains(day) else { return nil }
        var seconds = Double(daysFromCivil(year: year, month: month, day: day) * 86400)
        guard i < n else { return seconds }
        guard bytes[i] == UInt8(ascii: " ") || bytes[i] == UInt8(ascii: "T") else { return nil }
        i += 1
        guard let hour = number(maxDigits: 2), i < n, bytes[i] == UInt8(ascii: ":") else { return nil }
        i += 1
        guard let minute = number(maxDigits: 2) else { return nil }
        var second = 0.0
        if i < n, bytes[i] == UInt8(ascii: ":") {
            i += 1
            let start = i
            while i < n, (bytes[i] &- UInt8(ascii: "0") < 10) || bytes[i] == UInt8(ascii: ".") { i += 1 }
            guard let s = decimal(UnsafeBufferPointer(rebasing: bytes[start..<i])), s < 61 else { return nil }
            second = s
        }
        var hour24 = hour
        // Optional " AM"/" PM", "Z" or a numeric offset.
        while i < n, bytes[i] == UInt8(ascii: " ") { i += 1 }
        if i < n {
            let c0 = bytes[i] | 0x20
            if (c0 == UInt8(ascii: "a") || c0 == UInt8(ascii: "p")), i + 1 < n, bytes[i + 1] | 0x20 == UInt8(ascii: "m") {
                guard (1...12).contains(hour) else { return nil }
                hour24 = hour % 12 + (c0 == UInt8(ascii: "p") ? 12 : 0)
                i += 2
            } else if bytes[i] == UInt8(ascii: "Z") {
                i += 1
            } else if bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") {
                let sign = bytes[i] == UInt8(ascii: "-") ? -1.0 : 1.0
                i += 1
                guard let oh = number(maxDigits: 2) else { return nil }
                if i < n, bytes[i] == UInt8(ascii: ":") { i += 1 }
                let om = number(maxDigits: 2) ?? 0
                seconds -= sign * Double(oh * 3600 + om * 60)
            }
        }
        guard i == n, hour24 < 24, minute < 60 else { return nil }
        return seconds + Double(hour24 * 3600 + minute * 60) + second
    }

    /// Times Flowhound accepts: from the epoch to the end of year 9999. Anything else is a malformed
    /// record, never a value that could overflow later arithmetic.
    public static let timeRange = 0.0...253_402_300_799.0

    /// Durations Flowhound accepts, in seconds (up to about 31 years).
    public static let durationRange = 0.0...1e9

    /// A Unix epoch in seconds (`1655071198.444458`) or, failing that, a calendar timestamp; nil outside `timeRange`.
    @inlinable
    public static func timestamp(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        guard let v = decimal(bytes) ?? dateTime(bytes), timeRange.contains(v) else { return nil }
        return v
    }

    /// A calendar timestamp or, failing that, a Unix epoch (for formats that usually print dates); nil outside `timeRange`.
    @inlinable
    public static func calendarTimestamp(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        guard let v = dateTime(bytes) ?? decimal(bytes), timeRange.contains(v) else { return nil }
        return v
    }

    /// A duration in seconds; nil when negative or outside `durationRange`.
    @inlinable
    public static func duration(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        guard let v = decimal(bytes), durationRange.contains(v) else { return nil }
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

    @inlinable
    public static func equals(_ bytes: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
        guard bytes.count == literal.utf8CodeUnitCount else { return false }
        return memcmp(bytes.baseAddress!, literal.utf8Start, bytes.count) == 0
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
            if b >= 0x20 && b < 0x7F { text.unicodeScalars.append(UnicodeScalar(b)) }
            else if b == 0x09 { text += "\\t" }
            else { text += "\\x" + String(b, radix: 16) }
        }
        if bytes.count > limit { text += "…" }
        return text
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
