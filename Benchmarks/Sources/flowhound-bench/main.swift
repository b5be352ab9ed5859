import ActivityImage
import Detection
import FlowRecords
import Forest
import Foundation
import Neural
import Support

/// flowhound-bench generate FORMAT RECORDS OUT   writes a log of RECORDS synthetic flows
/// flowhound-bench read FILE [RUNS]               reads it RUNS times; prints records/s per run and peak RSS
let arguments = CommandLine.arguments
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("flowhound-bench: \(message)\n".utf8))
    exit(2)
}

func peakRSSKiB() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss
}

switch arguments.dropFirst().first {
case "generate":
    guard arguments.count == 5, let format = FlowFormat(rawValue: arguments[2]), let count = Int(arguments[3]) else {
        fail("usage: flowhound-bench generate FORMAT RECORDS OUT")
    }
    var generator = LogGenerator(format: format, seed: 42)
    try generator.write(records: count, to: arguments[4])
case "read":
    guard arguments.count >= 3 else { fail("usage: flowhound-bench read FILE [RUNS]") }
    let runs = arguments.count > 3 ? Int(arguments[3]) ?? 5 : 5
    var rates: [Double] = []
    var records = 0
    var checksum: UInt64 = 0
    for _ in 0..<runs {
        let started = DispatchTime.now().uptimeNanoseconds
        let summary = try FlowReader().read(path: arguments[2]) { r in
            checksum &+= UInt64(r.destinationPort) &+ r.sourceBytes
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        records = summary.records
        guard summary.malformed == 0 else { fail("\(summary.malformed) malformed records: \(summary.issues)") }
        rates.append(Double(records) / seconds)
    }
    let sorted = rates.sorted()
    let median = sorted[sorted.count / 2]
    print(
        "{\"file\":\"\(arguments[2])\",\"records\":\(records),\"runs\":\(runs),\"median_records_per_s\":\(Int(median)),"
            + "\"rates\":[\(rates.map { String(Int($0)) }.joined(separator: ","))],\"peak_rss_kib\":\(peakRSSKiB()),\"checksum\":\(checksum)}")
case "cnn-stages":
    // Where prediction time goes, on one thread: seconds per stage over a dataset split.
    guard arguments.count >= 4 else { fail("usage: flowhound-bench cnn-stages MODEL DATASET [BATCH]") }
    let model = try ScanModel.load(path: arguments[2])
    let split = try ScanDataset.load(directory: arguments[3]).train.samples
    let batch = arguments.count > 4 ? Int(arguments[4]) ?? 64 : 64
    var totals: [String: Double] = [:]
    var order: [String] = []
    for round in 0..<3 {
        var start = 0
        while start < split.count {
            let stop = min(start + batch, split.count)
            for (stage, seconds) in try model.network.stageTimes(split.batch(start..<stop)) where round > 0 {
                if totals[stage] == nil { order.append(stage) }
                totals[stage, default: 0] += seconds
            }
            start = stop
        }
    }
    let images = Double(split.count * 2)
    let all = totals.values.reduce(0, +)
    for stage in order {
        print("\(stage.padding(toLength: 36, withPad: " ", startingAt: 0)) \(String(format: "%8.2f", totals[stage]! / images * 1e6)) µs/image")
    }
    print("total \(String(format: "%.2f", all / images * 1e6)) µs/image, \(Int(images / all)) images/s on one thread (batch \(batch))")
case "cnn-predict":
    // Scoring a dataset's images with `Network.predict` (what `eval scan` and `detect` call): images/s,
    // the median of PASSES passes over every image.
    guard arguments.count >= 4 else { fail("usage: flowhound-bench cnn-predict MODEL DATASET [THREADS] [PASSES]") }
    let model = try ScanModel.load(path: arguments[2])
    let samples = try ScanDataset.load(directory: arguments[3]).train.samples
    let threads = arguments.count > 4 ? Int(arguments[4]) ?? 0 : 2
    let passes = arguments.count > 5 ? Int(arguments[5]) ?? 0 : 5
    guard (1...256).contains(threads), (1...1000).contains(passes) else {
        fail("cnn-predict: THREADS must be a whole number from 1 to 256 and PASSES from 1 to 1000")
    }
    var rates: [Double] = []
    var checksum: Float = 0
    for _ in 0..<passes {
        let started = DispatchTime.now().uptimeNanoseconds
        let logits = try model.network.predict(samples, threads: threads)
        rates.append(Double(samples.count) / (Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9))
        checksum = logits.scalars.reduce(0, +)
    }
    print("\(Int(rates.sorted()[rates.count / 2])) images/s (median of \(passes), \(samples.count) images, \(threads) threads), logits sum \(checksum)")
case "forest":
    // Fit, batch prediction and single-row latency of a random forest on NumPy arrays (as
    // Benchmarks/forest/compare_forest.py writes them); prints one JSON object.
    guard arguments.count >= 3 else { fail("usage: flowhound-bench forest DIR [TREES] [THREADS] [PASSES]") }
    let dir = arguments[2]
    let trees = arguments.count > 3 ? Int(arguments[3]) ?? 100 : 100
    let threads = arguments.count > 4 ? Int(arguments[4]) ?? 2 : 2
    let passes = arguments.count > 5 ? Int(arguments[5]) ?? 9 : 9
    guard trees > 0, threads > 0, passes > 0 else { fail("TREES, THREADS and PASSES are positive whole numbers") }
    func matrix(_ name: String) throws -> (FeatureMatrix, [Bool]) {
        let (shape, x) = try NumpyReader.readFloat32(path: "\(dir)/\(name)_X.npy")
        let (_, y) = try NumpyReader.readIntegers(path: "\(dir)/\(name)_y.npy")
        return (FeatureMatrix(rows: shape[0], columns: shape[1], values: x), y.map { $0 != 0 })
    }
    let (train, trainLabels) = try matrix("train")
    let (test, testLabels) = try matrix("test")
    var settings = ForestSettings()
    settings.trees = trees
    settings.threads = threads
    var started = DispatchTime.now().uptimeNanoseconds
    let forest = RandomForest.fit(train, labels: trainLabels, settings: settings)
    let fitSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    var batchRates: [Double] = []
    var scores: [Float] = []
    // Nine passes over the test rows by default, the median: a pass takes a tenth of a second, and on
    // a shared machine single passes vary by half.
    for _ in 0..<passes {
        started = DispatchTime.now().uptimeNanoseconds
        scores = forest.probabilities(test, threads: threads)
        batchRates.append(Double(test.rows) / (Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9))
    }
    // Single rows, one at a time, on one thread: the median over 2,000 rows.
    var latencies: [Double] = []
    var sink: Float = 0  // printed, so that the timed calls cannot be optimised away
    test.values.withUnsafeBufferPointer { v in
        for i in 0..<min(2000, test.rows) {
            let row = UnsafeBufferPointer(rebasing: v[(i * test.columns)..<((i + 1) * test.columns)])
            let t0 = DispatchTime.now().uptimeNanoseconds
            let p = forest.probability(row)
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e3)
            sink += p
        }
    }
    let auc = BinaryMetrics(scores: scores.map(Double.init), positives: testLabels).rocAUC ?? 0
    let nodes = forest.trees.reduce(0) { $0 + $1.nodeCount }
    // The mean number of splits a test row passes in a tree: the work of one walk.
    var splits = 0
    for tree in forest.trees {
        for i in 0..<test.rows {
            var n = 0
            while tree.feature[n] >= 0 {
                n = Int(test.values[i * test.columns + Int(tree.feature[n])] <= tree.threshold[n] ? tree.left[n] : tree.right[n])
                splits += 1
            }
        }
    }
    let meanPath = Double(splits) / Double(max(1, test.rows * forest.trees.count))
    let featuresUsed = Set(forest.trees.flatMap { $0.feature.filter { $0 >= 0 } }).count
    print(
        "{\"fit_seconds\":\(fitSeconds),\"batch_rows_per_second\":\(batchRates.sorted()[batchRates.count / 2]),"
            + "\"batch_rows_per_second_best\":\(batchRates.max()!),"
            + "\"single_row_microseconds\":\(latencies.sorted()[latencies.count / 2]),\"roc_auc\":\(auc),\"nodes\":\(nodes),"
            + "\"mean_path\":\(meanPath),\"features_used\":\(featuresUsed),\"checksum\":\(sink)}")
default:
    fail("usage: flowhound-bench generate|read|cnn-stages|cnn-predict|forest ...")
}
