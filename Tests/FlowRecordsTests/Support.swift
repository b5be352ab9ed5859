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
    try runGzip(["-c", "-n", try temporaryFile(data, name: "plain")])
}

/// The decompressed contents of a gzip file, by the system's gzip.
func gunzip(path: String) throws -> Data {
    try runGzip(["-d", "-c", path])
}

/// What the system's gzip writes to standard output with `arguments`.
private func runGzip(_ arguments: [String]) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/gzip")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return out
}
