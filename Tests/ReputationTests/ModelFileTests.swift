import Forest
import Foundation
import Neural
import Support
import TestSupport
import Testing

@testable import Reputation

/// What `IPModel.read` refuses: files damaged or edited, whether or not the editor recomputed a
/// checksum, and numbers out of their bounds. A tiny model made here; no database needed.
@Suite struct IPModelFileTests {
    static let spec = FeatureSpec(
        hour: false, port: false, countries: [], location: false, asnBuckets: 0, flags: false,
        prefixLength: true, lists: [])

    /// A forest of one split and two leaves, and a small network, over `spec`'s columns.
    static func model() throws -> IPModel {
        let columns = spec.columnCount
        let tree = DecisionTree(feature: [0, -1, -1], threshold: [0.5, 0, 0], left: [1, 0, 0], right: [2, 0, 0], value: [0.5, 0.1, 0.9])
        let forest = RandomForest(
            trees: [tree, tree], featureCount: columns,
            importances: (0..<columns).map { $0 == 0 ? 1 : 0 })
        let mlp = try Network(Architecture(input: [columns], layers: [.dense(units: 4), .relu, .dense(units: 2)]), seed: 3)
        return IPModel(
            spec: spec, databases: [], lists: [], forest: forest, mlp: mlp, forestWeight: 0.5, threshold: 0.4262,
            targetRecall: 0.95)
    }

    /// Writes `file` as it is (no checksum recomputed) and returns why `IPModel.read` refuses it; nil
    /// if it reads. (That a bound refused it before allocating shows in the reason, which names the
    /// bound: building first trapped or allocated gigabytes.)
    static func refusal(_ file: SafeTensors, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        let path = ((try? temporaryDirectory("model")) ?? NSTemporaryDirectory()) + "/model-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(file.encoded())), sourceLocation: sourceLocation)
        do {
            _ = try IPModel.read(path: path)
            Issue.record("the file was accepted", sourceLocation: sourceLocation)
            return nil
        } catch {
            #expect(error.description == "\(path): \(error.reason)", sourceLocation: sourceLocation)
            #expect(!error.reason.contains("\n"), sourceLocation: sourceLocation)
            return error.reason
        }
    }

    static let tampered = "does not match its SHA-256 checksum (of all its metadata and tensors): the file was altered or damaged"

    /// The model's file after `edit`, resealed: its file checksum (and forest checksum) recomputed.
    static func resealed(_ edit: (inout SafeTensors) -> Void) throws -> SafeTensors {
        var file = try model().safeTensors()
        edit(&file)
        let forest = SafeTensors(metadata: [:], tensors: IPModel.forestTensorNames.compactMap { name in file[name].map { (name, $0) } })
        file.metadata["forest.sha256"] = forest.data.withUnsafeBytes { hex(sha256($0)) }
        return file.sealed()
    }

    @Test func aModelReadsBack() throws {
        let model = try Self.model()
        let path = try temporaryDirectory("model") + "/tiny.safetensors"
        try model.write(to: path)
        let read = try IPModel.read(path: path)
        #expect(read.threshold == model.threshold && read.forestWeight == 0.5 && read.targetRecall == 0.95)
        #expect(read.forest?.trees == model.forest?.trees)
        #expect(read.mlp?.parameters.map(\.value) == model.mlp?.parameters.map(\.value))
        let file = try SafeTensors.read(path: path)
        #expect(file.metadata["format_version"] == "2" && file.metadata["mlp.format_version"] == "2")
        #expect(file.metadata["sha256"] == file.checksum() && file.metadata["mlp.sha256"] == nil)
    }

    /// A threshold of 0 or 1 is in range: only the file checksum tells that it was edited.
    @Test(arguments: ["0", "1", "0.9"])
    func anEditedThresholdIsRefusedByTheChecksum(value: String) throws {
        var file = try Self.model().safeTensors()
        file.metadata["threshold"] = value
        #expect(Self.refusal(file) == Self.tampered)
    }

    @Test func everyMetadataKeyIsCovered() throws {
        let file = try Self.model().safeTensors()
        // (format, format_version and kind are checked first, each with its own message.)
        for key in file.metadata.keys where !["sha256", "format", "format_version", "kind"].contains(key) {
            var edited = file
            edited.metadata[key]! += " "
            #expect(Self.refusal(edited) == Self.tampered, "\(key)")
        }
        var added = file
        added.metadata["note"] = "added"
        #expect(Self.refusal(added) == Self.tampered)
        var missing = file
        missing.metadata["sha256"] = nil
        #expect(Self.refusal(missing) == "has no sha256 checksum")
    }

    /// Zeroed leaves are valid probabilities and the forest's own checksum was recomputed: the file
    /// checksum still refuses them.
    @Test func zeroedLeavesWithARecomputedForestChecksumAreRefused() throws {
        var file = try Self.model().safeTensors()
        let i = try #require(file.tensors.firstIndex { $0.name == "forest.value" })
        file.tensors[i].tensor.scalars = ContiguousArray(repeating: 0, count: file.tensors[i].tensor.count)
        let forest = SafeTensors(metadata: [:], tensors: IPModel.forestTensorNames.map { ($0, file[$0]!) })
        file.metadata["forest.sha256"] = forest.data.withUnsafeBytes { hex(sha256($0)) }
        #expect(Self.refusal(file) == Self.tampered)
    }

    @Test(arguments: [
        ("threshold", "nan"), ("threshold", "inf"), ("threshold", "-0.1"), ("threshold", "1.5"), ("threshold", "x"),
        ("forest_weight", "nan"), ("forest_weight", "-inf"), ("forest_weight", "2"),
        ("target_recall", "0"), ("target_recall", "nan"), ("target_recall", "1.01"), ("target_recall", ""),
    ])
    func numbersOutOfBoundsAreRefusedEvenResealed(key: String, value: String) throws {
        let file = try Self.resealed { $0.metadata[key] = value }
        let reason = try #require(Self.refusal(file))
        #expect(reason.hasPrefix("has no \(key) "), "\(reason)")
        #expect(reason.hasSuffix("(\(value))"), "\(reason)")
        let missing = try Self.resealed { $0.metadata[key] = nil }
        #expect(Self.refusal(missing)?.hasSuffix("(none)") == true)
    }

    /// The architecture of the network part, edited: refused at once, before anything is allocated,
    /// whether the editor left the checksum alone or recomputed it. (2^20 units over this model's 12
    /// columns is within the limits, so it is refused for not being the network the file holds.)
    @Test(arguments: [1 << 20, 1 << 26, 1 << 62])
    func anEditedNetworkArchitectureIsRefusedQuickly(units: Int) throws {
        let columns = Self.spec.columnCount
        let architecture = #"{"input":[\#(columns)],"layers":[{"type":"dense","units":\#(units)},{"type":"relu"},{"type":"dense","units":2}]}"#
        var edited = try Self.model().safeTensors()
        edited.metadata["mlp.architecture"] = architecture
        #expect(Self.refusal(edited) == Self.tampered)
        let resealed = try Self.resealed { $0.metadata["mlp.architecture"] = architecture }
        let reason = try #require(Self.refusal(resealed))
        if units == 1 << 20 {
            #expect(reason == "its network part: tensor '0.dense.weight' is \(columns)×4 but the architecture needs \(columns)×1048576")
        } else {
            #expect(reason.hasPrefix("its network part: has an architecture that cannot be used: layer 0 (dense \(units)): "), "\(reason)")
        }
    }

    /// Within the limits, but not the network the file holds: refused before the network is built.
    @Test func anArchitectureThatIsNotTheFilesIsRefused() throws {
        let columns = Self.spec.columnCount
        let resealed = try Self.resealed {
            $0.metadata["mlp.architecture"] = #"{"input":[\#(columns)],"layers":[{"type":"dense","units":4096},{"type":"relu"},{"type":"dense","units":2}]}"#
        }
        #expect(Self.refusal(resealed) == "its network part: tensor '0.dense.weight' is \(columns)×4 but the architecture needs \(columns)×4096")
    }

    @Test func aFormatOneFileIsRefusedWithAWayOut() throws {
        var file = try Self.model().safeTensors()
        file.metadata["format_version"] = "1"
        file.metadata["mlp.format_version"] = "1"
        file.metadata["sha256"] = nil
        #expect(Self.refusal(file)?.hasPrefix("is in model format 1, which this Flowhound no longer reads") == true)
        #expect(Self.refusal(file)?.hasSuffix("retrain the model") == true)
    }

    /// `eval ip` loads and splits data again with the card's options: counts that would overflow
    /// there, or fractions that would trap, are refused when the model is read.
    @Test(arguments: [
        (#""samplesPerList":10000"#, #""samplesPerList":4611686018427387904"#, "samples per list 4611686018427387904 is not from 1 to 1000000"),
        (#""samplesPerList":10000"#, #""samplesPerList":0"#, "samples per list 0 is not from 1 to 1000000"),
        (#""minimumCount":1"#, #""minimumCount":-1"#, "minimum count -1 is not from 0 to 1000000"),
        (#""testFraction":0.2"#, #""testFraction":1e300"#, "test fraction 1e+300 is not in (0, 1)"),
        (#""validationFraction":0.15"#, #""validationFraction":-0.5"#, "validation fraction -0.5 is not in [0, 1)"),
    ])
    func aCardWhoseOptionsCannotBeUsedAgainIsRefused(old: String, new: String, problem: String) throws {
        var model = try Self.model()
        model.card = IPModelCard(
            created: "2026-01-01", inputs: [], loading: LoadingOptions(), split: SplitOptions(), hour: "no", port: "no",
            rows: [:], forest: nil, mlpEpochs: nil, test: [], notes: [])
        let path = try temporaryDirectory("model") + "/carded.safetensors"
        try model.write(to: path)
        #expect(try IPModel.read(path: path).card?.loading.samplesPerList == 10_000)
        var file = try SafeTensors.read(path: path)
        let card = try #require(file.metadata["card"])
        file.metadata["card"] = card.replacingOccurrences(of: old, with: new)
        #expect(file.metadata["card"] != card)
        #expect(Self.refusal(file.sealed()) == "has a card whose \(problem)")
    }

    @Test func aForestWithTooManyTreesOrNonFiniteImportancesIsRefused() throws {
        let nan = try Self.resealed { file in
            let i = file.tensors.firstIndex { $0.name == "forest.importances" }!
            file.tensors[i].tensor.scalars[0] = .nan
        }
        #expect(Self.refusal(nan)?.hasPrefix("forest importances are not one finite number") == true)
        let trees = IPModel.maximumTrees + 1
        let many = try Self.resealed { file in
            func set(_ name: String, _ value: Float) {
                let i = file.tensors.firstIndex { $0.name == name }!
                file.tensors[i].tensor = Tensor(shape: [trees], scalars: ContiguousArray(repeating: value, count: trees))
            }
            set("forest.tree_nodes", 1)
            set("forest.feature", -1)
            set("forest.threshold", 0)
            set("forest.left", 0)
            set("forest.value", 0.5)
        }
        #expect(Self.refusal(many) == "forest has \(trees) trees; at most \(IPModel.maximumTrees) are allowed")
    }
}
