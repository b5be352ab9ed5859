import ActivityImage
import Foundation
import Neural
import Support

extension ScanModel {
    /// Trains a scan CNN on a dataset's training split, holding out `validationFraction` of its sources
    /// for early stopping, then evaluates on the test split. `progress` sees every epoch.
    public static func train(
        dataset: ScanDataset, architecture: Architecture = defaultArchitecture, options: TrainingOptions,
        validationFraction: Double, dataDescription: String, progress: (EpochReport) -> Void = { _ in }
    ) throws -> (model: ScanModel, test: ScanEvaluation) {
        let network = try Network(architecture, seed: options.seed)
        let (training, validation) = dataset.validationSplit(fraction: validationFraction, seed: options.seed)
        guard training.samples.count > 0 else { throw ScanDataError("\(dataset.directory): no training images") }
        var used = options
        used.loss = .softmaxCrossEntropy
        let reports = try Trainer(network: network, options: used)
            .fit(training.samples, validation: validation.samples.count > 0 ? validation.samples : nil, progress: progress)
        let provenance = Provenance(
            data: dataDescription, datasetInputs: dataset.meta.inputs, trainImages: training.samples.count,
            validationImages: validation.samples.count, options: used, epochs: reports,
            trainedAt: ISO8601DateFormatter().string(from: Date()))
        var model = ScanModel(network: network, input: .current(window: dataset.meta.windowSeconds), provenance: provenance)
        let test = try model.evaluate(dataset.test, threads: options.threads)
        model.metrics = test
        return (model, test)
    }

    /// Scores every image of a split and compares with its labels; times the scoring alone.
    public func evaluate(_ split: ScanDataset.Split, threads: Int = defaultThreadCount, threshold: Double = 0.5) throws -> ScanEvaluation {
        let started = DispatchTime.now().uptimeNanoseconds
        let scores = try scanProbabilities(split.samples, threads: threads)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return ScanEvaluation(
            scores: scores, rows: split.rows, threshold: threshold,
            inferenceSamplesPerSecond: split.samples.count > 0 ? Double(split.samples.count) / max(seconds, 1e-9) : nil)
    }
}

/// What `flowhound train scan --json` prints.
public struct ScanTrainingSummary: Codable, Sendable {
    public var model: String
    public var trainImages: Int
    public var validationImages: Int
    public var epochs: [EpochReport]
    /// The median epoch throughput, leaving out the first epoch (warm-up) when there are more.
    public var trainingSamplesPerSecond: Double
    public var seconds: Double
    public var test: ScanEvaluation

    public init(
        model: String, trainImages: Int, validationImages: Int, epochs: [EpochReport],
        trainingSamplesPerSecond: Double, seconds: Double, test: ScanEvaluation
    ) {
        self.model = model
        self.trainImages = trainImages
        self.validationImages = validationImages
        self.epochs = epochs
        self.trainingSamplesPerSecond = trainingSamplesPerSecond
        self.seconds = seconds
        self.test = test
    }
}
