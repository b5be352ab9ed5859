import Randomness

/// Fully connected layer: `Y = X · W + b` with `X` of `N × in`, weights `in × units` (the order Keras
/// stores them in) and biases `units`.
public final class Dense: Layer {
    public let spec: LayerSpec
    public let weight: Parameter
    public let bias: Parameter
    let inputs, units: Int
    private var input = Tensor(zeros: [0])

    init(spec: LayerSpec, position: Int, input: Shape, initializer: Initializer, rng: inout SplitMix64) throws(ShapeError) {
        guard case let .dense(units) = spec else { preconditionFailure() }
        _ = try spec.outputShape(for: input, position: position)
        self.spec = spec
        (inputs, self.units) = (input.count, units)
        var w = Tensor(zeros: [input.count, units])
        initializer.fill(&w, fanIn: input.count, fanOut: units, rng: &rng)
        let names = spec.parameterNames(position: position)
        weight = Parameter(name: names[0], value: w)
        bias = Parameter(name: names[1], value: Tensor(zeros: [units]))
    }

    private init(copying other: Dense) {
        spec = other.spec
        (inputs, units) = (other.inputs, other.units)
        weight = Parameter(name: other.weight.name, value: other.weight.value)
        bias = Parameter(name: other.bias.name, value: other.bias.value)
    }

    public var parameters: [Parameter] { [weight, bias] }
    public func copy(replica: Int) -> any Layer { Dense(copying: self) }

    /// - Complexity: O(N · in · units).
    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let n = x.shape[0]
        if training { input = x }
        var y = Tensor(zeros: [n, units])
        y.scalars.withUnsafeMutableBufferPointer { out in
            bias.value.scalars.withUnsafeBufferPointer { b in
                for r in 0..<n { (out.baseAddress! + r * units).update(from: b.baseAddress!, count: units) }
            }
            x.scalars.withUnsafeBufferPointer { a in
                weight.value.scalars.withUnsafeBufferPointer { w in
                    BLAS.gemm(
                        m: n, n: units, k: inputs, a: a.baseAddress!, lda: inputs, b: w.baseAddress!, ldb: units,
                        beta: 1, c: out.baseAddress!, ldc: units)
                }
            }
        }
        return y
    }

    /// - Complexity: O(N · in · units).
    public func backward(_ dy: Tensor, inputGradient: Bool) -> Tensor {
        let n = input.shape[0]
        precondition(dy.shape == [n, units], "dense backward without a matching forward")
        var dx = inputGradient ? Tensor(zeros: [n, inputs]) : Tensor(zeros: [0])
        dy.scalars.withUnsafeBufferPointer { g in
            input.scalars.withUnsafeBufferPointer { x in
                // dW += Xᵀ · dY
                weight.gradient.scalars.withUnsafeMutableBufferPointer { dw in
                    BLAS.gemm(
                        transposeA: true, m: inputs, n: units, k: n, a: x.baseAddress!, lda: inputs,
                        b: g.baseAddress!, ldb: units, beta: 1, c: dw.baseAddress!, ldc: units)
                }
            }
            bias.gradient.scalars.withUnsafeMutableBufferPointer { db in
                for r in 0..<n { for j in 0..<units { db[j] += g[r * units + j] } }
            }
            guard inputGradient else { return }
            // dX = dY · Wᵀ
            weight.value.scalars.withUnsafeBufferPointer { w in
                dx.scalars.withUnsafeMutableBufferPointer { out in
                    BLAS.gemm(
                        transposeB: true, m: n, n: inputs, k: units, a: g.baseAddress!, lda: units,
                        b: w.baseAddress!, ldb: units, beta: 0, c: out.baseAddress!, ldc: inputs)
                }
            }
        }
        return dx
    }
}
