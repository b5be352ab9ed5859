import ActivityImage
import ArgumentParser
import Enrichment
import FlowRecords
import Forest
import Foundation
import Neural
import Reputation
import Support

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

    @Option(
        help: ArgumentHelp(
            "Also write the encoded parts as NumPy files for other tools: {train,validation,test}_X.npy (float32 features), _y.npy (int64 labels, 1 malicious) and columns.txt.",
            valueName: "dir"))
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
            Diagnostics.note(
                "\(data.rows.count) rows: \(malicious) malicious, \(data.rows.count - malicious) benign; hour \(data.hourNote); port \(data.portNote)")
            var result = try IPTraining.train(data, loading: loading, intelligence: intelligence, lists: try lists.load(), options: options) {
                Diagnostics.note($0)
            }
            let test = try IPTraining.evaluate(result.model, result.parts[.test]!, threads: threads)
            result.model.card = IPModelCard(training: result, data: data, loading: loading, options: options, test: test)
            try result.model.write(to: output)
            if let export {
                try result.exportNumPy(to: export)
                Diagnostics.note("exported the encoded parts to \(export)")
            }
            let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
            if json {
                print(try jsonText(result.model.card!))
            } else {
                print(
                    "wrote \(output): \(result.model.scorer), \(result.model.spec.columnCount) feature columns, \(size) bytes, threshold \(fixed(result.model.threshold, 4))"
                )
                print(ipEvaluationText(test, threshold: result.model.threshold, rows: result.parts[.test]!.labels))
            }
        }
    }
}
