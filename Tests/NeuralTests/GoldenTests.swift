import Foundation
import TestSupport
import Testing

@testable import Neural

/// Forward (and for convolution, backward) values checked against plain numpy loops:
/// Tests/NeuralTests/Fixtures/golden.json, written by Scripts/golden/neural_golden.py.
@Suite struct GoldenTests {
    struct TensorValue: Decodable {
        var shape: [Int]
        var values: [Float]
        var tensor: Tensor { Tensor(shape: Shape(shape), scalars: values) }
    }

    struct LayerCase: Decodable {
        var name: String
        var layer: LayerSpec
        var input: TensorValue
        var weight: TensorValue?
        var bias: TensorValue?
        var output: TensorValue
        var outputGradient: TensorValue?
        var inputGradient: TensorValue?
        var weightGradient: TensorValue?
        var biasGradient: TensorValue?
    }

    struct LossCase: Decodable {
        var name: String
        var loss: Loss
        var logits: TensorValue
        var labels: [Int32]
        var value: Double
        var gradient: TensorValue
    }

    struct OptimizerCase: Decodable {
        var name: String
        var optimizer: OptimizerKind
        var learningRate: Float
        var momentum: Float
        var initial: [Float]
        var gradients: [[Float]]
        var after: [[Float]]
    }

    struct NetworkCase: Decodable {
        var name: String
        var architecture: Architecture
        var input: TensorValue
        var parameters: [String: TensorValue]
        var output: TensorValue
    }

    struct Golden: Decodable {
        var layers: [LayerCase]
        var losses: [LossCase]
        var optimizers: [OptimizerCase]
        var networks: [NetworkCase]
    }

    static let golden: Golden = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let data = try! Data(contentsOf: URL(fileURLWithPath: FixtureDirectory.of(target: "NeuralTests").path("golden.json")))
        return try! decoder.decode(Golden.self, from: data)
    }()

    @Test(arguments: golden.layers.map(\.name))
    func layerMatchesNumpy(_ name: String) throws {
        let c = Self.golden.layers.first { $0.name == name }!
        let input = c.input.tensor
        let network = try Network(Architecture(input: input.shape.sample, layers: [c.layer]), seed: 1)
        let layer = network.layers[0]
        if let weight = c.weight, let bias = c.bias {
            layer.parameters[0].value = weight.tensor
            layer.parameters[1].value = bias.tensor
        }
        let output = layer.forward(input, training: c.outputGradient != nil)
        #expect(output.shape == Shape(c.output.shape))
        #expect(worstRelativeError(output.scalars, c.output.values) < 1e-5, "\(name) forward")
        if let dy = c.outputGradient {
            let dx = layer.backward(dy.tensor, inputGradient: true)
            #expect(dx.shape == Shape(c.inputGradient!.shape))
            #expect(worstRelativeError(dx.scalars, c.inputGradient!.values) < 1e-5, "\(name) input gradient")
            #expect(worstRelativeError(layer.parameters[0].gradient.scalars, c.weightGradient!.values) < 1e-5, "\(name) weight gradient")
            #expect(worstRelativeError(layer.parameters[1].gradient.scalars, c.biasGradient!.values) < 1e-5, "\(name) bias gradient")
        }
    }

    @Test(arguments: golden.losses.map(\.name))
    func lossMatchesNumpy(_ name: String) throws {
        let c = Self.golden.losses.first { $0.name == name }!
        let result = try c.loss.evaluate(logits: c.logits.tensor, labels: c.labels)
        #expect(abs(Double(result.value) - c.value) < 1e-5 * max(1, abs(c.value)))
        #expect(result.gradient.shape == Shape(c.gradient.shape))
        #expect(worstRelativeError(result.gradient.scalars, c.gradient.values) < 1e-6)
    }

    @Test(arguments: golden.optimizers.map(\.name))
    func optimizerMatchesNumpy(_ name: String) {
        let c = Self.golden.optimizers.first { $0.name == name }!
        var optimizer: any Optimizer =
            c.optimizer == .adam
            ? Adam(learningRate: c.learningRate) : SGD(learningRate: c.learningRate, momentum: c.momentum)
        let p = Parameter(name: "w", value: Tensor(shape: [c.initial.count], scalars: c.initial))
        for (gradient, expected) in zip(c.gradients, c.after) {
            p.gradient = Tensor(shape: [gradient.count], scalars: gradient)
            optimizer.update([p])
            #expect(worstRelativeError(p.value.scalars, expected) < 1e-5, "\(name)")
        }
    }

    @Test func networkMatchesNumpy() throws {
        for c in Self.golden.networks {
            let network = try Network(c.architecture, seed: 1)
            #expect(Set(network.parameters.map(\.name)) == Set(c.parameters.keys))
            for p in network.parameters { p.value = c.parameters[p.name]!.tensor }
            let output = try network(c.input.tensor)
            #expect(output.shape == Shape(c.output.shape))
            #expect(worstRelativeError(output.scalars, c.output.values) < 1e-5, "\(c.name)")
            // Spread over threads (enough samples for two: the input 64 times), the same answer.
            let copies = 64
            let samples = try Samples(
                sampleShape: c.input.tensor.shape.sample,
                features: ContiguousArray((0..<copies).flatMap { _ in c.input.tensor.scalars }),
                labels: [Int32](repeating: 0, count: c.input.shape[0] * copies))
            let parallel = try network.predict(samples, threads: 2, batchSize: 1)
            #expect(parallel.scalars == ContiguousArray((0..<copies).flatMap { _ in output.scalars }))
        }
    }
}
