#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Updates weights from their gradients. An optimizer defines only its per-parameter step; `update`
/// applies it to every parameter of a model, in order (`slot` is the parameter's index, for state).
public protocol Optimizer {
    var learningRate: Float { get set }
    /// Called once per update, before the per-parameter steps.
    mutating func beginUpdate()
    mutating func step(slot: Int, value: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>)
}

extension Optimizer {
    public mutating func beginUpdate() {}

    /// One step for every parameter from its accumulated gradient.
    public mutating func update(_ parameters: [Parameter]) {
        beginUpdate()
        for (slot, p) in parameters.enumerated() {
            p.gradient.scalars.withUnsafeBufferPointer { g in
                p.value.scalars.withUnsafeMutableBufferPointer { v in step(slot: slot, value: v, gradient: g) }
            }
        }
    }
}

/// Stochastic gradient descent with momentum: `v ← μ·v − η·g`, `w ← w + v` (plain SGD when μ = 0).
public struct SGD: Optimizer {
    public var learningRate: Float
    public var momentum: Float
    private var velocity: [ContiguousArray<Float>] = []

    public init(learningRate: Float = 0.01, momentum: Float = 0.9) {
        self.learningRate = learningRate
        self.momentum = momentum
    }

    public mutating func step(slot: Int, value: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>) {
        while velocity.count <= slot { velocity.append([]) }
        if velocity[slot].count != value.count { velocity[slot] = ContiguousArray(repeating: 0, count: value.count) }
        let (mu, eta) = (momentum, learningRate)
        velocity[slot].withUnsafeMutableBufferPointer { v in
            for i in 0..<value.count {
                v[i] = mu * v[i] - eta * gradient[i]
                value[i] += v[i]
            }
        }
    }
}

/// Adam (Kingma & Ba 2015): moving averages of the gradient and its square, bias-corrected:
/// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `w ← w − η·m̂ / (√v̂ + ε)` with `m̂ = m/(1−β₁ᵗ)`, `v̂ = v/(1−β₂ᵗ)`.
public struct Adam: Optimizer {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    /// Updates made so far.
    public private(set) var steps = 0
    private var m: [ContiguousArray<Float>] = []
    private var v: [ContiguousArray<Float>] = []

    public init(learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    public mutating func beginUpdate() { steps += 1 }

    public mutating func step(slot: Int, value: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>) {
        while m.count <= slot {
            m.append([])
            v.append([])
        }
        if m[slot].count != value.count {
            m[slot] = ContiguousArray(repeating: 0, count: value.count)
            v[slot] = ContiguousArray(repeating: 0, count: value.count)
        }
        let t = Float(max(steps, 1))
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        let correction1 = 1 - powf(b1, t), correction2 = 1 - powf(b2, t)
        let eta = learningRate
        m[slot].withUnsafeMutableBufferPointer { m in
            v[slot].withUnsafeMutableBufferPointer { v in
                for i in 0..<value.count {
                    let g = gradient[i]
                    m[i] = b1 * m[i] + (1 - b1) * g
                    v[i] = b2 * v[i] + (1 - b2) * g * g
                    value[i] -= eta * (m[i] / correction1) / ((v[i] / correction2).squareRoot() + eps)
                }
            }
        }
    }
}
