import FlowRecords
import Foundation
import Support
import Testing

@testable import ActivityImage

/// The dataset files are what NumPy expects: checked by NumPy itself.
@Suite struct DatasetTests {
    /// A Python 3 with NumPy: the one on PATH, or Debian's.
    static func python() -> String? {
        for candidate in ["/usr/bin/env python3", "/usr/bin/python3"] {
            let parts = candidate.split(separator: " ").map(String.init)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: parts[0])
            p.arguments = Array(parts.dropFirst()) + ["-c", "import numpy"]
            p.standardError = FileHandle.nullDevice
            if (try? p.run()) != nil {
                p.waitUntilExit()
                if p.terminationStatus == 0 { return candidate }
            }
        }
        return nil
    }

    static func runPython(_ script: String, _ arguments: [String]) throws -> String {
        guard let python = python() else {
            Issue.record("no python3 with numpy: run Scripts/setup.sh (it installs python3-numpy)")
            return ""
        }
        let parts = python.split(separator: " ").map(String.init)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: parts[0])
        p.arguments = Array(parts.dropFirst()) + ["-c", script] + arguments
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        return String(decoding: data, as: UTF8.self)
    }

    func flow(_ src: String, _ dst: String, _ port: UInt16, _ t: Double, _ outcome: Outcome) -> FlowRecord {
        FlowRecord(
            start: t, end: t, source: IPAddress(src)!, destination: IPAddress(dst)!, sourcePort: 40000,
            destinationPort: port, transport: .tcp, outcome: outcome)
    }

    @Test func numpyReadsWhatWeWrite() throws {
        var imager = ActivityImager(window: 600)
        var truth = GroundTruth()
        // Six scanners and six clients over two windows; one source without a label.
        for s in 0..<6 {
            let scanner = "192.0.2.\(10 + s)", client = "10.2.0.\(10 + s)"
            truth.add(IPAddress(scanner)!, label: "scan", kind: s % 2 == 0 ? "vertical" : "horizontal")
            truth.add(IPAddress(client)!, label: "benign", kind: "web")
            for i in 0..<40 {
                let t = Double(s * 100 + i) + (i % 2 == 0 ? 0 : 600)
                imager.add(
                    s % 2 == 0
                        ? flow(scanner, "10.1.0.1", UInt16(1 + i), t, .rejected)
                        : flow(scanner, "10.1.0.\(1 + i)", 22, t, .unanswered))
                imager.add(flow(client, "198.51.100.\(1 + i % 3)", 443, t, .established))
            }
        }
        imager.add(flow("203.0.113.99", "10.1.0.1", 80, 5, .established))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dataset-\(UUID().uuidString)").path
        let meta = try DatasetWriter(testFraction: 0.34, seed: 3).write(images: imager, truth: truth, inputs: ["test"], to: directory)
        #expect(meta.unlabelledImages == 1)
        #expect(meta.train.count + meta.test.count == 24)  // 12 sources × 2 windows
        let trainSources = Set(meta.train.rows.map(\.source)), testSources = Set(meta.test.rows.map(\.source))
        #expect(trainSources.isDisjoint(with: testSources))
        // Every kind is in both splits.
        for kind in ["vertical", "horizontal", "web"] {
            #expect(meta.train.rows.contains { $0.kind == kind } && meta.test.rows.contains { $0.kind == kind })
        }
        // What NumPy sees: shapes, types, labels, and each image's sum against the Swift images.
        let sums = imager.images().filter { truth[$0.source] != nil }.reduce(into: [String: Double]()) {
            $0["\($1.source)@\(Int($1.windowStart))"] = $1.pixels.reduce(0) { $0 + Double($1) }
        }
        let script = """
            import json, sys, numpy as np
            d = sys.argv[1]
            meta = json.load(open(d + "/meta.json"))
            out = {"shape": meta["shape"], "labels": meta["label_names"]}
            for split in ("train", "test"):
                X = np.load(d + "/" + split + "/X.npy"); y = np.load(d + "/" + split + "/y.npy")
                assert X.dtype == np.float32 and y.dtype == np.int64 and X.flags["C_CONTIGUOUS"]
                rows = meta[split]["rows"]
                assert X.shape == (len(rows), 5, 64, 32) and y.shape == (len(rows),)
                out[split] = {"%s@%d" % (r["source"], r["window_start"]): [float(X[i].sum()), int(y[i]), r["label"]] for i, r in enumerate(rows)}
                out[split + "_range"] = [float(X.min()), float(X.max())]
            print(json.dumps(out))
            """
        let output = try Self.runPython(script, [directory])
        let parsed = try JSONSerialization.jsonObject(with: Data(output.utf8)) as! [String: Any]
        #expect(parsed["shape"] as? [Int] == [5, 64, 32])
        #expect(parsed["labels"] as? [String] == ["benign", "scan"])
        for split in ["train", "test"] {
            let rows = parsed[split] as! [String: [Any]]
            for (key, value) in rows {
                let sum = value[0] as! Double, y = value[1] as! Int, label = value[2] as! Int
                #expect(abs(sum - sums[key]!) < 1e-3, "\(key)")
                #expect(y == label)
                #expect(y == (key.hasPrefix("192.0.2.") ? 1 : 0))
            }
            let range = parsed[split + "_range"] as! [Double]
            #expect(range[0] >= 0 && range[1] <= 1)
        }
    }

    @Test func npyHeaderIsAlignedAndVersionOne() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("v-\(UUID().uuidString).npy").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let w = try NumpyWriter(path: path, dtype: .int64, rowShape: [])
        for v in [3, -1, 7] as [Int64] { try w.append(v) }
        try w.finish()
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(Array(bytes.prefix(8)) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        let headerEnd = 10 + Int(bytes[8]) + Int(bytes[9]) << 8
        #expect(headerEnd % 64 == 0 && bytes[headerEnd - 1] == 0x0A)
        #expect(String(decoding: bytes[10..<headerEnd], as: UTF8.self).hasPrefix("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }"))
        #expect(bytes.count == headerEnd + 24)
    }
}
