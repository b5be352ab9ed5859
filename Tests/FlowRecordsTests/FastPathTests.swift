import Synthesis
import Testing

@testable import FlowRecords

/// The readers' fast paths (word-at-a-time digits, the one-word decimal, fixed-layout dates and the
/// date cache, the collapsing split's shortcut) against straightforward reference readings, on
/// random and edge-case text: they must give exactly the same answers, bit for bit.
@Suite struct FastPathTests {
    private static func bytes<T>(_ text: [UInt8], _ body: (UnsafeBufferPointer<UInt8>) -> T) -> T {
        text.withUnsafeBufferPointer(body)
    }

    private static func random(_ rng: inout SplitMix64, from alphabet: [UInt8], length: Int) -> [UInt8] {
        (0..<length).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
    }

    // MARK: Reference readings (the byte-by-byte loops the fast paths replaced)

    private static func referenceDecimal(_ b: [UInt8]) -> Double? {
        guard !b.isEmpty else { return nil }
        var i = 0
        var negative = false
        if b[0] == UInt8(ascii: "-") || b[0] == UInt8(ascii: "+") { negative = b[0] == UInt8(ascii: "-"); i = 1 }
        let integerStart = i
        var integer: UInt64 = 0
        while i < b.count, b[i] &- 48 < 10 { integer = integer &* 10 &+ UInt64(b[i] &- 48); i += 1 }
        let integerDigits = i - integerStart
        let slow = { () -> Double? in
            guard let v = Double(String(decoding: b, as: UTF8.self)), v.isFinite else { return nil }
            return v
        }
        guard integerDigits <= 18 else { return slow() }
        var fraction: UInt64 = 0, scale: UInt64 = 1, fractionDigits = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            let fractionStart = i
            while i < b.count, b[i] &- 48 < 10 {
                if i - fractionStart < 18 { fraction = fraction &* 10 &+ UInt64(b[i] &- 48); scale &*= 10 }
                i += 1
            }
            fractionDigits = i - fractionStart
        }
        if i < b.count { return b[i] | 0x20 == UInt8(ascii: "e") && integerDigits + fractionDigits > 0 ? slow() : nil }
        guard integerDigits > 0 || fractionDigits > 0 else { return nil }
        var value = Double(integer)
        if fractionDigits > 0 { value += Double(fraction) / Double(scale) }
        return negative ? -value : value
    }

    private static func referenceIPv4(_ b: [UInt8]) -> UInt32? {
        var value: UInt32 = 0, octet: UInt32 = 0, digits = 0, dots = 0
        for byte in b {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | octet
                octet = 0; digits = 0; dots += 1
            } else {
                guard byte &- 48 < 10, digits < 3 else { return nil }
                octet = octet * 10 + UInt32(byte &- 48)
                guard octet <= 255 else { return nil }
                digits += 1
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        return value << 8 | octet
    }

    private static func referenceUnsigned(_ b: [UInt8]) -> UInt64? {
        guard !b.isEmpty else { return nil }
        if b.count > 2, b[0] == UInt8(ascii: "0"), b[1] | 0x20 == UInt8(ascii: "x") {
            return UInt64(String(decoding: b[2...], as: UTF8.self), radix: 16).flatMap { b.count - 2 <= 16 ? $0 : nil }
        }
        var value: UInt64 = 0
        for byte in b {
            guard byte &- 48 < 10 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(byte &- 48))
            guard !o1, !o2 else { return nil }
            value = s
        }
        return value
    }

    // MARK: Numbers and addresses

    @Test func decimalsMatchTheDigitLoop() {
        var rng = SplitMix64(seed: 11)
        let alphabet = Array("0123456789012345678901234567890123456789..-+eE x".utf8)
        for _ in 0..<200_000 {
            let text = Self.random(&rng, from: alphabet, length: Int(rng.next() % 26))
            let expected = Self.referenceDecimal(text)
            let actual = Self.bytes(text, ByteParsing.decimal)
            #expect(actual?.bitPattern == expected?.bitPattern, "decimal(\(String(decoding: text, as: UTF8.self)))")
        }
    }

    @Test func unsignedAndAddressesMatchTheByteLoops() {
        var rng = SplitMix64(seed: 12)
        let digits = Array("0123456789".utf8)
        let addressAlphabet = Array("0123456789012345678901234567890123456789....x:".utf8)
        for _ in 0..<100_000 {
            let number = Self.random(&rng, from: digits + Array("x0a".utf8), length: Int(rng.next() % 24))
            #expect(Self.bytes(number, ByteParsing.unsigned) == Self.referenceUnsigned(number))
            let address = Self.random(&rng, from: addressAlphabet, length: Int(rng.next() % 18))
            let expected = Self.referenceIPv4(address)
            #expect(Self.bytes(address, IPAddress.parseIPv4) == expected)
            if let expected { #expect(Self.bytes(address) { IPAddress(bytes: $0) } == IPAddress(ipv4: expected)) }
        }
    }

    // MARK: Dates

    static let dates = [
        "2019/04/04 16:23:00.325010", "2019/04/04 16:23:59.9", "2019/04/04 16:23:07", "2019/04/04 16:23:07 ",
        "2019/04/04 16:23:07.5 PM", "2019/04/04 16:23", "2019/04/04 16:23:61", "2019/04/04 16:23:0", "2019/04/04 16:23:07.",
        "2019/04/04 16:23:07.1.2", "2019/04/04 16:23:07.0000000000000000000001", "2019/04/04 16:23:07e1",
        "2019/04/04 16:24:00", "2019-04-04T16:23:00Z", "2019-04-04T16:23:00+02:00", "2019-04-04 16:23:00.25",
        "2019/04/04 16:23:00.325010", "0012/04/04 16:23:00", "2019/13/04 16:23:00", "2019/04/32 16:23:00",
        "2019/04/04 24:23:00", "2019/04/04 16:60:00", "04/04/2019 04:23:00 PM", "7/7/2017 8:59", "2019/04/04",
        "2019/04/04 16:2a:00", "2019/04/04x16:23:00", "1969/12/31 23:59:59", "2019/04/04 16:23:00.325010",
    ]

    @Test func cachedDatesMatchFreshReadings() {
        var cache = DateTimeCache()
        // Twice over, so that every text meets a cache filled by the one before it and by itself.
        for text in Self.dates + Self.dates.reversed() + Self.dates {
            let bytes = Array(text.utf8)
            let fresh = Self.bytes(bytes, ByteParsing.dateTime)
            let cached = Self.bytes(bytes) { ByteParsing.dateTime($0, cache: &cache) }
            #expect(cached?.bitPattern == fresh?.bitPattern, "dateTime(\(text))")
            #expect(Self.bytes(bytes) { ByteParsing.timestamp($0, cache: &cache) } == Self.bytes(bytes, ByteParsing.timestamp))
            #expect(
                Self.bytes(bytes) { ByteParsing.calendarTimestamp($0, cache: &cache) }
                    == Self.bytes(bytes, ByteParsing.calendarTimestamp))
        }
    }

    /// Seconds that end the text take the direct reading; with a space after them (which the general
    /// reading skips) they take the general one: both must agree.
    @Test func directSecondsMatchTheGeneralReading() {
        var rng = SplitMix64(seed: 13)
        let alphabet = Array("0123456789012345678901234567890123456789.".utf8)
        for _ in 0..<50_000 {
            let seconds = Self.random(&rng, from: alphabet, length: Int(rng.next() % 24))
            let text = Array("2019/04/04 16:23:".utf8) + seconds
            let direct = Self.bytes(text, ByteParsing.dateTime)
            let general = Self.bytes(text + [0x20], ByteParsing.dateTime)
            #expect(direct?.bitPattern == general?.bitPattern, "dateTime(\(String(decoding: text, as: UTF8.self)))")
        }
    }

    // MARK: Splitting

    @Test func splitsMatchTheStandardLibrary() {
        var rng = SplitMix64(seed: 14)
        let splitter = FieldSplitter()
        for _ in 0..<50_000 {
            let line = Self.random(&rng, from: Array("ab,c, d  e\t".utf8), length: Int(rng.next() % 40))
            let limit = rng.next() % 4 == 0 ? Int(rng.next() % 6) + 1 : Int.max
            for (delimiter, collapsing) in [(UInt8(ascii: ","), false), (UInt8(ascii: " "), true), (UInt8(ascii: "\t"), false)] {
                let expected: [[UInt8]]
                if line.isEmpty {
                    expected = [[]]
                } else {
                    let all = line.split(separator: delimiter, omittingEmptySubsequences: collapsing).map(Array.init)
                    expected = Array(all.prefix(limit))
                }
                let actual = Self.bytes(line) { buffer in
                    let fields = splitter.split(buffer, on: delimiter, collapsing: collapsing, limit: limit)
                    return (0..<fields.count).map { Array(fields[$0]) }
                }
                #expect(actual == expected, "split(\(String(decoding: line, as: UTF8.self)), limit \(limit))")
            }
        }
    }
}
