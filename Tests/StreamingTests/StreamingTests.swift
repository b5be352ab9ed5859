import Detection
import FlowRecords
import Foundation
import Streaming
import TestSupport
import XCTest

final class FlowMessageTests: XCTestCase {
    func testMessagesRoundTrip() throws {
        let r = FlowRecord(
            start: 1_700_000_000.5, end: 1_700_000_001, source: IPAddress("10.0.0.1")!, destination: IPAddress("10.0.0.2")!,
            sourcePort: 40000, destinationPort: 22, transport: .tcp, sourcePackets: 1, tcpFlags: [.syn],
            outcome: .unanswered, state: "S0")
        var zeek = r
        zeek.uid = try XCTUnwrap(RecordUID("CWrWCR3mLP3pSs6dvb"))
        for m in [FlowMessage.flows([r, zeek]), .flows([]), .watermark(1_700_000_060), .endOfInput(1_700_000_999.25)] {
            XCTAssertEqual(try FlowMessage(decoding: m.encoded()), m)
        }
        // Version 1, from a publisher before uids: the same records without the uid's presence byte.
        var v1 = FlowMessage.flows([r]).encoded()
        XCTAssertEqual(v1.removeLast(), 0)
        v1[2] = 1
        XCTAssertEqual(try FlowMessage(decoding: v1), .flows([r]))
        // Version 2 has version 3's layout (its publishers sent no copies to destinations' partitions).
        var v2 = FlowMessage.flows([zeek]).encoded()
        v2[2] = 2
        XCTAssertEqual(try FlowMessage(decoding: v2), .flows([zeek]))
        XCTAssertEqual(FlowMessage.version(of: v2), 2)
        XCTAssertEqual(FlowMessage.version(of: FlowMessage.watermark(1).encoded()), FlowMessage.version)
        XCTAssertNil(FlowMessage.version(of: [0x46, 0x48]))
        // A uid no log could hold is refused.
        var bad = FlowMessage.flows([zeek]).encoded()
        bad[bad.count - 16] = 0xFF
        XCTAssertThrowsError(try FlowMessage(decoding: bad)) { XCTAssertTrue("\($0)".contains("is not one a log could hold"), "\($0)") }
    }

    /// A record whose times no log could hold (NaN, infinite, before the epoch, an end long before or
    /// after its start) is a clear error: detection's window arithmetic would trap on it, and one such
    /// message would stop every worker that took its partition.
    func testRecordsWithImpossibleTimesAreRefused() throws {
        let good = FlowRecord(
            start: 1_700_000_000, end: 1_700_000_001, source: IPAddress("10.0.0.1")!, destination: IPAddress("10.0.0.2")!,
            sourcePort: 1, destinationPort: 2, transport: .tcp)
        for (start, end) in [
            (Double.nan, 1.0), (.infinity, .infinity), (-5, 1), (1e300, 1e300), (1_700_000_000, .nan), (1_700_000_000, 1_699_999_000), (1_700_000_000, 1e300),
        ] {
            var bad = good
            bad.start = start
            bad.end = end
            XCTAssertThrowsError(try FlowMessage(decoding: FlowMessage.flows([bad]).encoded()), "\(start), \(end)") {
                XCTAssertTrue("\($0)".contains("time"), "\($0)")
            }
        }
        for t in [Double.infinity, -.infinity, .nan, -1, 1e300] {
            for m in [FlowMessage.watermark(t), .endOfInput(t)] {
                XCTAssertThrowsError(try FlowMessage(decoding: m.encoded()), "\(m)") { XCTAssertTrue("\($0)".contains("not a time"), "\($0)") }
            }
        }
        // An end a fraction of a second before the start, as exporters round, is the start.
        var rounded = good
        rounded.end = good.start - 0.5
        guard case .flows(let back) = try FlowMessage(decoding: FlowMessage.flows([rounded]).encoded()) else { return XCTFail("not flows") }
        XCTAssertEqual(back.first?.end, good.start)
    }

    func testDamagedMessagesAreClearErrors() throws {
        let r = FlowRecord(
            start: 1, end: 2, source: IPAddress("10.0.0.1")!, destination: IPAddress("10.0.0.2")!,
            sourcePort: 1, destinationPort: 2, transport: .udp)
        let good = FlowMessage.flows([r]).encoded()
        func error(_ bytes: [UInt8]) -> String {
            do { _ = try FlowMessage(decoding: bytes); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(error(Array("{\"json\": 1}".utf8)).contains("not a Flowhound flow message"))
        var version = good
        version[2] = 9
        XCTAssertTrue(error(version).contains("version 9"), error(version))
        var kind = good
        kind[3] = 7
        XCTAssertTrue(error(kind).contains("kind 7"), error(kind))
        XCTAssertTrue(error(Array(good.dropLast(2))).contains("record count of 1"), error(Array(good.dropLast(2))))
        var family = good
        family[5 + 16] = 5  // the source address's family byte
        XCTAssertTrue(error(family).contains("record 1 of 1: family of source is 5"), error(family))
        XCTAssertTrue(error(good + [0]).contains("1 bytes left over"))
        var count = good
        count[4] = 100
        XCTAssertTrue(error(count).contains("record count of 100"), error(count))
    }

    /// The partition of an address is part of the wire contract: these values must never change.
    /// Partitions by source, each failed attempt also sent to its destination's partition, raise the
    /// distributed-scan alerts of one detection over every flow, each once; the per-source alerts too.
    /// The publisher's routing (`Partitioning.partitions(of:)`) and its minute watermarks, without NATS.
    func testPartitionsWatchTheirHostsAsOneDetectionWould() throws {
        let t0 = 1_704_067_200.0
        func attempt(_ source: String, _ host: String, _ port: UInt16, _ t: Double, _ outcome: Outcome = .unanswered) -> FlowRecord {
            FlowRecord(
                start: t0 + t, end: t0 + t, source: IPAddress(source)!, destination: IPAddress(host)!, sourcePort: 50000,
                destinationPort: port, transport: .tcp, outcome: outcome)
        }
        let ports: [UInt16] = [23, 445, 22, 80, 3389, 5060, 1433, 8080]
        var flows: [FlowRecord] = []
        for i in 0..<60 {  // 60 sources, two probes each, at one host
            flows.append(attempt("198.51.100.\(i + 1)", "10.1.0.5", ports[i % 8], Double(i) * 30))
            flows.append(attempt("198.51.100.\(i + 1)", "10.1.0.5", ports[(i + 3) % 8], Double(i) * 30 + 2))
        }
        for i in 0..<40 {  // 40 more at another, later
            flows.append(attempt("203.0.113.\(i + 1)", "10.1.0.9", ports[(i + 5) % 8], 600 + Double(i) * 20, .rejected))
        }
        for i in 0..<200 {  // clients using a server, answered
            flows.append(attempt("10.2.0.\(i % 50 + 1)", "10.1.0.7", 443, Double(i) * 9, .established))
        }
        flows.append(contentsOf: (1...30).map { attempt("192.0.2.66", "10.1.0.8", UInt16($0), 1000 + Double($0)) })  // a vertical scan
        flows.sort { $0.start < $1.start }

        var recipe = DetectionRecipe()
        recipe.detectors = [.threshold, .distributed]
        func lines(_ pipelines: [DetectionPipeline], route: (FlowRecord) -> [Int]) throws -> [String] {
            var out: [String] = []
            for p in pipelines {
                p.onAlert = { out.append($0.json(.fixed)) }
                p.onDistributedAlert = { out.append($0.json(.fixed)) }
            }
            var clock = -Double.infinity
            for r in flows {
                if r.start > clock {
                    if clock == -.infinity || (r.start / 60).rounded(.down) > (clock / 60).rounded(.down) {
                        for p in pipelines { try p.advance(to: r.start) }
                    }
                    clock = r.start
                }
                for i in route(r) { try pipelines[i].add(r) }
            }
            for p in pipelines { try p.finish() }
            return out.sorted()
        }
        let expected = try lines([DetectionPipeline(recipe: recipe, model: nil)]) { _ in [0] }
        XCTAssertEqual(expected.filter { $0.contains("\"distributed\"") }.count, 4, "two hosts, a start and an end alert each")
        XCTAssertEqual(expected.count, 6, "and the vertical scan's start and end")

        for count in [2, 4, 7] {
            let partitioning = Partitioning(count: count)
            let pipelines = (0..<count).map { i in
                let p = DetectionPipeline(recipe: recipe, model: nil)
                p.detection?.partitionOwns = { partitioning.partition(of: $0) == i }
                return p
            }
            let got = try lines(pipelines) { r in
                let (p, copy) = partitioning.partitions(of: r)
                return [p] + (copy.map { [$0] } ?? [])
            }
            XCTAssertEqual(got, expected, "\(count) partitions")
            // Without the copies, a host's partition sees only its own sources: the alerts differ.
            let sourceOnly = try lines(
                (0..<count).map { i in
                    let p = DetectionPipeline(recipe: recipe, model: nil)
                    p.detection?.partitionOwns = { partitioning.partition(of: $0) == i }
                    return p
                }
            ) { [partitioning.partition(of: $0.source)] }
            XCTAssertNotEqual(sourceOnly, expected, "\(count) partitions, no copies")
        }
    }

    func testPartitionsAreStable() throws {
        let eight = Partitioning(count: 8)
        XCTAssertEqual(Partitioning.hash(IPAddress("10.0.0.1")!), 0x000F_F8FE)
        XCTAssertEqual(Partitioning.hash(IPAddress("2001:db8::1")!), 0x6E5B_04F4)
        var counts = [Int](repeating: 0, count: 8)
        for i in 0..<8000 { counts[eight.partition(of: IPAddress(ipv4: 0x0A00_0000 + UInt32(i)))] += 1 }
        XCTAssertTrue(counts.allSatisfy { (800...1200).contains($0) }, "\(counts)")
        XCTAssertEqual(try eight.parse("0-2,5,7"), [0, 1, 2, 5, 7])
        XCTAssertEqual(try eight.parse("3,1-1,3"), [1, 3])
        XCTAssertThrowsError(try eight.parse("0-8")) { XCTAssertTrue("\($0)".contains("partition 8 does not exist")) }
        XCTAssertThrowsError(try eight.parse("3-1"))
        XCTAssertThrowsError(try eight.parse("x"))
    }
}

/// Against one real nats-server with JetStream on a loopback port.
final class JetStreamTests: XCTestCase {
    func testKeyValueCompareAndSet() throws {
        let cluster = try NATSCluster(nodes: 1)
        let nc = try NATSConnection(urls: cluster.urls, name: "test")
        let kv = try nc.keyValue(bucket: "cas", replicas: 1)
        let first = try XCTUnwrap(try kv.create("k", [1]))
        XCTAssertNil(try kv.create("k", [2]), "a second create must fail")
        XCTAssertNil(try kv.update("k", [3], last: first + 100))
        let second = try XCTUnwrap(try kv.update("k", [4], last: first))
        XCTAssertEqual(try kv.get("k")?.value, [4])
        XCTAssertEqual(try kv.get("k")?.revision, second)
        try kv.delete("k")
        XCTAssertNil(try kv.get("k"))
        XCTAssertNotNil(try kv.create("k", [5]), "create after delete")
        XCTAssertEqual(try kv.keys(), ["k"])
    }

    func testCheckpointsSurviveChunkingAndFenceOutAStaleOwner() throws {
        let cluster = try NATSCluster(nodes: 1)
        let nc = try NATSConnection(urls: cluster.urls, name: "test")
        let kv = try nc.keyValue(bucket: "state", replicas: 1)
        // 4096-byte chunks: a 50,000-byte state takes 13.
        let a = CheckpointStore(bucket: kv, partition: 3, epoch: 10, maxPayload: 4096)
        XCTAssertEqual(try a.load(), PartitionCheckpoint())
        var c = PartitionCheckpoint()
        c.appliedSequence = 77
        c.alerts = 5
        c.flows = 1234
        c.state = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        XCTAssertTrue(try a.save(c))
        c.state = Array(c.state.prefix(9000))
        XCTAssertTrue(try a.save(c))
        c.state = Array(c.state.prefix(5000))
        XCTAssertTrue(try a.save(c), "a third save reuses the first slot, and deletes its surplus chunks")
        XCTAssertEqual(try a.load(), c)
        XCTAssertEqual(try kv.keys().filter { $0.hasPrefix("chunk.3.10.") }.count, 2 + 3)

        // A new owner claims the partition; the old one's next save must fail.
        let b = CheckpointStore(bucket: kv, partition: 3, epoch: 11, maxPayload: 4096)
        let restored = try b.load()
        XCTAssertEqual(restored, c)
        XCTAssertTrue(try b.save(restored))
        try b.removePreviousOwnersChunks()
        XCTAssertFalse(try a.save(c))
        XCTAssertEqual(try kv.keys().filter { $0.hasPrefix("chunk.3.10.") }, [], "the old owner's chunks are gone")
        XCTAssertEqual(try b.load(), c)

        // A damaged chunk is an error naming the partition, not a wrong state.
        try kv.put("chunk.3.11.1.0", [1, 2, 3])
        XCTAssertThrowsError(try b.load()) { XCTAssertTrue("\($0)".contains("checkpoint of partition 3"), "\($0)") }
    }
}
