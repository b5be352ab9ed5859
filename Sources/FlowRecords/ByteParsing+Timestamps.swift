/// Timestamps and durations: Unix epochs, the calendar layouts flow exporters write, and the
/// ranges of times and durations Flowhound accepts.
extension ByteParsing {
    /// Seconds written as two digits, optionally followed by a dot and 1 to 18 digits, that end the
    /// text at `n`: exactly `decimal(base[i..<n])`, without first finding where the number ends.
    /// Nil for anything else (which the general reading handles).
    @inlinable @inline(__always)
    static func plainSeconds(_ base: UnsafePointer<UInt8>, from i: Int, to n: Int) -> Double? {
        guard n &- i >= 2 else { return nil }
        let tens = base[i] &- UInt8(ascii: "0"), units = base[i &+ 1] &- UInt8(ascii: "0")
        guard tens < 10, units < 10 else { return nil }
        let whole = UInt64(tens &* 10 &+ units)
        if n &- i == 2 { return fixedPoint(whole, 0, fractionDigits: 0) }
        guard base[i &+ 2] == UInt8(ascii: "."), n &- i > 3 else { return nil }
        var end = i &+ 3
        let (fraction, digits) = digitRun(base, from: &end, to: n)
        guard end == n, digits <= 18 else { return nil }
        return fixedPoint(whole, fraction, fractionDigits: digits)
    }

    /// The end of the run of digits and dots at `base[i..<n]`, eight bytes at a time: dots are
    /// turned into '0's, and the digits counted.
    @inlinable @inline(__always)
    static func digitsAndDotsEnd(_ base: UnsafePointer<UInt8>, from i: Int, to n: Int) -> Int {
        var i = i
        while true {
            let word = loadWord(base, at: i, end: n)
            let dots = zeroBytes(word ^ 0x2E2E_2E2E_2E2E_2E2E)
            let run = leadingDigits(word ^ ((dots &>> 7) &* 0x1E))  // 0x2E ^ 0x1E == 0x30
            i &+= run
            if run < 8 { return i }
        }
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
        var cache = DateTimeCache()
        return dateTime(bytes, cache: &cache)
    }

    /// `dateTime(_:)`, remembering in `cache` the `YYYY-MM-DD HH:MM` start of the text and what it
    /// came to: a reader's consecutive records mostly start in the same minute, and their times then
    /// skip reading and checking the date and the day count.
    @inlinable
    static func dateTime(_ bytes: UnsafeBufferPointer<UInt8>, cache: inout DateTimeCache) -> Double? {
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
        var seconds: Double
        let hour: Int, minute: Int
        if let base = bytes.baseAddress, let cached = cache.lookUp(base, n) {
            (seconds, hour, minute) = cached
            i = 16
        } else {
            let a: Int, b: Int, c: Int
            var fixedTime: (hour: Int, minute: Int)? = nil
            if let base = bytes.baseAddress, let fixed = fixedDateTimePrefix(base, n) {
                (a, b, c) = (fixed.year, fixed.month, fixed.day)
                fixedTime = (fixed.hour, fixed.minute)
                i = 16
            } else {
                guard let a0 = number(maxDigits: 4), i < n else { return nil }
                let sep = bytes[i]
                guard sep == UInt8(ascii: "-") || sep == UInt8(ascii: "/") else { return nil }
                i += 1
                guard let b0 = number(maxDigits: 2), i < n, bytes[i] == sep else { return nil }
                i += 1
                guard let c0 = number(maxDigits: 4) else { return nil }
                (a, b, c) = (a0, b0, c0)
            }
            let year: Int, month: Int, day: Int
            if a > 31 {
                (year, month, day) = (a, b, c)
            } else {
                (day, month, year) = (a, b, c)  // CIC-IDS2017 writes day/month/year
            }
            guard year >= 1970, year < 10000, (1...12).contains(month), (1...31).contains(day) else { return nil }
            seconds = Double(daysFromCivil(year: year, month: month, day: day) * 86400)
            if let fixedTime {
                (hour, minute) = fixedTime
                cache.store(bytes.baseAddress!, (seconds, hour, minute))
            } else {
                guard i < n else { return seconds }
                guard bytes[i] == UInt8(ascii: " ") || bytes[i] == UInt8(ascii: "T") else { return nil }
                i += 1
                guard let h = number(maxDigits: 2), i < n, bytes[i] == UInt8(ascii: ":") else { return nil }
                i += 1
                guard let m = number(maxDigits: 2) else { return nil }
                (hour, minute) = (h, m)
            }
        }
        var second = 0.0
        if i < n, bytes[i] == UInt8(ascii: ":") {
            i += 1
            let start = i
            if let s = plainSeconds(bytes.baseAddress!, from: i, to: n) {
                // `SS` or `SS.ffffff` and nothing after: what `decimal` would make of it, read directly.
                guard s < 61 else { return nil }
                second = s
                i = n
            } else {
                i = digitsAndDotsEnd(bytes.baseAddress!, from: i, to: n)
                guard let s = decimal(UnsafeBufferPointer(rebasing: bytes[start..<i])), s < 61 else { return nil }
                second = s
            }
        }
        var hour24 = hour
        // Optional " AM"/" PM", "Z" or a numeric offset.
        while i < n, bytes[i] == UInt8(ascii: " ") { i += 1 }
        if i < n {
            let c0 = bytes[i] | 0x20
            if c0 == UInt8(ascii: "a") || c0 == UInt8(ascii: "p"), i + 1 < n, bytes[i + 1] | 0x20 == UInt8(ascii: "m") {
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

    /// `YYYY-MM-DD HH:MM` or `YYYY/MM/DD HH:MM` (a `T` for the space allowed) in the first sixteen
    /// bytes: the layout nearly every exporter writes, read at fixed offsets. Where it matches,
    /// `dateTime`'s general digit-by-digit reading would find exactly these numbers and stop at
    /// offset 16; nil leaves every other layout to that reading.
    @inlinable @inline(__always)
    static func fixedDateTimePrefix(_ p: UnsafePointer<UInt8>, _ n: Int)
        -> (year: Int, month: Int, day: Int, hour: Int, minute: Int)?
    {
        guard n >= 16 else { return nil }
        let sep = p[4]
        guard sep == UInt8(ascii: "-") || sep == UInt8(ascii: "/"), p[7] == sep,
            p[10] == UInt8(ascii: " ") || p[10] == UInt8(ascii: "T"), p[13] == UInt8(ascii: ":")
        else { return nil }
        // "YYYY-MM-" and "DD HH:MM" as two words; the digits must be at bytes 0-3, 5, 6 of the first
        // and 0, 1, 3, 4, 6, 7 of the second. (The separators, checked above, cannot carry into
        // `nonDigits`' addition, so its flags are exact at those bytes.)
        let date = loadWord(p, at: 0, end: 8), time = loadWord(p, at: 8, end: 16)
        guard nonDigits(date) & 0x00F0_F000_F0F0_F0F0 == 0, nonDigits(time) & 0xF0F0_00F0_F000_F0F0 == 0 else {
            return nil
        }
        /// The two digits at `byte` and `byte + 1` of `word`, as a number.
        @inline(__always) func pair(_ word: UInt64, _ byte: Int) -> Int {
            let digits = Int(truncatingIfNeeded: (word &>> UInt64(8 &* byte)) & 0x0F0F)
            return (digits & 0xFF) &* 10 &+ (digits &>> 8)
        }
        return (pair(date, 0) &* 100 &+ pair(date, 2), pair(date, 5), pair(time, 0), pair(time, 3), pair(time, 6))
    }

    /// Times Flowhound accepts: from the epoch to the end of year 9999. Anything else is a malformed
    /// record, never a value that could overflow later arithmetic.
    public static let timeRange = 0.0...253_402_300_799.0

    /// Durations Flowhound accepts, in seconds (up to about 31 years).
    public static let durationRange = 0.0...1e9

    /// A Unix epoch in seconds (`1655071198.444458`) or, failing that, a calendar timestamp; nil outside `timeRange`.
    @inlinable
    public static func timestamp(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        var cache = DateTimeCache()
        return timestamp(bytes, cache: &cache)
    }

    /// `timestamp(_:)`, with a reader's `DateTimeCache`.
    @inlinable
    static func timestamp(_ bytes: UnsafeBufferPointer<UInt8>, cache: inout DateTimeCache) -> Double? {
        // No text is both a decimal and a date (a date has '-' or '/' right after its first number,
        // where a decimal cannot), so trying the likelier reading first gives the same result:
        // the date first when its fifth byte is such a separator, as in `2019/04/04 16:23:00`.
        let v: Double?
        if bytes.count > 4, bytes[4] == UInt8(ascii: "/") || bytes[4] == UInt8(ascii: "-") {
            v = dateTime(bytes, cache: &cache) ?? decimal(bytes)
        } else {
            v = decimal(bytes) ?? dateTime(bytes, cache: &cache)
        }
        guard let v, timeRange.contains(v) else { return nil }
        return v
    }

    /// A calendar timestamp or, failing that, a Unix epoch (for formats that usually print dates); nil outside `timeRange`.
    @inlinable
    public static func calendarTimestamp(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        var cache = DateTimeCache()
        return calendarTimestamp(bytes, cache: &cache)
    }

    /// `calendarTimestamp(_:)`, with a reader's `DateTimeCache`.
    @inlinable
    static func calendarTimestamp(_ bytes: UnsafeBufferPointer<UInt8>, cache: inout DateTimeCache) -> Double? {
        guard let v = dateTime(bytes, cache: &cache) ?? decimal(bytes), timeRange.contains(v) else { return nil }
        return v
    }

    /// A duration in seconds; nil when negative or outside `durationRange`.
    @inlinable
    public static func duration(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        guard let v = decimal(bytes), durationRange.contains(v) else { return nil }
        return v
    }
}

/// The `YYYY-MM-DD HH:MM` start of the last timestamp `ByteParsing.dateTime` read in that fixed
/// layout, with the seconds of its date, its hour and minute. A reader keeps one: texts that start
/// with the same sixteen bytes read the same there, so only the seconds and what follows are read.
@usableFromInline
struct DateTimeCache {
    @usableFromInline var date: UInt64 = 0, time: UInt64 = 0
    @usableFromInline var filled = false
    @usableFromInline var value: (seconds: Double, hour: Int, minute: Int) = (0, 0, 0)

    @inlinable init() {}

    @inlinable @inline(__always)
    func lookUp(_ base: UnsafePointer<UInt8>, _ n: Int) -> (seconds: Double, hour: Int, minute: Int)? {
        guard filled, n >= 16, ByteParsing.loadWord(base, at: 0, end: 8) == date,
            ByteParsing.loadWord(base, at: 8, end: 16) == time
        else { return nil }
        return value
    }

    /// Remembers what a text of at least sixteen bytes, read in the fixed layout, starts with.
    @inlinable @inline(__always)
    mutating func store(_ base: UnsafePointer<UInt8>, _ value: (seconds: Double, hour: Int, minute: Int)) {
        date = ByteParsing.loadWord(base, at: 0, end: 8)
        time = ByteParsing.loadWord(base, at: 8, end: 16)
        self.value = value
        filled = true
    }
}
