import Dispatch
import Randomness

/// A sequential model: layers built from an `Architecture`, each sized from the one before.
///
/// ```swift
/// let network = try Network(Architecture(input: [3, 64, 32], layers: [
///     .conv2d(filters: 8, kernel: 3, padding: 1), .relu, .maxPool2d(size: 2, stride: 2),
///     .flatten, .dense(units: 2),
/// ]), seed: 1)
/// let logits = try network(batch)       // batch: N×3×64×32 → N×2
/// ```
public final class Network {
    public let architecture: Architecture
    /// The output shape of every layer (one sample).
    public let shapes: [Shape]
    public let layers: [any Layer]
    /// The first three layers computed from the input's non-zero values, when they have that shape.
    let front: SparseFront?
    /// When layers 3-5 are a stride-1 convolution, ReLU and a pool of non-overlapping windows after
    /// the front, the pool: in prediction the three then compute only what the input changes.
    var changedPool: MaxPool2D? {
        guard layers.count > 5, let conv = layers[3] as? Conv2D, conv.stride == 1, layers[4] is ReLU,
            let pool = layers[5] as? MaxPool2D, pool.size == pool.stride
        else { return nil }
        return pool
    }
    /// Whether the last training forward pass went through `front`.
    private var frontInTraining = false

    /// Builds the layers with fresh weights: He normal for every weighted layer but the last,
    /// Glorot uniform for the last (it produces logits, not ReLU inputs).
    public init(_ architecture: Architecture, seed: UInt64) throws(ShapeError) {
        _ = BLAS.singleThreaded
        self.architecture = architecture
        shapes = try architecture.shapes()
        let lastWeighted = architecture.layers.lastIndex { $0.hasParameters }
        var rng = SplitMix64.stream(seed: seed, index: 0)
        var layers: [any Layer] = []
        for (i, spec) in architecture.layers.enumerated() {
            let input = i == 0 ? architecture.input : shapes[i - 1]
            let initializer: Initializer = i == lastWeighted ? .glorotUniform : .heNormal
            switch spec {
            case .conv2d:
                layers.append(try Conv2D(spec: spec, position: i, input: input, initializer: initializer, rng: &rng))
            case .dense:
                layers.append(try Dense(spec: spec, position: i, input: input, initializer: initializer, rng: &rng))
            case .maxPool2d: layers.append(try MaxPool2D(spec: spec, position: i, input: input))
            case .relu: layers.append(ReLU())
            case .dropout: layers.append(Dropout(spec: spec, seed: seed &+ UInt64(i) &* 0x9E37_79B9))
            case .flatten: layers.append(Flatten())
            }
        }
        self.layers = layers
        front = SparseFront(layers)
    }

    private init(architecture: Architecture, shapes: [Shape], layers: [any Layer]) {
        self.architecture = architecture
        self.shapes = shapes
        self.layers = layers
        front = SparseFront(layers)
    }

    /// An independent copy with the same weights, for another thread.
    public func replica(_ index: Int) -> Network {
        Network(architecture: architecture, shapes: shapes, layers: layers.map { $0.copy(replica: index) })
    }

    /// Every learned tensor, in layer order (weight before bias).
    public var parameters: [Parameter] { layers.flatMap(\.parameters) }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }
    public var inputShape: Shape { architecture.input }
    public var outputShape: Shape { shapes.last! }

    /// Sets this network's weights to `other`'s (same architecture).
    public func copyWeights(from other: Network) {
        for (mine, theirs) in zip(parameters, other.parameters) { mine.value = theirs.value }
    }

    public func zeroGradients() {
        for p in parameters { p.gradient.zero() }
    }

    /// Checks that `batch` is `N × input shape`.
    public func check(_ batch: Tensor) throws(ShapeError) {
        guard batch.shape.rank == inputShape.rank + 1, batch.shape.sample == inputShape else {
            throw ShapeError("network input: expected \(inputShape.batchDescription), got \(batch.shape)")
        }
    }

    /// Logits for a batch.
    public func callAsFunction(_ batch: Tensor) throws(ShapeError) -> Tensor {
        try forward(batch, training: false)
    }

    /// Runs every layer; with `training`, dropout is active and each layer keeps what `backward` needs.
    public func forward(_ batch: Tensor, training: Bool) throws(ShapeError) -> Tensor {
        try check(batch)
        return run(batch, training: training)
    }

    /// `forward` for a batch already checked.
    func run(_ batch: Tensor, training: Bool) -> Tensor {
        run(sparse: sparse(batch), training: training) { batch }
    }

    /// The batch's non-zero values when the sparse front takes it (`SparseFront.sparse`).
    private func sparse(_ batch: Tensor) -> SparseFront.SparseBatch? {
        front.flatMap { front in batch.scalars.withUnsafeBufferPointer { front.sparse($0.baseAddress!, samples: batch.shape[0]) } }
    }

    /// `forward` for a checked batch given as its non-zero values when the sparse front takes it
    /// (`SparseFront.sparse`), else by `dense`, which is called only then. `lap`, when given, is
    /// called with each stage's name as soon as it is done.
    func run(sparse: SparseFront.SparseBatch?, training: Bool, lap: ((String) -> Void)? = nil, dense: () -> Tensor) -> Tensor {
        var x: Tensor
        var first = 0
        if let front, let sparse {
            if !training, layers.count > 3, let next = layers[3] as? Conv2D, next.stride == 1 {
                // Predicting: the convolution after the front computes only what the input changes,
                // and so do a ReLU and a pool after it.
                var changed: [[Int32]] = []
                x = withUnsafeMutablePointer(to: &changed) { front.forward(sparse, training: false, changed: $0) }
                lap?("sparse front (layers 0-2)")
                if let pool = changedPool {
                    x = next.forwardChangedPooled(x, changed: changed, background: front.backgroundOutput(), pool: pool)
                    lap?("3-5 conv2d, relu, pool: changed only")
                    first = 6
                } else {
                    x = next.forwardChanged(x, changed: changed, background: front.backgroundOutput())
                    lap?("3 conv2d, changed outputs only")
                    first = 4
                }
            } else {
                x = front.forward(sparse, training: training)
                lap?("sparse front (layers 0-2)")
                first = 3
            }
        } else {
            x = dense()
        }
        if training { frontInTraining = first == 3 }
        for (i, layer) in layers.enumerated() where i >= first {
            x = layer.forward(x, training: training)
            lap?("\(i) \(layer.spec.description)")
        }
        return x
    }

    /// Prediction on one batch, stage by stage: the name of each stage (the fused sparse front counts
    /// as one, reading the input's non-zero values included) and the seconds it took. For benchmarks
    /// and for finding where time goes.
    public func stageTimes(_ batch: Tensor) throws(ShapeError) -> [(stage: String, seconds: Double)] {
        try check(batch)
        func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
        var times: [(String, Double)] = []
        var t = now()
        let nonzeros = sparse(batch)
        func lap(_ stage: String) {
            let lapped = now()
            times.append((stage, Double(lapped - t) / 1e9))
            t = lapped
        }
        _ = run(sparse: nonzeros, training: false, lap: lap, dense: { batch })
        return times
    }

    /// Back-propagates the gradient of the loss with respect to the last `forward(training: true)`
    /// output, adding to every parameter's gradient.
    public func backward(_ outputGradient: Tensor) {
        var g = outputGradient
        let first = frontInTraining ? 3 : 0
        for (i, layer) in layers.enumerated().reversed() where i >= first {
            g = layer.backward(g, inputGradient: i > 0)
        }
        if frontInTraining { front!.backward(g) }
    }
}
