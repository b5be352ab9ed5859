import ActivityImage
import ArgumentParser
import Detection
import Foundation
import Neural
import Support

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train Flowhound's models on your own data.",
        subcommands: [TrainScan.self, TrainIP.self])
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a model on labelled data it was not trained on.",
        subcommands: [EvalScan.self, EvalIP.self, EvalDetect.self])
}

/// Settings every training command shares.
struct TrainingArguments: ParsableArguments {
    @Option(help: "Passes over the training data at most (early stopping may end sooner).")
    var epochs = 15

    @Option(help: "Samples per optimizer step.")
    var batchSize = 64

    @Option(help: "Optimizer step size.")
    var learningRate: Float = 0.001

    @Option(help: "adam or sgd (with --momentum).")
    var optimizer = OptimizerKind.adam

    @Option(help: "SGD momentum.")
    var momentum: Float = 0.9

    @Option(help: "Seed for weights, shuffling, dropout and the validation split: the same seed, data and --threads give the same model.")
    var seed: UInt64 = 1

    @Option(help: "Stop after this many epochs without a better validation loss and keep the best weights (0: train every epoch, keep the last).")
    var patience = 3

    @Option(help: "Share of the training sources held out to watch for over-fitting.")
    var validationFraction = 0.1

    @Option(help: "Threads to spread each batch over (default: one per core).")
    var threads = defaultThreadCount

    func validate() throws {
        try OptionCheck.require(epochs, "--epochs", in: 1...100_000)
        try OptionCheck.require(batchSize, "--batch-size", in: 1...65_536)
        try OptionCheck.require(Double(learningRate), "--learning-rate", above: 0, atMost: 10)
        guard (0..<1).contains(momentum) else { throw ValidationError("--momentum must be in 0..<1") }
        try OptionCheck.require(patience, "--patience", in: 0...100_000)
        guard (0..<1).contains(validationFraction) else { throw ValidationError("--validation-fraction must be in 0..<1") }
        try OptionCheck.threads(threads)
    }

    var options: TrainingOptions {
        var o = TrainingOptions()
        o.epochs = epochs
        o.batchSize = batchSize
        o.learningRate = learningRate
        o.optimizer = optimizer
        o.momentum = momentum
        o.seed = seed
        o.patience = patience
        o.threads = threads
        return o
    }
}

extension OptimizerKind: ExpressibleByArgument {}

struct TrainScan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Train the CNN that tells port scans from benign traffic in activity images.",
        discussion: """
            Reads a dataset written by 'flowhound dataset' (or generates one with --synth-seed), holds out \
            --validation-fraction of the training sources for early stopping, trains, scores the test split \
            and writes the model (safetensors, with its architecture, input specification, training \
            provenance and test metrics in the metadata). Progress goes to stderr, one line an epoch.

            Examples:
              flowhound dataset conn.log --truth truth.csv -o data && flowhound train scan --data data -o scan.safetensors
              flowhound train scan --synth-seed 7 --synth-benign 400 --synth-scan-prevalence 0.5 -o scan.safetensors
            """)

    @Option(help: "Dataset directory written by 'flowhound dataset'.")
    var data: String?

    @OptionGroup(title: "Synthetic training data instead of --data")
    var synth: SyntheticDataOptions

    @Option(help: "Synthetic data: image window (10m, 600s or seconds).")
    var window = Duration(seconds: 600)

    @Option(name: .shortAndLong, help: "Where to write the model.")
    var output: String

    @OptionGroup(title: "Training")
    var training: TrainingArguments

    @Flag(help: "Print a JSON summary on stdout (epochs, throughput, test metrics).")
    var json = false

    func validate() throws {
        guard (data == nil) != (synth.synthSeed == nil) else {
            throw ValidationError("give either --data DIR or --synth-seed N")
        }
        try OptionCheck.require(window.seconds, "--window", in: ScanModel.InputSpec.windowRange, unit: "seconds")
    }

    func run() throws {
        try Diagnostics.run {
            let started = Date()
            let dataset: ScanDataset
            let description: String
            if let config = synth.config {
                let directory = NSTemporaryDirectory() + "flowhound-train-\(getpid())"
                defer { try? FileManager.default.removeItem(atPath: directory) }
                _ = try DatasetWriter(seed: training.seed).writeSynthetic(config: config, window: window.seconds, to: directory)
                dataset = try ScanDataset.load(directory: directory)
                description = "synthetic: " + dataset.meta.inputs.joined(separator: "; ") + " --window \(window)"
            } else {
                dataset = try ScanDataset.load(directory: data!)
                description = data!
            }
            Diagnostics.note(
                "training on \(dataset.train.samples.count) images (\(dataset.meta.train.scans) scans), testing on \(dataset.test.samples.count); \(training.threads) thread\(training.threads == 1 ? "" : "s")"
            )
            let epochs = training.epochs
            let (model, test) = try ScanModel.train(
                dataset: dataset, options: training.options, validationFraction: training.validationFraction,
                dataDescription: description
            ) { r in
                var line = "epoch \(r.epoch)/\(epochs)  loss \(fixed(r.loss, 4))"
                if let l = r.validationLoss, let a = r.validationAccuracy {
                    line += "  validation loss \(fixed(l, 4)) accuracy \(fixed(a, 4))"
                }
                line += "  \(Int(r.samplesPerSecond)) samples/s"
                if r.validationLoss != nil && r.improved { line += "  (best so far)" }
                Diagnostics.note(line)
            }
            try model.write(to: output)
            let reports = model.provenance?.epochs ?? []
            let throughput = medianThroughput(reports)
            if json {
                let summary = ScanTrainingSummary(
                    model: output, trainImages: model.provenance?.trainImages ?? 0,
                    validationImages: model.provenance?.validationImages ?? 0, epochs: reports,
                    trainingSamplesPerSecond: throughput, seconds: Date().timeIntervalSince(started), test: test)
                print(try jsonText(summary))
            } else {
                print("wrote \(output): \(model.network.parameterCount) weights, \(reports.count) epochs, \(Int(throughput)) training samples/s")
                print(evaluationText(test))
            }
        }
    }

    /// The median epoch throughput, leaving out the first epoch (warm-up) when there are more.
    func medianThroughput(_ reports: [EpochReport]) -> Double {
        let rates = (reports.count > 1 ? reports.dropFirst() : reports[...]).map(\.samplesPerSecond).sorted()
        guard !rates.isEmpty else { return 0 }
        return rates.count % 2 == 1 ? rates[rates.count / 2] : (rates[rates.count / 2 - 1] + rates[rates.count / 2]) / 2
    }
}

struct EvalScan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Score a dataset's test images with a scan CNN and compare with their labels.",
        discussion: """
            Prints accuracy, precision, recall, F1, ROC-AUC, the confusion matrix, and per behaviour kind \
            the share of images classified right (recall for scan kinds, the share left alone for benign \
            kinds). --json prints the same as one JSON object.

            Example:
              flowhound eval scan --model scan.safetensors --data data --json
            """)

    @Option(help: "Model file (default: the model that ships with Flowhound).")
    var model: String?

    @Option(help: "Dataset directory written by 'flowhound dataset'.")
    var data: String

    @Option(help: "Which images to score: test, train, or all (for a dataset the model never saw).")
    var split = "test"

    @Option(help: "Scan probability at or above which an image counts as a scan.")
    var threshold = 0.5

    @Option(help: "Threads to spread the images over (default: one per core).")
    var threads = defaultThreadCount

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard ["test", "train", "all"].contains(split) else { throw ValidationError("--split must be test, train or all") }
        try OptionCheck.require(threshold, "--threshold", in: 0...1)
        try OptionCheck.threads(threads)
    }

    func run() throws {
        try Diagnostics.run {
            let scanModel = try ScanModel.load(pathOrDefault: model)
            let dataset = try ScanDataset.load(directory: data)
            let images =
                switch split {
                case "test": dataset.test
                case "train": dataset.train
                default: dataset.all
                }
            let evaluation = try scanModel.evaluate(images, threads: threads, threshold: threshold)
            print(json ? try jsonText(evaluation) : evaluationText(evaluation))
        }
    }
}

func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }

/// `  kind              0.9876`: one behaviour kind's share in a report, the kind padded to `width`
/// (a longer kind is not cut).
func kindLine(_ kind: String, _ share: Double, width: Int = 18) -> String {
    "  " + kind.padding(toLength: max(width, kind.count + 1), withPad: " ", startingAt: 0) + fixed(share, 4)
}

func jsonText(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// A person's report of a scan model evaluation.
func evaluationText(_ e: ScanEvaluation) -> String {
    var lines = [
        "images \(e.images) (\(e.scans) scans), threshold \(e.threshold)",
        "accuracy \(fixed(e.accuracy, 4))  precision \(fixed(e.precision, 4))  recall \(fixed(e.recall, 4))  F1 \(fixed(e.f1, 4))  ROC-AUC \(e.rocAuc.map { fixed($0, 4) } ?? "n/a")  false-positive rate \(fixed(e.falsePositiveRate, 4))",
        "confusion (rows true, columns predicted):",
        "                 benign      scan",
        "  benign   \(String(e.confusion[0][0]).leftPadded(10))\(String(e.confusion[0][1]).leftPadded(10))",
        "  scan     \(String(e.confusion[1][0]).leftPadded(10))\(String(e.confusion[1][1]).leftPadded(10))",
        "recall by scan kind:",
    ]
    for kind in e.scanKinds {
        lines.append(kindLine(kind, e.recallByKind[kind] ?? 0) + "  (\(e.imagesByKind[kind] ?? 0) images)")
    }
    lines.append("left alone by benign kind:")
    for kind in e.benignKinds {
        lines.append(kindLine(kind, e.recallByKind[kind] ?? 0) + "  (\(e.imagesByKind[kind] ?? 0) images)")
    }
    for (name, part) in [("whole windows", e.wholeWindows), ("open windows", e.openWindows)] {
        guard let part else { continue }
        lines.append(
            "\(name): \(part.images) images (\(part.scans) scans), accuracy \(fixed(part.accuracy, 4))  recall \(fixed(part.recall, 4))  false-positive rate \(fixed(part.falsePositiveRate, 4))  ROC-AUC \(part.rocAuc.map { fixed($0, 4) } ?? "n/a")"
        )
    }
    if let rate = e.inferenceSamplesPerSecond { lines.append("scored \(Int(rate)) images/s") }
    return lines.joined(separator: "\n")
}
