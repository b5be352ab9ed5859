import Foundation
import Testing
@testable import FlowRecords

/// Paths to the committed fixtures and scratch files for tests.
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func path(_ relative: String) -> String {
        directory.appendingPathComponent(relative).path
    }

    /// Writes `content` to a fresh temporary file and returns its path.
    static func temporary(_ content: String, name: String = "log") throws -> String {
        try temporary(Data(content.utf8), name: name)
    }

    static func temporary(_ data: Data, name: String = "log") throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flowhound-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try data.write(to: url)
        return url.path
    }
}

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

func ip(_ text: String) -> IPAddress {
    guard let a = IPAddress(text) else { fatalError("bad test address \(text)") }
    return a
}

/// gzip-compresses data with the system's gzip (present on every Debian/Ubuntu machine).
func gzip(_ data: Data) throws -> Data {
    let input = try Fixture.temporary(data, name: "plain")
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
