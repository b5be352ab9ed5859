import FlowRecords
import Foundation
import TestSupport
import Testing

@testable import FlowRecords

/// The `flowhound` executable as users run it: output, messages on stderr, exit status.
@Suite(.tags(.integration)) struct CommandLineTests {
    static var snakeCase: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    @Test func statsAsJSON() throws {
        let r = try FlowhoundCLI.run(["flows", "stats", targetFixtures.path("zeek/stratosphere-008-mixed.head300.conn.log.labeled"), "--json", "--top", "2"])
        #expect(r.status == 0)
        // snake_case keys, as the alerts and the HTTP API have.
        #expect(r.stdout.contains(#""top_sources":"#) && r.stdout.contains(#""first_seen":"#) && !r.stdout.contains("topSources"))
        let report = try Self.snakeCase.decode(StatsReport.self, from: Data(r.stdout.utf8))
        #expect(report.records == 300)
        #expect(report.inputs.first?.format == "zeek")
        #expect(report.topSources.count == 2)
        #expect(report.topSources.map(\.key) == ["104.156.155.13", "147.32.81.167"])
        #expect(report.topSources.map(\.flows) == [99, 58])
        #expect(report.outcomes["unanswered"] ?? 0 > 150)
        #expect(report.firstSeen == 1655070878.715924)  // records are not in time order
    }

    @Test func statsAsTextFromGzipOnStandardInput() throws {
        let sample = Repository.path("Samples/stratosphere-008-mixed.head300.conn.log.gz")
        let r = try FlowhoundCLI.run(["flows", "stats", "-", "--top", "3", "--no-progress"], stdin: sample)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("<stdin>: zeek, 300 records"))
        #expect(r.stdout.contains("top sources:"))
        #expect(r.stderr.isEmpty)
    }

    @Test func headerlessNfdumpPipedOnStandardInput() throws {
        // `nfdump -q -o csv | flowhound flows stats -`: no header, no Summary, detected all the same.
        let quiet = try temporaryFile(try HeaderlessNfdumpTests.quietText(), name: "quiet.csv")
        let r = try FlowhoundCLI.run(["flows", "stats", "-", "--no-progress"], stdin: quiet)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("<stdin>: nfdump, 983 records"), "\(r.stdout)")
        #expect(r.stderr.isEmpty)
        let headed = try FlowhoundCLI.run(["flows", "stats", HeaderlessNfdumpTests.headedExport, "--json"])
        let piped = try FlowhoundCLI.run(["flows", "stats", "-", "--json"], stdin: quiet)
        #expect(headed.status == 0 && piped.status == 0)
        let a = try Self.snakeCase.decode(StatsReport.self, from: Data(headed.stdout.utf8))
        let b = try Self.snakeCase.decode(StatsReport.self, from: Data(piped.stdout.utf8))
        #expect(a.records == b.records && a.outcomes == b.outcomes && a.topSources.map(\.key) == b.topSources.map(\.key))
    }

    @Test func detectOnHeaderlessNfdumpAlertsAsOnTheHeadedExport() throws {
        let quiet = try temporaryFile(try HeaderlessNfdumpTests.quietText(), name: "quiet.csv")
        let headed = try FlowhoundCLI.run(["detect", HeaderlessNfdumpTests.headedExport])
        #expect(headed.status == 0, "\(headed.stderr)")
        #expect(!headed.stdout.isEmpty)
        for run in [
            try FlowhoundCLI.run(["detect", quiet]),
            try FlowhoundCLI.run(["detect", "-"], stdin: quiet),
            try FlowhoundCLI.run(["detect", HeaderlessNfdumpTests.quietExport, "--format", "nfdump"]),
        ] {
            #expect(run.status == 0, "\(run.stderr)")
            #expect(withoutCreated(run.stdout) == withoutCreated(headed.stdout))
        }
    }

    @Test func malformedRecordsAreCountedAndNamed() throws {
        let log = try temporaryFile(MalformedInputTests.vpcGood + "2 broken\n" + MalformedInputTests.vpcGood)
        let r = try FlowhoundCLI.run(["flows", "stats", log])
        #expect(r.status == 0)
        #expect(r.stderr.contains("\(log): skipped 1 malformed record"))
        #expect(r.stderr.contains("\(log):2: expected 14 space-separated fields, found 2"))
        #expect(r.stdout.contains("malformed    1 records skipped"))

        let strict = try FlowhoundCLI.run(["flows", "stats", log, "--strict"])
        #expect(strict.status == 1)
        #expect(strict.stdout.isEmpty)
        #expect(strict.stderr == "flowhound: error: \(log):2: expected 14 space-separated fields, found 2\n")
    }

    @Test func unreadableInputIsOneLineAndStatusOne() throws {
        let empty = try temporaryFile("")
        let r = try FlowhoundCLI.run(["flows", "convert", empty, "--to", "jsonl"])
        #expect(r.status == 1)
        #expect(r.stderr == "flowhound: error: \(empty): empty input: no bytes to read\n")
    }

    @Test("A library error naming a setting is printed with the flag that gives it")
    func settingsAreNamedByTheirFlags() throws {
        let unknown = try temporaryFile("hello,world\n1,2\n")
        let r = try FlowhoundCLI.run(["flows", "stats", unknown])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("flowhound: error: \(unknown):1: unrecognised flow-log format"), "\(r.stderr)")
        #expect(r.stderr.hasSuffix("; give the input format: \(FlowFormat.allCases.map(\.rawValue).joined(separator: "|")) (--format)\n"), "\(r.stderr)")
    }

    @Test func badOptionIsAUsageError() throws {
        let r = try FlowhoundCLI.run(["flows", "stats", "x.log", "--format", "netflow9"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("netflow9"))
        let twice = try FlowhoundCLI.run(["flows", "stats", "-", "-"])
        #expect(twice.status == 64)
        #expect(twice.stderr.contains("standard input ('-') can be read only once"))
    }

    @Test func convertWritesOneRecordPerLine() throws {
        let r = try FlowhoundCLI.run([
            "flows", "convert", targetFixtures.path("argus/slips-test5-mixed.binetflow"), targetFixtures.path("vpc/default-v2.log"), "--to", "jsonl",
        ])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 296 + 9)
        #expect(r.stderr.contains("converted 305 records from 2 inputs, 6 non-flow lines skipped"))
        #expect(r.stderr.contains("1 VPC SKIPDATA record: the exporter dropped flows"))
        let out = try temporaryFile("", name: "flows.csv")
        let toFile = try FlowhoundCLI.run(["flows", "convert", targetFixtures.path("vpc/default-v2.log"), "--to", "csv", "-o", out])
        #expect(toFile.status == 0 && toFile.stdout.isEmpty)
        let (records, summary) = try readRecords(out)
        #expect(summary.format == .csv && records.count == 9)
    }

    @Test func helpExplainsTheCommands() throws {
        let r = try FlowhoundCLI.run(["flows", "stats", "--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("--strict"))
        #expect(r.stdout.contains("zeek, zeek-json, nfdump, argus, vpc, cicflowmeter, jsonl, csv"))
    }

    @Test func synthRenderAndDatasetEndToEnd() throws {
        let dir = try temporaryFile("", name: "placeholder")
        let base = URL(fileURLWithPath: dir).deletingLastPathComponent().path
        let log = base + "/synth.nfdump.csv", truth = base + "/truth.csv"
        let synth = try FlowhoundCLI.run(["synth", "--seed", "5", "--duration", "20m", "--benign", "8", "--format", "nfdump", "-o", log, "--truth", truth])
        #expect(synth.status == 0, "\(synth.stderr)")
        #expect(synth.stderr.contains("flows from"))
        // The same seed writes the same bytes.
        let again = try FlowhoundCLI.run([
            "synth", "--seed", "5", "--duration", "20m", "--benign", "8", "--format", "nfdump", "-o", log + "2", "--truth", truth + "2",
        ])
        #expect(again.status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: log)) == Data(contentsOf: URL(fileURLWithPath: log + "2")))
        #expect(try Data(contentsOf: URL(fileURLWithPath: truth)) == Data(contentsOf: URL(fileURLWithPath: truth + "2")))

        let png = base + "/kinds.png"
        let render = try FlowhoundCLI.run(["render", log, "--truth", truth, "--top", "30", "--one-per-kind", "-o", png])
        #expect(render.status == 0, "\(render.stderr)")
        let kinds = Set(try GroundTruth.load(path: truth).entries.values.map(\.kind)).count
        #expect(render.stderr.contains("(\(kinds) tiles,"), "\(render.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: png)).prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))

        let data = base + "/data"
        let dataset = try FlowhoundCLI.run(["dataset", log, "--truth", truth, "-o", data])
        #expect(dataset.status == 0, "\(dataset.stderr)")
        #expect(dataset.stderr.contains("train images"))
        for file in ["train/X.npy", "train/y.npy", "test/X.npy", "test/y.npy", "meta.json"] {
            #expect(FileManager.default.fileExists(atPath: data + "/" + file), "\(file)")
        }
        // Without --truth the flows' labels are the truth; synthetic logs carry none.
        let unlabelled = try FlowhoundCLI.run(["dataset", log, "-o", data])
        #expect(unlabelled.status == 1 && unlabelled.stderr.contains("carry no labels; give --truth CSV"), "\(unlabelled.stderr)")
    }
}
