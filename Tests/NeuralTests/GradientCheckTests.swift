import Randomness
import Testing

@testable import Neural

/// Every layer's backward pass against central finite differences of `Σ r ⊙ layer(x)` for a fixed
/// random `r`, on the input and on every weight.
@Suite struct GradientCheckTests {
    /// Inputs that stay at least `gap` away from each other and from zero, so a ±ε step never crosses
    /// a ReLU kink or changes which value a max-pool window picks.
    static func spacedInput(_ shape: Shape, seed: UInt64, gap: Float = 0.05) -> Tensor {
        var rng = SplitMix64(seed: seed)
        var values = (0..<shape.count).map { i in (Float(i) + 0.5) * gap * (i % 2 == 0 ? 1 : -1) }
        values.shuffle(using: &rng)
        return Tensor(shape: shape, scalars: values)
    }

    static func weightedSum(_ y: Tensor, _ r: Tensor) -> Double {
        zip(y.scalars, r.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// Compares analytic and numeric gradients at up to `probes` positions of the input and of each weight.
    static func check(_ spec: LayerSpec, input: Tensor, seed: UInt64 = 3, probes: Int = 24, epsilon: Float = 1e-2) throws {
        let network = try Network(Architecture(input: input.shape.sample, layers: [spec]), seed: seed)
        let layer = network.layers[0]
        for p in layer.parameters {  // non-zero biases, so that they matter
            p.value = randomTensor(p.value.shape, seed: seed &+ 9, scale: 0.3)
        }
        // A fresh copy for every evaluation replays the same dropout mask.
        func evaluate(_ x: Tensor, _ r: Tensor) -> Double {
            let fresh = layer.copy(replica: 0)
            for (f, p) in zip(fresh.parameters, layer.parameters) { f.value = p.value }
            return weightedSum(fresh.forward(x, training: true), r)
        }
        let first = layer.copy(replica: 0)
        for (f, p) in zip(first.parameters, layer.parameters) { f.value = p.value }
        let y = first.forward(input, training: true)
        let r = randomTensor(y.shape, seed: seed &+ 1)
        let dx = first.backward(r, inputGradient: true)
        var rng = SplitMix64(seed: seed &+ 2)

        func compare(_ name: String, count: Int, analytic: (Int) -> Float, perturb: (Int, Float) -> Double) {
            for _ in 0..<min(probes, count) {
                let i = rng.int(0...(count - 1))
                let numeric = (perturb(i, epsilon) - perturb(i, -epsilon)) / (2 * Double(epsilon))
                let a = Double(analytic(i))
                #expect(abs(numeric - a) <= 2e-2 * max(1, abs(a)), "\(spec.description) \(name)[\(i)]: analytic \(a), numeric \(numeric)")
            }
        }
        compare(
            "input", count: input.count, analytic: { dx.scalars[$0] },
            perturb: { i, e in
                var x = input
                x.scalars[i] += e
                return evaluate(x, r)
            })
        for (k, p) in layer.parameters.enumerated() {
            let grad = first.parameters[k].gradient
            compare(
                p.name, count: p.value.count, analytic: { grad.scalars[$0] },
                perturb: { i, e in
                    let saved = p.value
                    p.value.scalars[i] += e
                    defer { p.value = saved }
                    return evaluate(input, r)
                })
        }
    }

    @Test(arguments: [
        LayerSpec.conv2d(filters: 3, kernel: 3, stride: 1, padding: 1),
        .conv2d(filters: 2, kernel: 3, stride: 2, padding: 0),
        .conv2d(filters: 2, kernel: 2, stride: 2, padding: 1),
        .conv2d(filters: 4, kernel: 1, stride: 1, padding: 0),
    ])
    func convolution(_ spec: LayerSpec) throws {
        try Self.check(spec, input: randomTensor([2, 2, 6, 5], seed: 11))
    }

    @Test(arguments: [LayerSpec.maxPool2d(size: 2, stride: 2), .maxPool2d(size: 3, stride: 2), .maxPool2d(size: 2, stride: 1)])
    func pooling(_ spec: LayerSpec) throws {
        try Self.check(spec, input: Self.spacedInput([2, 2, 7, 6], seed: 12))
    }

    @Test func dense() throws {
        try Self.check(.dense(units: 4), input: randomTensor([3, 9], seed: 13))
    }

    @Test func relu() throws {
        try Self.check(.relu, input: Self.spacedInput([2, 3, 4], seed: 14))
    }

    @Test func dropoutAndFlatten() throws {
        try Self.check(.dropout(rate: 0.4), input: randomTensor([4, 10], seed: 15))
        try Self.check(.flatten, input: randomTensor([2, 3, 2, 2], seed: 16))
    }

    /// Both losses, by differencing the loss value itself.
    @Test(arguments: [Loss.softmaxCrossEntropy, .binaryCrossEntropy])
    func loss(_ loss: Loss) throws {
        let classes = loss == .softmaxCrossEntropy ? 3 : 1
        let logits = randomTensor([5, classes], seed: 17, scale: 2)
        let labels: [Int32] = loss == .softmaxCrossEntropy ? [0, 2, 1, 1, 0] : [1, 0, 0, 1, 1]
        let analytic = try loss.evaluate(logits: logits, labels: labels).gradient
        let e: Float = 1e-2
        for i in 0..<logits.count {
            var up = logits, down = logits
            up.scalars[i] += e
            down.scalars[i] -= e
            let numeric = Double(try loss.evaluate(logits: up, labels: labels).value - loss.evaluate(logits: down, labels: labels).value) / Double(2 * e)
            #expect(abs(numeric - Double(analytic.scalars[i])) < 2e-3, "\(loss) logit \(i)")
        }
    }

    /// A whole network end to end: the loss gradient reaches the first convolution's weights intact.
    @Test func wholeNetwork() throws {
        let network = try Network(
            Architecture(
                input: [2, 8, 6],
                layers: [
                    .conv2d(filters: 3, kernel: 3, stride: 1, padding: 1), .relu, .maxPool2d(size: 2, stride: 2),
                    .flatten, .dense(units: 4), .relu, .dense(units: 2),
                ]), seed: 5)
        let x = randomTensor([3, 2, 8, 6], seed: 18)
        let labels: [Int32] = [0, 1, 1]
        func loss() throws -> Double {
            Double(try Loss.softmaxCrossEntropy.evaluate(logits: network.forward(x, training: true), labels: labels).value)
        }
        network.zeroGradients()
        let result = try Loss.softmaxCrossEntropy.evaluate(logits: network.forward(x, training: true), labels: labels)
        network.backward(result.gradient)
        let conv = network.parameters[0]
        let analytic = conv.gradient
        var checked = 0
        for i in stride(from: 0, to: conv.value.count, by: 5) {
            let saved = conv.value
            conv.value.scalars[i] += 1e-2
            let up = try loss()
            conv.value = saved
            conv.value.scalars[i] -= 1e-2
            let down = try loss()
            conv.value = saved
            let numeric = (up - down) / 2e-2
            #expect(abs(numeric - Double(analytic.scalars[i])) < 2e-3 + 2e-2 * abs(numeric), "conv weight \(i)")
            checked += 1
        }
        #expect(checked > 5)
    }
}
