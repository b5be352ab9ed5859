import ActivityImage
import Foundation
import Neural
import Support

/// The convolutional network that tells a port scan's activity image from benign traffic's, saved as
/// a `scan-cnn` model: class 0 benign, class 1 scan.
public struct ScanModel {
    public static let kind = "scan-cnn"
    public static let labels = ["benign", "scan"]

    /// The default architecture. Activity images are sparse (a median of 15 of 2,048 pixels are set),
    /// so most of the work sits in the first convolution, which touches only the set pixels; the 4×4
    /// pooling after it leaves little for the rest. 19,538 weights, 78 KB as float32.
    public static let defaultArchitecture = Architecture(
        input: Shape(ActivityImage.shape),
        layers: [
            .conv2d(filters: 16, kernel: 3, stride: 1, padding: 1), .relu, .maxPool2d(size: 4, stride: 4),
            .conv2d(filters: 16, kernel: 3, stride: 1, padding: 1), .relu, .maxPool2d(size: 2, stride: 2),
            .flatten, .dense(units: 32), .relu, .dropout(rate: 0.25), .dense(units: 2),
        ])

    /// What images the model reads; a model is refused when its images are not the ones Flowhound draws.
    public struct InputSpec: Codable, Sendable, Equatable {
        public var shape: [Int]
        public var channels: [String]
        /// `ActivityImage.layoutVersion` of the images the model was trained on.
        public var imageLayoutVersion: Int
        /// The window each training image covers; detection should use the same. A model file's must
        /// be in `windowRange`.
        public var windowSeconds: Double

        /// The windows a model file may declare: from one second to one week. Detection turns flow
        /// times divided by the window into whole window numbers, so a zero, tiny, huge or non-finite
        /// window is refused when the model is read.
        public static let windowRange: ClosedRange<Double> = 1...604_800

        public static func current(window: Double) -> InputSpec {
            InputSpec(
                shape: ActivityImage.shape,
                channels: ActivityImage.channelNames, imageLayoutVersion: ActivityImage.layoutVersion, windowSeconds: window)
        }

        public func isCompatible(with other: InputSpec) -> Bool {
            shape == other.shape && channels == other.channels && imageLayoutVersion == other.imageLayoutVersion
        }
    }

    /// Where the training data came from and how the model was trained.
    public struct Provenance: Codable, Sendable {
        public var data: String
        public var datasetInputs: [String]
        public var trainImages: Int
        public var validationImages: Int
        public var options: TrainingOptions
        public var epochs: [EpochReport]
        public var trainedAt: String
    }

    public var network: Network
    public var input: InputSpec
    public var provenance: Provenance?
    public var metrics: ScanEvaluation?

    public init(network: Network, input: InputSpec, provenance: Provenance? = nil, metrics: ScanEvaluation? = nil) {
        self.network = network
        self.input = input
        self.provenance = provenance
        self.metrics = metrics
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }()

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()

    /// Writes the model atomically with its input specification, provenance and test metrics.
    public func write(to path: String) throws {
        var documents = ["input": String(decoding: try Self.encoder.encode(input), as: UTF8.self)]
        if let provenance { documents["training"] = String(decoding: try Self.encoder.encode(provenance), as: UTF8.self) }
        if let metrics { documents["metrics"] = String(decoding: try Self.encoder.encode(metrics), as: UTF8.self) }
        try NetworkModel(kind: Self.kind, network: network, loss: .softmaxCrossEntropy, labels: Self.labels, documents: documents)
            .write(to: path)
    }

    /// Reads and checks a model file: a scan CNN whose images are the ones Flowhound draws.
    public static func load(path: String) throws -> ScanModel {
        let model = try NetworkModel.read(path: path, kind: kind)
        guard model.labels == labels, model.loss == .softmaxCrossEntropy else {
            throw ModelFileError(
                path: path, reason: "classes are \(model.labels) with \(model.loss.rawValue); a scan CNN has \(labels) with softmax_cross_entropy")
        }
        guard let text = model.documents["input"], let input = try? decoder.decode(InputSpec.self, from: Data(text.utf8)) else {
            throw ModelFileError(path: path, reason: "has no input specification")
        }
        guard input.windowSeconds.isFinite, InputSpec.windowRange.contains(input.windowSeconds) else {
            throw ModelFileError(
                path: path,
                reason:
                    "has an input window of \(input.windowSeconds) s; from \(Int(InputSpec.windowRange.lowerBound)) to \(Int(InputSpec.windowRange.upperBound)) s is allowed"
            )
        }
        let current = InputSpec.current(window: input.windowSeconds)
        guard input.isCompatible(with: current), Shape(input.shape) == model.network.inputShape else {
            throw ModelFileError(
                path: path,
                reason:
                    "was trained on \(Shape(input.shape)) images (layout \(input.imageLayoutVersion)) but Flowhound draws \(Shape(current.shape)) images (layout \(current.imageLayoutVersion)); retrain it"
            )
        }
        let provenance = model.documents["training"].flatMap { try? decoder.decode(Provenance.self, from: Data($0.utf8)) }
        let metrics = model.documents["metrics"].flatMap { try? decoder.decode(ScanEvaluation.self, from: Data($0.utf8)) }
        return ScanModel(network: model.network, input: input, provenance: provenance, metrics: metrics)
    }

    /// The model that ships with Flowhound: `$FLOWHOUND_SCAN_MODEL` if set, else `scan-cnn.safetensors`
    /// in the resource bundle beside the executable, else in the source tree it was built from.
    public static func defaultPath() -> String? {
        shippedModelPath(
            environmentVariable: "FLOWHOUND_SCAN_MODEL", bundle: "Flowhound_Detection",
            file: "scan-cnn.safetensors", sourceResources: URL(fileURLWithPath: #filePath).deletingLastPathComponent())
    }

    /// Loads `path`, or the default model when `path` is nil.
    public static func load(pathOrDefault path: String?) throws -> ScanModel {
        if let path { return try load(path: path) }
        guard let found = defaultPath() else {
            throw ModelFileError(
                path: "scan-cnn.safetensors",
                reason: "the default scan model was not found beside the executable; name a model file or set FLOWHOUND_SCAN_MODEL")
        }
        return try load(path: found)
    }

    /// The probability that each image shows a scan.
    public func scanProbabilities(_ samples: Samples, threads: Int = defaultThreadCount) throws -> [Double] {
        let probabilities = Loss.softmaxCrossEntropy.probabilities(try network.predict(samples, threads: threads))
        return (0..<samples.count).map { Double(probabilities.scalars[2 * $0 + 1]) }
    }
}

/// How a scan model does on labelled images: overall figures, the confusion matrix, and the share of
/// each behaviour kind it gets right (recall for scan kinds, the share left alone for benign ones).
public struct ScanEvaluation: Codable, Sendable {
    public var images: Int
    public var scans: Int
    public var threshold: Double
    public var accuracy: Double
    public var precision: Double
    public var recall: Double
    public var f1: Double
    public var rocAuc: Double?
    public var falsePositiveRate: Double
    /// Rows true class (benign, scan), columns predicted class.
    public var confusion: [[Int]]
    public var recallByKind: [String: Double]
    public var imagesByKind: [String: Int]
    public var scanKinds: [String]
    public var benignKinds: [String]
    public var inferenceSamplesPerSecond: Double?
    /// The same figures on whole windows and on windows imaged while open (`DatasetWriter.Row.openAt`),
    /// when the images hold both.
    public var wholeWindows: Part?
    public var openWindows: Part?

    /// The figures of a part of the images.
    public struct Part: Codable, Sendable {
        public var images: Int
        public var scans: Int
        public var accuracy: Double
        public var recall: Double
        public var falsePositiveRate: Double
        public var rocAuc: Double?

        init(_ m: BinaryMetrics, images: Int, scans: Int) {
            self.images = images
            self.scans = scans
            accuracy = m.accuracy
            recall = m.recall
            falsePositiveRate = m.falsePositiveRate
            rocAuc = m.rocAUC
        }
    }

    public init(scores: [Double], rows: [DatasetWriter.Row], threshold: Double = 0.5, inferenceSamplesPerSecond: Double? = nil) {
        let positives = rows.map { $0.label == 1 }
        let m = BinaryMetrics(scores: scores, positives: positives, threshold: threshold)
        images = rows.count
        scans = positives.filter { $0 }.count
        self.threshold = threshold
        accuracy = m.accuracy
        precision = m.precision
        recall = m.recall
        f1 = m.f1
        rocAuc = m.rocAUC
        falsePositiveRate = m.falsePositiveRate
        confusion = [[m.trueNegatives, m.falsePositives], [m.falseNegatives, m.truePositives]]
        var right: [String: Int] = [:], total: [String: Int] = [:]
        var scanKinds = Set<String>(), benignKinds = Set<String>()
        for (row, score) in zip(rows, scores) {
            total[row.kind, default: 0] += 1
            if (score >= threshold) == (row.label == 1) { right[row.kind, default: 0] += 1 }
            if row.label == 1 { scanKinds.insert(row.kind) } else { benignKinds.insert(row.kind) }
        }
        recallByKind = total.mapValues { _ in 0 }
        for (kind, n) in total { recallByKind[kind] = Double(right[kind, default: 0]) / Double(n) }
        imagesByKind = total
        self.scanKinds = scanKinds.sorted()
        self.benignKinds = benignKinds.sorted()
        self.inferenceSamplesPerSecond = inferenceSamplesPerSecond
        let open = rows.indices.filter { rows[$0].openAt != nil }
        if !open.isEmpty && open.count < rows.count {
            func part(_ indices: [Int]) -> Part {
                let positives = indices.map { rows[$0].label == 1 }
                let m = BinaryMetrics(scores: indices.map { scores[$0] }, positives: positives, threshold: threshold)
                return Part(m, images: indices.count, scans: positives.filter { $0 }.count)
            }
            let openSet = Set(open)
            wholeWindows = part(rows.indices.filter { !openSet.contains($0) })
            openWindows = part(open)
        }
    }

    /// The lowest recall over scan kinds, and which kind.
    public var weakestScanKind: (kind: String, recall: Double)? {
        scanKinds.map { ($0, recallByKind[$0] ?? 0) }.min { $0.1 < $1.1 }
    }
}
