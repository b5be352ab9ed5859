import Testing

@testable import FlowRecords

private func parse<T>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> T) -> T {
    var text = text
    return text.withUTF8(body)
}

@Suite struct ByteParsingTests {
    @Test func unsignedIntegers() {
        #expect(parse("0", ByteParsing.unsigned) == 0)
        #expect(parse("18446744073709551615", ByteParsing.unsigned) == UInt64.max)
        #expect(parse("18446744073709551616", ByteParsing.unsigned) == nil)
        #expect(parse("0x0303", ByteParsing.unsigned) == 0x303)
        #expect(parse("12a", ByteParsing.unsigned) == nil)
        #expect(parse("", ByteParsing.unsigned) == nil)
        #expect(parse("-1", ByteParsing.unsigned) == nil)
        #expect(parse("65535", ByteParsing.port) == 65535)
        #expect(parse("65536", ByteParsing.port) == nil)
    }

    @Test func decimals() {
        #expect(parse("1655071198.444458", ByteParsing.decimal) == 1655071198.444458)
        #expect(parse("0.000010", ByteParsing.decimal) == 0.00001)
        #expect(parse("-2.5", ByteParsing.decimal) == -2.5)
        #expect(parse("3", ByteParsing.decimal) == 3)
        #expect(parse(".5", ByteParsing.decimal) == 0.5)
        #expect(parse("1e-3", ByteParsing.decimal) == 0.001)
        #expect(parse("9003.680336487907", ByteParsing.decimal) == 9003.680336487907)
        #expect(parse("1.2.3", ByteParsing.decimal) == nil)
        #expect(parse("-", ByteParsing.decimal) == nil)
        #expect(parse("NaN", ByteParsing.decimal) == nil)
        #expect(parse("Infinity", ByteParsing.decimal) == nil)
    }

    @Test(arguments: [
        ("2020-08-02 05:49:46", 1596347386.0),
        ("2020-08-02 05:49:46.250", 1596347386.25),
        ("2023-11-24T12:16:57.314165Z", 1700828217.314165),
        ("2023-11-24T14:16:57+02:00", 1700828217.0),
        ("2019/04/04 16:23:00.325010", 1554394980.32501),
        ("7/7/2017 8:59", 1499417940.0),
        ("06/07/2017 12:39:01 PM", 1499344741.0),
        ("06/07/2017 12:39:01 AM", 1499301541.0),
        ("2000-02-29 00:00:00", 951782400.0),
        ("1970-01-01", 0.0),
    ])
    func calendarTimes(text: String, epoch: Double) throws {
        let parsed = try #require(parse(text, ByteParsing.dateTime))
        #expect(abs(parsed - epoch) < 1e-6)
    }

    @Test(arguments: ["2020-13-01 00:00:00", "2020-02-30x", "16:23:00.325010", "2020-08-02 25:00:00", "hello", "2020-08-02 05:49:46 XM"])
    func rejectsBadTimes(text: String) {
        #expect(parse(text, ByteParsing.dateTime) == nil)
    }

    @Test func trimsSpacesAndTabs() {
        #expect(parse("  <->\t", { String(decoding: ByteParsing.trimmed($0), as: UTF8.self) }) == "<->")
        #expect(parse("   ", { ByteParsing.trimmed($0).count }) == 0)
    }

    @Test func transports() {
        #expect(Transport("TCP") == .tcp)
        #expect(Transport("ipv6-icmp") == .icmpv6)
        #expect(Transport("ICMP6") == .icmpv6)
        #expect(Transport("17") == .udp)
        #expect(Transport("igmp")?.rawValue == 2)
        #expect(Transport("256") == nil)
        #expect(Transport("bogus") == nil)
        #expect(Transport(rawValue: 58).description == "ipv6-icmp")
    }

    @Test func tcpFlagLetters() {
        #expect(TCPFlags(letters: "...A..S.") == [.ack, .syn])
        #expect(TCPFlags(letters: "FSPA") == [.fin, .syn, .psh, .ack])
        #expect(TCPFlags(letters: "........").isEmpty)
        #expect(TCPFlags([.syn, .ack, .fin, .rst]).description == "ARSF")
    }
}
