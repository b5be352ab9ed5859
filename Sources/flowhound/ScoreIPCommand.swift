import ActivityImage
import ArgumentParser
import Enrichment
import FlowRecords
import Forest
import Foundation
import Neural
import Reputation
import Support

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score remote addresses as suspicious or not.",
        subcommands: [ScoreIP.self])
}

struct ScoreIP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ip",
        abstract: "Score addresses with the IP model: probability, verdict at the model's threshold, and the features that drove it.",
        discussion: """
            Each address is ADDR, ADDR,HOUR (UTC, 0–23) or ADDR,HOUR,PORT/PROTO; with none on the command \
            line they are read from standard input, one a line. Allowlisted addresses are reported as \
            such and not scored; private and other non-public addresses are 'not-public'. A model that \
            uses the hour or port needs them: addresses on the command line without them are refused \
            before anything is printed; on standard input the model's needs are noted first.

            A line that cannot be scored (not an address, an hour out of range, a missing hour) is \
            reported on stderr with its line number and skipped; the run goes on, says at the end how \
            many were skipped, and exits with status 1. --strict stops at the first.

            --output-format names the output, as on detect. --format, its old name here, still works, \
            with a note (on every other command --format names the input).

            Examples:
              flowhound score ip 198.51.100.23 203.0.113.9,14,22/tcp
              flowhound score ip --output-format jsonl --allowlist partners.txt < remote.txt
            """)

    @Argument(help: ArgumentHelp("Addresses to score (default: standard input, one a line).", valueName: "addr[,hour[,port/proto]]"))
    var addresses: [String] = []

    @Option(help: "Model file (default: the model that ships with Flowhound).")
    var model: String?

    @OptionGroup(title: "Address databases") var databases: AddressDatabaseOptions
    @OptionGroup(title: "Feature lists") var lists: ListOptions

    @Option(help: ArgumentHelp("Addresses and blocks never reported (text, one a line, or JSON ranges). Repeat for several.", valueName: "file"))
    var allowlist: [String] = []

    @Option(help: "Scores as table (a row per address) or jsonl (one JSON object a line). (default: table)")
    var outputFormat: AlertFormat?

    /// The output format's old name (`--format`, which on every other command names the input).
    @Option(help: .hidden)
    var format: AlertFormat?

    @Option(help: "How many driving features to show.")
    var drivers = 3

    @Flag(help: "Stop at the first line that cannot be scored, instead of skipping and counting it.")
    var strict = false

    func validate() throws {
        try OptionCheck.require(drivers, "--drivers", in: 0...50)
        if format != nil, outputFormat != nil {
            throw ValidationError("give the output format once, with --output-format (--format is its old name)")
        }
    }

    func run() throws {
        try Diagnostics.run {
            if format != nil { Diagnostics.note("note: --format is now --output-format (the output format); the old name will go") }
            let output = outputFormat ?? format ?? .table
            let ipModel = try IPModel.load(pathOrDefault: model)
            let scorer = try IPScorer(
                model: ipModel, intelligence: try databases.open(asProfiles: ipModel.spec.asProfile), lists: try lists.load(),
                allowlist: try CIDRSet.load(paths: allowlist))
            scorer.driverCount = drivers
            for warning in scorer.warnings { Diagnostics.note("warning: \(warning)") }
            let spec = ipModel.spec
            let needs = [spec.hour ? "hour" : nil, spec.port ? "port" : nil].compactMap { $0 }
            // What each input is, and why it cannot be scored: an unreadable one, or one that lacks an
            // input the model uses (a public address; others are not scored).
            func problem(_ text: String) -> (Observation?, String?) {
                switch Observation.parse(text) {
                case .failure(let error): return (nil, "\(error)")
                case .success(let observation):
                    let missing = observation.address.isGlobal ? spec.missingInputs(observation) : []
                    guard missing.isEmpty else {
                        return (
                            nil,
                            "'\(text.excerpt())': the IP model uses the \(missing.joined(separator: " and ")) of the connection; give ADDR,HOUR[,PORT/PROTO]"
                        )
                    }
                    return (observation, nil)
                }
            }
            if !addresses.isEmpty {
                // Every address on the command line is checked before anything is printed.
                for (i, text) in addresses.enumerated() {
                    if let reason = problem(text.trimmingCharacters(in: .whitespaces)).1 { throw ScoreInputError(description: "argument \(i + 1): \(reason)") }
                }
            } else if !needs.isEmpty {
                Diagnostics.note(
                    "note: this IP model uses the \(needs.joined(separator: " and ")) of each connection: give ADDR,HOUR[,PORT/PROTO] on each line")
            }
            if output == .table {
                print("address                         verdict       probability  country  asn       drivers")
            }
            var skipped = 0, lines = 0
            func handle(_ text: String, where location: String) throws {
                let trimmed = text.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty || trimmed.hasPrefix("#") { return }
                lines += 1
                let (observation, reason) = problem(trimmed)
                guard let observation else {
                    if strict { throw ScoreInputError(description: "\(location): \(reason!)") }
                    Diagnostics.error("\(location): \(reason!)")
                    skipped += 1
                    return
                }
                let score = try scorer.score(observation)
                print(output == .jsonl ? jsonLine(score) : scoreTableLine(score))
            }
            if addresses.isEmpty {
                var number = 0
                while let line = readLine() {
                    number += 1
                    try handle(line, where: "<stdin>:\(number)")
                }
            } else {
                for (i, text) in addresses.enumerated() { try handle(text, where: "argument \(i + 1)") }
            }
            if skipped > 0 {
                Diagnostics.note(
                    "\(skipped) of \(lines) line\(lines == 1 ? "" : "s") could not be scored and \(skipped == 1 ? "was" : "were") skipped (--strict stops at the first)"
                )
                throw ExitCode.failure
            }
        }
    }
}

func scoreTableLine(_ s: IPScore) -> String {
    let drivers = s.drivers.map { "\($0.feature)=\($0.value) (\($0.contribution >= 0 ? "+" : "")\(fixed($0.contribution, 2)))" }.joined(separator: ", ")
    return s.address.padding(toLength: 32, withPad: " ", startingAt: 0)
        + s.verdict.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)
        + (s.probability.map { fixed($0, 4) } ?? "-").padding(toLength: 13, withPad: " ", startingAt: 0)
        + (s.country ?? "-").padding(toLength: 9, withPad: " ", startingAt: 0)
        + (s.asn.map { "AS\($0)" } ?? "-").padding(toLength: 10, withPad: " ", startingAt: 0)
        + drivers
}

/// An address `score ip` cannot score: the line and why.
struct ScoreInputError: OneLineError {
    var description: String
}
