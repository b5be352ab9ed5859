import Foundation
import Streaming
import TestSupport
import XCTest

/// The whole deployment as users run it: a three-node nats-server cluster on loopback ports,
/// `flowhound publish` and three `flowhound worker` processes, one killed with SIGKILL in mid-run and
/// started again, and one NATS node killed. The alerts on the alerts stream must be exactly those of
/// `flowhound detect` over the same log: none lost, none twice. About two minutes, and XCTest cases
/// take no tags: the README's fast-test command skips it by name.
final class ScaleOutTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = URL(fileURLWithPath: try temporaryDirectory("scaleout"))
    }

    override func tearDown() {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    @discardableResult
    func run(_ arguments: [String], stdout: URL? = nil) throws -> String {
        let r = try FlowhoundCLI.run(arguments)
        XCTAssertEqual(r.status, 0, "flowhound \(arguments.joined(separator: " ")): \(r.stderr)")
        if let stdout { try r.stdout.write(to: stdout, atomically: true, encoding: .utf8) }
        return r.stderr
    }

    func startWorker(_ id: String, _ urls: String, extra: [String] = []) throws -> Process {
        try FlowhoundCLI.start(
            ["worker", "--nats", urls, "--replicas", "3", "--id", id, "--lease-ttl", "4"] + extra,
            log: directory.appendingPathComponent("\(id).log"))
    }

    func workerLogs() -> String {
        ["w1", "w2", "w3"].map { id in
            "== \(id)\n" + ((try? String(contentsOf: directory.appendingPathComponent("\(id).log"), encoding: .utf8)) ?? "")
        }.joined(separator: "\n")
    }

    /// The deployment did not reach a state it must reach: the test fails with the workers' logs.
    struct TimedOut: Error, CustomStringConvertible {
        let description: String
    }

    /// Polls `condition` every 0.1 s for up to `seconds`; throws `TimedOut` (failing the test) if it
    /// does not hold by then.
    func waitFor(_ what: String, seconds: Double, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? condition()) == true { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw TimedOut(description: "timed out after \(Int(seconds)) s waiting for \(what)\n\(workerLogs())")
    }

    /// An alert line's place in its episode's lifecycle: `event.id`, `flowhound.phase` (start, update
    /// or end) and `flowhound.episode_id`.
    static func lifecycle(_ line: String) throws -> (id: String, type: String, episode: String) {
        let alert = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
        let event = try XCTUnwrap(alert["event"] as? [String: Any], line)
        let detail = try XCTUnwrap(alert["flowhound"] as? [String: Any], line)
        return (
            try XCTUnwrap(event["id"] as? String, line), try XCTUnwrap(detail["phase"] as? String, line),
            try XCTUnwrap(detail["episode_id"] as? String, line)
        )
    }

    func testWorkersKilledAndRestartedRaiseExactlyTheAlertsOfDetect() throws {
        // A synthetic hour with scanners of every kind, Internet background scanning of a host among
        // them (a distributed-scan episode, which the eight partitions must raise as detect does), in
        // two halves published apart.
        let log = directory.appendingPathComponent("all.log")
        try run([
            "synth", "--seed", "11", "--duration", "90m", "--format", "zeek", "-o", log.path,
            "--scan-kinds", "background,vertical,horizontal,block,stealth-fin,udp,slow,distributed",
            "--truth", directory.appendingPathComponent("truth.csv").path,
        ])
        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let header = lines.filter { $0.hasPrefix("#") && !$0.hasPrefix("#close") }
        let records = lines.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        let halves = [records[..<(records.count / 2)], records[(records.count / 2)...]].enumerated().map { i, part in
            let url = directory.appendingPathComponent("half\(i).log")
            try? (header + part).joined(separator: "\n").appending("\n").write(to: url, atomically: true, encoding: .utf8)
            return url
        }
        let detected = directory.appendingPathComponent("detect.jsonl")
        try run(["detect", log.path, "--no-progress"], stdout: detected)
        // Alerts agree but for the time each was written (event.created).
        let expected = try String(contentsOf: detected, encoding: .utf8).split(separator: "\n").map(withoutCreated).sorted()
        XCTAssertGreaterThan(expected.count, 5, "the log should hold several scan episodes")
        XCTAssertTrue(expected.contains { $0.contains("\"scan_type\":\"distributed\"") }, "the log should hold a distributed-scan episode")

        let cluster = try NATSCluster(nodes: 3)
        let urls = cluster.urls
        let nc = try NATSConnection(urls: urls, name: "test")
        var workers: [String: Process] = [:]
        defer { for p in workers.values where p.isRunning { p.terminate(); p.waitUntilExit() } }
        // w3 checkpoints only once an hour, so when it is killed its flows are all unacknowledged
        // and its alerts all published: the new owners replay everything and must publish nothing twice.
        workers["w1"] = try startWorker("w1", urls)
        workers["w2"] = try startWorker("w2", urls)
        workers["w3"] = try startWorker("w3", urls, extra: ["--checkpoint-interval", "3600", "--checkpoint-flows", "100000000"])
        // Opened with the workers' settings: whoever comes first creates it.
        let leases = try retryingTransientErrors { try nc.keyValue(bucket: "flows-leases", ttl: 4, replicas: 3) }
        func owners() throws -> [String: [Int]] {
            var result: [String: [Int]] = [:]
            for key in try leases.keys() where key.hasPrefix("lease.") {
                if let owner = try leases.get(key) { result[String(decoding: owner.value, as: UTF8.self), default: []].append(Int(key.dropFirst(6))!) }
            }
            return result
        }
        try waitFor("three workers sharing eight partitions", seconds: 30) {
            let o = try owners()
            return o.count == 3 && o.values.map(\.count).sorted() == [2, 3, 3]
        }
        let w3Partitions = try owners()["w3"]!

        try run(["publish", halves[0].path, "--nats", urls, "--replicas", "3", "--no-progress"])
        func alertCount(_ partitions: [Int]) throws -> Int {
            partitions.compactMap { p in
                (try? nc.lastMessage(stream: "alerts", subject: "alerts.\(p)")).flatMap { $0 }?.header("Flowhound-Alert").flatMap(Int.init)
            }.reduce(0, +)
        }
        try waitFor("w3 to publish alerts", seconds: 30) { try alertCount(w3Partitions) > 0 }
        Thread.sleep(forTimeInterval: 0.5)
        let w3Published = try alertCount(w3Partitions)

        // SIGKILL w3: its leases expire in 4 s and w1 and w2 take its partitions from the checkpoint
        // it took on claiming them (nothing applied), replaying every flow w3 had.
        kill(workers["w3"]!.processIdentifier, SIGKILL)
        workers["w3"]!.waitUntilExit()
        try waitFor("w1 and w2 to take over all eight partitions", seconds: 30) {
            let o = try owners()
            return o["w3"] == nil && o.values.map(\.count).reduce(0, +) == 8
        }
        // w3 comes back (checkpointing normally) and takes its share again.
        workers["w3"] = try startWorker("w3", urls)
        try waitFor("w3 to take its share back", seconds: 30) { try owners()["w3"]?.count ?? 0 >= 2 }

        try run(["publish", halves[1].path, "--nats", urls, "--replicas", "3", "--end-of-input", "--no-progress"])
        // A NATS node dies while the workers catch up; the streams and buckets have three replicas
        // and the clients fail over to the other two.
        cluster.kill(2)
        try waitFor("every alert", seconds: 90) { try nc.state(stream: "alerts").last >= UInt64(expected.count) }
        // Let any duplicate that would come show up, then stop the workers gracefully.
        Thread.sleep(forTimeInterval: 1)
        for p in workers.values { p.terminate() }
        for p in workers.values { p.waitUntilExit() }
        // Acknowledgements sent while the node was failing over can be lost; those flows come back
        // to the next owner, which finds them in its checkpoint and acknowledges them. One worker
        // draining the stream shows it: the stream empties and no alert is added.
        let drain = try startWorker("w1", urls, extra: ["--drain"])
        drain.waitUntilExit()
        XCTAssertEqual(drain.terminationStatus, 0, workerLogs())
        XCTAssertEqual(try nc.state(stream: "flows").messages, 0, "every flow acknowledged after the last checkpoints")
        // Its closing summary says where the CPU went: detection, the broker, checkpoints, leases.
        let drainLog = (try? String(contentsOf: directory.appendingPathComponent("w1.log"), encoding: .utf8)) ?? ""
        XCTAssertTrue(
            drainLog.contains("worker w1: CPU: detection ") && drainLog.contains(" s writing (") && drainLog.contains(" lease rounds ")
                && drainLog.contains(" other threads "), drainLog)

        let (_, first, last) = try nc.state(stream: "alerts")
        var got: [String] = []
        for seq in first...last {
            if let m = try nc.message(stream: "alerts", sequence: seq) { got.append(withoutCreated(String(decoding: m.data, as: UTF8.self))) }
        }
        got.sort()
        XCTAssertEqual(got.count, expected.count, "alerts published vs detect's\n\(workerLogs())")
        XCTAssertEqual(got, expected)
        // The lifecycle survives the kill: detect's alerts and the published ones both start and end
        // episodes, and among the published ones each episode has exactly one start and one end alert
        // (a replay that raised them again held them back) and every alert its own event.id.
        let expectedAlerts = try expected.map(Self.lifecycle)
        let gotAlerts = try got.map(Self.lifecycle)
        for (name, alerts) in [("detect", expectedAlerts), ("published", gotAlerts)] {
            XCTAssertTrue(alerts.contains { $0.type == "start" }, "\(name): no start alert")
            XCTAssertTrue(alerts.contains { $0.type == "end" }, "\(name): no end alert")
        }
        var phases: [String: [String]] = [:]
        for alert in gotAlerts { phases[alert.episode, default: []].append(alert.type) }
        XCTAssertEqual(phases.count, Set(expectedAlerts.map(\.episode)).count)
        for (episode, types) in phases {
            XCTAssertEqual(types.filter { $0 == "start" }.count, 1, "episode \(episode): \(types)")
            XCTAssertEqual(types.filter { $0 == "end" }.count, 1, "episode \(episode): \(types)")
        }
        XCTAssertEqual(Set(gotAlerts.map(\.id)).count, gotAlerts.count, "event.ids repeat: \(gotAlerts.map(\.id).sorted())")
        // The new owners of w3's partitions raised its alerts again while replaying and held them back.
        let logs = workerLogs()
        let suppressed = logs.components(separatedBy: " already published before a restart)").dropLast()
            .compactMap { Int($0.split(separator: "(").last ?? "") }.reduce(0, +)
        XCTAssertGreaterThanOrEqual(suppressed, w3Published, logs)
    }
}
