import Foundation
import Support

extension IPModelCard {
    /// The card of a model just trained: the inputs and how they were loaded and split, the rows of
    /// each part by label, the forest's settings and the network's epochs (for the scorers trained),
    /// the test part's evaluation and the notes taken while loading.
    /// - Parameters:
    ///   - result: what `IPTraining.train` returned.
    ///   - data: the labelled data it was trained on.
    ///   - loading: the options `data` was loaded with.
    ///   - options: the options it was trained with.
    ///   - test: the evaluation of the test part (`IPTraining.evaluate` of `result.parts[.test]`).
    ///   - created: when; written as an ISO 8601 UTC timestamp.
    public init(
        training result: IPTrainingResult, data: LabelledData, loading: LoadingOptions, options: IPTrainingOptions,
        test: [Part], created: Date = Date()
    ) {
        let counts = Dictionary(
            uniqueKeysWithValues: result.parts.map { part, encoded in
                (part.rawValue, ["malicious": encoded.labels.filter { $0 }.count, "benign": encoded.labels.filter { !$0 }.count])
            })
        self.init(
            created: ISO8601DateFormatter().string(from: created), inputs: data.inputs, loading: loading, split: options.split,
            hour: data.hourNote, port: data.portNote, rows: counts,
            forest: options.scorer == .mlp ? nil : options.forest, mlpEpochs: options.scorer == .forest ? nil : result.epochs.count,
            test: test, notes: data.notes + result.notes)
    }
}

extension IPTrainingResult {
    /// Writes the encoded parts as NumPy files for other tools, creating `directory` if needed:
    /// `{train,validation,test}_X.npy` (float32 features, one row per address),
    /// `{train,validation,test}_y.npy` (int64 labels, 1 malicious) and `columns.txt` (the feature
    /// columns' names, one a line).
    /// - Throws: `NumpyError` or a file-system error naming what could not be written.
    public func exportNumPy(to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (part, encoded) in parts {
            let features = try NumpyWriter(path: "\(directory)/\(part.rawValue)_X.npy", dtype: .float32, rowShape: [encoded.matrix.columns])
            for i in 0..<encoded.matrix.rows {
                try features.append(Array(encoded.matrix.values[(i * encoded.matrix.columns)..<((i + 1) * encoded.matrix.columns)]))
            }
            try features.finish()
            let labels = try NumpyWriter(path: "\(directory)/\(part.rawValue)_y.npy", dtype: .int64, rowShape: [])
            for label in encoded.labels { try labels.append(label ? 1 : 0) }
            try labels.finish()
        }
        try AtomicFile.write(Array((model.spec.columns.map(\.name).joined(separator: "\n") + "\n").utf8), to: "\(directory)/columns.txt")
    }
}
