import ActivityImage
import ArgumentParser
import Detection
import FlowRecords
import Foundation
import Synthesis

struct Dataset: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn labelled flow logs (or synthetic traffic) into activity images for training: NumPy arrays and metadata.",
        discussion: """
            Writes DIR/train/X.npy and DIR/test/X.npy (float32, N × 5 × 64 × 32: channels failed, answered, \
            timing, port and host failure share; rows destination port, columns destination hosts), DIR/{train,test}/y.npy (int64, \
            0 benign, 1 scan) and DIR/meta.json (shape, channels, label names, and the source, window, label \
            and kind of every row). No source is in both train and test.

            In Python: X = numpy.load("DIR/train/X.npy"); y = numpy.load("DIR/train/y.npy").

            Without --truth, the truth comes from the labels the flows carry, as in 'eval detect' \
            (Stratosphere/CTU label and detailedlabel, CTU-13 Argus Label, CICFlowMeter Label): a \
            source with a scan flow is a scanner, one with only benign flows benign; sources of other \
            attacks, or without a known label, are left out. --scan-label names labels that mean scanning.

            Examples:
              flowhound dataset conn.log --truth truth.csv -o data
              flowhound dataset stratosphere.conn.log.labeled --scan-label External-Attack-to-Device -o data
              flowhound dataset --synth-seed 7 --synth-duration 2h -o data
            """)

    @Argument(help: ArgumentHelp("Labelled flow logs ('-' for standard input, '.gz' accepted).", valueName: "log"))
    var logs: [String] = []

    @OptionGroup var truthOptions: TruthOptions

    @Option(name: .shortAndLong, help: "Output directory.")
    var output: String

    @Option(help: "Image window: 1h, 600s or seconds.")
    var window = Duration(seconds: 3600)

    @Option(help: "Share of each kind's sources held out for testing.")
    var testFraction = 0.2

    @Option(help: "Seed for the train/test split.")
    var seed: UInt64 = 1

    @Option(help: "Leave out images with fewer flows than this.")
    var minFlows = 1

    @Option(
        help: ArgumentHelp(
            "Also image each window as it was while open, each time this much log time passed and it had grown: the partial images detect's CNN judges (match detect's --cnn-interval).",
            valueName: "duration"))
    var cnnInterval = Duration(seconds: ImageSchedule().interval)

    @Flag(help: "Image whole windows only (no open-window images).")
    var wholeWindowsOnly = false

    @OptionGroup(title: "Synthetic traffic instead of logs")
    var synth: SyntheticDataOptions

    @Option(help: "Input format, instead of detecting it.")
    var format: FlowFormat?

    @Flag(help: "Stop at the first malformed record.")
    var strict = false

    func validate() throws {
        if synth.synthSeed == nil {
            guard !logs.isEmpty else { throw ValidationError("give labelled flow logs (with --truth, or carrying labels), or --synth-seed") }
        } else if !logs.isEmpty || truthOptions.truth != nil || !truthOptions.scanLabels.isEmpty {
            throw ValidationError("--synth-seed generates its own traffic and truth: give no logs, --truth or --scan-label")
        }
        try OptionCheck.require(window.seconds, "--window", in: ScanModel.InputSpec.windowRange, unit: "seconds")
        guard (0..<1).contains(testFraction) else { throw ValidationError("--test-fraction must be in 0..<1") }
        try OptionCheck.require(minFlows, "--min-flows", in: 1...1_000_000_000)
        try OptionCheck.require(cnnInterval.seconds, "--cnn-interval", in: 1...ImageSchedule.maximumInterval, unit: "seconds")
    }

    /// The schedule open windows are imaged on, or nil for whole windows only.
    var openWindows: ImageSchedule? {
        guard !wholeWindowsOnly else { return nil }
        var schedule = ImageSchedule()
        schedule.interval = cnnInterval.seconds
        return schedule
    }

    func run() throws {
        try Diagnostics.run {
            let started = Date()
            let writer = DatasetWriter(testFraction: testFraction, seed: seed, minimumFlows: minFlows)
            let meta: DatasetWriter.Meta
            var flowCount = 0
            if let config = synth.config {
                (meta, flowCount) = try writer.writeSynthetic(config: config, window: window.seconds, openWindows: openWindows, to: output)
            } else {
                var imager = ActivityImager(window: window.seconds, openWindows: openWindows)
                let given = try truthOptions.truth.map { try GroundTruth.load(path: $0) }
                var labels = LabelTruth(scanLabels: truthOptions.scanLabels)
                let reader = FlowReader(options: ReadOptions(format: format, strict: strict))
                for log in logs {
                    let summary = try reader.read(path: log) { record in
                        imager.add(record)
                        if given == nil { labels.add(record) }
                    }
                    Diagnostics.reportMalformed(summary)
                    flowCount += summary.records
                }
                let groundTruth: GroundTruth
                if let given {
                    groundTruth = given
                } else {
                    let s = labels.summary
                    guard s.labelledFlows > 0 else { throw EvalTruthError(flows: flowCount, logs: logs) }
                    for note in EvalDetect.labelNotes(s, noScanners: "the dataset has no scan images", noBenign: "the dataset has no benign images") {
                        Diagnostics.note(note)
                    }
                    Diagnostics.note(
                        "truth from the flows' labels: \(s.scanners) scanning source\(s.scanners == 1 ? "" : "s"), \(s.benignSources) benign"
                            + (s.otherMaliciousSources > 0 ? ", \(s.otherMaliciousSources) of other attacks left out" : ""))
                    groundTruth = labels.groundTruth().truth
                }
                meta = try writer.write(images: imager, truth: groundTruth, inputs: logs, to: output)
            }
            let seconds = Date().timeIntervalSince(started)
            let images = meta.train.count + meta.test.count
            let open = (meta.train.rows + meta.test.rows).filter { $0.openAt != nil }.count
            Diagnostics.note(
                "wrote \(output): \(meta.train.count) train images (\(meta.train.scans) scans), \(meta.test.count) test images (\(meta.test.scans) scans), \(open) of them of open windows, from \(flowCount) flows in \(String(format: "%.2f", seconds)) s (\(Int(Double(images) / max(seconds, 1e-9))) images/s)"
            )
            if meta.unlabelledImages > 0 {
                Diagnostics.note("left out \(meta.unlabelledImages) images of sources not in the ground truth")
            }
            if let warning = Self.oneClassWarning(meta) { Diagnostics.note(warning) }
        }
    }

    /// One line when a split holds images of one class only (or none, where a test split was asked
    /// for): a model cannot learn, or be judged, from it.
    static func oneClassWarning(_ meta: DatasetWriter.Meta) -> String? {
        var problems: [String] = []
        for (name, split) in [("train", meta.train), ("test", meta.test)] {
            if let only = split.onlyClass {
                problems.append("the \(name) split holds \(only) images only (\(split.count))")
            } else if split.count == 0, name == "train" || meta.testFraction > 0 {
                problems.append("the \(name) split holds no images")
            }
        }
        guard !problems.isEmpty else { return nil }
        return "warning: " + problems.joined(separator: " and ")
            + ": a split of one class (or none) cannot train a model or judge it; all images of a source fall in one split, and a kind with a single source stays in train: label more sources of each class"
    }
}

/// Options that generate labelled synthetic traffic in place of logs and ground truth.
struct SyntheticDataOptions: ParsableArguments {
    @Option(help: "Instead of logs: generate synthetic traffic with this seed (see 'flowhound synth').")
    var synthSeed: UInt64?

    @Option(help: "Synthetic traffic: time span (90s, 30m, 1h, 2d).")
    var synthDuration = Duration(argument: "1h")!

    @Option(help: "Synthetic traffic: number of benign sources.")
    var synthBenign = 40

    @Option(help: "Synthetic traffic: fraction of sources that scan.")
    var synthScanPrevalence = 0.25

    func validate() throws {
        try OptionCheck.require(synthBenign, "--synth-benign", in: 1...1_000_000)
        try OptionCheck.require(synthDuration.seconds, "--synth-duration", in: 1...366 * OptionCheck.day, unit: "seconds")
        guard (0..<1).contains(synthScanPrevalence) else { throw ValidationError("--synth-scan-prevalence must be in 0..<1") }
    }

    /// The traffic these options describe, or nil without --synth-seed.
    var config: SynthConfig? {
        guard let synthSeed else { return nil }
        var config = SynthConfig()
        config.seed = synthSeed
        config.duration = synthDuration.seconds
        config.benignSources = synthBenign
        config.scanPrevalence = synthScanPrevalence
        return config
    }
}
