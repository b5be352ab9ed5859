import Foundation
import Neural
import TestSupport
import Testing

@testable import Detection

/// `flowhound train scan` and `flowhound eval scan` as users run them: output, messages, exit status.
@Suite(.tags(.integration)) struct TrainCommandTests {
    /// `flowhound dataset` on a small synthetic network, written to `base/data`.
    static func makeDataset(in base: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let data = base + "/data"
        let r = try FlowhoundCLI.run([
            "dataset", "--synth-seed", "5", "--synth-duration", "1h", "--synth-benign", "60",
            "--synth-scan-prevalence", "0.4", "--window", "600", "-o", data,
        ])
        try #require(r.status == 0, "\(r.stderr)", sourceLocation: sourceLocation)
        return data
    }

    static func train(data: String, model: String, seed: Int = 3, sourceLocation: SourceLocation = #_sourceLocation) throws -> FlowhoundCLI.Run {
        let r = try FlowhoundCLI.run(["train", "scan", "--data", data, "-o", model, "--epochs", "2", "--seed", "\(seed)", "--threads", "2", "--json"])
        #expect(r.status == 0, "\(r.stderr)", sourceLocation: sourceLocation)
        return r
    }

    @Test func trainWritesAModelAndASummaryThatEvalAgreesWith() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let data = try Self.makeDataset(in: base)
        let model = base + "/scan.safetensors"
        let r = try Self.train(data: data, model: model)

        // The keys as printed (JSONSerialization may round numbers; figures are compared decoded below).
        let summary = try #require(r.json, "stdout is not a JSON object: \(r.stdout)")
        #expect(summary["model"] as? String == model)
        #expect((summary["training_samples_per_second"] as? Double ?? 0) > 0)
        #expect((summary["train_images"] as? Int ?? 0) > 0)
        #expect((summary["validation_images"] as? Int ?? 0) > 0)
        let epochs = try #require(summary["epochs"] as? [[String: Any]])
        #expect(epochs.count == 2)
        for (i, epoch) in epochs.enumerated() {
            #expect(epoch["epoch"] as? Int == i + 1)
            #expect((epoch["loss"] as? Double).map { $0.isFinite && $0 > 0 } == true, "\(epoch)")
            #expect((epoch["samples_per_second"] as? Double ?? 0) > 0, "\(epoch)")
            #expect((epoch["validation_accuracy"] as? Double).map { (0...1).contains($0) } == true, "\(epoch)")
        }
        let test = try #require(summary["test"] as? [String: Any])
        #expect(test["accuracy"] is Double)
        let confusion = try #require(test["confusion"] as? [[Int]])
        #expect(confusion.count == 2 && confusion.allSatisfy { $0.count == 2 })
        #expect(confusion.flatMap { $0 }.reduce(0, +) == test["images"] as? Int)
        let recallByKind = try #require(test["recall_by_kind"] as? [String: Double])
        #expect(!recallByKind.isEmpty)
        #expect(Set(recallByKind.keys) == Set((test["scan_kinds"] as? [String] ?? []) + (test["benign_kinds"] as? [String] ?? [])))
        let decoded = try r.decoded(ScanTrainingSummary.self)
        let accuracy = decoded.test.accuracy
        #expect((0...1).contains(accuracy))
        #expect(decoded.epochs.map(\.epoch) == [1, 2])

        let stderrLines = r.stderr.split(separator: "\n").map(String.init)
        #expect(stderrLines.first?.hasPrefix("flowhound: training on ") == true, "\(r.stderr)")
        #expect(stderrLines.contains { $0.hasPrefix("flowhound: epoch 1/2  loss ") }, "\(r.stderr)")
        #expect(stderrLines.contains { $0.hasPrefix("flowhound: epoch 2/2  loss ") }, "\(r.stderr)")

        // The model file carries the same figures.
        let loaded = try ScanModel.load(path: model)
        #expect(loaded.provenance?.epochs.count == 2)
        #expect(loaded.provenance?.data == data)
        #expect(loaded.metrics?.accuracy == accuracy)

        let eval = try FlowhoundCLI.run(["eval", "scan", "--model", model, "--data", data, "--threads", "2", "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let evaluation = try eval.decoded(ScanEvaluation.self)
        #expect(evaluation.accuracy == accuracy)
        #expect(evaluation.confusion == confusion)
        #expect(evaluation.recallByKind == decoded.test.recallByKind)
        #expect(evaluation.images == decoded.test.images)

        let text = try FlowhoundCLI.run(["eval", "scan", "--model", model, "--data", data, "--threads", "2"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("recall by scan kind:"))
        #expect(text.stdout.contains("left alone by benign kind:"))
        #expect(text.stdout.contains(String(format: "accuracy %.4f", accuracy)))
    }

    /// The same data, seed and threads give the same weights; only timings and the training date differ.
    @Test func trainingIsReproducible() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let data = try Self.makeDataset(in: base)
        let first = base + "/a.safetensors", second = base + "/b.safetensors", otherSeed = base + "/c.safetensors"
        _ = try Self.train(data: data, model: first)
        _ = try Self.train(data: data, model: second)
        _ = try Self.train(data: data, model: otherSeed, seed: 4)

        let a = try SafeTensors.read(path: first), b = try SafeTensors.read(path: second), c = try SafeTensors.read(path: otherSeed)
        #expect(a.data == b.data)
        #expect(a.tensors.map(\.name) == b.tensors.map(\.name))
        #expect(a.metadata["weights_sha256"] == b.metadata["weights_sha256"])
        #expect(a.data != c.data, "a different seed should give different weights")

        /// A metadata document with the fields that measure time removed.
        func timeless(_ text: String?) throws -> NSDictionary {
            var object = try #require(try JSONSerialization.jsonObject(with: Data((text ?? "").utf8)) as? [String: Any])
            object["trained_at"] = nil
            object["inference_samples_per_second"] = nil
            if var epochs = object["epochs"] as? [[String: Any]] {
                for i in epochs.indices {
                    epochs[i]["seconds"] = nil
                    epochs[i]["samples_per_second"] = nil
                }
                object["epochs"] = epochs
            }
            return object as NSDictionary
        }
        #expect(Set(a.metadata.keys) == Set(b.metadata.keys))
        // The file checksum covers the times too, so it differs; every other key is the same.
        for key in a.metadata.keys.sorted() where !["training", "metrics", "sha256"].contains(key) {
            #expect(a.metadata[key] == b.metadata[key], "\(key)")
        }
        #expect(try timeless(a.metadata["training"]) == timeless(b.metadata["training"]))
        #expect(try timeless(a.metadata["metrics"]) == timeless(b.metadata["metrics"]))

        // The files differ only in what they record about time (epoch timings, inference speed, trained_at).
    }

    @Test func trainingOnSyntheticDataCleansUpItsScratchDataset() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let model = base + "/synth.safetensors"
        let r = try FlowhoundCLI.run([
            "train", "scan", "--synth-seed", "9", "--synth-duration", "30m", "--synth-benign", "20",
            "--synth-scan-prevalence", "0.4", "-o", model, "--epochs", "1", "--threads", "2",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("wrote \(model): "))
        #expect(r.stdout.contains("recall by scan kind:"))
        let loaded = try ScanModel.load(path: model)
        #expect(loaded.provenance?.data.hasPrefix("synthetic: synth --seed 9 --duration 1800s --benign 20") == true)
        #expect(!FileManager.default.fileExists(atPath: NSTemporaryDirectory() + "flowhound-train-\(r.pid)"))
    }

    @Test func evalUsesTheModelNamedByTheEnvironment() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let synthetic = try SyntheticDataset()
        defer { synthetic.remove() }
        let model = base + "/env.safetensors"
        try ScanModel(network: Network(ScanModel.defaultArchitecture, seed: 1), input: .current(window: 600)).write(to: model)
        let r = try FlowhoundCLI.run(
            ["eval", "scan", "--data", synthetic.directory, "--json", "--threads", "1"],
            environment: ["FLOWHOUND_SCAN_MODEL": model])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.json?["images"] as? Int == synthetic.meta.test.count)
        let missing = try FlowhoundCLI.run(
            ["eval", "scan", "--data", synthetic.directory],
            environment: ["FLOWHOUND_SCAN_MODEL": base + "/none.safetensors"])
        #expect(missing.status == 1)
        #expect(missing.stderr == "flowhound: error: \(base)/none.safetensors: no such model file\n")
    }

    // MARK: - Errors

    @Test func evalWithAMissingModelIsOneLine() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let synthetic = try SyntheticDataset()
        defer { synthetic.remove() }
        let model = base + "/missing.safetensors"
        let r = try FlowhoundCLI.run(["eval", "scan", "--model", model, "--data", synthetic.directory])
        #expect(r.status == 1)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr == "flowhound: error: \(model): no such model file\n")
    }

    @Test func evalWithACorruptedModelIsOneLine() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let synthetic = try SyntheticDataset()
        defer { synthetic.remove() }
        let model = base + "/corrupt.safetensors"
        try ScanModel(network: Network(ScanModel.defaultArchitecture, seed: 1), input: .current(window: 600)).write(to: model)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: model)))
        bytes[bytes.count - 100] ^= 0x10  // inside the last tensor's data
        try Data(bytes).write(to: URL(fileURLWithPath: model))
        let r = try FlowhoundCLI.run(["eval", "scan", "--model", model, "--data", synthetic.directory])
        #expect(r.status == 1)
        #expect(r.stdout.isEmpty)
        #expect(
            r.stderr == "flowhound: error: \(model): does not match its SHA-256 checksum (of all its metadata and tensors): the file was altered or damaged\n")
    }

    @Test func trainOnADirectoryWithoutMetaIsOneLine() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let model = base + "/m.safetensors"
        let r = try FlowhoundCLI.run(["train", "scan", "--data", base, "-o", model, "--epochs", "1"])
        #expect(r.status == 1)
        #expect(r.stderr == "flowhound: error: \(base)/meta.json: missing; \(base) was not written by 'flowhound dataset'\n")
        #expect(!FileManager.default.fileExists(atPath: model))
    }

    @Test func trainNeedsExactlyOneSourceOfData() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let model = base + "/m.safetensors"
        let neither = try FlowhoundCLI.run(["train", "scan", "-o", model])
        #expect(neither.status == 64)
        #expect(neither.stderr.contains("give either --data DIR or --synth-seed N"), "\(neither.stderr)")
        let both = try FlowhoundCLI.run(["train", "scan", "--data", base, "--synth-seed", "1", "-o", model])
        #expect(both.status == 64)
        #expect(both.stderr.contains("give either --data DIR or --synth-seed N"), "\(both.stderr)")
        let epochs = try FlowhoundCLI.run(["train", "scan", "--data", base, "-o", model, "--epochs", "0"])
        #expect(epochs.status == 64)
        #expect(epochs.stderr.contains("--epochs must be 1–100000, not 0"), "\(epochs.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: base).isEmpty)
    }
}
