import ActivityImage
import Detection
import Foundation
import Neural
import Support
import TestSupport
import Testing

/// Scan CNN files whose input specification or architecture was edited, and bad model files given to
/// the command line: each refused in one line, at once, never a crash.
@Suite struct ScanModelFileTests {
    /// A tiny network over the images Flowhound draws.
    static func network() throws -> Network {
        try Network(
            Architecture(
                input: Shape(ActivityImage.shape),
                layers: [
                    .conv2d(filters: 1, kernel: 1), .relu, .maxPool2d(size: 4, stride: 4), .flatten, .dense(units: 2),
                ]), seed: 2)
    }

    /// Writes `bytes` to a fresh file and returns why `ScanModel.load` refuses it (nil if it does not).
    static func refusal(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws -> String? {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let path = base + "/scan.safetensors"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            _ = try ScanModel.load(path: path)
            Issue.record("the file was accepted", sourceLocation: sourceLocation)
            return nil
        } catch let error as ModelFileError {
            #expect(error.path == path, sourceLocation: sourceLocation)
            return error.reason
        }
    }

    /// A model file of the tiny network with `edit` applied to its input specification's JSON text,
    /// resealed so that only the window check can refuse it.
    static func withInput(_ edit: (String) -> String) throws -> [UInt8] {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let path = base + "/scan.safetensors"
        try ScanModel(network: network(), input: .current(window: 600)).write(to: path)
        var file = try SafeTensors.read(path: path)
        file.metadata["input"] = edit(file.metadata["input"]!)
        return file.sealed().encoded()
    }

    @Test func aTinyModelLoads() throws {
        let bytes = try Self.withInput { $0 }
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        try Data(bytes).write(to: URL(fileURLWithPath: base + "/scan.safetensors"))
        #expect(try ScanModel.load(path: base + "/scan.safetensors").input.windowSeconds == 600)
    }

    /// Detection divides flow times by the window and makes whole numbers of them: a window that is
    /// zero, tiny, huge or not finite would trap there, so it is refused when the model is read.
    @Test(arguments: ["0", "1e-300", "-600", "0.5", "604801", "1e300", "1e999"])
    func aWindowOutOfBoundsIsRefused(window: String) throws {
        let bytes = try Self.withInput { $0.replacingOccurrences(of: #""window_seconds":600"#, with: #""window_seconds":\#(window)"#) }
        let reason = try #require(try Self.refusal(bytes))
        if window == "1e999" {
            // Beyond a double: JSON numbers have no infinity, and the specification does not decode.
            #expect(reason == "has no input specification" || reason == "has an input window of inf s; from 1 to 604800 s is allowed", "\(reason)")
        } else {
            #expect(reason == "has an input window of \(Double(window)!) s; from 1 to 604800 s is allowed", "\(reason)")
        }
    }

    @Test func theBoundsOfTheWindowLoad() throws {
        for window in ["1", "604800"] {
            let base = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: base) }
            let bytes = try Self.withInput { $0.replacingOccurrences(of: #""window_seconds":600"#, with: #""window_seconds":\#(window)"#) }
            try Data(bytes).write(to: URL(fileURLWithPath: base + "/scan.safetensors"))
            #expect(try ScanModel.load(path: base + "/scan.safetensors").input.windowSeconds == Double(window))
        }
    }

    /// The shipped IP model with its network's first layer made huge and its checksum recomputed:
    /// `score ip` and `detect --ip-model` refuse it in one line, fast, with status 1.
    @Test(.tags(.integration), arguments: [1 << 20, 1 << 26, 1 << 62])
    func theCommandsRefuseAHugeNetworkQuickly(units: Int) throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let shipped = Repository.path("Sources/Reputation/Resources/ip-model.safetensors")
        var file = try SafeTensors.read(path: shipped)
        let architecture = try #require(file.metadata["mlp.architecture"])
        file.metadata["mlp.architecture"] = architecture.replacingOccurrences(of: #""units":32"#, with: #""units":\#(units)"#)
        #expect(file.metadata["mlp.architecture"] != architecture)
        let bad = base + "/bad.safetensors"
        try Data(file.sealed().encoded()).write(to: URL(fileURLWithPath: bad))
        let log = Repository.path("Samples/stratosphere-008-mixed.head300.conn.log.gz")
        for arguments in [["score", "ip", "--model", bad, "1.2.3.4"], ["detect", log, "--ip-model", bad]] {
            let r = try FlowhoundCLI.run(arguments)
            #expect(r.status == 1, "\(arguments[0]): \(r.stderr)")
            #expect(
                r.stderr.hasPrefix("flowhound: error: \(bad): its network part: has an architecture that cannot be used: layer 0 (dense \(units))"),
                "\(r.stderr)")
            #expect(r.stderr.filter { $0 == "\n" }.count == 1, "\(r.stderr)")
        }
    }
}
