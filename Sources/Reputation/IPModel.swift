import Forest
import Foundation
import Neural
import Support

/// An address database a model was trained with, which scoring must have too.
public struct DatabaseRequirement: Codable, Sendable, Equatable, CustomStringConvertible {
    /// `libloc`, or the content of an MMDB: `city`, `country` or `asn`.
    public var kind: String
    /// The database's own name (`libloc`, `GeoLite2-City`).
    public var name: String
    /// When it was built, `YYYY-MM-DD`.
    public var built: String?

    public init(kind: String, name: String, built: String?) {
        self.kind = kind
        self.name = name
        self.built = built
    }

    public var description: String { kind == "libloc" ? "the libloc location database" : "a \(kind.capitalized) MMDB (\(name))" }
}

/// An infrastructure list a model uses as a feature: scoring must be given a list of that name.
public struct ListRequirement: Codable, Sendable, Equatable {
    public var name: String
    public var blocks: Int
    /// SHA-256 of the list's file when the model was trained; a different list still scores, with a warning.
    public var sha256: String
}

/// The suspicious-address model: a random forest, a small neural network, or both averaged, over the
/// features `spec` describes, with the decision threshold chosen when it was trained.
///
/// Saved as safetensors (kind `ip-reputation`): the forest's nodes as float32 tensors (`forest.*`,
/// node and feature indices stored as exact integers), the network's weights (`mlp.*`, with the
/// metadata of a `NetworkModel` under `mlp.`), and the feature spec, databases, lists, threshold and
/// model card as JSON metadata, all sealed by the one file checksum every Flowhound model has
/// (`SafeTensors.checksum()`, format 2). Every part is checked against its bounds when it is read,
/// before anything is allocated for it; nothing in it is executed.
public struct IPModel {
    public static let kind = "ip-reputation"
    static let mlpKind = "ip-mlp"
    public static let labels = ["benign", "malicious"]

    public var spec: FeatureSpec
    public var databases: [DatabaseRequirement]
    public var lists: [ListRequirement]
    /// The entries on a reference blocklist of each AS, for the `as_listing` feature.
    public var asListing: ASListing?
    /// The entries on a reference blocklist of each /24, for the `network_listing` feature.
    public var networkListing: NetworkListing?
    public var forest: RandomForest?
    public var mlp: Network?
    /// The forest's share of the combined probability when both parts are present (the network has the rest).
    public var forestWeight: Double
    /// Probabilities at or above this are suspicious.
    public var threshold: Double
    /// The recall on validation data the threshold was chosen for.
    public var targetRecall: Double
    public var card: IPModelCard?

    public init(
        spec: FeatureSpec, databases: [DatabaseRequirement], lists: [ListRequirement], asListing: ASListing? = nil,
        networkListing: NetworkListing? = nil, forest: RandomForest?, mlp: Network?, forestWeight: Double = 0.5, threshold: Double, targetRecall: Double,
        card: IPModelCard? = nil
    ) {
        precondition(forest != nil || mlp != nil, "a forest, a network or both")
        precondition(spec.asListing == (asListing != nil), "an AS listing exactly when the spec uses it")
        precondition(spec.networkListing == (networkListing != nil), "a network listing exactly when the spec uses it")
        self.spec = spec
        self.databases = databases
        self.lists = lists
        self.asListing = asListing
        self.networkListing = networkListing
        self.forest = forest
        self.mlp = mlp
        self.forestWeight = forestWeight
        self.threshold = threshold
        self.targetRecall = targetRecall
        self.card = card
    }

    /// `forest+mlp`, `forest` or `mlp`.
    public var scorer: String { [forest != nil ? "forest" : nil, mlp != nil ? "mlp" : nil].compactMap { $0 }.joined(separator: "+") }

    /// The small network used unless told otherwise: two hidden layers.
    public static func defaultArchitecture(columns: Int) -> Architecture {
        Architecture(input: [columns], layers: [.dense(units: 32), .relu, .dropout(rate: 0.1), .dense(units: 16), .relu, .dense(units: 2)])
    }

    /// Each part's probability for every row, and their combination.
    public struct Scores: Sendable {
        public var forest: [Float]?
        public var mlp: [Float]?
        public var combined: [Double]
    }

    public func scores(_ x: FeatureMatrix, threads: Int = defaultThreadCount) throws -> Scores {
        precondition(x.columns == spec.columnCount, "rows of \(spec.columnCount) columns")
        let f = forest?.probabilities(x, threads: threads)
        let m = try mlp.map { try IPModel.networkProbabilities($0, x, threads: threads) }
        let combined: [Double]
        switch (f, m) {
        case let (f?, m?): combined = zip(f, m).map { forestWeight * Double($0) + (1 - forestWeight) * Double($1) }
        case let (f?, nil): combined = f.map(Double.init)
        case let (nil, m?): combined = m.map(Double.init)
        default: combined = []
        }
        return Scores(forest: f, mlp: m, combined: combined)
    }

    static func networkProbabilities(_ network: Network, _ x: FeatureMatrix, threads: Int) throws -> [Float] {
        guard x.rows > 0 else { return [] }
        let samples = try Samples(sampleShape: [x.columns], features: x.values, labels: [Int32](repeating: 0, count: x.rows))
        let p = Loss.softmaxCrossEntropy.probabilities(try network.predict(samples, threads: threads, batchSize: 256))
        return (0..<x.rows).map { p.scalars[2 * $0 + 1] }
    }

    // MARK: - File

    static let forestTensorNames = ["forest.tree_nodes", "forest.feature", "forest.threshold", "forest.left", "forest.value", "forest.importances"]

    /// The safetensors form.
    public func safeTensors() -> SafeTensors {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func json(_ value: some Encodable) -> String { String(decoding: try! encoder.encode(value), as: UTF8.self) }
        var file = SafeTensors(metadata: [:], tensors: [])
        if let forest {
            let forestFile = SafeTensors(metadata: [:], tensors: IPModel.forestTensors(forest))
            file.tensors += forestFile.tensors
            file.metadata["forest.sha256"] = forestFile.data.withUnsafeBytes { hex(sha256($0)) }
        }
        if let mlp {
            let part = NetworkModel(kind: IPModel.mlpKind, network: mlp, loss: .softmaxCrossEntropy, labels: IPModel.labels)
                .safeTensors(sealed: false)
            file.tensors += part.tensors.map { ("mlp." + $0.name, $0.tensor) }
            for (key, value) in part.metadata { file.metadata["mlp." + key] = value }
        }
        file.metadata["format"] = NetworkModel.format
        file.metadata["format_version"] = String(NetworkModel.formatVersion)
        file.metadata["kind"] = IPModel.kind
        file.metadata["labels"] = json(IPModel.labels)
        file.metadata["features"] = json(spec)
        file.metadata["columns"] = json(spec.columns.map(\.name))
        file.metadata["databases"] = json(databases)
        file.metadata["lists"] = json(lists)
        func put<T: ListingTable>(_ table: T?) {
            guard let table else { return }
            file.tensors.append((T.tensorName, table.tensor))
            file.metadata[T.feature] = json(table.header)
        }
        put(asListing)
        put(networkListing)
        file.metadata["forest_weight"] = String(forestWeight)
        file.metadata["threshold"] = String(threshold)
        file.metadata["target_recall"] = String(targetRecall)
        if let card { file.metadata["card"] = json(card) }
        return file.sealed()
    }

    public func write(to path: String) throws(ModelFileError) {
        try safeTensors().write(to: path)
    }

    static func forestTensors(_ forest: RandomForest) -> [(name: String, tensor: Tensor)] {
        var feature: ContiguousArray<Float> = [], threshold: ContiguousArray<Float> = [], left: ContiguousArray<Float> = [], value: ContiguousArray<Float> = []
        for tree in forest.trees {
            feature += tree.feature.map { Float($0) }
            threshold += tree.threshold
            left += tree.left.map { Float($0) }
            value += tree.value
        }
        let n = feature.count
        return [
            ("forest.tree_nodes", Tensor(shape: [forest.trees.count], scalars: ContiguousArray(forest.trees.map { Float($0.nodeCount) }))),
            ("forest.feature", Tensor(shape: [n], scalars: feature)),
            ("forest.threshold", Tensor(shape: [n], scalars: threshold)),
            ("forest.left", Tensor(shape: [n], scalars: left)),
            ("forest.value", Tensor(shape: [n], scalars: value)),
            ("forest.importances", Tensor(shape: [forest.featureCount], scalars: ContiguousArray(forest.importances.map(Float.init)))),
        ]
    }

    public static func read(path: String) throws(ModelFileError) -> IPModel {
        try IPModel(SafeTensors.read(path: path), path: path)
    }

    public init(_ file: SafeTensors, path: String) throws(ModelFileError) {
        func fail(_ reason: String) -> ModelFileError { ModelFileError(path: path, reason: reason) }
        let m = file.metadata
        try NetworkModel.checkFile(file, path: path, kind: IPModel.kind)
        func decode<T: Decodable>(_ type: T.Type, _ key: String) throws(ModelFileError) -> T {
            guard let text = m[key], let value = try? JSONDecoder().decode(T.self, from: Data(text.utf8)) else {
                throw fail("has no readable '\(key)' in its metadata")
            }
            return value
        }
        let spec = try decode(FeatureSpec.self, "features")
        guard spec.asnBuckets >= 0, spec.asnBuckets <= 1 << 16, spec.countries.count <= 1000, spec.lists.count <= 1000 else {
            throw fail("has an implausible feature spec")
        }
        let columns = try decode([String].self, "columns")
        guard columns == spec.columns.map(\.name) else {
            throw fail("lists columns that its feature spec does not produce (written by a different Flowhound?)")
        }
        let databases = try decode([DatabaseRequirement].self, "databases")
        let lists = try decode([ListRequirement].self, "lists")
        guard lists.map(\.name) == spec.lists else { throw fail("names lists that its feature spec does not use") }
        /// A number in the metadata: finite and in `range`.
        func number(_ key: String, in range: ClosedRange<Double>, _ what: String) throws(ModelFileError) -> Double {
            guard let value = m[key].flatMap(Double.init), value.isFinite, range.contains(value) else {
                throw fail("has no \(key) \(what) (\(m[key] ?? "none"))")
            }
            return value
        }
        let threshold = try number("threshold", in: 0...1, "between 0 and 1")
        let weight = try number("forest_weight", in: 0...1, "between 0 and 1")
        let target = try number("target_recall", in: Double.leastNonzeroMagnitude...1, "above 0 and at most 1")
        let card = m["card"].flatMap { try? JSONDecoder().decode(IPModelCard.self, from: Data($0.utf8)) }
        if let problem = card?.problem { throw fail("has a card whose \(problem)") }

        /// The table of a listing feature: there exactly when the spec uses the feature, and sound.
        func table<T: ListingTable>(_ type: T.Type, used: Bool) throws(ModelFileError) -> T? {
            guard used else { return nil }
            guard let tensor = file[T.tensorName] else { throw fail("uses the \(T.feature) feature but has no '\(T.tensorName)' tensor") }
            switch T.read(tensor, header: try decode(T.Header.self, T.feature)) {
            case .success(let listing): return listing
            case .failure(let error): throw fail(error.description)
            }
        }
        let asListing = try table(ASListing.self, used: spec.asListing)
        let networkListing = try table(NetworkListing.self, used: spec.networkListing)
        let tables = (spec.asListing ? [ASListing.tensorName] : []) + (spec.networkListing ? [NetworkListing.tensorName] : [])
        let known = Set(IPModel.forestTensorNames + tables)
        if let stray = file.tensors.first(where: { !known.contains($0.name) && !$0.name.hasPrefix("mlp.") }) {
            throw fail("has a tensor '\(stray.name)' that an ip-reputation model does not use")
        }
        var forest: RandomForest? = nil
        // The listing tables are not the forest: a network-only model may carry them too.
        if file.tensors.contains(where: { IPModel.forestTensorNames.contains($0.name) }) {
            forest = try IPModel.readForest(file, features: columns.count, fail: fail)
        }
        var mlp: Network? = nil
        if file.tensors.contains(where: { $0.name.hasPrefix("mlp.") }) {
            let part = SafeTensors(
                metadata: Dictionary(uniqueKeysWithValues: m.filter { $0.key.hasPrefix("mlp.") }.map { (String($0.key.dropFirst(4)), $0.value) }),
                tensors: file.tensors.filter { $0.name.hasPrefix("mlp.") }.map { (String($0.name.dropFirst(4)), $0.tensor) })
            let network: NetworkModel
            do { network = try NetworkModel(part: part, path: path, kind: IPModel.mlpKind) } catch {
                throw fail("its network part: \(error.reason)")
            }
            guard network.network.inputShape == Shape([columns.count]), network.network.outputShape == Shape([2]),
                network.labels == IPModel.labels, network.loss == .softmaxCrossEntropy
            else {
                throw fail(
                    "its network takes \(network.network.inputShape) to \(network.network.outputShape) but the features have \(columns.count) columns and two classes"
                )
            }
            mlp = network.network
        }
        guard forest != nil || mlp != nil else { throw fail("holds neither a forest nor a network") }
        self.init(
            spec: spec, databases: databases, lists: lists, asListing: asListing, networkListing: networkListing, forest: forest, mlp: mlp,
            forestWeight: weight,
            threshold: threshold, targetRecall: target, card: card)
    }

    /// Most trees a forest in a model file may have (`train ip` makes 100 unless told otherwise).
    static let maximumTrees = 65_536

    /// The forest of a model file whose checksum has been checked: node and feature indices must be
    /// exact integers below 2^24 (what float32 holds exactly), at most `maximumTrees` trees, children
    /// after their parent and inside their tree, probabilities in 0...1, importances finite. Its
    /// arrays are the size of the file's tensors; nothing larger is allocated.
    static func readForest(_ file: SafeTensors, features: Int, fail: (String) -> ModelFileError) throws(ModelFileError) -> RandomForest {
        var parts: [String: ContiguousArray<Float>] = [:]
        for name in forestTensorNames {
            guard let t = file[name], t.shape.rank == 1 else { throw fail("has no one-dimensional tensor '\(name)' for its forest") }
            parts[name] = t.scalars
        }
        let checksum = SafeTensors(metadata: [:], tensors: forestTensorNames.map { ($0, file[$0]!) }).data.withUnsafeBytes { hex(sha256($0)) }
        guard file.metadata["forest.sha256"] == checksum else {
            throw fail("forest does not match its SHA-256 checksum: the file was altered or damaged")
        }
        func integers(_ name: String) throws(ModelFileError) -> [Int32] {
            var out: [Int32] = []
            for v in parts[name]! {
                guard v == v.rounded(), v >= -1, v < 16_777_216 else { throw fail("tensor '\(name)' holds \(v), not a node or feature index") }
                out.append(Int32(v))
            }
            return out
        }
        let sizes = try integers("forest.tree_nodes"), feature = try integers("forest.feature"), left = try integers("forest.left")
        let threshold = parts["forest.threshold"]!, value = parts["forest.value"]!
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 }), sizes.reduce(0, { $0 + Int($1) }) == feature.count,
            threshold.count == feature.count, left.count == feature.count, value.count == feature.count
        else {
            throw fail("forest tensors do not have one entry per node of its trees")
        }
        guard sizes.count <= maximumTrees else { throw fail("forest has \(sizes.count) trees; at most \(maximumTrees) are allowed") }
        guard parts["forest.importances"]!.count == features, parts["forest.importances"]!.allSatisfy(\.isFinite) else {
            throw fail("forest importances are not one finite number for each of the \(features) feature columns")
        }
        var trees: [DecisionTree] = []
        var start = 0
        for size in sizes {
            let range = start..<(start + Int(size))
            let l = Array(left[range])
            let tree = DecisionTree(
                feature: Array(feature[range]), threshold: Array(threshold[range]), left: l,
                right: zip(feature[range], l).map { $0 < 0 ? 0 : $1 + 1 }, value: Array(value[range]))
            for i in tree.feature.indices where tree.feature[i] < 0 && tree.left[i] != 0 {
                throw fail("tree \(trees.count) has a leaf with a child")
            }
            if let problem = tree.problem(features: features) { throw fail("tree \(trees.count): \(problem)") }
            trees.append(tree)
            start = range.upperBound
        }
        return RandomForest(trees: trees, featureCount: features, importances: parts["forest.importances"]!.map(Double.init))
    }

    // MARK: - Shipped model

    /// The model that ships with Flowhound: `$FLOWHOUND_IP_MODEL`, else `ip-model.safetensors` beside the
    /// executable, else in the source tree.
    public static func defaultPath() -> String? {
        shippedModelPath(
            environmentVariable: "FLOWHOUND_IP_MODEL", bundle: "Flowhound_Reputation",
            file: "ip-model.safetensors", sourceResources: URL(fileURLWithPath: #filePath).deletingLastPathComponent())
    }

    public static func load(pathOrDefault path: String?) throws(ModelFileError) -> IPModel {
        if let path { return try read(path: path) }
        guard let found = defaultPath() else {
            throw ModelFileError(
                path: "ip-model.safetensors", reason: "the default IP model was not found beside the executable; pass --ip-model or set FLOWHOUND_IP_MODEL")
        }
        return try read(path: found)
    }
}

/// How a model was trained and how it did on its held-out test split, as `train ip` wrote it.
public struct IPModelCard: Codable, Sendable {
    public struct Input: Codable, Sendable {
        public var path: String
        public var role: String
        /// `addresses`, `blocks` (sampled) or `flows`; for rows labelled from logs (`train ip --logs`),
        /// the rule (`DerivedInput.kind`).
        public var kind: String
        public var rows: Int
        public var sha256: String
    }
    public struct Part: Codable, Sendable {
        public var scorer: String
        public var ranking: RankingMetrics
        public var atThreshold: BinaryMetrics
    }
    public var created: String
    public var inputs: [Input]
    public var loading: LoadingOptions
    public var split: SplitOptions
    public var hour: String
    public var port: String
    public var rows: [String: [String: Int]]
    public var forest: ForestSettings?
    public var mlpEpochs: Int?
    public var test: [Part]
    public var notes: [String]

    /// Most addresses `eval ip` draws from one list of blocks when it loads data again with a card's
    /// loading options, and the highest minimum count it may ask of a list entry.
    public static let maximumSamplesPerList = 1_000_000, maximumMinimumCount = 1_000_000

    /// Why the loading and split options (which `eval ip` uses again) cannot be used, or nil: counts
    /// and fractions out of the ranges `train ip` accepts, which would overflow or trap there.
    public var problem: String? {
        if !(0...Self.maximumMinimumCount).contains(loading.minimumCount) {
            return "minimum count \(loading.minimumCount) is not from 0 to \(Self.maximumMinimumCount)"
        }
        if !(1...Self.maximumSamplesPerList).contains(loading.samplesPerList) {
            return "samples per list \(loading.samplesPerList) is not from 1 to \(Self.maximumSamplesPerList)"
        }
        if !(split.testFraction > 0 && split.testFraction < 1) { return "test fraction \(split.testFraction) is not in (0, 1)" }
        if !(split.validationFraction >= 0 && split.validationFraction < 1) {
            return "validation fraction \(split.validationFraction) is not in [0, 1)"
        }
        return nil
    }

    public init(
        created: String, inputs: [Input], loading: LoadingOptions, split: SplitOptions, hour: String, port: String,
        rows: [String: [String: Int]], forest: ForestSettings?, mlpEpochs: Int?, test: [Part], notes: [String]
    ) {
        self.created = created
        self.inputs = inputs
        self.loading = loading
        self.split = split
        self.hour = hour
        self.port = port
        self.rows = rows
        self.forest = forest
        self.mlpEpochs = mlpEpochs
        self.test = test
        self.notes = notes
    }
}
