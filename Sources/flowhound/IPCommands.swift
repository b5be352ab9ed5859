import ActivityImage
import ArgumentParser
import Enrichment
import FlowRecords
import Forest
import Foundation
import Neural
import Reputation
import Support

extension EnrichmentError: OneLineError {}
extension ReputationDataError: OneLineError {}
extension AddressListError: OneLineError {}
extension RemoteEnd: ExpressibleByArgument {}
extension SplitOptions.Grouping: ExpressibleByArgument {}
extension IPScorerKind: ExpressibleByArgument {}

/// The address databases a command looks addresses up in.
struct AddressDatabaseOptions: ParsableArguments {
    @Option(name: .customLong("mmdb"), help: ArgumentHelp(
        "A MaxMind-format database (GeoLite2/GeoIP2/DB-IP City, Country or ASN). Repeat for several; asked before libloc, so their answers win.",
        valueName: "file"))
    var mmdb: [String] = []

    @Option(help: ArgumentHelp("The IPFire location database read through libloc (Debian package libloc-database).", valueName: "path"))
    var locationDatabase = LocationDatabase.defaultPath

    @Flag(help: "Do not use the libloc database (then give --mmdb).")
    var noLocationDatabase = false

    func open() throws -> IntelligenceSetup {
        try IntelligenceSetup(mmdb: mmdb, libloc: noLocationDatabase ? nil : locationDatabase)
    }
}

/// Infrastructure lists used as features, and the allowlist.
struct ListOptions: ParsableArguments {
    @Option(name: .customLong("list"), help: ArgumentHelp(
        "An infrastructure list as NAME=FILE (addresses or blocks, text or JSON): membership becomes a feature. Repeat for several. A model trained with lists needs the same names when scoring.",
        valueName: "name=file"))
    var lists: [String] = []

    func load() throws -> [NamedList] { try lists.map(NamedList.load) }
}

/// Labelled inputs of `train ip` and `eval ip`.
struct LabelledInputOptions: ParsableArguments {
    @Option(parsing: .upToNextOption, help: ArgumentHelp(
        "Files of hostile addresses: address lists (IPsum, one address or block a line, or JSON ranges), lists of blocks (sampled), or flow logs (every flow's remote end).",
        valueName: "file"))
    var malicious: [String] = []

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Files of known-good addresses, in the same forms.", valueName: "file"))
    var benign: [String] = []

    @Option(help: "Skip list entries whose count column (IPsum: the number of blocklists naming the address) is below this (default 1).")
    var minCount: Int?

    @Option(help: "Addresses sampled from each list of blocks, spread evenly over its blocks (default 10000).")
    var samplesPerList: Int?

    @Option(help: "Which end of a flow is the remote one: originator (inbound: scanners, attackers) or responder (servers your hosts reached). Default originator.")
    var remoteEnd: RemoteEnd?

    @Flag(help: "When only the malicious data has hours (flow logs), give benign rows uniformly random hours so that the hour stays a feature. The hours are invented; the model card says so.")
    var spreadBenignHours = false

    @Flag(help: "Stop at the first malformed flow record or list line instead of skipping and counting it.")
    var strict = false

    func validate() throws {
        guard !malicious.isEmpty, !benign.isEmpty else { throw ValidationError("give at least one --malicious and one --benign file") }
        if let minCount { try OptionCheck.require(minCount, "--min-count", in: 0...1_000_000_000) }
        if let samplesPerList { try OptionCheck.require(samplesPerList, "--samples-per-list", in: 1...100_000_000) }
    }

    /// The options given, the rest taken from `base`.
    func loading(base: LoadingOptions) -> LoadingOptions {
        var o = base
        if let minCount { o.minimumCount = minCount }
        if let samplesPerList { o.samplesPerList = samplesPerList }
        if let remoteEnd { o.remoteEnd = remoteEnd }
        if spreadBenignHours { o.spreadBenignHours = true }
        return o
    }

    func load(_ options: LoadingOptions) throws -> LabelledData {
        let data = try LabelledData.load(malicious: malicious, benign: benign, options: options, flowOptions: ReadOptions(strict: strict))
        for note in data.notes { Diagnostics.note(note) }
        return data
    }
}

struct TrainIP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ip",
        abstract: "Train the suspicious-address model (random forest + small network) from labelled addresses.",
        discussion: """
            Each remote address becomes features from what the address databases know of it (country, \
            continent, hashed ASN, network flags, network size; latitude/longitude and UTC offset with a \
            City MMDB), plus the hour, port and transport when every input carries them (flow logs), and \
            membership in --list files. Rows are split by /24 network (or --split-by asn) so that no \
            network is in both the training and the test part; the decision threshold is chosen on a \
            validation part for --target-recall, preferring false positives (which an allowlist can \
            silence) to missed attackers.

            Examples:
              flowhound train ip --malicious ipsum.txt --min-count 2 \\
                  --benign cloudflare-v4.txt google-cloud.json -o ip-model.safetensors
              flowhound train ip --malicious scanners-conn.log --benign normal-conn.log --spread-benign-hours
            """)

    @OptionGroup(title: "Labelled inputs") var inputs: LabelledInputOptions
    @OptionGroup(title: "Address databases") var databases: AddressDatabaseOptions
    @OptionGroup(title: "Feature lists") var lists: ListOptions

    @Option(name: .shortAndLong, help: "Where to write the model.")
    var output = "ip-model.safetensors"

    @Option(help: "ensemble (forest and network averaged), forest or mlp.")
    var scorer = IPScorerKind.ensemble

    @Option(help: "network (no /24 or IPv6 /48 in both parts) or asn (no autonomous system in both parts).")
    var splitBy = SplitOptions.Grouping.network

    @Option(help: "Share of the groups held out for testing.")
    var testFraction = 0.2

    @Option(help: "Recall on validation data the decision threshold is chosen for.")
    var targetRecall = 0.95

    @Option(help: "Hash buckets for the ASN feature (0 leaves the ASN out); the model's size does not depend on the number of ASNs.")
    var asnBuckets = 128

    @Option(help: "Trees in the forest.")
    var trees = 100

    @Option(help: "Deepest a tree may grow (default: no limit).")
    var maxDepth: Int?

    @Option(help: "Fewest training rows in a leaf.")
    var minLeaf = 2

    @Option(help: "Passes of the network over the training data at most.")
    var epochs = 20

    @Option(help: "Seed for sampling, the split, the forest and the network.")
    var seed: UInt64 = 1

    @Option(help: "Threads (default: one per core).")
    var threads = defaultThreadCount

    @Option(help: ArgumentHelp("Also write the encoded parts as NumPy files for other tools: {train,validation,test}_X.npy (float32 features), _y.npy (int64 labels, 1 malicious) and columns.txt.", valueName: "dir"))
    var export: String?

    @Flag(help: "Print the model card as JSON instead of a table.")
    var json = false

    func validate() throws {
        guard testFraction > 0, testFraction < 1 else { throw ValidationError("--test-fraction must be in (0, 1)") }
        guard targetRecall > 0, targetRecall <= 1 else { throw ValidationError("--target-recall must be in (0, 1]") }
        guard asnBuckets >= 0, asnBuckets <= 65_536 else { throw ValidationError("--asn-buckets must be 0–65536") }
        try OptionCheck.require(trees, "--trees", in: 1...10_000)
        try OptionCheck.require(minLeaf, "--min-leaf", in: 1...1_000_000_000)
        try OptionCheck.require(epochs, "--epochs", in: 1...100_000)
        try OptionCheck.threads(threads)
        if let maxDepth { try OptionCheck.require(maxDepth, "--max-depth", in: 1...1_000) }
    }

    func run() throws {
        try Diagnostics.run {
            var loading = inputs.loading(base: LoadingOptions())
            loading.seed = seed
            let data = try inputs.load(loading)
            let intelligence = try databases.open()
            var options = IPTrainingOptions()
            options.scorer = scorer
            options.forest.trees = trees
            options.forest.maximumDepth = maxDepth
            options.forest.minimumSamplesLeaf = minLeaf
            options.asnBuckets = asnBuckets
            options.epochs = epochs
            options.targetRecall = targetRecall
            options.split.by = splitBy
            options.split.testFraction = testFraction
            options.split.seed = seed
            options.seed = seed
            options.threads = threads
            let malicious = data.rows.filter(\.malicious).count
            Diagnostics.note("\(data.rows.count) rows: \(malicious) malicious, \(data.rows.count - malicious) benign; hour \(data.hourNote); port \(data.portNote)")
            var result = try IPTraining.train(data, loading: loading, intelligence: intelligence, lists: try lists.load(), options: options) {
                Diagnostics.note($0)
            }
            let test = try IPTraining.evaluate(result.model, result.parts[.test]!, threads: threads)
            let counts = Dictionary(uniqueKeysWithValues: result.parts.map { part, encoded in
                (part.rawValue, ["malicious": encoded.labels.filter { $0 }.count, "benign": encoded.labels.filter { !$0 }.count])
            })
            let formatter = ISO8601DateFormatter()
            result.model.card = IPModelCard(
                created: formatter.string(from: Date()), inputs: data.inputs, loading: loading, split: options.split,
                hour: data.hourNote, port: data.portNote, rows: counts,
                forest: scorer == .mlp ? nil : options.forest, mlpEpochs: scorer == .forest ? nil : result.epochs.count,
                test: test, notes: data.notes)
            try result.model.write(to: output)
            if let export { try exportParts(result, to: export) }
            let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
            if json {
                print(try jsonText(result.model.card!))
            } else {
                print("wrote \(output): \(result.model.scorer), \(result.model.spec.columnCount) feature columns, \(size) bytes, threshold \(fixed(result.model.threshold, 4))")
                print(ipEvaluationText(test, threshold: result.model.threshold, rows: result.parts[.test]!.labels))
            }
        }
    }

    func exportParts(_ result: IPTrainingResult, to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (part, encoded) in result.parts {
            let features = try NumpyWriter(path: "\(directory)/\(part.rawValue)_X.npy", dtype: .float32, rowShape: [encoded.matrix.columns])
            for i in 0..<encoded.matrix.rows {
                try features.append(Array(encoded.matrix.values[(i * encoded.matrix.columns)..<((i + 1) * encoded.matrix.columns)]))
            }
            try features.finish()
            let labels = try NumpyWriter(path: "\(directory)/\(part.rawValue)_y.npy", dtype: .int64, rowShape: [])
            for label in encoded.labels { try labels.append(label ? 1 : 0) }
            try labels.finish()
        }
        try (result.model.spec.columns.map(\.name).joined(separator: "\n") + "\n").write(toFile: "\(directory)/columns.txt", atomically: true, encoding: .utf8)
        Diagnostics.note("exported the encoded parts to \(directory)")
    }
}

struct EvalIP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ip",
        abstract: "Measure an IP model on labelled addresses: ROC-AUC, PR-AUC, recall at 1% false positives, Brier score, confusion at its threshold.",
        discussion: """
            With --split test (the default) give the inputs the model was trained on: they are loaded and \
            split as its card records, and only the held-out part is scored. With --split all every row \
            is scored (for data the model never saw).

            Example:
              flowhound eval ip --model ip-model.safetensors --malicious ipsum.txt --benign cloud.txt
            """)

    @Option(help: "Model file (default: the model that ships with Flowhound).")
    var model: String?

    @OptionGroup(title: "Labelled inputs") var inputs: LabelledInputOptions
    @OptionGroup(title: "Address databases") var databases: AddressDatabaseOptions
    @OptionGroup(title: "Feature lists") var lists: ListOptions

    @Option(help: "Which rows to score: test, train (training and validation parts) or all.")
    var split = "test"

    @Option(help: "Threads (default: one per core).")
    var threads = defaultThreadCount

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard ["test", "train", "all"].contains(split) else { throw ValidationError("--split must be test, train or all") }
        try OptionCheck.threads(threads)
    }

    func run() throws {
        try Diagnostics.run {
            let ipModel = try IPModel.load(pathOrDefault: model)
            let card = ipModel.card
            if split != "all" && card == nil {
                throw ReputationDataError("the model has no card recording how it was split; use --split all")
            }
            let data = try inputs.load(inputs.loading(base: card?.loading ?? LoadingOptions()))
            if let card, split != "all" {
                let given = data.inputs.map(\.sha256), trained = card.inputs.map(\.sha256)
                if given != trained {
                    Diagnostics.note("warning: these inputs are not the ones the model was trained on, so its test part is not a clean hold-out; --split all is the fair measure")
                }
            }
            let intelligence = try databases.open()
            let scorer = try IPScorer(model: ipModel, intelligence: intelligence, lists: try lists.load())
            for warning in scorer.warnings { Diagnostics.note("warning: \(warning)") }
            let facts = try intelligence.facts(for: data.rows.map(\.observation.address))
            let parts = card.map { $0.split.parts(data.rows, facts: facts) } ?? data.rows.map { _ in .test }
            let rows = zip(data.rows, parts).filter { row, part in
                split == "all" || (split == "test" ? part == .test : part != .test)
            }.map(\.0)
            let unscorable = rows.first { !ipModel.spec.missingInputs($0.observation).isEmpty }
            if let unscorable {
                throw ReputationDataError("\(data.inputs[unscorable.input].path): the model uses the \(ipModel.spec.missingInputs(unscorable.observation).joined(separator: " and ")) but these rows carry none")
            }
            let encoded = EncodedPart(observations: rows.map(\.observation), labels: rows.map(\.malicious),
                                      matrix: scorer.encoder.matrix(rows.map(\.observation), facts: facts))
            let evaluation = try IPTraining.evaluate(ipModel, encoded, threads: threads)
            print(json ? try jsonText(evaluation) : ipEvaluationText(evaluation, threshold: ipModel.threshold, rows: encoded.labels))
        }
    }
}

/// A person's report of an IP model's evaluation, one block per part of the model.
func ipEvaluationText(_ parts: [IPModelCard.Part], threshold: Double, rows labels: [Bool]) -> String {
    let positives = labels.filter { $0 }.count
    var lines = ["rows \(labels.count) (\(positives) malicious, \(labels.count - positives) benign), threshold \(fixed(threshold, 4))",
                 "scorer          ROC-AUC  PR-AUC  recall@1%FPR  Brier   precision  recall  FPR"]
    func value(_ v: Double?) -> String { v.map { fixed($0, 4) } ?? "n/a" }
    for part in parts {
        let r = part.ranking, t = part.atThreshold
        lines.append(part.scorer.padding(toLength: 14, withPad: " ", startingAt: 0)
            + value(r.rocAUC).leftPadded(9) + value(r.prAUC).leftPadded(8) + value(r.recallAtFalsePositiveRate).leftPadded(14)
            + value(r.brier).leftPadded(7) + fixed(t.precision, 4).leftPadded(11) + fixed(t.recall, 4).leftPadded(8)
            + fixed(t.falsePositiveRate, 4).leftPadded(7))
    }
    if let first = parts.first {
        let t = first.atThreshold
        lines += ["confusion of \(first.scorer) at the threshold (rows true, columns predicted):",
                  "                 benign  suspicious",
                  "  benign     \(String(t.trueNegatives).leftPadded(10))\(String(t.falsePositives).leftPadded(12))",
                  "  malicious  \(String(t.falseNegatives).leftPadded(10))\(String(t.truePositives).leftPadded(12))"]
    }
    return lines.joined(separator: "\n")
}

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
            uses the hour or port needs them.

            Examples:
              flowhound score ip 198.51.100.23 203.0.113.9,14,22/tcp
              cut -f1 remote.txt | flowhound score ip --format jsonl --allowlist partners.txt
            """)

    @Argument(help: ArgumentHelp("Addresses to score (default: standard input, one a line).", valueName: "addr[,hour[,port/proto]]"))
    var addresses: [String] = []

    @Option(help: "Model file (default: the model that ships with Flowhound).")
    var model: String?

    @OptionGroup(title: "Address databases") var databases: AddressDatabaseOptions
    @OptionGroup(title: "Feature lists") var lists: ListOptions

    @Option(help: ArgumentHelp("Addresses and blocks never reported (text, one a line, or JSON ranges). Repeat for several.", valueName: "file"))
    var allowlist: [String] = []

    @Option(help: "table or jsonl.")
    var format = AlertFormat.table

    @Option(help: "How many driving features to show.")
    var drivers = 3

    func validate() throws {
        try OptionCheck.require(drivers, "--drivers", in: 0...50)
    }

    func run() throws {
        try Diagnostics.run {
            let ipModel = try IPModel.load(pathOrDefault: model)
            let scorer = try IPScorer(model: ipModel, intelligence: try databases.open(), lists: try lists.load(),
                                      allowlist: try CIDRSet.load(paths: allowlist))
            scorer.driverCount = drivers
            for warning in scorer.warnings { Diagnostics.note("warning: \(warning)") }
            if format == .table {
                print("address                         verdict       probability  country  asn       drivers")
            }
            var failures = 0
            func handle(_ text: String, where location: String) throws {
                let trimmed = text.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty || trimmed.hasPrefix("#") { return }
                switch Observation.parse(trimmed) {
                case .failure(let error):
                    Diagnostics.error("\(location): \(error)")
                    failures += 1
                case .success(let observation):
                    let score = try scorer.score(observation)
                    print(format == .jsonl ? try scoreJSONLine(score) : scoreTableLine(score))
                }
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
            if failures > 0 { throw ExitCode.failure }
        }
    }
}

func scoreJSONLine(_ score: IPScore) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    return String(decoding: try encoder.encode(score), as: UTF8.self)
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

/// How `detect` scores remote addresses with the IP model.
struct RemoteScoringOptions: ParsableArguments {
    @Flag(help: "Score every scan alert's source with the IP model (the shipped one unless --ip-model): probability, verdict and drivers in the alert.")
    var ipScores = false

    @Option(help: ArgumentHelp("IP model file; implies --ip-scores.", valueName: "file"))
    var ipModel: String?

    @Flag(help: "Also alert on connections whose remote end the IP model finds suspicious, once per remote address (implies --ip-scores).")
    var connectionAlerts = false

    @Option(help: ArgumentHelp("Your networks (addresses and blocks, text or JSON): the other end of a flow is the remote one. Default: private and other non-public addresses are yours.", valueName: "file"))
    var home: String?

    @OptionGroup(title: "Address databases") var databases: AddressDatabaseOptions
    @OptionGroup(title: "Feature lists") var lists: ListOptions

    var enabled: Bool { ipScores || ipModel != nil || connectionAlerts }

    /// The scorer, or nil when IP scoring is off. The detection allowlist silences IP verdicts too.
    func makeScorer(allowlist: CIDRSet) throws -> IPScorer? {
        guard enabled else { return nil }
        let scorer = try IPScorer(model: try IPModel.load(pathOrDefault: ipModel), intelligence: try databases.open(),
                                  lists: try lists.load(), allowlist: allowlist)
        for warning in scorer.warnings { Diagnostics.note("warning: \(warning)") }
        return scorer
    }
}
