import FlowRecords
import Foundation
import TestSupport
import Testing

/// `flowhound detect --follow` on a log that grows and is rotated, `-o`, and signals.
@Suite(.tags(.integration)) struct FollowCommandTests {
    static let capture = FixtureDirectory.realTools.path("loopback-scans.argus.csv")
    static let truth = FixtureDirectory.realTools.path("loopback-scans.truth.csv")

    /// Polls `condition` every 50 ms until it holds or `timeout` seconds have passed.
    static func eventually(_ timeout: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            usleep(50_000)
        }
        return try condition()
    }

    static func append(_ path: String, _ text: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(text.utf8))
        try handle.close()
    }

    /// The source address of every alert line in `path`.
    static func alertSources(_ path: String) -> [String] {
        alerts(path).map(\.source)
    }

    /// Every alert line in `path`, in order: its source address, `event.type` (start, info or end),
    /// `event.id` and `flowhound.episode_id`.
    static func alerts(_ path: String) -> [(source: String, type: String, id: String, episode: String)] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let alert = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let source = (alert["source"] as? [String: Any])?["ip"] as? String, let event = alert["event"] as? [String: Any]
            else { return nil }
            return (
                source, (alert["flowhound"] as? [String: Any])?["phase"] as? String ?? "", event["id"] as? String ?? "",
                (alert["flowhound"] as? [String: Any])?["episode_id"] as? String ?? ""
            )
        }
    }

    /// The sources of the start alerts in `path`.
    static func started(_ path: String) -> Set<String> {
        Set(alerts(path).filter { $0.type == "start" }.map(\.source))
    }

    /// How long a start alert may take to be written once the line that decides it has been appended:
    /// a generous bound (detect looks every 50 ms and reads the capture in milliseconds), polled.
    static let promptly = 5.0

    /// How many of the capture's flows (its lines after the header) decide each scanner's start alert
    /// with the default detectors, where threshold and trw decide at the flow that crosses their bound:
    /// found by running detect --follow once on each prefix around these (89 flows give no alert, 90
    /// give 127.0.0.20's; 127.0.0.25's UDP probes fail with the ICMP error that follows them). When
    /// detection changes where it decides, find them again the same way.
    static let decidingFlows = [
        "127.0.0.20": 90, "127.0.0.21": 240, "127.0.0.22": 318, "127.0.0.23": 349, "127.0.0.24": 381, "127.0.0.25": 430,
        "127.0.0.26": 453,
    ]
    /// The slow scanner (ten probes in 30 s) is found by the CNN alone, when its window closes: only
    /// once the log's time has moved past the window, which the far-future flow does.
    static let slowScanner = "127.0.0.27"

    /// The scanners whose start alert the capture's first `count` flows decide.
    static func decided(within count: Int) -> Set<String> {
        Set(decidingFlows.filter { $0.value <= count }.keys)
    }

    /// A benign flow two hours after the capture's last: it moves the log's time past every window and
    /// every episode's end, so that each scanner's alerts are written while detect keeps following.
    static func farFutureFlow(after lines: [String]) -> String {
        let start = Double(lines.last!.split(separator: ",")[0])! + 7200
        return "\(start),\(start + 0.01),tcp,127.0.0.10,40000,   ->,127.0.0.1,80,FSPA_FSPA,6,5,500,600\n"
    }

    /// Waits (`promptly`) for the start alerts of exactly the scanners the first `count` flows decide,
    /// and no end alert yet.
    static func expectStartAlerts(_ out: String, decidedWithin count: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        let want = decided(within: count)
        #expect(
            eventually(promptly) { started(out).isSuperset(of: want) },
            "after \(count) flows: start alerts of \(want.sorted()) expected within \(promptly) s; alerts so far: \(alerts(out))",
            sourceLocation: sourceLocation)
        #expect(started(out) == want, "after \(count) flows: \(alerts(out))", sourceLocation: sourceLocation)
        #expect(!alerts(out).contains { $0.type == "end" }, "after \(count) flows: \(alerts(out))", sourceLocation: sourceLocation)
    }

    /// Every scanner's episode started and ended once, and no other source alerted; event.ids unique.
    static func expectWholeEpisodes(_ out: String, of scanners: Set<String>, sourceLocation: SourceLocation = #_sourceLocation) {
        let all = alerts(out)
        #expect(Set(all.map(\.source)) == scanners, "\(all)", sourceLocation: sourceLocation)
        for scanner in scanners {
            let types = all.filter { $0.source == scanner }.map(\.type)
            #expect(types.first == "start" && types.last == "end" && types.count == 2, "\(scanner): \(types)", sourceLocation: sourceLocation)
            #expect(Set(all.filter { $0.source == scanner }.map(\.episode)).count == 1, "\(scanner): \(all)", sourceLocation: sourceLocation)
        }
        #expect(Set(all.map(\.id)).count == all.count, "event.ids repeat: \(all.map(\.id))", sourceLocation: sourceLocation)
    }

    /// Each scanner's start alert is written within `promptly` of the line that decides it being
    /// appended, before the log ends; the end alerts once the log's time has moved past the episodes.
    @Test func followsAGrowingRotatedLogAndStopsOnSIGTERM() throws {
        let dir = try temporaryDirectory("follow")
        let log = dir + "/flows.csv", out = dir + "/alerts.jsonl", stderr = URL(fileURLWithPath: dir + "/stderr")
        let lines = try String(contentsOfFile: Self.capture, encoding: .utf8).split(separator: "\n").map { String($0) + "\n" }
        let header = lines[0], body = Array(lines.dropFirst())
        let scanners = Set(try GroundTruth.load(path: Self.truth).entries.filter { $0.value.label == "scan" }.map { "\($0.key)" })
        try #require(scanners.count == 8 && body.count == 513)
        try #require(scanners == Set(Self.decidingFlows.keys).union([Self.slowScanner]))

        try (header + body[0..<128].joined()).write(toFile: log, atomically: false, encoding: .utf8)
        let detect = try FlowhoundCLI.start(["detect", "--follow", log, "-o", out], log: stderr)
        defer { if detect.isRunning { kill(detect.processIdentifier, SIGKILL) } }
        // The output file is made once the signal handlers are in place.
        try #require(Self.eventually { FileManager.default.fileExists(atPath: out) })
        Self.expectStartAlerts(out, decidedWithin: 128)

        // Appended in pieces, one of them ending inside a line.
        let second = body[128..<256].joined()
        let cut = second.index(second.startIndex, offsetBy: second.count / 2 + 7)
        try Self.append(log, String(second[..<cut]))
        usleep(100_000)
        try Self.append(log, String(second[cut...]))
        Self.expectStartAlerts(out, decidedWithin: 256)
        // Rotated halfway: moved away, a line still written to the old file, then a new file.
        try FileManager.default.moveItem(atPath: log, toPath: log + ".1")
        try Self.append(log + ".1", body[256])
        usleep(100_000)
        try (header + body[257..<384].joined()).write(toFile: log, atomically: false, encoding: .utf8)
        Self.expectStartAlerts(out, decidedWithin: 384)
        try Self.append(log, body[384...].joined())
        // The whole capture is in: every scanner but the slow one has started, none has ended.
        Self.expectStartAlerts(out, decidedWithin: 513)
        #expect(!Self.started(out).contains(Self.slowScanner))

        // A benign flow two hours later moves the log's time past every episode's end: each scanner's
        // alerts are written now, while detect keeps following.
        try Self.append(log, Self.farFutureFlow(after: body))
        Self.expectEndAndStop(detect, out: out, stderr: stderr, scanners: scanners)
    }

    /// A directory of rotated files: each file is read in name order as it appears, the newest one
    /// followed while it grows, one renamed in from a name detect skips; start alerts come file by
    /// file, before the last one.
    @Test func followsADirectoryFileByFileAndStopsOnSIGTERM() throws {
        let dir = try temporaryDirectory("follow-dir")
        let spool = dir + "/spool", out = dir + "/alerts.jsonl", stderr = URL(fileURLWithPath: dir + "/stderr")
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: false)
        let lines = try String(contentsOfFile: Self.capture, encoding: .utf8).split(separator: "\n").map { String($0) + "\n" }
        let header = lines[0], body = Array(lines.dropFirst())
        let scanners = Set(try GroundTruth.load(path: Self.truth).entries.filter { $0.value.label == "scan" }.map { "\($0.key)" })
        try #require(scanners == Set(Self.decidingFlows.keys).union([Self.slowScanner]) && body.count == 513)
        func file(_ number: Int) -> String { spool + "/flows.\(String(format: "%04d", number)).csv" }

        try (header + body[0..<100].joined()).write(toFile: file(0), atomically: false, encoding: .utf8)
        let detect = try FlowhoundCLI.start(["detect", "--follow", spool, "-o", out], log: stderr)
        defer { if detect.isRunning { kill(detect.processIdentifier, SIGKILL) } }
        try #require(Self.eventually { FileManager.default.fileExists(atPath: out) })
        Self.expectStartAlerts(out, decidedWithin: 100)

        // A second file: the first is left for it. It is the newest, so it is followed as it grows.
        try (header + body[100..<250].joined()).write(toFile: file(1), atomically: false, encoding: .utf8)
        Self.expectStartAlerts(out, decidedWithin: 250)
        try Self.append(file(1), body[250..<330].joined())
        Self.expectStartAlerts(out, decidedWithin: 330)
        // Written under a name detect skips, then renamed in, as rotation tools do.
        try (header + body[330..<400].joined()).write(toFile: file(2) + ".tmp", atomically: false, encoding: .utf8)
        usleep(200_000)
        #expect(Self.started(out) == Self.decided(within: 330), "a .tmp file was read: \(Self.alerts(out))")
        try FileManager.default.moveItem(atPath: file(2) + ".tmp", toPath: file(2))
        Self.expectStartAlerts(out, decidedWithin: 400)
        try (header + body[400...].joined()).write(toFile: file(3), atomically: false, encoding: .utf8)
        Self.expectStartAlerts(out, decidedWithin: 513)
        #expect(!Self.started(out).contains(Self.slowScanner))

        // The last file: the far-future flow ends every episode and closes the slow scanner's window.
        try (header + Self.farFutureFlow(after: body)).write(toFile: file(4), atomically: false, encoding: .utf8)
        Self.expectEndAndStop(detect, out: out, stderr: stderr, scanners: scanners)
    }

    /// After the far-future flow: every scanner's end alert comes while detect goes on following;
    /// SIGTERM ends it with status 0, every episode whole and every line read once (the 513 flows of
    /// the capture and the late one), none malformed.
    static func expectEndAndStop(
        _ detect: Process, out: String, stderr: URL, scanners: Set<String>, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(
            eventually { alerts(out).filter { $0.type == "end" }.count == scanners.count }, "alerts so far: \(alerts(out))",
            sourceLocation: sourceLocation)
        #expect(detect.isRunning, sourceLocation: sourceLocation)
        kill(detect.processIdentifier, SIGTERM)
        #expect(eventually { !detect.isRunning }, sourceLocation: sourceLocation)
        detect.waitUntilExit()
        let messages = (try? String(contentsOf: stderr, encoding: .utf8)) ?? ""
        #expect(detect.terminationStatus == 0, "\(messages)", sourceLocation: sourceLocation)
        expectWholeEpisodes(out, of: scanners, sourceLocation: sourceLocation)
        #expect(messages.contains("514 flows in"), "\(messages)", sourceLocation: sourceLocation)
        #expect(!messages.contains("malformed"), "\(messages)", sourceLocation: sourceLocation)
    }

    @Test func alertsAreAppendedToTheOutputFile() throws {
        let dir = try temporaryDirectory("output")
        let out = dir + "/alerts.jsonl"
        try "earlier line\n".write(toFile: out, atomically: false, encoding: .utf8)
        let r = try FlowhoundCLI.run(["detect", Self.capture, "-o", out])
        #expect(r.status == 0 && r.stdout.isEmpty, "\(r.stderr)")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(text.hasPrefix("earlier line\n") && Self.alertSources(out).count >= 8)

        let bad = try FlowhoundCLI.run(["detect", Self.capture, "-o", dir + "/missing/alerts.jsonl"])
        #expect(bad.status == 1 && bad.stderr.hasPrefix("flowhound: error: \(dir)/missing/alerts.jsonl: "), "\(bad.stderr)")
    }
}
