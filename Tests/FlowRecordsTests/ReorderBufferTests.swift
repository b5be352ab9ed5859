import Testing

@testable import FlowRecords

/// `ReorderBuffer`: records out of order by at most its span come out in start order (equal starts in
/// arrival order), later ones are released at once, and memory stays bounded whatever arrives.
@Suite struct ReorderBufferTests {
    /// A record identified by `id` (kept in `sourceBytes`).
    static func record(_ start: Double, _ id: Int) -> FlowRecord {
        FlowRecord(
            start: start, end: start, source: IPAddress(ipv4: 0x0A00_0001), destination: IPAddress(ipv4: 0x0A00_0002),
            sourcePort: 40000, destinationPort: 80, transport: .tcp, sourceBytes: UInt64(id))
    }

    /// Every record through a buffer, flushed at the end.
    static func run(_ records: [FlowRecord], span: Double, maximumHeld: Int = ReorderBuffer.defaultMaximumHeld) -> (out: [FlowRecord], buffer: ReorderBuffer) {
        var buffer = ReorderBuffer(span: span, maximumHeld: maximumHeld)
        var out: [FlowRecord] = []
        for r in records { buffer.add(r) { out.append($0) } }
        buffer.flush { out.append($0) }
        return (out, buffer)
    }

    /// A small seeded generator (xorshift64*), so that every run checks the same inputs.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 0x2545_F491_4F6C_DD1D
        }
    }

    @Test func holdsARecordUntilTheClockIsMoreThanTheSpanPastIt() {
        var buffer = ReorderBuffer(span: 10)
        var out: [Int] = []
        let emit = { (r: FlowRecord) in out.append(Int(r.sourceBytes)) }
        buffer.add(Self.record(100, 1), emit: emit)
        buffer.add(Self.record(105, 2), emit: emit)
        buffer.add(Self.record(110, 3), emit: emit)  // exactly the span past 100: still held
        #expect(out.isEmpty && buffer.held == 3)
        buffer.add(Self.record(110.5, 4), emit: emit)
        #expect(out == [1])
        buffer.add(Self.record(103, 5), emit: emit)  // within the span: put before 105
        buffer.add(Self.record(130, 6), emit: emit)
        #expect(out == [1, 5, 2, 3, 4])
        buffer.flush(emit: emit)
        #expect(out == [1, 5, 2, 3, 4, 6] && buffer.isEmpty && buffer.newest == 130)
    }

    @Test func equalStartsKeepTheirArrivalOrder() {
        let records = [Self.record(5, 0), Self.record(3, 1), Self.record(5, 2), Self.record(3, 3), Self.record(5, 4)]
        let (out, _) = Self.run(records, span: 60)
        #expect(out.map(\.sourceBytes) == [1, 3, 0, 2, 4])
    }

    @Test func aRecordLaterThanTheSpanIsReleasedAtOnce() {
        var buffer = ReorderBuffer(span: 10)
        var out: [Int] = []
        buffer.add(Self.record(100, 1)) { out.append(Int($0.sourceBytes)) }
        buffer.add(Self.record(50, 2)) { out.append(Int($0.sourceBytes)) }
        #expect(out == [2] && buffer.held == 1 && buffer.releasedEarly == 0)
    }

    @Test func advanceReleasesWhatTheClockMakesSafe() {
        var buffer = ReorderBuffer(span: 10)
        var out: [Int] = []
        buffer.add(Self.record(100, 1)) { out.append(Int($0.sourceBytes)) }
        buffer.add(Self.record(104, 2)) { out.append(Int($0.sourceBytes)) }
        buffer.advance(to: 90) { out.append(Int($0.sourceBytes)) }  // the past: nothing
        buffer.advance(to: 112) { out.append(Int($0.sourceBytes)) }
        #expect(out == [1] && buffer.newest == 112)
    }

    @Test func nonFiniteStartsPassStraightThrough() {
        var buffer = ReorderBuffer(span: 10)
        var out: [FlowRecord] = []
        buffer.add(Self.record(100, 1)) { out.append($0) }
        buffer.add(Self.record(.nan, 2)) { out.append($0) }
        buffer.add(Self.record(.infinity, 3)) { out.append($0) }
        #expect(out.map(\.sourceBytes) == [2, 3] && buffer.newest == 100)
    }

    /// Property: any input in which no record starts more than `span` before one that arrived earlier
    /// comes out sorted by start, stable, every record exactly once.
    @Test(arguments: [0.0, 1, 7.5, 60, 600])
    func inputDisorderedWithinTheSpanComesOutSorted(span: Double) {
        var g = Generator(state: 0x9E37_79B9_7F4A_7C15 ^ UInt64(span * 1000 + 1))
        for trial in 0..<200 {
            let count = Int.random(in: 0...300, using: &g)
            // A clock that moves forward; each record starts up to `span` before it (whole seconds
            // sometimes, so that starts tie).
            var clock = 1_500_000_000.0
            var records: [FlowRecord] = []
            var newest = -Double.infinity
            for i in 0..<count {
                clock += trial % 3 == 0 ? Double(Int.random(in: 0...3, using: &g)) : Double.random(in: 0...(span / 4 + 1), using: &g)
                let lag = trial % 2 == 0 ? (Double.random(in: 0...span, using: &g)).rounded(.down) : Double.random(in: 0...span, using: &g)
                var start = max(clock - lag, newest - span)
                while newest - start > span { start = start.nextUp }  // rounding of the subtraction
                newest = max(newest, start)
                records.append(Self.record(start, i))
            }
            let (out, buffer) = Self.run(records, span: span)
            let expected = records.enumerated().sorted { ($0.element.start, $0.offset) < ($1.element.start, $1.offset) }.map(\.element)
            #expect(out == expected, "span \(span), trial \(trial)")
            #expect(buffer.releasedEarly == 0 && buffer.isEmpty)
        }
    }

    /// Whatever the disorder, every record comes out exactly once and what is held stays within
    /// the limit: a record is released early, and counted, only when the buffer is full.
    @Test func memoryIsBoundedOnAdversarialInput() {
        // Each record starts before every earlier one, within the span: all of them would wait.
        let descending = (0..<10_000).map { Self.record(1_000_000 - Double($0) * 0.01, $0) }
        var buffer = ReorderBuffer(span: 3600, maximumHeld: 100)
        var out: [FlowRecord] = []
        for r in descending {
            buffer.add(r) { out.append($0) }
            #expect(buffer.held <= 100)
        }
        #expect(buffer.peakHeld == 100 && buffer.releasedEarly == 10_000 - 100)
        buffer.flush { out.append($0) }
        #expect(Set(out.map(\.sourceBytes)) == Set((0..<10_000).map(UInt64.init)) && out.count == 10_000)

        // Random starts spread over far more than the span, some records far in the future.
        var g = Generator(state: 42)
        let random = (0..<20_000).map { i in Self.record(Double.random(in: 0...1e6, using: &g), i) }
        let (all, b) = Self.run(random, span: 1e5, maximumHeld: 500)
        #expect(b.peakHeld <= 500 && all.count == 20_000 && Set(all.map(\.sourceBytes)).count == 20_000)
    }

    /// The limit only releases early what it must: sorted input never reaches it.
    @Test func sortedInputIsNotReleasedEarly() {
        let sorted = (0..<5_000).map { Self.record(Double($0), $0) }
        let (out, buffer) = Self.run(sorted, span: 10, maximumHeld: 20)
        #expect(out == sorted && buffer.releasedEarly == 0 && buffer.peakHeld == 11)
    }
}
