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
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let alert = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return (alert?["source"] as? [String: Any])?["ip"] as? String
        }
    }

    @Test func followsAGrowingRotatedLogAndStopsOnSIGTERM() throws {
        let dir = try temporaryDirectory("follow")
        let log = dir + "/flows.csv", out = dir + "/alerts.jsonl", stderr = URL(fileURLWithPath: dir + "/stderr")
        let lines = try String(contentsOfFile: Self.capture, encoding: .utf8).split(separator: "\n").map { String($0) + "\n" }
        let header = lines[0], body = Array(lines.dropFirst())
        let scanners = Set(try GroundTruth.load(path: Self.truth).entries.filter { $0.value.label == "scan" }.map { "\($0.key)" })
        try #require(scanners.count == 8 && body.count == 513)

        try (header + body[0..<128].joined()).write(toFile: log, atomically: false, encoding: .utf8)
        let detect = try FlowhoundCLI.start(["detect", "--follow", log, "-o", out], log: stderr)
        defer { if detect.isRunning { kill(detect.processIdentifier, SIGKILL) } }
        // The output file is made once the signal handlers are in place.
        try #require(Self.eventually { FileManager.default.fileExists(atPath: out) })

        // Appended in pieces, one of them ending inside a line.
        let second = body[128..<256].joined()
        let cut = second.index(second.startIndex, offsetBy: second.count / 2 + 7)
        try Self.append(log, String(second[..<cut]))
        usleep(100_000)
        try Self.append(log, String(second[cut...]))
        // Rotated halfway: moved away, a line still written to the old file, then a new file.
        try FileManager.default.moveItem(atPath: log, toPath: log + ".1")
        try Self.append(log + ".1", body[256])
        usleep(100_000)
        try (header + body[257..<384].joined()).write(toFile: log, atomically: false, encoding: .utf8)
        try Self.append(log, body[384...].joined())

        // A benign flow two hours later moves the log's time past every episode's end: each scanner's
        // alert is written now, while detect keeps following.
        let start = Double(body.last!.split(separator: ",")[0])! + 7200
        try Self.append(log, "\(start),\(start + 0.01),tcp,127.0.0.10,40000,   ->,127.0.0.1,80,FSPA_FSPA,6,5,500,600\n")
        #expect(Self.eventually { Set(Self.alertSources(out)).isSuperset(of: scanners) }, "alerts so far: \(Self.alertSources(out))")
        #expect(detect.isRunning)

        kill(detect.processIdentifier, SIGTERM)
        #expect(Self.eventually { !detect.isRunning })
        detect.waitUntilExit()
        let messages = (try? String(contentsOf: stderr, encoding: .utf8)) ?? ""
        #expect(detect.terminationStatus == 0, "\(messages)")
        #expect(Set(Self.alertSources(out)) == scanners, "\(Self.alertSources(out))")
        // Every line read once: the 513 flows of the capture and the late one.
        #expect(messages.contains("514 flows in"), "\(messages)")
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
