import Foundation
import Support
import TestSupport
import Testing

@testable import Reputation

/// The model card of a training run and the NumPy export of its encoded parts.
extension ModelTests {
    @Test func theCardRecordsTheRunAndItsParts() throws {
        let result = Self.trained, data = try Self.data()
        let test = try IPTraining.evaluate(result.model, result.parts[.test]!)
        let card = IPModelCard(
            training: result, data: data, loading: LoadingOptions(), options: Self.options(), test: test,
            created: Date(timeIntervalSince1970: 1_767_225_600))
        #expect(card.created == "2026-01-01T00:00:00Z")
        #expect(card.inputs.map(\.sha256) == data.inputs.map(\.sha256))
        #expect(card.hour == data.hourNote && card.port == data.portNote && card.notes == data.notes)
        #expect(Set(card.rows.keys) == Set(SplitOptions.Part.allCases.map(\.rawValue)))
        for (part, encoded) in result.parts {
            let malicious = encoded.labels.filter { $0 }.count
            #expect(card.rows[part.rawValue] == ["malicious": malicious, "benign": encoded.labels.count - malicious])
        }
        #expect(card.forest == Self.options().forest && card.mlpEpochs == result.epochs.count)
        #expect(card.test.map(\.scorer) == test.map(\.scorer))
        #expect(card.problem == nil)

        let forestOnly = IPModelCard(training: result, data: data, loading: LoadingOptions(), options: Self.options(.forest), test: test)
        #expect(forestOnly.forest != nil && forestOnly.mlpEpochs == nil)
        let mlpOnly = IPModelCard(training: result, data: data, loading: LoadingOptions(), options: Self.options(.mlp), test: test)
        #expect(mlpOnly.forest == nil && mlpOnly.mlpEpochs != nil)
    }

    @Test func exportsEveryPartAsNumPy() throws {
        let result = Self.trained
        let directory = try temporaryDirectory("export") + "/nested"
        try result.exportNumPy(to: directory)
        for (part, encoded) in result.parts {
            let x = try NumpyReader.readFloat32(path: "\(directory)/\(part.rawValue)_X.npy")
            #expect(x.shape == [encoded.matrix.rows, encoded.matrix.columns])
            #expect(Array(x.values) == Array(encoded.matrix.values))
            let y = try NumpyReader.readIntegers(path: "\(directory)/\(part.rawValue)_y.npy")
            #expect(y.shape == [encoded.labels.count])
            #expect(y.values == encoded.labels.map { $0 ? 1 : 0 })
        }
        let columns = try String(contentsOfFile: "\(directory)/columns.txt", encoding: .utf8)
        #expect(columns == result.model.spec.columns.map(\.name).joined(separator: "\n") + "\n")
    }
}
