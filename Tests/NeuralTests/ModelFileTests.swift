import Foundation
import Support
import TestSupport
import Testing

@testable import Neural

/// SHA-256, safetensors model files and the checks `NetworkModel.read` makes on them.
@Suite struct ModelFileTests {
    // MARK: - Helpers

    static let architecture = Architecture(
        input: [2, 8, 6],
        layers: [
            .conv2d(filters: 3, kernel: 3, stride: 1, padding: 1), .relu, .maxPool2d(size: 2, stride: 2),
            .flatten, .dense(units: 2),
        ])

    /// A small network whose weights and biases are all non-zero (biases start at zero otherwise).
    static func network(seed: UInt64 = 7) throws -> Network {
        let network = try Network(architecture, seed: seed)
        for (i, p) in network.parameters.enumerated() where p.name.hasSuffix(".bias") {
            p.value = randomTensor(p.value.shape, seed: seed &+ UInt64(i), scale: 0.1)
        }
        return network
    }

    static let documents = [
        "input": #"{"shape":[2,8,6],"window":600}"#,
        "note": "plain text with \"quotes\", a backslash \\, a tab\t, a newline\n, é and 🐕",
    ]

    static func model(kind: String = "scan-cnn", seed: UInt64 = 7) throws -> NetworkModel {
        NetworkModel(
            kind: kind, network: try network(seed: seed), loss: .softmaxCrossEntropy, labels: ["benign", "scan"],
            documents: documents)
    }

    static func sha256Hex(_ bytes: [UInt8]) -> String { bytes.withUnsafeBytes { hex(sha256($0)) } }

    /// The header length, the header's JSON object and where the data starts.
    static func split(_ file: [UInt8]) -> (header: [String: Any], dataStart: Int) {
        let length = Int(file[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let header = try! JSONSerialization.jsonObject(with: Data(file[8..<(8 + length)])) as! [String: Any]
        return (header, 8 + length)
    }

    /// A file made of `headerText` (with a correct length prefix) followed by `data`.
    static func file(headerText: String, data: some Sequence<UInt8>) -> [UInt8] {
        let header = Array(headerText.utf8)
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        return out + header + Array(data)
    }

    /// `file` with its header replaced by `edit(header)`, re-encoded with a correct length prefix.
    static func editingHeader(_ file: [UInt8], _ edit: (inout [String: Any]) -> Void) -> [UInt8] {
        var (header, dataStart) = split(file)
        edit(&header)
        let text = String(decoding: try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]), as: UTF8.self)
        return self.file(headerText: text, data: file[dataStart...])
    }

    /// `file` with the field `field` of tensor `tensor`'s header entry set to `value`.
    static func editingEntry(_ file: [UInt8], _ tensor: String, _ field: String, _ value: Any) -> [UInt8] {
        editingHeader(file) { header in
            var entry = header[tensor] as! [String: Any]
            entry[field] = value
            header[tensor] = entry
        }
    }

    /// The model's safetensors form after `edit`, with `weights_sha256` and the file checksum
    /// recomputed so that both hold: what someone who edits a file with care writes.
    static func resealed(_ model: NetworkModel, _ edit: (inout SafeTensors) -> Void) -> [UInt8] {
        var file = model.safeTensors()
        edit(&file)
        file.metadata["weights_sha256"] = sha256Hex(file.data)
        return file.sealed().encoded()
    }

    /// `bytes` (a header edited by hand) decoded and sealed again with the file checksum.
    static func resealed(_ bytes: [UInt8]) throws -> [UInt8] {
        try SafeTensors.decode(bytes, path: "m").sealed().encoded()
    }

    /// What a file edited without recomputing the file checksum is refused for.
    static let tampered = "does not match its SHA-256 checksum (of all its metadata and tensors): the file was altered or damaged"

    /// Writes `bytes` to a fresh file and returns why `NetworkModel.read` refuses it (nil if it does not).
    static func refusal(_ bytes: [UInt8], kind: String = "scan-cnn", sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        let dir = try! temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/model.safetensors"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)), sourceLocation: sourceLocation)
        do {
            _ = try NetworkModel.read(path: path, kind: kind)
            Issue.record("the file was accepted", sourceLocation: sourceLocation)
            return nil
        } catch {
            #expect(error.path == path, sourceLocation: sourceLocation)
            #expect(error.description == "\(path): \(error.reason)", sourceLocation: sourceLocation)
            return error.reason
        }
    }

    /// Runs `/usr/bin/python3 -c script arguments…` and returns its standard output.
    static func python(_ script: String, _ arguments: [String]) throws -> String {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let outPath = dir + "/stdout", errPath = dir + "/stderr"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script] + arguments
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        try process.run()
        process.waitUntilExit()
        let out = String(decoding: try Data(contentsOf: URL(fileURLWithPath: outPath)), as: UTF8.self)
        let err = String(decoding: try Data(contentsOf: URL(fileURLWithPath: errPath)), as: UTF8.self)
        #expect(process.terminationStatus == 0, "python3 failed: \(err)")
        return out
    }

    // MARK: - SHA-256

    @Test func sha256MatchesTheFIPSVectors() {
        #expect(Self.sha256Hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Self.sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            Self.sha256Hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            Self.sha256Hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Fed in pieces of every size from 1 to 130 bytes, the hasher gives the one-shot digest.
    @Test func sha256InPiecesIsTheSame() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let whole = Self.sha256Hex(bytes)
        for piece in 1...130 {
            var hasher = SHA256()
            var start = 0
            while start < bytes.count {
                let end = min(start + piece, bytes.count)
                bytes[start..<end].withUnsafeBytes { hasher.update($0) }
                start = end
            }
            #expect(hex(hasher.finish()) == whole, "pieces of \(piece)")
        }
    }

    /// Lengths around the padding boundaries (55 bytes still fit the length in the last block, 56 do not;
    /// 64 is exactly one block). Byte i is (7·i + 3) mod 256; the digests are from coreutils `sha256sum`.
    @Test(arguments: [
        (55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"),
        (56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"),
        (63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"),
        (64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"),
        (65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"),
        (119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"),
        (120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"),
        (128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6"),
    ])
    func sha256AtBlockBoundaries(length: Int, digest: String) {
        let bytes = (0..<length).map { UInt8(truncatingIfNeeded: 7 * $0 + 3) }
        #expect(Self.sha256Hex(bytes) == digest)
    }

    @Test func hexIsLowerCaseAndPadded() {
        #expect(hex([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(hex([]) == "")
    }

    // MARK: - Round trip and layout

    @Test func aModelReadsBackBitForBit() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/model.safetensors"
        let original = try Self.model()
        try original.write(to: path)
        let loaded = try NetworkModel.read(path: path, kind: "scan-cnn")

        #expect(loaded.kind == "scan-cnn")
        #expect(loaded.network.architecture == Self.architecture)
        #expect(loaded.loss == .softmaxCrossEntropy)
        #expect(loaded.labels == ["benign", "scan"])
        #expect(loaded.documents == Self.documents)
        let names = original.network.parameters.map(\.name)
        #expect(names == ["0.conv2d.weight", "0.conv2d.bias", "4.dense.weight", "4.dense.bias"])
        #expect(loaded.network.parameters.map(\.name) == names)
        for (a, b) in zip(original.network.parameters, loaded.network.parameters) {
            #expect(a.value.shape == b.value.shape, "\(a.name)")
            #expect(a.value.scalars.map(\.bitPattern) == b.value.scalars.map(\.bitPattern), "\(a.name)")
        }

        let batch = randomTensor([5, 2, 8, 6], seed: 11)
        let expected = try original.network(batch), actual = try loaded.network(batch)
        #expect(expected.shape == [5, 2])
        #expect(actual.shape == expected.shape)
        #expect(actual.scalars.map(\.bitPattern) == expected.scalars.map(\.bitPattern))
    }

    @Test func documentsCannotOverrideTheReservedKeys() throws {
        var model = try Self.model()
        model.documents["kind"] = "ip-mlp"
        model.documents["weights_sha256"] = String(repeating: "0", count: 64)
        model.documents["format_version"] = "99"
        model.documents["sha256"] = String(repeating: "0", count: 64)
        let file = model.safeTensors()
        #expect(file.metadata["kind"] == "scan-cnn")
        #expect(file.metadata["format_version"] == "2")
        #expect(file.metadata["weights_sha256"] == Self.sha256Hex(file.data))
        #expect(file.metadata["sha256"] == file.checksum())
        let read = try NetworkModel(SafeTensors.decode(file.encoded(), path: "m"), path: "m", kind: "scan-cnn")
        #expect(read.documents == Self.documents)
    }

    /// The file is plain safetensors: Python with nothing but json, struct, hashlib and numpy reads it.
    @Test func theLayoutIsRealSafetensors() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/model.safetensors"
        let model = try Self.model()
        try model.write(to: path)
        let script = """
            import sys, json, struct, hashlib
            import numpy as np
            b = open(sys.argv[1], 'rb').read()
            n = struct.unpack('<Q', b[:8])[0]
            header = json.loads(b[8:8 + n].decode('utf-8'))
            meta = header['__metadata__']
            data = b[8 + n:]
            e = header['0.conv2d.weight']
            begin, end = e['data_offsets']
            w = np.frombuffer(data[begin:end], dtype='<f4').reshape(e['shape'])
            def s(b): return struct.pack('<Q', len(b)) + b
            h = hashlib.sha256()
            for k in sorted((k for k in meta if k != 'sha256'), key=lambda k: k.encode()):
                h.update(s(k.encode()) + s(meta[k].encode()))
            entries = sorted(((k, v) for k, v in header.items() if k != '__metadata__'), key=lambda kv: kv[1]['data_offsets'][0])
            for name, v in entries:
                h.update(s(name.encode()) + struct.pack('<%dQ' % (len(v['shape']) + 1), len(v['shape']), *v['shape'])
                         + s(data[v['data_offsets'][0]:v['data_offsets'][1]]))
            d = header['4.dense.weight']
            dense = np.frombuffer(data[d['data_offsets'][0]:d['data_offsets'][1]], dtype='<f4').reshape(d['shape'])
            print(json.dumps({
                'header_length': n,
                'file_length': len(b),
                'data_end': max(v['data_offsets'][1] for k, v in header.items() if k != '__metadata__'),
                'tensors': sorted(k for k in header if k != '__metadata__'),
                'dtypes': sorted(set(v['dtype'] for k, v in header.items() if k != '__metadata__')),
                'format': meta['format'],
                'format_version': meta['format_version'],
                'kind': meta['kind'],
                'loss': meta['loss'],
                'labels': json.loads(meta['labels']),
                'architecture_input': json.loads(meta['architecture'])['input'],
                'note': meta['note'],
                'checksum_ok': hashlib.sha256(data).hexdigest() == meta['weights_sha256'],
                'file_checksum_ok': h.hexdigest() == meta['sha256'],
                'conv_shape': list(w.shape),
                'conv_bits': [int(x) for x in w.view('<u4').ravel()[:6]],
                'conv_last_bits': int(w.view('<u4')[2, 1, 2, 2]),
                'dense_shape': list(dense.shape),
                'dense_bits': [int(x) for x in dense.view('<u4')[35]],
            }))
            """
        let output = try Self.python(script, [path])
        let r = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = r["header_length"] as? Int ?? -1
        #expect(headerLength % 8 == 0)
        #expect(r["file_length"] as? Int == bytes.count)
        #expect(8 + headerLength + (r["data_end"] as? Int ?? -1) == bytes.count)
        #expect(r["tensors"] as? [String] == ["0.conv2d.bias", "0.conv2d.weight", "4.dense.bias", "4.dense.weight"])
        #expect(r["dtypes"] as? [String] == ["F32"])
        #expect(r["format"] as? String == "flowhound-model")
        #expect(r["format_version"] as? String == "2")
        #expect(r["kind"] as? String == "scan-cnn")
        #expect(r["loss"] as? String == "softmax_cross_entropy")
        #expect(r["labels"] as? [String] == ["benign", "scan"])
        #expect(r["architecture_input"] as? [Int] == [2, 8, 6])
        #expect(r["note"] as? String == Self.documents["note"])
        #expect(r["checksum_ok"] as? Bool == true)
        #expect(r["file_checksum_ok"] as? Bool == true)
        let conv = model.network.parameters[0].value, dense = model.network.parameters[2].value
        #expect(r["conv_shape"] as? [Int] == [3, 2, 3, 3])
        #expect((r["conv_bits"] as? [Int])?.map(UInt32.init) == conv.scalars.prefix(6).map(\.bitPattern))
        #expect((r["conv_last_bits"] as? Int).map(UInt32.init) == conv.scalars.last?.bitPattern)
        #expect(r["dense_shape"] as? [Int] == [36, 2])
        #expect((r["dense_bits"] as? [Int])?.map(UInt32.init) == dense.scalars.suffix(2).map(\.bitPattern))
    }

    /// A safetensors file written by hand in Python (tensors out of name order, no padding) decodes.
    @Test func aFileWrittenElsewhereDecodes() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/other.safetensors"
        let script = """
            import sys, json, struct
            import numpy as np
            a = (np.arange(6, dtype='<f4') * 0.5 - 1).reshape(2, 3)
            b = np.array([3.25, -0.125], dtype='<f4')
            header = {'b': {'dtype': 'F32', 'shape': [2], 'data_offsets': [0, 8]},
                      'a': {'dtype': 'F32', 'shape': [2, 3], 'data_offsets': [8, 32]},
                      '__metadata__': {'producer': 'python'}}
            h = json.dumps(header).encode('utf-8')
            open(sys.argv[1], 'wb').write(struct.pack('<Q', len(h)) + h + b.tobytes() + a.tobytes())
            """
        _ = try Self.python(script, [path])
        let file = try SafeTensors.read(path: path)
        #expect(file.metadata == ["producer": "python"])
        #expect(file.tensors.map(\.name) == ["b", "a"])
        #expect(file["a"] == Tensor(shape: [2, 3], scalars: [-1, -0.5, 0, 0.5, 1, 1.5]))
        #expect(file["b"] == Tensor(shape: [2], scalars: [3.25, -0.125]))
        // A safetensors file, but not a Flowhound model.
        let error = #expect(throws: ModelFileError.self) { _ = try NetworkModel.read(path: path, kind: "scan-cnn") }
        #expect(error?.reason == "is a safetensors file but not a Flowhound model (no format in its metadata)")
    }

    // MARK: - Refusals

    @Test func emptyAndTinyFilesAreRefused() {
        #expect(Self.refusal([]) == "is empty, not a model file")
        #expect(Self.refusal([1, 2, 3, 4, 5]) == "is 5 bytes, too short for a model file (truncated?)")
    }

    @Test func aHeaderLongerThanTheFileIsTruncation() throws {
        let good = try Self.model().safeTensors().encoded()
        let length = Self.split(good).dataStart - 8
        #expect(Self.refusal(Array(good.prefix(8 + 20))) == "header says \(length) bytes but the file has 20 after the length: truncated")
        // An absurd length is not taken for truncation.
        var absurd = good
        absurd.replaceSubrange(0..<8, with: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])
        #expect(Self.refusal(absurd)?.hasPrefix("header length 9223372036854775807 is implausible") == true)
    }

    @Test func aFileCutInsideTheDataIsTruncation() throws {
        let good = try Self.model().safeTensors().encoded()
        let dataStart = Self.split(good).dataStart
        let dataSize = good.count - dataStart
        #expect(dataSize == (54 + 3 + 72 + 2) * 4)
        let cut = Array(good.prefix(dataStart + 101))
        #expect(Self.refusal(cut) == "tensors need \(dataSize) bytes of data but the file has 101: truncated")
    }

    @Test func oneFlippedByteFailsTheChecksum() throws {
        var bytes = try Self.model().safeTensors().encoded()
        let dataStart = Self.split(bytes).dataStart
        bytes[dataStart + 77] ^= 0x01
        #expect(Self.refusal(bytes) == Self.tampered)
        // The last byte of the last tensor is covered too.
        var last = try Self.model().safeTensors().encoded()
        last[last.count - 1] ^= 0x80
        #expect(Self.refusal(last) == Self.tampered)
        // With the file checksum recomputed, the weights' own checksum still tells.
        #expect(Self.refusal(try Self.resealed(bytes)) == "weights do not match their SHA-256 checksum: the file was altered or damaged")
    }

    @Test func aTamperedShapeIsRefused() throws {
        let good = try Self.model().safeTensors().encoded()
        // Same number of values, so the offsets still fit: the file checksum covers shapes, and with
        // it recomputed, caught against the architecture.
        let reshaped = Self.editingEntry(good, "0.conv2d.weight", "shape", [2, 3, 3, 3])
        #expect(Self.refusal(reshaped) == Self.tampered)
        #expect(Self.refusal(try Self.resealed(reshaped)) == "tensor '0.conv2d.weight' is 2×3×3×3 but the architecture needs 3×2×3×3")
        // More values than its byte range holds: caught by the safetensors layer.
        let grown = Self.editingEntry(good, "0.conv2d.weight", "shape", [3, 2, 3, 4])
        #expect(Self.refusal(grown) == "tensor '0.conv2d.weight' ([3, 2, 3, 4]) has data_offsets [0, 216] that do not hold its float32 values")
    }

    @Test func offsetsMustTileTheData() throws {
        let good = try Self.model().safeTensors().encoded()
        let overlapping = Self.editingEntry(good, "0.conv2d.bias", "data_offsets", [212, 224])
        #expect(Self.refusal(overlapping) == "tensor '0.conv2d.bias' overlaps the tensor before it")
        let f64 = Self.editingEntry(good, "4.dense.bias", "dtype", "F64")
        #expect(Self.refusal(f64) == "tensor '4.dense.bias' is F64; only F32 is supported")
    }

    @Test func bytesAfterTheLastTensorAreRefused() throws {
        let good = try Self.model().safeTensors().encoded()
        #expect(Self.refusal(good + [0]) == "1 bytes after the last tensor: not written by Flowhound, or damaged")
    }

    @Test func aHeaderThatIsNotJSONIsRefused() throws {
        let good = try Self.model().safeTensors().encoded()
        let data = good[Self.split(good).dataStart...]
        #expect(
            Self.refusal(Self.file(headerText: "not json at all!", data: data))
                == "header is not a JSON object: not a safetensors model file, or damaged")
        #expect(
            Self.refusal(Self.file(headerText: "[1, 2, 3]       ", data: data))
                == "header is not a JSON object: not a safetensors model file, or damaged")
    }

    @Test func aSafetensorsFileWithoutFlowhoundMetadataIsRefused() throws {
        let plain = SafeTensors(metadata: [:], tensors: [("x", Tensor(shape: [2], scalars: [1, 2]))]).encoded()
        #expect(Self.refusal(plain) == "is a safetensors file but not a Flowhound model (no format in its metadata)")
        let other = SafeTensors(metadata: ["format": "pt"], tensors: [("x", Tensor(shape: [2], scalars: [1, 2]))]).encoded()
        #expect(Self.refusal(other) == "is a 'pt' file, not a Flowhound model")
    }

    @Test func theWrongKindIsRefused() throws {
        let bytes = try Self.model(kind: "scan-cnn").safeTensors().encoded()
        #expect(Self.refusal(bytes, kind: "ip-mlp") == "is a scan-cnn model, not an ip-mlp model")
    }

    @Test func aNewerFormatVersionIsRefused() throws {
        let newer = Self.resealed(try Self.model()) { $0.metadata["format_version"] = "3" }
        #expect(Self.refusal(newer) == "was written by a newer Flowhound (model format 3; this one reads 2)")
        let missing = Self.resealed(try Self.model()) { $0.metadata["format_version"] = nil }
        #expect(Self.refusal(missing) == "has no format_version")
    }

    @Test(arguments: ["0", "-1", "1.5", "2.0", "02", "+2", " 2", "", "two", "99999999999999999999"])
    func aFormatVersionThatIsNotOneIsRefused(version: String) throws {
        let bytes = Self.resealed(try Self.model()) { $0.metadata["format_version"] = version }
        #expect(Self.refusal(bytes) == "has format_version '\(version)', which is not a model format (a whole number from 1)")
    }

    /// A file as format 1 wrote it: the same layout, no file checksum.
    @Test func aFormatOneFileIsRefusedWithAWayOut() throws {
        var file = try Self.model().safeTensors()
        file.metadata["format_version"] = "1"
        file.metadata["sha256"] = nil
        #expect(
            Self.refusal(file.encoded())
                == "is in model format 1, which this Flowhound no longer reads (format 2 covers all of a model's metadata by its checksum): retrain the model")
    }

    // MARK: - The file checksum

    /// Any metadata value, a key added or removed, a tensor renamed: refused unless the file checksum
    /// is recomputed.
    @Test func theFileChecksumCoversEveryKeyAndTensor() throws {
        let file = try Self.model().safeTensors()
        #expect(file.metadata["sha256"] == file.checksum())
        #expect(file.metadata.count == 10)
        // (format, format_version and kind are checked first, each with its own message.)
        for key in file.metadata.keys where !["sha256", "format", "format_version", "kind"].contains(key) {
            var edited = file
            edited.metadata[key]! += " "
            #expect(Self.refusal(edited.encoded()) == Self.tampered, "\(key)")
            var removed = file
            removed.metadata[key] = nil
            #expect(Self.refusal(removed.encoded()) == Self.tampered, "\(key)")
        }
        var added = file
        added.metadata["extra"] = ""
        #expect(Self.refusal(added.encoded()) == Self.tampered)
        var renamed = file
        renamed.tensors[1].name = "0.conv2d.bias2"
        #expect(Self.refusal(renamed.encoded()) == Self.tampered)
        // The order of the keys in the header does not matter: Python's json.dumps writes them in another.
        let reordered = Self.editingHeader(file.encoded()) { _ in }
        #expect(try NetworkModel(SafeTensors.decode(reordered, path: "m"), path: "m", kind: "scan-cnn").labels == ["benign", "scan"])
    }

    /// The serialisation is the documented one: fixed bytes give a fixed digest.
    @Test func theFileChecksumIsTheDocumentedSerialisation() {
        let file = SafeTensors(metadata: ["b": "2", "a": "é", "sha256": "ignored"], tensors: [("t", Tensor(shape: [1], scalars: [1]))])
        var bytes: [UInt8] = []
        func string(_ b: [UInt8]) {
            withUnsafeBytes(of: UInt64(b.count).littleEndian) { bytes += $0 }
            bytes += b
        }
        string(Array("a".utf8)); string(Array("é".utf8)); string(Array("b".utf8)); string(Array("2".utf8))
        string(Array("t".utf8))
        withUnsafeBytes(of: UInt64(1).littleEndian) { bytes += $0 }
        withUnsafeBytes(of: UInt64(1).littleEndian) { bytes += $0 }
        string([0x00, 0x00, 0x80, 0x3f])
        #expect(file.checksum() == Self.sha256Hex(bytes))
        #expect(file.sealed().metadata["sha256"] == Self.sha256Hex(bytes))
    }

    // MARK: - Bounds, checked before anything is allocated

    /// The model with its architecture replaced by `architecture` (JSON), both checksums recomputed:
    /// why it is refused (the reason names the bound that refused it before anything was allocated).
    static func architectureRefusal(_ architecture: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String? {
        let bytes = resealed(try model()) { $0.metadata["architecture"] = architecture }
        return refusal(bytes, sourceLocation: sourceLocation)
    }

    static func architectureJSON(input: [Int] = [2, 8, 6], _ layers: [LayerSpec]) -> String {
        String(decoding: try! JSONEncoder().encode(Architecture(input: Shape(input), layers: layers)), as: UTF8.self)
    }

    static let head: [LayerSpec] = [.conv2d(filters: 3, kernel: 3, stride: 1, padding: 1), .relu, .maxPool2d(size: 2, stride: 2), .flatten]

    static let unusable = "has an architecture that cannot be used: "

    @Test(arguments: [
        (1 << 26, "layer 4 (dense 67108864): units must be from 1 to 1048576"),
        (1 << 62, "layer 4 (dense 4611686018427387904): units must be from 1 to 1048576"),
        (1 << 20, "layer 4 (dense 1048576): weight tensor 36×1048576 holds 37748736 values; at most 16777216 are allowed"),
        (-1, "layer 4 (dense -1): units must be from 1 to 1048576"),
    ])
    func aHugeDenseLayerIsRefusedAtOnce(units: Int, reason: String) throws {
        #expect(try Self.architectureRefusal(Self.architectureJSON(Self.head + [.dense(units: units)])) == Self.unusable + reason)
    }

    /// Within every limit but not what the file holds: refused by comparing shapes, before building.
    @Test func anArchitectureThatIsNotTheFilesIsRefused() throws {
        #expect(
            try Self.architectureRefusal(Self.architectureJSON(Self.head + [.dense(units: 4096)]))
                == "has 2 label names for an output of 4096 with softmax_cross_entropy")
        #expect(
            try Self.architectureRefusal(
                Self.architectureJSON([
                    .conv2d(filters: 64, kernel: 3, stride: 1, padding: 1), .relu,
                    .maxPool2d(size: 2, stride: 2), .flatten, .dense(units: 2),
                ]))
                == "tensor '0.conv2d.weight' is 3×2×3×3 but the architecture needs 64×2×3×3")
    }

    @Test(arguments: [
        (
            [LayerSpec.conv2d(filters: 1 << 62, kernel: 3, stride: 1, padding: 1)],
            "layer 0 (conv2d 4611686018427387904 3×3 stride 1 pad 1): filters, kernel and stride must be from 1 to 1048576 and padding from 0 to 1048576"
        ),
        (
            [.conv2d(filters: 3, kernel: 1 << 62, stride: 1, padding: 1)],
            "layer 0 (conv2d 3 4611686018427387904×4611686018427387904 stride 1 pad 1): filters, kernel and stride must be from 1 to 1048576 and padding from 0 to 1048576"
        ),
        (
            [.conv2d(filters: 3, kernel: 3, stride: 1, padding: 1 << 62)],
            "layer 0 (conv2d 3 3×3 stride 1 pad 4611686018427387904): filters, kernel and stride must be from 1 to 1048576 and padding from 0 to 1048576"
        ),
        (
            [.conv2d(filters: 3, kernel: 3, stride: 1 << 62, padding: 1)],
            "layer 0 (conv2d 3 3×3 stride 4611686018427387904 pad 1): filters, kernel and stride must be from 1 to 1048576 and padding from 0 to 1048576"
        ),
        (
            [.conv2d(filters: 3, kernel: 3, stride: 1, padding: 1 << 20)],
            "layer 0 (conv2d 3 3×3 stride 1 pad 1048576): output 3×2097158×2097156 has a dimension above 1048576"
        ),
        (
            [.conv2d(filters: 1 << 20, kernel: 3, stride: 1, padding: 1)],
            "layer 0 (conv2d 1048576 3×3 stride 1 pad 1): output 1048576×8×6 holds 50331648 values; at most 4194304 are allowed"
        ),
        (
            [.conv2d(filters: 3, kernel: 1000, stride: 1, padding: 1000)],
            "layer 0 (conv2d 3 1000×1000 stride 1 pad 1000): the patch matrix holds 2032126000000 values; at most 4194304 are allowed"
        ),
        (
            [.conv2d(filters: 1 << 16, kernel: 200, stride: 1000, padding: 100)],
            "layer 0 (conv2d 65536 200×200 stride 1000 pad 100): weight tensor 65536×2×200×200 holds 5242880000 values; at most 16777216 are allowed"
        ),
        (
            [.maxPool2d(size: 1 << 62, stride: 1)],
            "layer 0 (maxpool2d 4611686018427387904×4611686018427387904 stride 1): size and stride must be from 1 to 1048576"
        ),
    ])
    func aHugeConvolutionIsRefusedAtOnce(layers: [LayerSpec], reason: String) throws {
        #expect(try Self.architectureRefusal(Self.architectureJSON(layers + [.flatten, .dense(units: 2)])) == Self.unusable + reason)
    }

    @Test(arguments: [
        ([2, 1 << 62, 6], "input shape 2×4611686018427387904×6 is empty or too large: each dimension must be from 1 to 1048576"),
        ([1 << 20, 1 << 20, 1 << 20], "input shape 1048576×1048576×1048576 holds 1152921504606846976 values; at most 4194304 are allowed"),
        ([2, 0, 6], "input shape 2×0×6 is empty or too large: each dimension must be from 1 to 1048576"),
        ([1, 2, 8, 6, 1], "input shape 1×2×8×6×1 has 5 dimensions; from 1 to 4 are allowed"),
        ([], "input shape scalar has 0 dimensions; from 1 to 4 are allowed"),
    ])
    func aHugeOrEmptyInputIsRefusedAtOnce(input: [Int], reason: String) throws {
        #expect(try Self.architectureRefusal(Self.architectureJSON(input: input, Self.head + [.dense(units: 2)])) == Self.unusable + reason)
    }

    @Test func tooManyLayersAreRefused() throws {
        let layers = [LayerSpec](repeating: .relu, count: 64) + Self.head + [.dense(units: 2)]
        #expect(try Self.architectureRefusal(Self.architectureJSON(layers)) == Self.unusable + "69 layers; a model may have at most 64")
    }

    @Test func aDropoutRateThatIsNotANumberIsRefused() throws {
        for rate in [Double.nan, .infinity, -0.1, 1] {
            let architecture = Architecture(input: [4], layers: [.dropout(rate: rate), .dense(units: 2)])
            #expect(throws: ShapeError.self) { _ = try architecture.shapes() }
            #expect(throws: ShapeError.self) { _ = try Network(architecture, seed: 1) }
        }
        // JSON has no NaN: such a file has no readable architecture.
        #expect(
            try Self.architectureRefusal(#"{"input":[36],"layers":[{"type":"dropout","rate":NaN},{"type":"dense","units":2}]}"#)
                == "has no readable architecture")
    }

    // MARK: - Whole numbers in the header

    /// A fraction used to be truncated (2.5 read as 2): now the header is refused.
    @Test func aFractionalShapeOrOffsetIsRefused() throws {
        let good = try Self.model().safeTensors().encoded()
        let shape = Self.editingEntry(good, "0.conv2d.weight", "shape", [3, 2, 3, 3.5])
        #expect(Self.refusal(shape) == "tensor '0.conv2d.weight' has a bad shape")
        let offset = Self.editingEntry(good, "0.conv2d.weight", "data_offsets", [0, 216.5])
        #expect(Self.refusal(offset) == "tensor '0.conv2d.weight' has bad data_offsets")
        let huge = Self.editingEntry(good, "0.conv2d.weight", "data_offsets", [0, 1e300])
        #expect(Self.refusal(huge) == "tensor '0.conv2d.weight' has bad data_offsets")
        let text = Self.editingEntry(good, "0.conv2d.weight", "shape", [3, 2, 3, "3"] as [Any])
        #expect(Self.refusal(text) == "tensor '0.conv2d.weight' has a bad shape")
    }

    @Test func aMissingOrExtraTensorIsRefused() throws {
        let missing = Self.resealed(try Self.model()) { $0.tensors.removeAll { $0.name == "4.dense.bias" } }
        #expect(Self.refusal(missing) == "has no tensor '4.dense.bias' that its architecture needs")
        let extra = Self.resealed(try Self.model()) { $0.tensors.append(("7.dense.weight", Tensor(shape: [1], scalars: [0]))) }
        #expect(Self.refusal(extra) == "has a tensor '7.dense.weight' its architecture does not use")
    }

    @Test func aMissingChecksumIsRefused() throws {
        var file = try Self.model().safeTensors()
        file.metadata["weights_sha256"] = nil
        #expect(Self.refusal(file.encoded()) == Self.tampered)
        #expect(Self.refusal(file.sealed().encoded()) == "has no weights_sha256 checksum")
        var unsealed = try Self.model().safeTensors()
        unsealed.metadata["sha256"] = nil
        #expect(Self.refusal(unsealed.encoded()) == "has no sha256 checksum")
    }

    @Test(arguments: [Float.nan, .infinity, -.infinity])
    func aNonFiniteWeightIsRefusedEvenWithACorrectChecksum(value: Float) throws {
        let bytes = Self.resealed(try Self.model()) { file in
            let i = file.tensors.firstIndex { $0.name == "4.dense.weight" }!
            file.tensors[i].tensor.scalars[17] = value
        }
        #expect(Self.refusal(bytes) == "tensor '4.dense.weight' holds a value that is not finite")
    }

    @Test func inconsistentMetadataIsRefused() throws {
        let model = try Self.model()
        #expect(Self.refusal(Self.resealed(model) { $0.metadata["architecture"] = "{}" }) == "has no readable architecture")
        #expect(Self.refusal(Self.resealed(model) { $0.metadata["loss"] = "hinge" }) == "names no known loss (hinge)")
        #expect(
            Self.refusal(Self.resealed(model) { $0.metadata["labels"] = #"["only one"]"# })
                == "has 1 label names for an output of 2 with softmax_cross_entropy")
    }

    @Test func aDirectoryOrAMissingPathIsRefused() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let directory = #expect(throws: ModelFileError.self) { _ = try NetworkModel.read(path: dir, kind: "scan-cnn") }
        #expect(directory?.path == dir)
        #expect(directory?.reason == "is a directory, not a model file")
        let missingPath = dir + "/no-such.safetensors"
        let missing = #expect(throws: ModelFileError.self) { _ = try NetworkModel.read(path: missingPath, kind: "scan-cnn") }
        #expect(missing?.path == missingPath)
        #expect(missing?.reason == "no such model file")
        #expect(missing?.description == "\(missingPath): no such model file")
        // A device is endless: refused before a byte is read.
        let device = #expect(throws: ModelFileError.self) { _ = try NetworkModel.read(path: "/dev/zero", kind: "scan-cnn") }
        #expect(device?.reason == "is not a regular file, not a model file")
    }

    /// A shape whose byte count overflows `Int` is refused like any other bad shape, not a crash.
    @Test func aShapeWhoseByteCountOverflowsIsRefused() {
        let header = Array(#"{"t":{"dtype":"F32","shape":[2147483647,2147483647],"data_offsets":[0,4]}}"#.utf8)
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes += header + [0, 0, 0, 0]
        let error = #expect(throws: ModelFileError.self) { _ = try SafeTensors.decode(bytes, path: "m") }
        #expect(error?.reason == "tensor 't' ([2147483647, 2147483647]) has data_offsets [0, 4] that do not hold its float32 values")
    }

    // MARK: - Atomic writes

    /// Files whose name starts with `.<name>.tmp-`: what an interrupted or failed write would leave.
    static func leftovers(in dir: String, name: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".\(name).tmp-") }
    }

    @Test func writingOverAModelReplacesItAndLeavesNoTemporaryFile() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/model.safetensors"
        try Self.model(seed: 1).write(to: path)
        let second = try Self.model(seed: 2)
        try second.write(to: path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["model.safetensors"])
        let read = try NetworkModel.read(path: path, kind: "scan-cnn")
        #expect(read.network.parameters[0].value == second.network.parameters[0].value)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == second.safeTensors().encoded())
    }

    @Test func writingIntoAMissingDirectoryFails() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/no-such-directory/model.safetensors"
        let error = #expect(throws: ModelFileError.self) { try Self.model().write(to: path) }
        #expect(error?.path == path)
        #expect(error?.reason == "cannot create: No such file or directory")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    /// When the final rename fails (here the target is a non-empty directory), the write throws, the
    /// target is untouched and the temporary file is removed.
    @Test func aFailedRenameLeavesTheTargetAndNoTemporaryFile() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/model.safetensors"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        let keep = path + "/keep.txt"
        #expect(FileManager.default.createFile(atPath: keep, contents: Data("old".utf8)))
        let error = #expect(throws: ModelFileError.self) { try Self.model().write(to: path) }
        #expect(error?.path == path)
        #expect(error?.reason.hasPrefix("cannot write: ") == true)
        #expect(FileManager.default.contents(atPath: keep) == Data("old".utf8))
        #expect(try Self.leftovers(in: dir, name: "model.safetensors").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["model.safetensors"])
    }
}
