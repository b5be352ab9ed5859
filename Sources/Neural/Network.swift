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

    /// Builds the layers with fresh weights: He normal for every weighted layer but the last,
    /// Glorot uniform for the last (it produces logits, not ReLU inputs).
    public init(_ architecture: Architecture, seed: UInt64) throws(ShapeError) {
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
    }

    private init(architecture: Architecture, shapes: [Shape], layers: [any Layer]) {
        self.architecture = architecture
        self.shapes = shapes
        self.layers = layers
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
        var x = batch
        for layer in layers { x = layer.forward(x, training: training) }
        return x
    }

    /// Back-propagates the gradient of the loss with respect to the last `forward(training: true)`
    /// output, adding to every parameter's gradient.
    public func backward(_ outputGradient: Tensor) {
        var g = outputGradient
        for (i, layer) in layers.enumerated().reversed() {
            g = layer.backward(g, inputGradient: i > 0)
        }
    }
}
