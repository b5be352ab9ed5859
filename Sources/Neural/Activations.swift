import Randomness

/// `max(x, 0)`, element-wise.
public final class ReLU: Layer {
    public let spec = LayerSpec.relu
    /// The last training output; positive exactly where the gradient passes.
    private var output = Tensor(zeros: [0])

    init() {}

    public func copy(replica: Int) -> any Layer { ReLU() }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        var y = input
        y.scalars.withUnsafeMutableBufferPointer { v in
            for i in v.indices { v[i] = max(v[i], 0) }
        }
        if training { output = y }
        return y
    }

    public func backward(_ outputGradient: Tensor, inputGradient: Bool) -> Tensor {
        precondition(outputGradient.shape == output.shape, "relu backward without a matching forward")
        var dx = outputGradient
        dx.scalars.withUnsafeMutableBufferPointer { g in
            output.scalars.withUnsafeBufferPointer { y in
                for i in g.indices where y[i] <= 0 { g[i] = 0 }
            }
        }
        return dx
    }
}

/// Inverted dropout: while training, each value is kept with probability `1 − rate` and scaled by
/// `1 / (1 − rate)`, so that predicting needs no rescaling and passes values through.
public final class Dropout: Layer {
    public let spec: LayerSpec
    let rate: Float
    let seed: UInt64
    private var rng: SplitMix64
    /// The last training mask: 0 or `1 / (1 − rate)` per value.
    private var mask = Tensor(zeros: [0])

    init(spec: LayerSpec, seed: UInt64, replica: Int = 0) {
        guard case let .dropout(rate) = spec else { preconditionFailure() }
        self.spec = spec
        self.rate = Float(rate)
        self.seed = seed
        rng = SplitMix64.stream(seed: seed, index: UInt64(replica))
    }

    public func copy(replica: Int) -> any Layer { Dropout(spec: spec, seed: seed, replica: replica) }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        guard training, rate > 0 else { return input }
        let keep = 1 - Double(rate), scale = 1 / Float(keep)
        mask = Tensor(zeros: input.shape)
        var y = input
        mask.scalars.withUnsafeMutableBufferPointer { m in
            y.scalars.withUnsafeMutableBufferPointer { v in
                for i in v.indices {
                    let factor: Float = rng.unit() < keep ? scale : 0
                    m[i] = factor
                    v[i] *= factor
                }
            }
        }
        return y
    }

    public func backward(_ outputGradient: Tensor, inputGradient: Bool) -> Tensor {
        guard rate > 0 else { return outputGradient }
        precondition(outputGradient.shape == mask.shape, "dropout backward without a matching forward")
        var dx = outputGradient
        dx.scalars.withUnsafeMutableBufferPointer { g in
            mask.scalars.withUnsafeBufferPointer { m in
                for i in g.indices { g[i] *= m[i] }
            }
        }
        return dx
    }
}

/// `N × C × H × W` to `N × (C·H·W)` without moving a value.
public final class Flatten: Layer {
    public let spec = LayerSpec.flatten
    private var inputShape = Shape([0])

    init() {}

    public func copy(replica: Int) -> any Layer { Flatten() }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        if training { inputShape = input.shape }
        return input.reshaped([input.shape[0], input.shape.sample.count])
    }

    public func backward(_ outputGradient: Tensor, inputGradient: Bool) -> Tensor {
        outputGradient.reshaped(inputShape)
    }
}
