import Testing

@testable import Neural

/// Shapes are inferred, never written by hand, and a mismatch names the layer and both shapes.
@Suite struct ShapeTests {
    @Test func theFlattenedSizeIsInferred() throws {
        let architecture = Architecture(
            input: [3, 64, 32],
            layers: [
                .conv2d(filters: 8, kernel: 3, stride: 1, padding: 1), .relu, .maxPool2d(size: 2, stride: 2),
                .conv2d(filters: 16, kernel: 3, stride: 1, padding: 1), .relu, .maxPool2d(size: 2, stride: 2),
                .conv2d(filters: 32, kernel: 3, stride: 1, padding: 1), .relu, .maxPool2d(size: 2, stride: 2),
                .flatten, .dense(units: 64), .relu, .dropout(rate: 0.25), .dense(units: 2),
            ])
        let shapes = try architecture.shapes()
        #expect(shapes[0] == [8, 64, 32])
        #expect(shapes[2] == [8, 32, 16])
        #expect(shapes[8] == [32, 8, 4])
        #expect(shapes[9] == [1024])
        #expect(shapes.last == [2])
        let network = try Network(architecture, seed: 1)
        #expect(network.parameterCount == 71_762)
        #expect(network.parameters.map(\.name)[6] == "10.dense.weight")
        #expect(network.parameters[6].value.shape == [1024, 64])
        let summary = try architecture.summary()
        #expect(summary.contains("total 71762 weights"))
    }

    @Test func stridesAndPaddingFollowTheFormula() throws {
        let shapes = try Architecture(input: [1, 11, 10], layers: [.conv2d(filters: 2, kernel: 5, stride: 3, padding: 2)]).shapes()
        #expect(shapes[0] == [2, 4, 4])  // (11 + 4 − 5) / 3 + 1 = 4, (10 + 4 − 5) / 3 + 1 = 4
    }

    @Test func aDenseLayerOnAnImageSaysWhatIsMissing() {
        let error = #expect(throws: ShapeError.self) {
            _ = try Architecture(input: [3, 64, 32], layers: [.conv2d(filters: 4, kernel: 3), .dense(units: 10)]).shapes()
        }
        #expect(error?.description == "layer 1 (dense 10): expects a flat input, got 4×62×30; put a flatten layer before it")
    }

    @Test func aWindowLargerThanItsInputIsNamed() {
        let error = #expect(throws: ShapeError.self) {
            _ = try Architecture(
                input: [1, 4, 4],
                layers: [
                    .maxPool2d(size: 2, stride: 2), .maxPool2d(size: 2, stride: 2), .maxPool2d(size: 2, stride: 2),
                ]
            ).shapes()
        }
        #expect(error?.description == "layer 2 (maxpool2d 2×2 stride 2): input 1×1×1 is smaller than the 2×2 window")
    }

    @Test func theWrongInputIsRefusedWithBothShapes() throws {
        let network = try Network(Architecture(input: [3, 64, 32], layers: [.flatten, .dense(units: 2)]), seed: 1)
        let error = #expect(throws: ShapeError.self) { _ = try network(Tensor(zeros: [5, 3, 32, 64])) }
        #expect(error?.description == "network input: expected N×3×64×32, got 5×3×32×64")
    }

    @Test func logitsAndLabelsMustAgree() {
        let logits = Tensor(zeros: [4, 2])
        let count = #expect(throws: ShapeError.self) { _ = try softmaxCrossEntropy(logits: logits, labels: [0, 1, 1] as [Int32]) }
        #expect(count?.description == "softmax cross-entropy: logits are 4×2 (4 samples × 2 classes) but there are 3 labels")
        let range = #expect(throws: ShapeError.self) { _ = try softmaxCrossEntropy(logits: logits, labels: [0, 1, 2, 1] as [Int32]) }
        #expect(range?.description == "softmax cross-entropy: label 2 is not a class of 2-class logits 4×2 (labels must be in 0..<2)")
        let binary = #expect(throws: ShapeError.self) { _ = try binaryCrossEntropy(logits: logits, labels: [0, 1, 1, 0]) }
        #expect(binary?.description.hasPrefix("binary cross-entropy: logits must be N×1") == true)
    }

    @Test func trainingChecksLabelsAgainstTheOutput() throws {
        let network = try Network(Architecture(input: [4], layers: [.dense(units: 2)]), seed: 1)
        let samples = try Samples(sampleShape: [4], features: ContiguousArray(repeating: 0, count: 12), labels: [0, 1, 3])
        let error = #expect(throws: ShapeError.self) { _ = try Trainer(network: network, options: TrainingOptions()).fit(samples) }
        #expect(error?.description.hasPrefix("training labels do not fit the network's output 2:") == true)
        let wrong = try Samples(sampleShape: [5], features: ContiguousArray(repeating: 0, count: 10), labels: [0, 1])
        let shape = #expect(throws: ShapeError.self) { _ = try Trainer(network: network, options: TrainingOptions()).fit(wrong) }
        #expect(shape?.description == "training samples are 5 but the network takes 4")
    }
}
