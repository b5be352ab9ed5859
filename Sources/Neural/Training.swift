import Foundation
import Randomness
import Support

/// Labelled samples held in one flat array: sample `i` is `features[i·size ..< (i+1)·size]`.
public struct Samples: Sendable {
    public let sampleShape: Shape
    public private(set) var features: ContiguousArray<Float>
    public private(set) var labels: [Int32]

    public init(sampleShape: Shape, features: ContiguousArray<Float>, labels: [Int32]) throws(ShapeError) {
        guard features.count == labels.count * sampleShape.count else {
            throw ShapeError("samples: \(features.count) values are not \(labels.count) labels × \(sampleShape) (\(labels.count * sampleShape.count))")
        }
        self.sampleShape = sampleShape
        self.features = features
        self.labels = labels
    }

    public var count: Int { labels.count }

    /// The samples at `indices`, in that order.
    public func subset(_ indices: some Collection<Int>) -> Samples {
        let size = sampleShape.count
        var values = ContiguousArray<Float>()
        values.reserveCapacity(indices.count * size)
        features.withUnsafeBufferPointer { f in
            for i in indices { values.append(contentsOf: UnsafeBufferPointer(rebasing: f[(i * size)..<((i + 1) * size)])) }
        }
        return try! Samples(sampleShape: sampleShape, features: values, labels: indices.map { labels[$0] })
    }

    /// One batch tensor (`indices.count × sampleShape`) of the samples at `indices`.
    public func batch(_ indices: some Collection<Int>) -> Tensor {
        let size = sampleShape.count
        var t = Tensor(zeros: sampleShape.batched(indices.count))
        t.scalars.withUnsafeMutableBufferPointer { out in
            features.withUnsafeBufferPointer { f in
                for (row, i) in indices.enumerated() {
                    (out.baseAddress! + row * size).update(from: f.baseAddress! + i * size, count: size)
                }
            }
        }
        return t
    }

    /// Every sample, as one tensor.
    public var tensor: Tensor { Tensor(shape: sampleShape.batched(count), scalars: features) }
}

public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
    case adam, sgd
}

/// Training settings, with defaults that suit the scan CNN.
public struct TrainingOptions: Sendable, Codable {
    public var epochs = 10
    public var batchSize = 64
    public var learningRate: Float = 0.001
    public var optimizer = OptimizerKind.adam
    /// SGD only.
    public var momentum: Float = 0.9
    public var loss = Loss.softmaxCrossEntropy
    /// Seeds the shuffling (and, through the network, dropout). The same seed, data and thread count
    /// give the same weights, bit for bit.
    public var seed: UInt64 = 1
    /// Stop after this many epochs without a lower validation loss and keep the best weights; 0 trains
    /// every epoch.
    public var patience = 3
    /// Threads the batch is spread over, each with its own copy of the network.
    public var threads = defaultThreadCount

    public init() {}
}

/// What one epoch did.
public struct EpochReport: Sendable, Codable {
    public var epoch: Int
    /// Mean training loss over the epoch's batches.
    public var loss: Double
    /// Time spent on training steps (not on validation).
    public var seconds: Double
    public var samplesPerSecond: Double
    public var validationLoss: Double?
    public var validationAccuracy: Double?
    /// Whether the validation loss was the lowest so far (these weights are kept).
    public var improved: Bool
}

/// Mini-batch training spread over threads: each batch is cut into one contiguous part per thread,
/// each thread runs forward and backward on its own copy of the network, the gradients are added in
/// thread order, and one optimizer step updates the weights that every copy then takes.
public final class Trainer {
    public let network: Network
    public let options: TrainingOptions
    private var optimizer: any Optimizer
    private var replicas: [Network]

    public init(network: Network, options: TrainingOptions) {
        self.network = network
        self.options = options
        switch options.optimizer {
        case .adam: optimizer = Adam(learningRate: options.learningRate)
        case .sgd: optimizer = SGD(learningRate: options.learningRate, momentum: options.momentum)
        }
        let threads = max(1, min(options.threads, options.batchSize))
        replicas = [network] + (1..<threads).map { network.replica($0) }
    }

    /// Checks that samples fit the network and their labels fit its output and loss.
    func check(_ samples: Samples, role: String) throws(ShapeError) {
        guard samples.sampleShape == network.inputShape else {
            throw ShapeError("\(role) samples are \(samples.sampleShape) but the network takes \(network.inputShape)")
        }
        let probe = Tensor(zeros: network.outputShape.batched(samples.count))
        do {
            _ = try options.loss.evaluate(logits: probe, labels: samples.labels)
        } catch {
            throw ShapeError("\(role) labels do not fit the network's output \(network.outputShape): \(error)")
        }
    }

    /// Trains for `options.epochs` epochs (fewer when validation stops improving), calling `progress`
    /// after each. Returns the reports of every epoch run.
    public func fit(_ training: Samples, validation: Samples? = nil, progress: (EpochReport) -> Void = { _ in }) throws(ShapeError) -> [EpochReport] {
        try check(training, role: "training")
        if let validation { try check(validation, role: "validation") }
        guard training.count > 0 else { throw ShapeError("no training samples") }
        var reports: [EpochReport] = []
        var best = Double.infinity
        var bestWeights: [Tensor]? = nil
        var sinceBest = 0
        var order = Array(0..<training.count)
        for epoch in 1...max(options.epochs, 1) {
            var rng = SplitMix64.stream(seed: options.seed, index: UInt64(epoch))
            order.shuffle(using: &rng)
            let started = DispatchTime.now().uptimeNanoseconds
            var lossSum = 0.0
            var batches = 0
            var start = 0
            while start < order.count {
                let end = min(start + options.batchSize, order.count)
                lossSum += step(training, order[start..<end])
                batches += 1
                start = end
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            var report = EpochReport(
                epoch: epoch, loss: lossSum / Double(batches), seconds: seconds,
                samplesPerSecond: Double(training.count) / max(seconds, 1e-9), improved: true)
            if let validation, validation.count > 0 {
                let logits = try network.predict(validation, threads: options.threads)
                let loss = try options.loss.evaluate(logits: logits, labels: validation.labels)
                report.validationLoss = Double(loss.value)
                report.validationAccuracy = accuracy(options.loss.probabilities(logits), validation.labels)
                report.improved = report.validationLoss! < best
                if report.improved {
                    best = report.validationLoss!
                    bestWeights = network.parameters.map(\.value)
                    sinceBest = 0
                } else {
                    sinceBest += 1
                }
            }
            reports.append(report)
            progress(report)
            if options.patience > 0 && sinceBest >= options.patience { break }
        }
        if options.patience > 0, let bestWeights {
            for (p, value) in zip(network.parameters, bestWeights) { p.value = value }
        }
        return reports
    }

    /// One optimizer step on the samples at `indices`; returns the batch's mean loss.
    private func step(_ samples: Samples, _ indices: ArraySlice<Int>) -> Double {
        let total = indices.count
        let workers = min(replicas.count, total)
        var losses = [Double](repeating: 0, count: workers)
        let parts = (0..<workers).map { w in
            indices[(indices.startIndex + w * total / workers)..<(indices.startIndex + (w + 1) * total / workers)]
        }
        let shared = UncheckedSendable((replicas, samples, parts, options.loss))
        losses.withUnsafeMutableBufferPointer { out in
            let out = UncheckedSendable(out)
            parallelFor(workers) { w in
                let (replicas, samples, parts, loss) = shared.value
                let net = replicas[w]
                net.zeroGradients()
                // Shapes and labels were checked before training began.
                guard let logits = try? net.forward(samples.batch(parts[w]), training: true),
                    let result = try? loss.evaluate(logits: logits, labels: parts[w].map { samples.labels[$0] }, normaliser: total)
                else { preconditionFailure("batch does not fit a network it was checked against") }
                net.backward(result.gradient)
                out.value[w] = Double(result.value)
            }
        }
        let master = network.parameters
        for replica in replicas.dropFirst().prefix(workers - 1) {
            for (m, r) in zip(master, replica.parameters) {
                m.gradient.scalars.withUnsafeMutableBufferPointer { g in
                    r.gradient.scalars.withUnsafeBufferPointer { h in
                        for i in g.indices { g[i] += h[i] }
                    }
                }
            }
        }
        optimizer.update(master)
        for replica in replicas.dropFirst() { replica.copyWeights(from: network) }
        return losses.reduce(0, +)
    }
}

/// Share of rows whose most probable class is the label.
public func accuracy(_ probabilities: Tensor, _ labels: [Int32]) -> Double {
    guard !labels.isEmpty else { return 0 }
    let k = probabilities.shape[1]
    var right = 0
    for (r, label) in labels.enumerated() {
        var best = 0
        for j in 1..<k where probabilities.scalars[r * k + j] > probabilities.scalars[r * k + best] { best = j }
        if best == Int(label) { right += 1 }
    }
    return Double(right) / Double(labels.count)
}

extension Network {
    /// Fewest samples `predict` gives a thread of its own.
    static let minimumPerWorker = 32

    /// Logits for every sample, `batchSize` at a time, the samples spread over up to `threads` copies
    /// of the network (each with `minimumPerWorker` samples or more). Each sample's logits do not
    /// depend on the others, nor on how they are spread.
    public func predict(_ samples: Samples, threads: Int = defaultThreadCount, batchSize: Int = 64) throws(ShapeError) -> Tensor {
        guard samples.sampleShape == inputShape else {
            throw ShapeError("network input: expected \(inputShape.batchDescription), got \(samples.sampleShape.batched(samples.count))")
        }
        let n = samples.count
        let classes = outputShape.count
        var result = Tensor(zeros: outputShape.batched(n))
        // At least `minimumPerWorker` samples a worker: a small batch (the CNN's open windows of one
        // minute, a few images) costs more in copying the network and waking threads than it saves.
        let workers = max(1, min(threads, n / Self.minimumPerWorker))
        let copies = [self] + (1..<workers).map { replica($0) }
        let shared = UncheckedSendable((copies, samples))
        result.scalars.withUnsafeMutableBufferPointer { out in
            let out = UncheckedSendable(out)
            parallelFor(workers) { w in
                let (copies, samples) = shared.value
                var start = w * n / workers
                let end = (w + 1) * n / workers
                let network = copies[w]
                while start < end {
                    let stop = min(start + batchSize, end)
                    // The samples follow each other in `features`: the sparse front reads them there,
                    // and only a batch it does not take is copied out.
                    let sparse = network.front.flatMap { front in
                        samples.features.withUnsafeBufferPointer { f in
                            front.sparse(f.baseAddress! + start * samples.sampleShape.count, samples: stop - start)
                        }
                    }
                    let x = network.run(sparse: sparse, training: false) { samples.batch(start..<stop) }
                    x.scalars.withUnsafeBufferPointer { y in
                        (out.value.baseAddress! + start * classes).update(from: y.baseAddress!, count: y.count)
                    }
                    start = stop
                }
            }
        }
        return result
    }
}
