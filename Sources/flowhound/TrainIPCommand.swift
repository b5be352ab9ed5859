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
            membership in --list files, and with --as-listing how many entries of a blocklist the \
            address's AS has. Rows are split by /24 network (or --split-by asn) so that no \
            network is in both the training and the test part; the decision threshold is chosen on a \
            validation part for --target-recall, preferring false positives (which an allowlist can \
            silence) to missed attackers.

            Examples:
              flowhound train ip --malicious ipsum.txt --min-count 2 \\
                  --benign cloudflare-v4.txt google-cloud.json -o ip-model.safetensors
              flowhound train ip --malicious scanners-conn.log --benign normal-conn.log --spread-benign-hours
              flowhound train ip --logs conn.*.log --home home.txt -o ours.safetensors

            With --logs, your own logs label the rows, so the model learns the operators your hosts \
            really talk to: remote sources that the scan detectors flag (with detect's default \
            settings), alone or as one of the many sources of a distributed scan, are malicious; remote \
            servers that home hosts opened connections to, were answered by and exchanged data with, \
            on \(LogLabeller.minimumDays) days or from \(LogLabeller.minimumClients) hosts, are benign. \
            --malicious and --benign files (blocklists, allowlists) may be added. The model card counts \
            the rows of each rule. Then 'detect --ip-model' uses the model.
            """)

    @OptionGroup(title: "Labelled inputs") var inputs: LabelledInputOptions

    @Option(
        parsing: .upToNextOption,
        help: ArgumentHelp(
            "Flow logs of your network ('.gz' accepted) to label rows from: remote sources the scan detectors flag are malicious, remote servers your hosts used on several days or from several hosts benign.",
            valueName: "log"))
    var logs: [String] = []

    @Option(
        help: ArgumentHelp(
            "With --logs: your networks (addresses and blocks, text or JSON); the other end of a flow is the remote one. Default: private and other non-public addresses are yours.",
            valueName: "file"))
    var home: String?

    @OptionGroup(title: "Address databases") var databases: AddressDatabaseOptions
    @OptionGroup(title: "Feature lists") var lists: ListOptions

    @Option(
        help: ArgumentHelp(
            "A blocklist (addresses or blocks, one a line; a count column such as IPsum's is ignored) whose entries are counted by autonomous system, each once: each AS's count, and its count per 65,536 addresses, become a feature, so an operator's record carries over to its unlisted addresses and to operators the training data never showed. Training rows' own addresses are not counted. The table is kept in the model; scoring needs no list.",
            valueName: "file"))
    var asListing: String?

    @Option(
        help: ArgumentHelp(
            "A blocklist (the same forms as --as-listing, and it may be the same file) whose entries are counted around each address: in its /24, /22, /20 and /16. Attackers cluster, and the service networks people use every day hold next to no listed addresses, even inside a hoster with a poor record, so this tells a clean server in a busy hoster from its listed neighbours. IPv4 only; training rows' own addresses are not counted; the table is kept in the model.",
            valueName: "file"))
    var networkListing: String?

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

    @Option(
        help: "The forest's share of the ensemble's probability (the network has the rest); 1 is the forest alone. Only with --scorer ensemble.")
    var forestWeight = 0.5

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
        if logs.isEmpty {
            if home != nil { throw ValidationError("--home tells which end of a flow in --logs is remote; give --logs too") }
            try inputs.requireBothClasses()
        }
        try LogArguments.checkStandardInput(logs)
        guard testFraction > 0, testFraction < 1 else { throw ValidationError("--test-fraction must be in (0, 1)") }
        guard targetRecall > 0, targetRecall <= 1 else { throw ValidationError("--target-recall must be in (0, 1]") }
        guard asnBuckets >= 0, asnBuckets <= 65_536 else { throw ValidationError("--asn-buckets must be 0–65536") }
        try OptionCheck.require(forestWeight, "--forest-weight", in: 0...1)
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
            let data = try inputs.load(loading, derived: logs.isEmpty ? [] : try labelsFromLogs())
            let intelligence = try databases.open(asProfiles: true)
            var options = IPTrainingOptions()
            options.scorer = scorer
            options.forest.trees = trees
            options.forest.maximumDepth = maxDepth
            options.forest.minimumSamplesLeaf = minLeaf
            options.asnBuckets = asnBuckets
            options.epochs = epochs
            options.targetRecall = targetRecall
            options.forestWeight = forestWeight
            options.split.by = splitBy
            options.split.testFraction = testFraction
            options.split.seed = seed
            options.seed = seed
            options.threads = threads
            let malicious = data.rows.filter(\.malicious).count
            Diagnostics.note(
                "\(data.rows.count) rows: \(malicious) malicious, \(data.rows.count - malicious) benign; hour \(data.hourNote); port \(data.portNote)")
            var read: [String: (list: AddressList, sha256: String)] = [:]
            let listing = { (path: String) throws -> (list: AddressList, sha256: String) in
                if let known = read[path] { return known }
                let list = try AddressList.read(path: path, strict: inputs.strict)
                if let note = list.malformedNote { Diagnostics.note(note) }
                read[path] = (list: list, sha256: try LabelledData.checksum(files: [path]))
                return read[path]!
            }
            var result = try IPTraining.train(
                data, loading: loading, intelligence: intelligence, lists: try lists.load(), asListing: try asListing.map(listing),
                networkListing: try networkListing.map(listing), options: options
            ) { Diagnostics.note($0) }
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

extension TrainIP {
    /// Runs the scan detectors over --logs and labels their remote ends (`LogLabeller`): one input
    /// for each rule, named in the model card with the logs it read.
    func labelsFromLogs() throws -> [DerivedInput] {
        var labeller = LogLabeller(home: try home.map { try CIDRSet.load(path: $0) })
        let pipeline = try DetectionOptions.parse([]).makePipeline()
        var scanners = Set<IPAddress>(), distributed = Set<IPAddress>()
        pipeline.onAlert = { scanners.insert($0.source) }
        pipeline.onDistributedAlert = { alert in
            if alert.phase == .end { distributed.formUnion(alert.sources.map(\.address)) }
        }
        pipeline.inspect = { labeller.add($0) }
        // After "--", every log is a path, even one that starts with a dash.
        let flows = try read(try DetectionInput.parse(["--"] + logs), into: pipeline)
        try pipeline.finish()
        let labels = labeller.labels(scanners: scanners, distributed: distributed)
        let logNames = logs.joined(separator: ", ").excerpt(limit: 200)
        let sum = logs.contains("-") ? "" : try LabelledData.checksum(files: logs)
        func count(_ observations: [Observation]) -> Int { Set(observations.map(\.address)).count }
        var note =
            "labelled from \(flows) flows of \(logNames): \(count(labels.scanSources)) remote sources flagged by the scan detectors, "
            + "\(count(labels.distributedSources)) more named by distributed scans (malicious); \(count(labels.servers)) servers your hosts used "
            + "on \(LogLabeller.minimumDays) days or from \(LogLabeller.minimumClients) hosts (benign), \(labels.occasionalServers) used once left out"
        if labels.flaggedServers > 0 { note += ", \(labels.flaggedServers) used but flagged (malicious only)" }
        if labeller.foreignFlows > 0 { note += "; \(labeller.foreignFlows) flows with neither end at home" + (home == nil ? " (give --home)" : "") }
        if labeller.unfollowed > 0 { note += "; \(labeller.unfollowed) flows of remote addresses beyond the \(labeller.maximumRemotes) followed" }
        Diagnostics.note(note)
        return [
            DerivedInput(name: "scan alerts in \(logNames)", malicious: true, kind: "scan-alert sources", sha256: sum, observations: labels.scanSources),
            DerivedInput(
                name: "distributed scans in \(logNames)", malicious: true, kind: "distributed-scan sources", sha256: sum,
                observations: labels.distributedSources),
            DerivedInput(
                name: "servers used from home in \(logNames)", malicious: false, kind: "servers used from home", sha256: sum, observations: labels.servers),
        ]
    }
}
