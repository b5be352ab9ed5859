import Foundation

/// The `flowhound` executable as users run it. `swift build --build-tests` and `swift test` build it
/// beside the test bundle; a test that needs it and does not find it fails (it is never skipped).
public enum FlowhoundCLI {
    /// What a finished run left: exit status, standard output and error, process id.
    public struct Run: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var pid: Int32

        /// Standard output as a JSON object, or nil.
        public var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any] }

        /// Standard output decoded as flowhound writes JSON (snake case; non-finite numbers as strings).
        public func decoded<T: Decodable>(_ type: T.Type) throws -> T {
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            return try decoder.decode(T.self, from: Data(stdout.utf8))
        }
    }

    /// The executable was not built: the error a test fails with.
    public struct NotBuilt: Error, CustomStringConvertible {
        public let searched: [String]
        public var description: String {
            "no flowhound executable at \(searched.joined(separator: " or ")): build it with 'swift build --build-tests' (or run 'swift test', which builds it)"
        }
    }

    /// Where the executable is looked for: beside the test bundle (any build directory or
    /// configuration), then in the package's debug build directory.
    public static var candidates: [URL] {
        [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("flowhound"),
            Repository.url(".build/debug/flowhound"),
        ]
    }

    /// The built executable; throws `NotBuilt` if there is none.
    public static func executable() throws -> URL {
        let candidates = self.candidates
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw NotBuilt(searched: candidates.map(\.path))
        }
        return found
    }

    /// Runs `flowhound arguments…` to the end. Output goes to files, so that a large output cannot
    /// fill a pipe and block the process.
    /// - Parameters:
    ///   - stdin: a file to read standard input from (else none).
    ///   - environment: variables set on top of the test process's own.
    public static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> Run {
        let executable = try executable()
        let scratch = try temporaryDirectory("run")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let outPath = scratch + "/stdout", errPath = scratch + "/stderr"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        process.standardInput = stdin.flatMap { FileHandle(forReadingAtPath: $0) } ?? FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus,
            stdout: String(decoding: try Data(contentsOf: URL(fileURLWithPath: outPath)), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: URL(fileURLWithPath: errPath)), as: UTF8.self),
            pid: process.processIdentifier)
    }

    /// Starts `flowhound arguments…` in the background (a server, a worker): standard output and
    /// error go to `log` (appended to; nothing if nil). The caller waits for or stops the process.
    public static func start(_ arguments: [String], log: URL?) throws -> Process {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        if let log {
            if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
            let handle = try FileHandle(forWritingTo: log)
            handle.seekToEndOfFile()
            process.standardError = handle
        }
        try process.run()
        return process
    }
}
