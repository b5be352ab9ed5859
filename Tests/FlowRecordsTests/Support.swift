import Foundation
import TestSupport
import Testing

@testable import FlowRecords

/// Tests/FlowRecordsTests/Fixtures: logs only these tests read (see SOURCES.md there).
let targetFixtures = FixtureDirectory.of(target: "FlowRecordsTests")

/// Reads a whole file into memory (tests only: real callers stream).
func readRecords(_ path: String, format: FlowFormat? = nil, strict: Bool = false) throws -> ([FlowRecord], ReadSummary) {
    var records: [FlowRecord] = []
    let summary = try FlowReader(options: ReadOptions(format: format, strict: strict)).read(path: path) { records.append($0) }
    return (records, summary)
}

/// The error a read throws, or nil.
func readError(_ path: String, format: FlowFormat? = nil, strict: Bool = false) -> FlowReadError? {
    do {
        _ = try readRecords(path, format: format, strict: strict)
        return nil
    } catch let error as FlowReadError {
        return error
    } catch {
        Issue.record("unexpected error type: \(error)")
        return nil
    }
}

/// gzip-compresses data with the system's gzip (present on every Debian/Ubuntu machine).
func gzip(_ data: Data) throws -> Data {
    let input = try temporaryFile(data, name: "plain")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/gzip")
    process.arguments = ["-c", "-n", input]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return out
}
