import ActivityImage
import FlowRecords
import Foundation
import Neural
import Support
import Synthesis
import Testing

@testable import Detection

/// A small synthetic dataset in a fresh temporary directory; the caller removes `directory`.
struct SyntheticDataset {
    var directory: String
    var meta: DatasetWriter.Meta
    var flows: Int

    init(seed: UInt64 = 3, openWindows: ImageSchedule? = nil) throws {
        var config = SynthConfig()
        config.seed = seed
        config.duration = 1800
        config.benignSources = 30
        config.scanPrevalence = 0.4
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("scan-dataset-\(UUID().uuidString)").path
        (meta, flows) = try DatasetWriter().writeSynthetic(config: config, window: 600, openWindows: openWindows, to: directory)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// Datasets written by `DatasetWriter.writeSynthetic` read back with `ScanDataset.load`, the validation
/// split keeps sources apart, and inconsistent datasets are refused with the file named.
@Suite struct ScanDatasetTests {
    static func rewriteLabels(_ path: String, _ labels: [Int64]) throws {
        let writer = try NumpyWriter(path: path, dtype: .int64, rowShape: [])
        for label in labels { try writer.append(label) }
        try writer.finish()
    }

    static func editMeta(_ directory: String, _ edit: (inout [String: Any]) -> Void) throws {
        let url = URL(fileURLWithPath: directory + "/meta.json")
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: url)
    }

    static func loadError(_ directory: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        #expect(throws: ScanDataError.self, sourceLocation: sourceLocation) { _ = try ScanDataset.load(directory: directory) }?.description
    }

    @Test func aSyntheticDatasetLoadsAsWritten() throws {
        let synthetic = try SyntheticDataset()
        defer { synthetic.remove() }
        let meta = synthetic.meta
        #expect(synthetic.flows > 0)
        #expect(meta.train.count > 0 && meta.test.count > 0)
        #expect(meta.train.scans > 0 && meta.test.scans > 0)
        #expect(meta.inputs == ["synth --seed 3 --duration 1800s --benign 30 --scan-prevalence 0.4"])
        #expect(meta.windowSeconds == 600)

        let dataset = try ScanDataset.load(directory: synthetic.directory)
        #expect(dataset.directory == synthetic.directory)
        #expect(dataset.meta.shape == [ActivityImage.channels, 64, 32])
        #expect(dataset.meta.labelNames == ["benign", "scan"])
        #expect(dataset.meta.kinds.values.reduce(0, +) == meta.train.count + meta.test.count)
        for (split, described) in [(dataset.train, meta.train), (dataset.test, meta.test)] {
            #expect(split.samples.sampleShape == [ActivityImage.channels, 64, 32])
            #expect(split.samples.count == described.count)
            #expect(split.rows.count == described.count)
            #expect(split.samples.features.count == described.count * ActivityImage.count)
            #expect(split.samples.labels.filter { $0 == 1 }.count == described.scans)
            #expect(split.samples.labels.map(Int.init) == split.rows.map(\.label))
            #expect(split.rows.map(\.source) == described.rows.map(\.source))
            #expect(split.samples.features.allSatisfy { $0 >= 0 && $0 <= 1 })
        }
        // The split is by source: no source has images on both sides.
        #expect(Set(dataset.train.rows.map(\.source)).isDisjoint(with: dataset.test.rows.map(\.source)))
    }

    @Test func theValidationSplitKeepsSourcesApartAndEveryKindOnBothSides() throws {
        let synthetic = try SyntheticDataset()
        defer { synthetic.remove() }
        let dataset = try ScanDataset.load(directory: synthetic.directory)
        let (training, validation) = dataset.validationSplit(fraction: 0.2, seed: 1)

        #expect(training.samples.count + validation.samples.count == dataset.train.samples.count)
        #expect(training.rows.count == training.samples.count && validation.rows.count == validation.samples.count)
        #expect(validation.samples.count > 0)
        let trainingSources = Set(training.rows.map(\.source)), validationSources = Set(validation.rows.map(\.source))
        #expect(trainingSources.isDisjoint(with: validationSources))
        #expect(trainingSources.union(validationSources) == Set(dataset.train.rows.map(\.source)))
        // Rows and samples stay together.
        #expect(training.samples.labels.map(Int.init) == training.rows.map(\.label))
        #expect(validation.samples.labels.map(Int.init) == validation.rows.map(\.label))
        let firstValidation = try #require(validation.rows.first)
        let original = try #require(dataset.train.rows.firstIndex { $0.source == firstValidation.source && $0.windowStart == firstValidation.windowStart })
        let size = ActivityImage.count
        #expect(Array(validation.samples.features[0..<size]) == Array(dataset.train.samples.features[(original * size)..<((original + 1) * size)]))

        var sourcesByKind: [String: Set<String>] = [:]
        for row in dataset.train.rows { sourcesByKind["\(row.label)/\(row.kind)", default: []].insert(row.source) }
        let kindsOnBothSides = sourcesByKind.filter { $0.value.count >= 2 }.keys
        #expect(!kindsOnBothSides.isEmpty)
        for key in kindsOnBothSides {
            #expect(training.rows.contains { "\($0.label)/\($0.kind)" == key }, "\(key) has no training source")
            #expect(validation.rows.contains { "\($0.label)/\($0.kind)" == key }, "\(key) has no validation source")
        }

        // The same seed gives the same split; no fraction gives no validation.
        let again = dataset.validationSplit(fraction: 0.2, seed: 1)
        #expect(again.validation.rows.map(\.source) == validation.rows.map(\.source))
        let none = dataset.validationSplit(fraction: 0, seed: 1)
        #expect(none.validation.samples.count == 0)
        #expect(none.training.samples.count == dataset.train.samples.count)
    }

    /// The documentation promises every kind with two or more sources on both sides, and
    /// `flowhound train scan --validation-fraction` accepts anything below 1; with a large fraction a
    /// kind with 2–4 sources is held out entirely (n = round(count × fraction) reaches count).
    @Test func aLargeValidationFractionStillLeavesEveryKindInTraining() throws {
        let synthetic = try SyntheticDataset()
        defer { synthetic.remove() }
        let dataset = try ScanDataset.load(directory: synthetic.directory)
        let (training, _) = dataset.validationSplit(fraction: 0.9, seed: 1)
        var sourcesByKind: [String: Set<String>] = [:]
        for row in dataset.train.rows { sourcesByKind["\(row.label)/\(row.kind)", default: []].insert(row.source) }
        let small = sourcesByKind.filter { (2...4).contains($0.value.count) }.keys.sorted()
        try #require(!small.isEmpty, "the dataset has no kind with 2–4 training sources")
        let missing = small.filter { key in !training.rows.contains { "\($0.label)/\($0.kind)" == key } }
        #expect(missing.isEmpty, "kinds with no training source left: \(missing)")
    }

    // MARK: - Refusals

    @Test func aMissingDirectoryIsRefused() {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-dataset-\(UUID().uuidString)").path
        #expect(Self.loadError(directory) == "\(directory): no such dataset directory")
    }

    @Test func aDirectoryWithoutMetaIsRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("empty-dataset-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(Self.loadError(directory) == "\(directory)/meta.json: missing; \(directory) was not written by 'flowhound dataset'")
    }

    @Test func badMetaIsRefused() throws {
        let synthetic = try SyntheticDataset()
        defer { synthetic.remove() }
        let dir = synthetic.directory
        try Self.editMeta(dir) { $0["format_version"] = 2 }
        #expect(Self.loadError(dir) == "\(dir)/meta.json: dataset format 2 is not supported (1 is)")
        try Data("{\"shape\": ".utf8).write(to: URL(fileURLWithPath: dir + "/meta.json"))
        #expect(Self.loadError(dir)?.hasPrefix("\(dir)/meta.json: not a Flowhound dataset description (") == true)
    }

    @Test func labelsOfTheWrongLengthAreRefused() throws {
        let synthetic = try SyntheticDataset()
        defer { synthetic.remove() }
        let dir = synthetic.directory
        let labels = synthetic.meta.train.rows.map { Int64($0.label) }
        try Self.rewriteLabels(dir + "/train/y.npy", Array(labels.dropLast()))
        #expect(Self.loadError(dir) == "\(dir)/train/y.npy: \(labels.count - 1) labels for \(labels.count) images in \(dir)/train/X.npy")
    }

    @Test func aLabelThatDisagreesWithMetaIsRefused() throws {
        let synthetic = try SyntheticDataset()
        defer { synthetic.remove() }
        let dir = synthetic.directory
        var labels = synthetic.meta.test.rows.map { Int64($0.label) }
        let row = labels.count / 2
        labels[row] = 1 - labels[row]
        try Self.rewriteLabels(dir + "/test/y.npy", labels)
        #expect(Self.loadError(dir) == "\(dir)/test/y.npy: row \(row) is labelled \(labels[row]) but meta.json says \(1 - labels[row])")
        labels[row] = 2
        try Self.rewriteLabels(dir + "/test/y.npy", labels)
        #expect(Self.loadError(dir) == "\(dir)/test/y.npy: label 2 at row \(row) is not one of 2 classes")
    }

    @Test func imagesThatDisagreeWithMetaAreRefused() throws {
        let synthetic = try SyntheticDataset()
        defer { synthetic.remove() }
        let dir = synthetic.directory
        try Self.editMeta(dir) { meta in
            var train = meta["train"] as! [String: Any]
            train["rows"] = Array((train["rows"] as! [Any]).dropLast())
            meta["train"] = train
        }
        let n = synthetic.meta.train.count
        #expect(Self.loadError(dir) == "\(dir)/meta.json: describes \(n - 1) train images but \(dir)/train/X.npy has \(n)")

        let writer = try NumpyWriter(path: dir + "/train/X.npy", dtype: .float32, rowShape: [5, 64, 31])
        try writer.append([Float](repeating: 0, count: 5 * 64 * 31))
        try writer.finish()
        #expect(Self.loadError(dir) == "\(dir)/train/X.npy: images are 1×5×64×31 but meta.json says N×5×64×32")
    }

    /// A dataset drawn in another layout (here: one written before datasets recorded theirs, with the
    /// three channels of layout 2) is refused before its arrays are read, with what to do about it.
    @Test func aDatasetOfAnotherLayoutIsRefused() throws {
        let synthetic = try SyntheticDataset()
        defer { synthetic.remove() }
        let dir = synthetic.directory
        try Self.editMeta(dir) { meta in
            meta["image_layout_version"] = nil
            meta["shape"] = [3, 64, 32]
            meta["channels"] = ["failed", "answered", "timing"]
        }
        #expect(
            Self.loadError(dir)
                == "\(dir)/meta.json: images are 3×64×32 in an earlier layout but Flowhound draws 5×64×32 images in layout \(ActivityImage.layoutVersion); write the dataset again with flowhound dataset"
        )
        try Self.editMeta(dir) { meta in meta["image_layout_version"] = ActivityImage.layoutVersion + 1 }
        #expect(Self.loadError(dir)?.contains("images are 3×64×32 in layout \(ActivityImage.layoutVersion + 1) but") == true)
    }

    /// Open-window images follow the whole windows, marked with when they were taken; the evaluation
    /// reports both parts; a mark outside its window is refused.
    @Test func openWindowImagesAreMarkedAndChecked() throws {
        let synthetic = try SyntheticDataset(openWindows: ImageSchedule())
        defer { synthetic.remove() }
        let dir = synthetic.directory
        #expect(synthetic.meta.openWindowInterval == 60)
        let dataset = try ScanDataset.load(directory: dir)
        let all = dataset.all.rows
        let open = all.filter { $0.openAt != nil }
        #expect(open.count > 0 && open.count < all.count)
        #expect(open.allSatisfy { $0.openAt! > $0.windowStart && $0.openAt! <= $0.windowStart + 600 })
        // In each split, the whole windows come first.
        for split in [dataset.train, dataset.test] {
            let firstOpen = split.rows.firstIndex { $0.openAt != nil } ?? split.rows.count
            #expect(split.rows[firstOpen...].allSatisfy { $0.openAt != nil })
        }
        let scores = all.map { $0.openAt == nil ? Double($0.label) : 0.4 }
        let e = ScanEvaluation(scores: scores, rows: all)
        #expect(e.wholeWindows?.images == all.count - open.count && e.wholeWindows?.accuracy == 1)
        #expect(e.openWindows?.images == open.count && e.openWindows?.recall == 0)
        let whole = all.filter { $0.openAt == nil }
        #expect(ScanEvaluation(scores: whole.map { Double($0.label) }, rows: whole).openWindows == nil)

        let index = synthetic.meta.train.rows.firstIndex { $0.openAt != nil }!
        try Self.editMeta(dir) { meta in
            var train = meta["train"] as! [String: Any]
            var rows = train["rows"] as! [[String: Any]]
            rows[index]["open_at"] = (rows[index]["window_start"] as! Double) - 5
            train["rows"] = rows
            meta["train"] = train
        }
        let row = synthetic.meta.train.rows[index]
        #expect(
            Self.loadError(dir)
                == "\(dir)/meta.json: train row \(index) is an open window imaged at \(row.windowStart - 5), outside its window \(row.windowStart) + 600.0 s")
    }

    @Test func aMissingArrayFileIsNamed() throws {
        let synthetic = try SyntheticDataset()
        defer { synthetic.remove() }
        let dir = synthetic.directory
        try FileManager.default.removeItem(atPath: dir + "/test/X.npy")
        let error = #expect(throws: NumpyError.self) { _ = try ScanDataset.load(directory: dir) }
        #expect(error?.description == "\(dir)/test/X.npy: cannot open: No such file or directory")
    }
}

/// Scan model files: what `ScanModel.write` stores and what `ScanModel.load` insists on.
@Suite struct ScanModelTests {
    static func temporaryPath() throws -> (directory: String, path: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("scan-model-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return (directory, directory + "/scan.safetensors")
    }

    @Test func aModelTrainedOnADatasetReadsBackWithItsDocuments() throws {
        let synthetic = try SyntheticDataset()
        defer { synthetic.remove() }
        let (dir, path) = try Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let dataset = try ScanDataset.load(directory: synthetic.directory)
        var options = TrainingOptions()
        options.epochs = 1
        options.seed = 4
        options.threads = 2
        var epochs = 0
        let (model, test) = try ScanModel.train(dataset: dataset, options: options, validationFraction: 0.2, dataDescription: "unit test") { _ in epochs += 1 }
        #expect(epochs == 1)
        #expect(test.images == dataset.test.samples.count)
        #expect(test.confusion.flatMap { $0 }.reduce(0, +) == test.images)
        let provenance = try #require(model.provenance)
        #expect(provenance.trainImages + provenance.validationImages == dataset.train.samples.count)
        #expect(provenance.validationImages > 0)
        #expect(provenance.data == "unit test")
        #expect(provenance.datasetInputs == synthetic.meta.inputs)
        #expect(model.input == .current(window: 600))

        try model.write(to: path)
        let loaded = try ScanModel.load(path: path)
        #expect(loaded.input == model.input)
        #expect(loaded.provenance?.epochs.count == 1)
        #expect(loaded.provenance?.options.seed == 4)
        #expect(loaded.metrics?.accuracy == test.accuracy)
        #expect(loaded.metrics?.confusion == test.confusion)
        for (a, b) in zip(model.network.parameters, loaded.network.parameters) {
            #expect(a.value == b.value, "\(a.name)")
        }
        let again = try loaded.evaluate(dataset.test, threads: 2)
        #expect(again.accuracy == test.accuracy)
        #expect(again.confusion == test.confusion)
        #expect(again.recallByKind == test.recallByKind)
        #expect(try ScanModel.load(pathOrDefault: path).input == model.input)
    }

    /// The model that ships loads: it reads the images Flowhound draws now, and carries its card.
    @Test func theShippedModelLoads() throws {
        let model = try ScanModel.load(pathOrDefault: nil)
        #expect(model.input.isCompatible(with: .current(window: model.input.windowSeconds)))
        #expect(model.network.architecture == ScanModel.defaultArchitecture)
        #expect(model.provenance != nil && model.metrics != nil)
    }

    @Test func aModelForOtherImagesIsRefused() throws {
        let (dir, path) = try Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var input = ScanModel.InputSpec.current(window: 600)
        let current = input.imageLayoutVersion
        input.imageLayoutVersion = current + 1
        try ScanModel(network: Network(ScanModel.defaultArchitecture, seed: 1), input: input).write(to: path)
        let error = #expect(throws: ModelFileError.self) { _ = try ScanModel.load(path: path) }
        #expect(error?.reason == "was trained on 5×64×32 images (layout \(current + 1)) but Flowhound draws 5×64×32 images (layout \(current)); retrain it")
    }

    @Test func aModelWithoutItsInputSpecificationOrWithOtherClassesIsRefused() throws {
        let (dir, path) = try Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let network = try Network(ScanModel.defaultArchitecture, seed: 1)
        try NetworkModel(kind: ScanModel.kind, network: network, loss: .softmaxCrossEntropy, labels: ScanModel.labels).write(to: path)
        let noInput = #expect(throws: ModelFileError.self) { _ = try ScanModel.load(path: path) }
        #expect(noInput?.reason == "has no input specification")

        try NetworkModel(kind: ScanModel.kind, network: network, loss: .softmaxCrossEntropy, labels: ["cat", "dog"]).write(to: path)
        let classes = #expect(throws: ModelFileError.self) { _ = try ScanModel.load(path: path) }
        #expect(classes?.reason == #"classes are ["cat", "dog"] with softmax_cross_entropy; a scan CNN has ["benign", "scan"] with softmax_cross_entropy"#)

        try NetworkModel(kind: "ip-mlp", network: network, loss: .softmaxCrossEntropy, labels: ScanModel.labels).write(to: path)
        let kind = #expect(throws: ModelFileError.self) { _ = try ScanModel.load(path: path) }
        #expect(kind?.reason == "is an ip-mlp model, not a scan-cnn model")
    }
}

/// The shipped model on real scans: nmap against loopback, captured and exported by Argus
/// (Tests/Fixtures/realtools, see its README), scored as detection scores them: the windows that pass
/// the CNN's filter (`ImageSchedule.worthScoring`); the rest score 0.
@Suite struct ShippedModelOnRealScansTests {
    @Test(arguments: ["loopback-scans.binetflow", "loopback-scans.argus.csv"])
    func everyScanFoundAndNoBenignSourceFlagged(_ file: String) throws {
        let fixtures = RealScannerTests.fixtures
        let truth = try GroundTruth.load(path: fixtures + "/loopback-scans.truth.csv")
        let model = try ScanModel.load(pathOrDefault: nil)
        let window = model.input.windowSeconds
        var windows: [String: (source: IPAddress, activity: ActivityAccumulator)] = [:]
        _ = try FlowReader().read(path: fixtures + "/" + file) { flow in
            guard truth[flow.source] != nil else { return }
            let key = "\(flow.source) \(Int64((flow.start / window).rounded(.down)))"
            windows[key, default: (flow.source, ActivityAccumulator())].activity.add(flow)
        }
        let scored = windows.values.filter { ImageSchedule().worthScoring($0.activity) }
        let images = scored.map { $0.activity.image(source: $0.source, windowStart: 0, windowLength: window) }
        let samples = try Samples(
            sampleShape: model.network.inputShape,
            features: ContiguousArray(images.flatMap(\.pixels)),
            labels: [Int32](repeating: 0, count: images.count))
        var flagged = Set<IPAddress>()
        for (image, score) in zip(images, try model.scanProbabilities(samples)) where score >= 0.5 { flagged.insert(image.source) }
        let scanners = Set(truth.sources.filter { truth[$0]!.label == "scan" })
        #expect(flagged == scanners, "flagged \(flagged.sorted()), scanners \(scanners.sorted())")
    }
}
