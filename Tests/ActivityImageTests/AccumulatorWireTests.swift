import FlowRecords
import Support
import Testing

@testable import ActivityImage

/// Accumulators in the wire encoding (for detection checkpoints): every field survives, equal
/// accumulators give equal bytes, and contents no stream of flows could gather are refused.
@Suite struct AccumulatorWireTests {
    static func flows(count: Int) -> [FlowRecord] {
        let outcomes: [Outcome] = [.rejected, .unanswered, .established, .rejected, .partial]
        return (0..<count).map { i in
            let host = i % 7 == 0 ? "2001:db8::\(i % 300 + 1)" : "10.1.\(i % 3).\(i % 250 + 1)"
            return FlowRecord(
                start: 1000 + Double(i) * 0.25, end: 1001, source: IPAddress("10.9.0.1")!,
                destination: IPAddress(host)!, sourcePort: 40000, destinationPort: UInt16((i * 37) % 65536),
                transport: .tcp, outcome: outcomes[i % outcomes.count])
        }
    }

    static func encoded(_ a: ActivityAccumulator) -> [UInt8] {
        var w = WireWriter()
        a.encode(to: &w)
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) throws -> ActivityAccumulator {
        var r = WireReader(bytes)
        let a = try ActivityAccumulator(from: &r)
        #expect(r.isAtEnd)
        return a
    }

    @Test func everyFieldSurvives() throws {
        for count in [0, 1, 40, 2000] {
            var a = ActivityAccumulator()
            for f in Self.flows(count: count) { a.add(f) }
            let bytes = Self.encoded(a)
            let b = try Self.decode(bytes)
            #expect(b == a, "\(count) flows")
            #expect(Self.encoded(b) == bytes)
            #expect(
                b.image(source: IPAddress("10.9.0.1")!, windowStart: 0, windowLength: 3600)
                    == a.image(source: IPAddress("10.9.0.1")!, windowStart: 0, windowLength: 3600))
            // Ranks go on from where they were: the next new host gets the next rank in both.
            var (c, d) = (a, b)
            let next = FlowRecord(
                start: 5000, end: 5000, source: IPAddress("10.9.0.1")!, destination: IPAddress("192.0.2.77")!,
                sourcePort: 1, destinationPort: 9, transport: .tcp, outcome: .rejected)
            c.add(next)
            d.add(next)
            #expect(c == d)
        }
    }

    /// Hand-made encodings of one flow (one host, port 22, failed) with one field changed.
    static func oneFlow(
        hosts: [String] = ["10.1.0.1"], targets: [UInt64] = [22], cellIndex: UInt64 = 0,
        cellFailed: UInt64 = 1, flows: Int = 1, failedFlows: Int = 1, answered: [UInt64] = [], transport: UInt64 = 6,
        firstStart: Double = 7, withFlowDetail: Bool = true
    ) -> [UInt8] {
        var w = WireWriter()
        w.count(hosts.count)
        for h in hosts { w.address(IPAddress(h)!) }
        w.ascending([22] as [UInt64])
        w.ascending(targets)
        w.count(1)
        w.varint(cellIndex)
        w.varint(cellFailed)
        w.varint(0)
        w.f64(7)
        w.int(flows)
        w.int(failedFlows)
        w.f64(7)
        w.f64(7)
        guard withFlowDetail else { return w.bytes }
        w.ascending(answered)
        w.varint(transport)
        for start in [firstStart, 7] {
            w.bool(true)
            FlowKey(
                start: start, source: IPAddress("10.9.0.1")!, sourcePort: 1, destination: IPAddress("10.1.0.1")!, destinationPort: 22,
                transport: .tcp
            ).encode(to: &w)
        }
        return w.bytes
    }

    @Test func impossibleContentsAreRefusedNamingTheField() throws {
        var a = ActivityAccumulator()
        a.add(
            FlowRecord(
                start: 7, end: 7, source: IPAddress("10.9.0.1")!, destination: IPAddress("10.1.0.1")!,
                sourcePort: 1, destinationPort: 22, transport: .tcp, outcome: .rejected))
        #expect(Self.oneFlow() == Self.encoded(a))
        func refusal(_ bytes: [UInt8]) -> String? {
            #expect(throws: WireError.self) { _ = try Self.decode(bytes) }?.description
        }
        #expect(refusal(Self.oneFlow(hosts: ["10.1.0.1", "10.1.0.1"])) == "hosts: 10.1.0.1 appears twice, at ranks 0 and 1")
        #expect(refusal(Self.oneFlow(targets: [1 << 16 | 22])) == "failed targets: host rank 1 is not below the 1 hosts")
        #expect(refusal(Self.oneFlow(cellIndex: 2048)) == "cells: index 2048 is outside the 64×32 image")
        #expect(refusal(Self.oneFlow(cellIndex: 1 << 62)) == "cells: index 4611686018427387904 is outside the 64×32 image")
        #expect(refusal(Self.oneFlow(cellFailed: 2))?.hasPrefix("cells: they count 2 failed targets") == true)
        #expect(refusal(Self.oneFlow(failedFlows: 2)) == "failed flows: 2 of 1 flows")
        #expect(refusal(Self.oneFlow(flows: 0, failedFlows: 0)) != nil)
        #expect(refusal(Self.oneFlow(answered: [22]))?.hasPrefix("answered ports: 1, not among the 1 ports") == true)
        #expect(refusal(Self.oneFlow(transport: 0x300)) == "transport: 768 is not a transport's number for 1 flows")
        #expect(refusal(Self.oneFlow(firstStart: 6))?.hasPrefix("first and last flows:") == true)
        // What an earlier Flowhound wrote, without them, still reads; its transport is unknown.
        var old = WireReader(Self.oneFlow(withFlowDetail: false))
        let earlier = try ActivityAccumulator(from: &old, withFlowDetail: false)
        #expect(old.isAtEnd && earlier.flows == 1 && earlier.transport == nil && earlier.firstFlow == nil)
        // Going on from it, and checkpointed again: readable, with the last flow known and the first not.
        var later = earlier
        later.add(
            FlowRecord(
                start: 8, end: 8, source: IPAddress("10.9.0.1")!, destination: IPAddress("10.1.0.1")!, sourcePort: 1, destinationPort: 23,
                transport: .tcp, outcome: .rejected))
        let again = try Self.decode(Self.encoded(later))
        #expect(again == later && again.firstFlow == nil && again.lastFlow?.destinationPort == 23 && again.transport == nil)
        #expect(a.transport == .tcp && a.firstFlow?.destinationPort == 22 && a.answeredPorts.isEmpty)
        for cut in 0..<Self.oneFlow().count {
            let message = refusal(Array(Self.oneFlow().prefix(cut))) ?? ""
            #expect(message.contains("cut short") || message.contains("bytes left can hold"), "cut at \(cut): \(message)")
        }
    }
}
