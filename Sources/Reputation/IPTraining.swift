import Enrichment
import FlowRecords
import Forest
import Foundation
import Neural
import Support

/// Which parts a trained model holds.
public enum IPScorerKind: String, Codable, Sendable, CaseIterable {
    /// Random forest and network, probabilities averaged.
    case ensemble
    case forest
    case mlp
}

/// Everything `train ip` can set besides its inputs.
public struct IPTrainingOptions: Sendable {
    public var scorer = IPScorerKind.ensemble
    /// Defaults suited to address features: 100 trees, leaves of at least two samples (which halves
    /// the forest's size for no loss of accuracy on list data).
    public var forest: ForestSettings = {
        var s = ForestSettings()
        s.minimumSamplesLeaf = 2
        return s
    }()
    public var asnBuckets = 128
    /// A country gets its own column when at least this many training rows are from it...
    public var countryMinimumRows = 20
    /// ...up to this many countries (the most frequent).
    public var maximumCountries = 64
    public var epochs = 20
    public var batchSize = 128
    public var learningRate: Float = 0.001
    public var patience = 3
    public var targetRecall = 0.95
    public var forestWeight = 0.5
    public var split = SplitOptions()
    public var seed: UInt64 = 1
    public var threads = defaultThreadCount

    public init() {}
}

/// The rows of one part of the split, encoded.
public struct EncodedPart {
    public var observations: [Observation]
    public var labels: [Bool]
    public var matrix: FeatureMatrix

    public init(observations: [Observation], labels: [Bool], matrix: FeatureMatrix) {
        self.observations = observations
        self.labels = labels
        self.matrix = matrix
    }
}

/// What training produced: the model and the encoded parts (for export and reports).
public struct IPTrainingResult {
    public var model: IPModel
    public var parts: [SplitOptions.Part: EncodedPart]
    public var epochs: [EpochReport]
    /// What training decided about the rows, one sentence each (added to the model card's notes).
    public var notes: [String] = []
}

public enum IPTraining {
    /// Trains on `data` (facts looked up in `intelligence`); `progress` receives one line per stage.
    /// With `asListing`, a reference blocklist (and its checksum), the entries of each AS on it become
    /// a feature (`ASListing`), counted without the training rows' own addresses; with
    /// `networkListing`, the entries around each address (`NetworkListing`), counted the same way.
    public static func train(
        _ data: LabelledData, loading: LoadingOptions, intelligence: IntelligenceSetup, lists: [NamedList],
        asListing listingSource: (list: AddressList, sha256: String)? = nil,
        networkListing networkSource: (list: AddressList, sha256: String)? = nil, options: IPTrainingOptions,
        progress: (String) -> Void = { _ in }
    ) throws -> IPTrainingResult {
        let facts = try intelligence.facts(for: data.rows.map(\.observation.address))
        let known = facts.values.filter { !$0.isEmpty }.count
        progress("looked up \(facts.count) addresses in \(intelligence.databases.map(\.name).joined(separator: "+")): \(known) known")
        var notes: [String] = []
        let rows = withoutUnroutedMalicious(data.rows, facts: facts, notes: &notes)
        var asListing: ASListing? = nil
        if let listingSource {
            let (listing, tally) = try ASListing.count(
                listingSource.list, sha256: listingSource.sha256, excluding: Set(data.rows.map(\.observation.address)), intelligence: intelligence)
            guard !listing.asns.isEmpty else {
                throw ReputationDataError(
                    "\(listingSource.list.name): no entry of the AS listing is in an autonomous system the databases know, once the training rows are left out")
            }
            notes.append(
                "AS listing \(listing.name): \(listing.counted) of its \(tally.entries) entries counted in \(listing.asns.count) ASes; \(tally.trainingRows) left out as training rows, \(tally.withoutAS) in no AS"
            )
            asListing = listing
        }
        var networkListing: NetworkListing? = nil
        if let networkSource {
            let (listing, tally) = NetworkListing.count(
                networkSource.list, sha256: networkSource.sha256, excluding: Set(data.rows.map(\.observation.address)))
            guard listing.counted > 0 else {
                throw ReputationDataError("\(networkSource.list.name): no IPv4 entry of the network listing is left once the training rows are left out")
            }
            notes.append(
                "network listing \(listing.name): \(listing.counted) of its \(tally.entries) entries counted in \(listing.networks.count) /24 networks; \(tally.trainingRows) left out as training rows, \(tally.ipv6) IPv6"
            )
            networkListing = listing
        }
        notes.forEach(progress)
        let parts = options.split.parts(rows, facts: facts)

        // Countries frequent enough in the training part get a column each.
        var countryRows: [String: Int] = [:]
        for (row, part) in zip(rows, parts) where part == .train {
            if let c = facts[row.observation.address]?.countryCode { countryRows[c, default: 0] += 1 }
        }
        let countries = countryRows.filter { $0.value >= options.countryMinimumRows }
            .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .prefix(options.maximumCountries).map(\.key).sorted()
        let spec = FeatureSpec(
            hour: data.hasHour, port: data.hasPort, countries: countries, location: intelligence.hasCity,
            asnBuckets: options.asnBuckets, flags: intelligence.hasLibloc, prefixLength: true,
            asProfile: facts.values.contains { $0.asProfile != nil }, asListing: asListing != nil, networkListing: networkListing != nil,
            lists: lists.map(\.name))
        let encoder = try FeatureEncoder(spec: spec, lists: lists, asListing: asListing, networkListing: networkListing)
        try checkLeaks(lists: encoder.lists, rows)

        var encoded: [SplitOptions.Part: EncodedPart] = [:]
        for part in SplitOptions.Part.allCases {
            let inPart = zip(rows, parts).filter { $0.1 == part }.map(\.0)
            encoded[part] = EncodedPart(
                observations: inPart.map(\.observation), labels: inPart.map(\.malicious),
                matrix: encoder.matrix(inPart.map(\.observation), facts: facts))
        }
        let train = encoded[.train]!, validation = encoded[.validation]!
        for (name, part) in [("training", train), ("validation", validation)] {
            guard part.labels.contains(true), part.labels.contains(false) else {
                throw ReputationDataError(
                    "the \(name) part has only \(part.labels.first == true ? "malicious" : "benign") rows: too few groups to split (\(Set(parts).count) parts); give more data or split by network"
                )
            }
        }
        progress(
            "\(spec.columnCount) feature columns; rows: \(train.labels.count) train, \(validation.labels.count) validation, \(encoded[.test]!.labels.count) test"
        )

        var forest: RandomForest? = nil
        if options.scorer != .mlp {
            var settings = options.forest
            settings.seed = options.seed
            settings.threads = options.threads
            let started = Date()
            forest = RandomForest.fit(train.matrix, labels: train.labels, settings: settings)
            let nodes = forest!.trees.reduce(0) { $0 + $1.nodeCount }
            progress("forest: \(settings.trees) trees, \(nodes) nodes, \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
        }
        var mlp: Network? = nil
        var epochs: [EpochReport] = []
        if options.scorer != .forest {
            let network = try Network(IPModel.defaultArchitecture(columns: spec.columnCount), seed: options.seed)
            var training = TrainingOptions()
            training.epochs = options.epochs
            training.batchSize = options.batchSize
            training.learningRate = options.learningRate
            training.patience = options.patience
            training.seed = options.seed
            training.threads = options.threads
            let samples = { (p: EncodedPart) throws -> Samples in
                try Samples(sampleShape: [spec.columnCount], features: p.matrix.values, labels: p.labels.map { $0 ? 1 : 0 })
            }
            epochs = try Trainer(network: network, options: training).fit(try samples(train), validation: try samples(validation)) { report in
                progress(
                    "mlp epoch \(report.epoch): loss \(String(format: "%.4f", report.loss)), validation loss \(report.validationLoss.map { String(format: "%.4f", $0) } ?? "-")"
                )
            }
            mlp = network
        }
        var model = IPModel(
            spec: spec, databases: intelligence.databases, lists: encoder.lists.map(\.requirement), asListing: asListing,
            networkListing: networkListing, forest: forest, mlp: mlp,
            forestWeight: options.forestWeight, threshold: 0.5, targetRecall: options.targetRecall)
        let validationScores = try model.scores(validation.matrix, threads: options.threads).combined
        model.threshold = RankingMetrics.threshold(forRecall: options.targetRecall, scores: validationScores, positives: validation.labels) ?? 0.5
        progress("threshold \(String(format: "%.4f", model.threshold)) for recall \(options.targetRecall) on validation")
        if let overshoot = thresholdOvershoot(validationScores, positives: validation.labels, threshold: model.threshold, target: options.targetRecall) {
            notes.append(overshoot)
            progress(overshoot)
        }
        return IPTrainingResult(model: model, parts: encoded, epochs: epochs, notes: notes)
    }

    /// What to say when the threshold's recall on validation is well above the target (by 0.01 or
    /// more): the positive at the target's rank shares its score with a block of others (addresses
    /// alike in every feature score alike), so all of them are flagged, and the next score up would
    /// leave recall below the target. Nil when the recall is near the target. `threshold` is the one
    /// `RankingMetrics.threshold(forRecall:)` chose for `target`.
    static func thresholdOvershoot(_ scores: [Double], positives labels: [Bool], threshold: Double, target: Double) -> String? {
        let positive = zip(scores, labels).filter(\.1).map(\.0)
        guard !positive.isEmpty else { return nil }
        let reached = Double(positive.filter { $0 >= threshold }.count) / Double(positive.count)
        guard reached - target >= 0.01 else { return nil }
        let tied = positive.filter { $0 == threshold }.count
        let above = Double(positive.filter { $0 > threshold }.count) / Double(positive.count)
        return String(
            format:
                "the threshold %.4f flags %.3f of the validation part's malicious rows, not %.3f: %d of them score exactly %.4f (rows alike in every feature score alike), and any higher threshold flags only %.3f; --target-recall %.3f or lower puts the threshold above them",
            threshold, reached, target, tied, threshold, above, above)
    }

    /// The part of every row of `rows` as training with `split` gave it. Training splits the rows it
    /// keeps (`withoutUnroutedMalicious`), so splitting all of them would move the boundary between
    /// parts and put some of the rows it trained on in the test part. A row training left out takes
    /// its group's part among the kept rows, or, in a group of its own, the part the split gives it.
    public static func partsAsTrained(_ rows: [LabelledRow], facts: [IPAddress: AddressFacts], split: SplitOptions) -> [SplitOptions.Part] {
        var notes: [String] = []
        let kept = withoutUnroutedMalicious(rows, facts: facts, notes: &notes)
        guard kept.count < rows.count else { return split.parts(rows, facts: facts) }
        var byGroup: [UInt64: SplitOptions.Part] = [:]
        for (row, part) in zip(kept, split.parts(kept, facts: facts)) {
            byGroup[split.group(row.observation.address, facts[row.observation.address])] = part
        }
        return zip(rows, split.parts(rows, facts: facts)).map { row, part in
            byGroup[split.group(row.observation.address, facts[row.observation.address])] ?? part
        }
    }

    /// Leaves out malicious rows whose address no database places in an autonomous system, when
    /// every benign row has one. Benign rows drawn from the networks of a list of ASes all have an
    /// AS by construction, while blocklists name addresses the database does not route (assigned
    /// after it was built): kept, they would teach "no AS means malicious", a fact of how the data
    /// was gathered rather than of the addresses.
    static func withoutUnroutedMalicious(_ rows: [LabelledRow], facts: [IPAddress: AddressFacts], notes: inout [String]) -> [LabelledRow] {
        let routed = { (row: LabelledRow) in facts[row.observation.address]?.asn != nil }
        guard rows.allSatisfy({ $0.malicious || routed($0) }) else { return rows }
        let kept = rows.filter { !$0.malicious || routed($0) }
        guard kept.count < rows.count, kept.contains(where: \.malicious) else { return rows }
        notes.append(
            "left out \(rows.count - kept.count) malicious rows whose address is in no autonomous system of the databases: every benign row has one, so the model would learn that a missing AS means malicious"
        )
        return kept
    }

    /// Refuses an infrastructure list whose membership all but gives the label away: as a feature it
    /// would hand the model the answer it is meant to learn (the flaw of copying the label into the inputs).
    static func checkLeaks(lists: [NamedList], _ rows: [LabelledRow]) throws {
        let malicious = rows.filter(\.malicious), benign = rows.filter { !$0.malicious }
        for list in lists {
            let m = Double(malicious.filter { list.set.contains($0.observation.address) }.count) / Double(max(1, malicious.count))
            let b = Double(benign.filter { list.set.contains($0.observation.address) }.count) / Double(max(1, benign.count))
            if abs(m - b) >= 0.9 {
                throw ReputationDataError(
                    String(
                        format:
                            "list '%@' holds %.1f%% of the malicious rows and %.1f%% of the benign ones: as a feature it would hand the model its label (was it also a training input?); use it as an allowlist when scoring instead",
                        list.name, 100 * m, 100 * b))
            }
        }
    }

    /// Ranking metrics and the confusion at `model.threshold` of every part of `model` on `part`.
    public static func evaluate(_ model: IPModel, _ part: EncodedPart, threads: Int = defaultThreadCount) throws -> [IPModelCard.Part] {
        let scores = try model.scores(part.matrix, threads: threads)
        var out: [IPModelCard.Part] = []
        func add(_ name: String, _ s: [Double]) {
            out.append(
                IPModelCard.Part(
                    scorer: name, ranking: RankingMetrics(scores: s, positives: part.labels),
                    atThreshold: BinaryMetrics(scores: s, positives: part.labels, threshold: model.threshold)))
        }
        if scores.forest != nil && scores.mlp != nil { add(model.scorer, scores.combined) }
        if let f = scores.forest { add("forest", f.map(Double.init)) }
        if let m = scores.mlp { add("mlp", m.map(Double.init)) }
        return out
    }
}
