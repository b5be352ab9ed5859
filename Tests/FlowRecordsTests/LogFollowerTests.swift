import Foundation
import TestSupport
import Testing

@testable import FlowRecords

/// A clock whose `sleep` runs the next step of a script (an append, a rotation) and moves time on at
/// once: the follower's waits become the moments the files change, with no real waiting. When the
/// script is done (or after `limit` sleeps) it asks the follower to stop.
private final class ScriptedClock: FollowClock {
    var time = 5000.0
    var steps: [() throws -> Void]
    let stop: StopRequest
    var sleeps = 0
    let limit: Int

    init(steps: [() throws -> Void], stop: StopRequest, limit: Int = 10_000) {
        self.steps = steps
        self.stop = stop
        self.limit = limit
    }

    func now() -> Double { time }

    func sleep(_ seconds: Double) {
        time += seconds
        sleeps += 1
        if steps.isEmpty || sleeps >= limit {
            stop.request()
        } else {
            do { try steps.removeFirst()() } catch { Issue.record("script step failed: \(error)") }
        }
    }
}

private let header = FlowhoundColumns.header + "\n"

/// A Flowhound CSV record whose destination port is `port` (how the tests tell records apart), starting at `start`.
private func line(_ port: Int, start: Double = 1_700_000_000) -> String {
    "\(start),\(start + 1),10.0.0.1,40000,10.0.0.2,\(port),tcp,1,60,0,0,S,unanswered,S0,,,\n"
}

private func append(_ path: String, _ text: String) throws {
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    handle.seekToEndOfFile()
    handle.write(Data(text.utf8))
    try handle.close()
}

private func write(_ path: String, _ text: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

/// What a follower read: records' destination ports in order, each log's summary, the times it
/// advanced to, and how many records it had read each time it said it had caught up.
private final class Followed {
    var ports: [Int] = []
    var logs: [ReadSummary] = []
    var advances: [Double] = []
    var caughtUp: [Int] = []
}

/// Follows `path` while `steps` run at its waits (each given what has been read so far).
private func follow(
    _ path: String, idleAfter: Double? = nil, pollInterval: Double = 0.05, limit: Int = 10_000,
    _ steps: [(Followed) throws -> Void]
) throws -> Followed {
    let seen = Followed()
    let stop = StopRequest()
    let script: [() throws -> Void] = steps.map { step in { try step(seen) } }
    let clock = ScriptedClock(steps: script, stop: stop, limit: limit)
    let follower = try LogFollower(path: path, pollInterval: pollInterval, idleAfter: idleAfter, stop: stop, clock: clock)
    try follower.run(
        afterEach: { seen.logs.append($0) }, advance: { seen.advances.append($0) }, caughtUp: { seen.caughtUp.append(seen.ports.count) },
        { seen.ports.append(Int($0.destinationPort)) })
    return seen
}

@Suite("Following a growing log")
struct LogFollowerTests {
    /// Before each wait the follower says it has read everything written so far: detection that
    /// holds alerts in batches (`detect --jobs`) delivers them then.
    @Test func saysItHasCaughtUpBeforeEachWait() throws {
        let path = try temporaryFile(header + line(1), name: "caught-up.csv")
        let seen = try follow(
            path,
            [
                { seen in
                    #expect(seen.caughtUp.last == 1, "caught up with the first line before the first wait")
                    try append(path, line(2) + line(3))
                },
                { seen in #expect(seen.caughtUp.last == 3) },
            ])
        #expect(seen.ports == [1, 2, 3])
        #expect(seen.caughtUp.count >= 2)
    }

    @Test func readsAppendedLinesAndWaitsForAPartialLine() throws {
        let path = try temporaryFile(header + line(1), name: "grow.csv")
        var partial = ""
        let seen = try follow(
            path,
            [
                { _ in try append(path, line(2)) },
                { seen in
                    #expect(seen.ports == [1, 2])
                    partial = line(3)
                    try append(path, String(partial.prefix(20)))
                },
                { seen in
                    #expect(seen.ports == [1, 2], "a line without its newline is not read yet")
                    try append(path, String(partial.dropFirst(20)))
                },
                { seen in
                    #expect(seen.ports == [1, 2, 3])
                    // Stopping before this line's newline leaves it unread.
                    try append(path, String(line(4).dropLast()))
                },
            ])
        #expect(seen.ports == [1, 2, 3])
        #expect(seen.logs.count == 1)
        #expect(seen.logs.first?.records == 3)
    }

    @Test func followsARenameRotationReadingTheOldFileToItsEnd() throws {
        let dir = try temporaryDirectory("rotate")
        let path = dir + "/conn.csv"
        try write(path, header + line(1))
        let seen = try follow(
            path,
            [
                { _ in try append(path, line(2)) },
                { _ in
                    // logrotate's move: lines still reach the old file after the rename (the writer's
                    // descriptor), then the writer opens a new file at the path.
                    try append(path, line(3))
                    try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
                },
                { _ in try append(path + ".1", line(4)) },
                { _ in try write(path, header + line(5)) },
                { _ in try append(path, line(6)) },
                { _ in try append(path + ".1", line(99)) },  // after the switch: the old file is no longer read
            ])
        #expect(seen.ports == [1, 2, 3, 4, 5, 6])
        #expect(seen.logs.map(\.records) == [4, 2])
    }

    @Test func readsATruncatedFileAgainFromItsStart() throws {
        let path = try temporaryFile(header + line(1) + line(2), name: "copytruncate.csv")
        let seen = try follow(
            path,
            [
                { _ in try append(path, line(3)) },
                { _ in
                    // copytruncate: the file is copied, then cut to nothing; the writer goes on appending.
                    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                    try handle.truncate(atOffset: 0)
                    try handle.close()
                },
                { _ in try append(path, header + line(4)) },
                { _ in try append(path, line(5)) },
            ])
        #expect(seen.ports == [1, 2, 3, 4, 5])
        #expect(seen.logs.map(\.records) == [3, 2])
    }

    @Test func waitsForTheFirstLineOfAnEmptyFile() throws {
        let path = try temporaryFile("", name: "empty.csv")
        let seen = try follow(
            path,
            [
                { _ in try append(path, String(header.prefix(10))) },
                { seen in
                    #expect(seen.logs.isEmpty)
                    try append(path, String(header.dropFirst(10)) + line(1))
                },
            ])
        #expect(seen.ports == [1])
    }

    @Test func detectsHeaderlessNfdumpFromItsFirstLine() throws {
        // `nfdump -q -o csv` appended to a file: no header, the format is known once the first record's line is whole.
        func record(_ port: Int) -> String { HeaderlessNfdumpTests.line48(replacing: 6, with: "\(port)") + "\n" }
        let path = try temporaryFile(String(record(1).prefix(30)), name: "quiet.csv")
        let seen = try follow(
            path,
            [
                { seen in
                    #expect(seen.logs.isEmpty && seen.ports.isEmpty)
                    try append(path, String(record(1).dropFirst(30)))
                },
                { _ in try append(path, record(2) + record(3)) },
            ])
        #expect(seen.ports == [1, 2, 3])
        #expect(seen.logs.map(\.format) == [.nfdump])
    }

    @Test func readsADirectoryInNameOrderAndNewFilesAsTheyAppear() throws {
        let dir = try temporaryDirectory("spool")
        try write(dir + "/nfcapd.202401010005.csv", header + line(2))
        try write(dir + "/nfcapd.202401010000.csv", header + line(1))
        try write(dir + "/.hidden.csv", header + line(90))
        try write(dir + "/nfcapd.202401010010.csv.tmp", header + line(91))
        try write(dir + "/nfcapd.current.4242", header + line(92))
        let seen = try follow(
            dir,
            [
                { _ in try append(dir + "/nfcapd.202401010005.csv", line(3)) },
                { _ in try write(dir + "/nfcapd.202401010015.csv", header + line(5)) },
                { _ in try append(dir + "/nfcapd.202401010015.csv", line(6)) },
                // A file that appears late, with a name before the current one's, is still read.
                { _ in try write(dir + "/nfcapd.202401010010.csv", header + line(4)) },
                { _ in try append(dir + "/nfcapd.202401010010.csv", line(7)) },
            ])
        #expect(seen.ports == [1, 2, 3, 5, 6, 4, 7])
        #expect(
            seen.logs.map { URL(fileURLWithPath: $0.file).lastPathComponent } == [
                "nfcapd.202401010000.csv", "nfcapd.202401010005.csv", "nfcapd.202401010015.csv", "nfcapd.202401010010.csv",
            ])
    }

    /// A spool whose oldest files are deleted (retention) while new ones come: a new file may be given
    /// a deleted one's inode (ext4 hands the freed one out next), and is still a file not yet read; a
    /// file renamed is still the one read.
    @Test func readsANewFileGivenTheInodeOfADeletedOne() throws {
        let dir = try temporaryDirectory("retention")
        let file = { (n: Int) in dir + "/flows.000\(n).csv" }
        try write(file(0), header + line(1))
        try write(file(1), header + line(2))
        func inode(_ path: String) throws -> Int { try (FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int) ?? -1 }
        var inodes: [Int] = []
        let seen = try follow(
            dir,
            [
                { seen in
                    #expect(seen.ports == [1, 2])
                    inodes.append(try inode(file(0)))
                    try FileManager.default.removeItem(atPath: file(0))
                },
                { _ in
                    try write(file(2), header + line(3))
                    inodes.append(try inode(file(2)))
                },
                { _ in try append(file(2), line(4)) },
                // A file read and renamed is the same file: not read again.
                { _ in try FileManager.default.moveItem(atPath: file(1), toPath: file(9)) },
                { _ in try write(file(3), header + line(5)) },
            ])
        #expect(seen.ports == [1, 2, 3, 4, 5], "inodes of the deleted file and the new one: \(inodes)")
        #expect(seen.logs.map { URL(fileURLWithPath: $0.file).lastPathComponent } == ["flows.0000.csv", "flows.0001.csv", "flows.0002.csv", "flows.0003.csv"])
    }

    @Test func takesOrdinaryNamesOnly() {
        for name in ["conn.2024-01-01-00-00-00.log", "nfcapd.202401010000", "flows.csv.gz"] { #expect(LogFollower.takes(name: name)) }
        for name in [".conn.log", "conn.log~", "x.tmp", "x.part", "x.swp", "nfcapd.current.1234"] { #expect(!LogFollower.takes(name: name)) }
    }

    @Test func movesTimeWithTheWallClockOnlyWhenIdleForTheLateness() throws {
        let path = try temporaryFile(header + line(1, start: 1000) + line(2, start: 990), name: "quiet.csv")
        // Polls a second apart: 70 quiet seconds, then a record, then 5 quiet seconds.
        var steps: [(Followed) throws -> Void] = Array(repeating: { _ in }, count: 70)
        steps.append { seen in
            #expect(seen.advances.first == 1060, "first advance after 60 idle seconds: latest start + 60")
            #expect(seen.advances.last == 1070)
            try append(path, line(3, start: 1100))
        }
        steps.append { seen in
            #expect(seen.ports == [1, 2, 3])
            seen.advances = []
        }
        steps += Array(repeating: { _ in }, count: 5)
        let seen = try follow(path, idleAfter: 60, pollInterval: 1, steps)
        #expect(seen.advances.isEmpty, "not idle for 60 s after the last record")
        #expect(seen.ports == [1, 2, 3])
    }

    @Test func quietClockRule() {
        var clock = QuietClock(idleAfter: 30)
        #expect(clock.logTime(atWall: 100) == nil, "nothing read yet")
        clock.noteArrival(wall: 100)
        clock.noteRecord(start: 5000)
        clock.noteRecord(start: 4000)
        #expect(clock.logTime(atWall: 129) == nil)
        #expect(clock.logTime(atWall: 130) == 5030)
        #expect(clock.logTime(atWall: 200) == 5100)
        clock.noteArrival(wall: 200)
        #expect(clock.logTime(atWall: 210) == nil)
    }

    @Test func stopsWhenAsked() throws {
        let path = try temporaryFile(header + line(1), name: "stop.csv")
        let seen = try follow(path, [])
        #expect(seen.ports == [1])
    }
}
