import Foundation
import TestSupport
import Testing

/// `--config FILE`: settings for detect, serve, worker and publish from YAML, flags overriding them,
/// every mistake named with its line, and `config show` saying where each setting comes from.
@Suite(.tags(.integration)) struct ConfigFileTests {
    static let sample = Repository.path("Samples/stratosphere-008-mixed.head300.conn.log.gz")

    static func config(_ text: String) throws -> String { try temporaryFile(text, name: "flowhound.yaml") }

    @Test func settingsApplyAndFlagsOverrideThem() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let config = try Self.config(
            """
            # For every command that takes them.
            detectors: threshold,trw
            detect:
              updates: 5m
              output: \(base)/alerts.jsonl
              no-progress: true
              follow: false
            serve:
              port: 18099
            worker:
            """)
        let r = try FlowhoundCLI.run(["detect", Self.sample, "--config", config])
        #expect(r.status == 0 && r.stdout.isEmpty, "\(r.stderr)")
        #expect(r.stderr.contains("(1 start, 2 update and 1 end alert)"), "\(r.stderr)")
        let lines = try String(contentsOfFile: base + "/alerts.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4 && lines.allSatisfy { !$0.contains("\"cnn\"") })
        // Flags win: another output, the CNN alone.
        let flags = try FlowhoundCLI.run(["detect", Self.sample, "--config", config, "-o", base + "/cnn.jsonl", "--detectors", "cnn"])
        #expect(flags.status == 0, "\(flags.stderr)")
        let cnn = try String(contentsOfFile: base + "/cnn.jsonl", encoding: .utf8)
        #expect(cnn.contains("\"detectors\":[\"cnn\"]") && !cnn.contains("\"trw\""))
        #expect(try String(contentsOfFile: base + "/alerts.jsonl", encoding: .utf8).split(separator: "\n").count == 4)
    }

    @Test func mistakesAreNamedWithTheirLine() throws {
        for (text, error) in [
            ("detect:\n  windw: 1h\n", ":2: 'windw' is not an option of detect (flowhound help detect)"),
            ("frobnicate: 3\n", ":1: 'frobnicate' is not an option of detect, serve, worker, publish"),
            ("detect:\n  window: soon\n", ":2: The value 'soon' is invalid for '--window <window>'"),
            ("detect:\n  window: [1h\n", ": not valid YAML: "),
            ("detect: 3\n", ":1: 'detect' is a section: option names and values under it"),
            ("detect:\n  serve:\n    port: 1\n", ":2: section 'serve' inside section 'detect'"),
            ("- window\n", ":1: the config file must be a mapping of option names to values"),
            ("detect:\n  --window: 1h\n", ":2: '--window' is not an option name"),
            ("detect:\n  window: {a: 1}\n", ":2: 'window' takes a value or a list of values, not a mapping"),
        ] {
            let path = try Self.config(text)
            let r = try FlowhoundCLI.run(["detect", Self.sample, "--config", path])
            #expect(r.status == 1 && r.stderr.hasPrefix("flowhound: error: \(path)") && r.stderr.contains(error), "\(text): \(r.stderr)")
            #expect(r.stdout.isEmpty)
        }
        let missing = try FlowhoundCLI.run(["serve", "--config", "/nonexistent/flowhound.yaml"])
        #expect(missing.status == 1 && missing.stderr.contains("/nonexistent/flowhound.yaml"), "\(missing.stderr)")
        // A file too large to be a config file is refused before it is parsed.
        let huge = try Self.config(String(repeating: "# padding\n", count: 120_000))
        let big = try FlowhoundCLI.run(["detect", Self.sample, "--config", huge])
        #expect(big.status == 1 && big.stderr.contains("\(huge): cannot read the config file"), "\(big.stderr)")
    }

    @Test func showSaysWhereEachSettingComesFrom() throws {
        let config = try Self.config("detectors: threshold,trw\nquiet-period: 10m\ndetect:\n  updates: 5m\nserve:\n  port: 18099\n")
        let r = try FlowhoundCLI.run(["config", "show", "--config", config, "detect", "--detectors", "cnn"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = Dictionary(
            r.stdout.split(separator: "\n").filter { $0.hasPrefix("  ") }.map { line -> (String, [String]) in
                let parts = line.split(separator: " ").map(String.init)
                return (parts[0], Array(parts.dropFirst()))
            }, uniquingKeysWith: { a, _ in a })
        #expect(rows["detectors"] == ["cnn", "command", "line"])
        #expect(rows["quiet-period"] == ["10m", "\(config):2"])
        #expect(rows["updates"] == ["5m", "\(config):4"])
        #expect(rows["policy"] == ["any", "default"])
        #expect(rows["port"] == nil)  // serve's
        let all = try FlowhoundCLI.run(["config", "show", "--config", config])
        #expect(all.stdout.contains("\nserve:\n") && all.stdout.contains("port                       18099"), "\(all.stdout)")
        let other = try FlowhoundCLI.run(["config", "show", "synth"])
        #expect(other.status == 64 && other.stderr.contains("'synth' reads no config file"))
    }
}
