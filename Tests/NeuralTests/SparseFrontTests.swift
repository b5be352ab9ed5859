import Randomness
import Testing

@testable import Neural

/// The fused sparse path through convolution, ReLU and max-pool gives what the three layers give.
@Suite struct SparseFrontTests {
    /// A batch with about `density` of its values set, plus one fully set 5×5 patch so that some pooling
    /// windows hold no untouched output.
    static func sparseBatch(_ shape: Shape, density: Double, seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        var t = Tensor(zeros: shape)
        for i in 0..<t.count where rng.chance(density) { t.scalars[i] = Float(rng.uniform(0.05...1)) }
        let (h, w) = (shape[2], shape[3])
        for y in 2..<7 { for x in 1..<6 { t.scalars[y * w + x] = Float(rng.uniform(0.05...1)) } }  // sample 0, channel 0
        _ = h
        return t
    }

    /// Forward and backward through the layers one by one, bypassing the fused path.
    static func layered(_ network: Network, _ x: Tensor, _ labels: [Int32]) throws -> (Tensor, [Tensor]) {
        network.zeroGradients()
        var y = x
        for layer in network.layers { y = layer.forward(y, training: true) }
        var g = try Loss.softmaxCrossEntropy.evaluate(logits: y, labels: labels).gradient
        for (i, layer) in network.layers.enumerated().reversed() { g = layer.backward(g, inputGradient: i > 0) }
        return (y, network.parameters.map(\.gradient))
    }

    @Test(arguments: [
        (LayerSpec.conv2d(filters: 4, kernel: 3, stride: 1, padding: 1), 2),
        (.conv2d(filters: 5, kernel: 3, stride: 1, padding: 1), 4),
        (.conv2d(filters: 3, kernel: 5, stride: 1, padding: 0), 2),
        (.conv2d(filters: 2, kernel: 2, stride: 1, padding: 1), 3),
    ])
    func matchesTheLayers(_ conv: LayerSpec, _ pool: Int) throws {
        let architecture = Architecture(
            input: [2, 16, 12],
            layers: [
                conv, .relu, .maxPool2d(size: pool, stride: pool), .flatten, .dense(units: 3),
            ])
        let network = try Network(architecture, seed: 4)
        #expect(network.front != nil)
        for p in network.parameters where p.name.hasSuffix("bias") {  // biases of both signs
            p.value = randomTensor(p.value.shape, seed: 8, scale: 0.2)
        }
        let x = Self.sparseBatch([3, 2, 16, 12], density: 0.06, seed: 9)
        #expect(network.front!.accepts(x))
        let labels: [Int32] = [0, 2, 1]

        let (expectedOutput, expectedGradients) = try Self.layered(network, x, labels)
        network.zeroGradients()
        let output = try network.forward(x, training: true)
        network.backward(try Loss.softmaxCrossEntropy.evaluate(logits: output, labels: labels).gradient)

        #expect(worstRelativeError(output.scalars, expectedOutput.scalars) < 1e-5)
        for (p, expected) in zip(network.parameters, expectedGradients) {
            #expect(worstRelativeError(p.gradient.scalars, expected.scalars) < 1e-4, "\(p.name)")
        }
        // Prediction takes the same path.
        #expect(worstRelativeError(try network(x).scalars, expectedOutput.scalars) < 1e-5)
    }

    /// Predicting a batch larger than the last training batch must not touch the training caches.
    @Test func predictionAfterASmallTrainingBatch() throws {
        let network = try Network(
            Architecture(
                input: [2, 16, 12],
                layers: [
                    .conv2d(filters: 4, kernel: 3, stride: 1, padding: 1), .relu, .maxPool2d(size: 2, stride: 2), .flatten, .dense(units: 2),
                ]), seed: 2)
        let big = Self.sparseBatch([16, 2, 16, 12], density: 0.05, seed: 5)
        let before = try network(big)
        _ = try network.forward(Self.sparseBatch([1, 2, 16, 12], density: 0.05, seed: 6), training: true)
        #expect(try network(big).scalars == before.scalars)
    }

    /// Prediction computes the convolution after the front only where the input changed it; the
    /// result equals the layers run one by one.
    @Test(arguments: [
        (LayerSpec.conv2d(filters: 3, kernel: 3, stride: 1, padding: 1), 2),
        (.conv2d(filters: 4, kernel: 3, stride: 1, padding: 0), 2),
        (.conv2d(filters: 2, kernel: 1, stride: 1, padding: 0), 4),
        (.conv2d(filters: 3, kernel: 2, stride: 1, padding: 1), 2),
    ])
    func theNextConvolutionComputesChangedOutputsOnly(_ second: LayerSpec, _ pool: Int) throws {
        let network = try Network(
            Architecture(
                input: [2, 16, 12],
                layers: [
                    .conv2d(filters: 4, kernel: 3, stride: 1, padding: 1), .relu, .maxPool2d(size: pool, stride: pool),
                    second, .relu, .flatten, .dense(units: 3),
                ]), seed: 6)
        for p in network.parameters where p.name.hasSuffix("bias") {
            p.value = randomTensor(p.value.shape, seed: 10, scale: 0.2)
        }
        // Sparse samples, an empty one, and one whose set pixels sit in the corners.
        var x = Self.sparseBatch([4, 2, 16, 12], density: 0.03, seed: 11)
        for i in (2 * 2 * 16 * 12)..<(3 * 2 * 16 * 12) { x.scalars[i] = 0 }
        let corner = 3 * 2 * 16 * 12
        for i in corner..<(4 * 2 * 16 * 12) { x.scalars[i] = 0 }
        x.scalars[corner] = 0.7
        x.scalars[corner + 16 * 12 - 1] = 0.4
        var expected = x
        for layer in network.layers { expected = layer.forward(expected, training: false) }
        #expect(worstRelativeError(try network(x).scalars, expected.scalars) < 1e-5)
    }

    /// With a ReLU and a pool after the next convolution, prediction computes only the pooled outputs
    /// whose window the input changed: the same as the layers one by one up to rounding, and bit for
    /// bit the same as the changed-only convolution followed by the two layers. Front filters of 17
    /// take the sixteen-wide multiply-add and its remainder; pools of 3 leave outputs out.
    @Test(arguments: [
        (LayerSpec.conv2d(filters: 4, kernel: 3, stride: 1, padding: 1), 2, 4),
        (.conv2d(filters: 3, kernel: 3, stride: 1, padding: 0), 3, 17),
        (.conv2d(filters: 5, kernel: 2, stride: 1, padding: 1), 2, 16),
        (.conv2d(filters: 2, kernel: 3, stride: 1, padding: 2), 3, 5),
    ])
    func theNextConvolutionReLUAndPoolComputeChangedWindowsOnly(_ second: LayerSpec, _ pool: Int, _ frontFilters: Int) throws {
        let network = try Network(
            Architecture(
                input: [2, 16, 12],
                layers: [
                    .conv2d(filters: frontFilters, kernel: 3, stride: 1, padding: 1), .relu, .maxPool2d(size: 2, stride: 2),
                    second, .relu, .maxPool2d(size: pool, stride: pool), .flatten, .dense(units: 3),
                ]), seed: 7)
        #expect(network.changedPool != nil)
        for p in network.parameters where p.name.hasSuffix("bias") {
            p.value = randomTensor(p.value.shape, seed: 12, scale: 0.2)
        }
        var x = Self.sparseBatch([4, 2, 16, 12], density: 0.03, seed: 13)
        for i in (2 * 2 * 16 * 12)..<(3 * 2 * 16 * 12) { x.scalars[i] = 0 }  // an empty sample
        var expected = x
        for layer in network.layers { expected = layer.forward(expected, training: false) }
        #expect(worstRelativeError(try network(x).scalars, expected.scalars) < 1e-5)

        let front = network.front!, conv = network.layers[3] as! Conv2D
        let sparse = try #require(x.scalars.withUnsafeBufferPointer { front.sparse($0.baseAddress!, samples: 4) })
        var changed: [[Int32]] = []
        let y = withUnsafeMutablePointer(to: &changed) { front.forward(sparse, training: false, changed: $0) }
        let unfused = network.layers[5].forward(
            network.layers[4].forward(conv.forwardChanged(y, changed: changed, background: front.backgroundOutput()), training: false),
            training: false)
        let fused = conv.forwardChangedPooled(y, changed: changed, background: front.backgroundOutput(), pool: network.changedPool!)
        #expect(fused.shape == unfused.shape)
        #expect(fused.scalars == unfused.scalars)

        // The background's outputs are kept between batches; new weights must not meet old ones.
        conv.bias.value = randomTensor(conv.bias.value.shape, seed: 14, scale: 0.5)
        var changedExpected = x
        for layer in network.layers { changedExpected = layer.forward(changedExpected, training: false) }
        #expect(worstRelativeError(try network(x).scalars, changedExpected.scalars) < 1e-5)
    }

    @Test func denseBatchesTakeTheOrdinaryPath() throws {
        let network = try Network(
            Architecture(
                input: [1, 8, 8],
                layers: [
                    .conv2d(filters: 2, kernel: 3, stride: 1, padding: 1), .relu, .maxPool2d(size: 2, stride: 2), .flatten, .dense(units: 2),
                ]), seed: 1)
        let dense = randomTensor([2, 1, 8, 8], seed: 3)
        #expect(!network.front!.accepts(dense))
        let (expected, gradients) = try Self.layered(network, dense, [0, 1])
        network.zeroGradients()
        let output = try network.forward(dense, training: true)
        network.backward(try Loss.softmaxCrossEntropy.evaluate(logits: output, labels: [0, 1]).gradient)
        #expect(output.scalars == expected.scalars)
        #expect(network.parameters[0].gradient.scalars == gradients[0].scalars)
    }

    @Test func onlyTheRightShapeIsFused() throws {
        let strided = try Network(
            Architecture(
                input: [1, 8, 8],
                layers: [
                    .conv2d(filters: 2, kernel: 3, stride: 2, padding: 1), .relu, .maxPool2d(size: 2, stride: 2),
                ]), seed: 1)
        #expect(strided.front == nil)
        let overlapping = try Network(
            Architecture(
                input: [1, 8, 8],
                layers: [
                    .conv2d(filters: 2, kernel: 3, stride: 1, padding: 1), .relu, .maxPool2d(size: 3, stride: 2),
                ]), seed: 1)
        #expect(overlapping.front == nil)
    }
}
