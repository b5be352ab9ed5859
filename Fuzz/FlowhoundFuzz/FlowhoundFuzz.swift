// libFuzzer entry point for every input Flowhound reads from a file or the network, except the
// service's request bodies (Fuzz/ServiceFuzz). FLOWHOUND_FUZZ_TARGET names the target; see
// `FuzzTarget` and Scripts/fuzz.sh. A target must never crash, trap, leak without bound or hang on
// any input: readers answer bad bytes with an error.

import ActivityImage
import Detection
import Enrichment
import FlowRecords
import Foundation
import Neural
import Reputation
import Streaming

#if canImport(Glibc)
import Glibc
import Support
#endif

enum FuzzTarget: String, CaseIterable {
    /// FlowReader on a log (plain or gzip) with format detection and with a format forced, then
    /// the direction pairer and a threshold+TRW detection pipeline on what it read.
    case flowReader = "flow-reader"
    /// SafeTensors.decode, then NetworkModel (scan CNN kind), IPModel and ScanModel.load.
    case modelFile = "model-file"
    /// NumpyReader.readFloat32 and readIntegers on a .npy file.
    case numpy
    /// MaxMindDatabase on an .mmdb file, then lookups.
    case mmdb
    /// LocationDatabase (libloc) on a database file, then lookups.
    case libloc
    /// The wire format: a FlowMessage, a bare FlowRecord batch, and ScanDetection.restore(from:).
    case wire
}

func complain(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

let target: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["FLOWHOUND_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        complain("FLOWHOUND_FUZZ_TARGET is '\(name)'; set it to one of: \(names)")
        exit(2)
    }
    return target
}()

/// A file per process for the readers that take a path (under /dev/shm when there is one).
let scratchFile: String = {
    let directory = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return "\(directory)/flowhound-fuzz-\(getpid())"
}()

func writeScratch(_ data: UnsafePointer<UInt8>, _ size: Int, suffix: String) -> String {
    let path = scratchFile + suffix
    guard let file = fopen(path, "wb") else { fatalError("cannot write \(path)") }
    if size > 0 { precondition(fwrite(data, 1, size, file) == size, "short write to \(path)") }
    fclose(file)
    return path
}

func writeScratch(_ bytes: [UInt8], suffix: String) -> String {
    precondition(!bytes.isEmpty, "nothing to write")
    return bytes.withUnsafeBufferPointer { writeScratch($0.baseAddress!, $0.count, suffix: suffix) }
}

let probeAddresses: [IPAddress] = [
    "1.1.1.1", "2.125.160.216", "81.2.69.160", "89.160.20.112", "216.160.83.56", "10.0.0.1", "0.0.0.0",
    "255.255.255.255", "::1", "2001:218::1", "2a02:cf40::1", "::ffff:1.2.3.4", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
].compactMap { IPAddress($0) }

// MARK: - Targets

func fuzzFlowReader(_ bytes: [UInt8]) {
    var records: [FlowRecord] = []
    let automatic = try? FlowReader().read(bytes: bytes, name: "fuzz") { record in
        if records.count < 10_000 { records.append(record) }
    }
    // Then once more with a format forced, or strict: which one depends on the input's length, so
    // that every format meets every kind of input without reading each input nine times.
    let formats = FlowFormat.allCases
    let choice = bytes.count % (formats.count + 1)
    let options = choice < formats.count ? ReadOptions(format: formats[choice]) : ReadOptions(strict: true)
    _ = try? FlowReader(options: options).read(bytes: bytes, name: "fuzz") { _ in }
    guard automatic != nil, !records.isEmpty else { return }

    var paired: [FlowRecord] = []
    var pairer = DirectionPairer(horizon: 30, maximumPending: 64)
    for record in records { pairer.add(record) { paired.append($0) } }
    pairer.finish { paired.append($0) }

    var recipe = DetectionRecipe()
    recipe.detectors = [.threshold, .trw]
    recipe.settings.maxSources = 64
    let detection = recipe.make(model: nil)
    for record in paired { try? detection.add(record) }
    try? detection.finish()
}

func fuzzModelFile(_ data: UnsafePointer<UInt8>, _ size: Int) {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let file = try? SafeTensors.decode(bytes, path: "fuzz.safetensors") {
        _ = try? NetworkModel(file, path: "fuzz.safetensors", kind: ScanModel.kind)
        _ = try? IPModel(file, path: "fuzz.safetensors")
        if file.metadata["kind"] == ScanModel.kind {
            _ = try? ScanModel.load(path: writeScratch(data, size, suffix: ".safetensors"))
        }
        // The same file with its checksum recomputed, as someone who edits a model on purpose would:
        // almost every mutation breaks the checksum, and this reaches the checks behind it (sizes,
        // architecture bounds, thresholds, forests) with whatever values the fuzzer writes.
        let sealed = file.sealed()
        _ = try? NetworkModel(sealed, path: "fuzz.safetensors", kind: ScanModel.kind)
        _ = try? IPModel(sealed, path: "fuzz.safetensors")
        if file.metadata["kind"] == ScanModel.kind {
            _ = try? ScanModel.load(path: writeScratch(sealed.encoded(), suffix: ".safetensors"))
        }
    }
}

func fuzzNumpy(_ data: UnsafePointer<UInt8>, _ size: Int) {
    let path = writeScratch(data, size, suffix: ".npy")
    _ = try? NumpyReader.readFloat32(path: path)
    _ = try? NumpyReader.readIntegers(path: path)
}

func fuzzMMDB(_ data: UnsafePointer<UInt8>, _ size: Int) {
    guard let database = try? MaxMindDatabase(path: writeScratch(data, size, suffix: ".mmdb")) else { return }
    for address in probeAddresses { _ = try? database.facts(for: address) }
}

func fuzzLibloc(_ data: UnsafePointer<UInt8>, _ size: Int) {
    guard let database = try? LocationDatabase(path: writeScratch(data, size, suffix: ".db")) else { return }
    for address in probeAddresses { _ = try? database.facts(for: address) }
}

/// The pipeline checkpoints are restored into: the default recipe without the CNN (as the seeds were
/// written with, so that restoring gets past the configuration check).
func checkpointPipeline() -> ScanDetection {
    var recipe = DetectionRecipe()
    recipe.detectors = [.threshold, .trw]
    return recipe.make(model: nil)
}

func fuzzWire(_ bytes: [UInt8]) {
    if let message = try? FlowMessage(decoding: bytes) {
        // What a worker's partition does with it: whatever decoding accepts, detection must take.
        let pipeline = checkpointPipeline()
        switch message {
        case .flows(let records): for r in records { _ = try? pipeline.add(r) }
        case .watermark(let t): _ = try? pipeline.advance(to: t)
        case .endOfInput(let t):
            _ = try? pipeline.advance(to: t)
            _ = try? pipeline.finish()
        }
    }
    var reader = WireReader(bytes)
    if let n = try? reader.count("record count", minimumItemSize: 40) {
        for _ in 0..<n { guard (try? FlowRecord(from: &reader)) != nil else { break } }
    }
    let pipeline = checkpointPipeline()
    if (try? pipeline.restore(from: bytes)) != nil {
        // A restored pipeline must go on working and write a checkpoint that restores again.
        let again = pipeline.checkpoint()
        try? pipeline.finish()
        do { try checkpointPipeline().restore(from: again) } catch {
            fatalError("a restored pipeline's checkpoint does not restore: \(error)")
        }
    }
}

// MARK: - Seeds

/// With FLOWHOUND_FUZZ_WRITE_SEEDS=DIR, writes generated seeds for the binary formats (wire messages,
/// checkpoints, .npy files) into DIR/<target>/ and exits. The log given by FLOWHOUND_FUZZ_SEED_LOG
/// supplies the records.
func writeSeeds(to directory: String) throws {
    func write(_ target: FuzzTarget, _ name: String, _ bytes: [UInt8]) throws {
        let folder = "\(directory)/\(target.rawValue)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: "\(folder)/\(name)"))
    }
    var records: [FlowRecord] = []
    if let log = ProcessInfo.processInfo.environment["FLOWHOUND_FUZZ_SEED_LOG"] {
        _ = try FlowReader().read(path: log) { records.append($0) }
    }
    try write(.wire, "flows-3", FlowMessage.flows(Array(records.prefix(3))).encoded())
    try write(.wire, "flows-0", FlowMessage.flows([]).encoded())
    try write(.wire, "watermark", FlowMessage.watermark(1_700_000_000.5).encoded())
    try write(.wire, "end-of-input", FlowMessage.endOfInput(1_700_000_100).encoded())
    let pipeline = checkpointPipeline()
    try write(.wire, "checkpoint-empty", pipeline.checkpoint())
    for (i, record) in records.prefix(60).enumerated() {
        try pipeline.add(record)
        if i == 20 { try write(.wire, "checkpoint-20", pipeline.checkpoint()) }
    }
    try write(.wire, "checkpoint-60", pipeline.checkpoint())

    // A small model of the scan CNN's kind (the shipped one is in the seeds too): decoding gets as
    // far as the input shape check, fast.
    let architecture = Architecture(
        input: [2, 8, 6],
        layers: [
            .conv2d(filters: 3, kernel: 3, stride: 1, padding: 1), .relu, .maxPool2d(size: 2, stride: 2), .flatten, .dense(units: 2),
        ])
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    var spec = ScanModel.InputSpec.current(window: 600)
    spec.shape = [2, 8, 6]
    let inputSpec = String(decoding: try encoder.encode(spec), as: UTF8.self)
    let small = NSTemporaryDirectory() + "/flowhound-seed-\(getpid()).safetensors"
    defer { try? FileManager.default.removeItem(atPath: small) }
    try NetworkModel(
        kind: ScanModel.kind, network: Network(architecture, seed: 1), loss: .softmaxCrossEntropy,
        labels: ScanModel.labels, documents: ["input": inputSpec]
    ).write(to: small)
    try write(.modelFile, "small-scan-cnn", Array(try Data(contentsOf: URL(fileURLWithPath: small))))

    let shm = NSTemporaryDirectory() + "/flowhound-seed-\(getpid()).npy"
    defer { try? FileManager.default.removeItem(atPath: shm) }
    for (name, dtype, shape) in [("f4-2x3", NumpyWriter.DType.float32, [3]), ("i8-4", .int64, [])] {
        let writer = try NumpyWriter(path: shm, dtype: dtype, rowShape: shape)
        if dtype == .float32 {
            try writer.append([0, 1.5, -2])
            try writer.append([3, .infinity, 0.25])
        } else {
            for v: Int64 in [0, 1, -1, .max] { try writer.append(v) }
        }
        try writer.finish()
        try write(.numpy, name, Array(try Data(contentsOf: URL(fileURLWithPath: shm))))
    }
}

// MARK: - libFuzzer

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    if let directory = ProcessInfo.processInfo.environment["FLOWHOUND_FUZZ_WRITE_SEEDS"] {
        do { try writeSeeds(to: directory) } catch {
            complain("writing seeds: \(error)")
            exit(1)
        }
        exit(0)
    }
    _ = target
    // The scratch files go with the process (when it ends normally: after a crash they stay, small).
    atexit {
        for suffix in [".safetensors", ".npy", ".mmdb", ".db"] { unlink(scratchFile + suffix) }
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    switch target {
    case .flowReader: fuzzFlowReader(Array(UnsafeBufferPointer(start: data, count: size)))
    case .modelFile: fuzzModelFile(data, size)
    case .numpy: fuzzNumpy(data, size)
    case .mmdb: fuzzMMDB(data, size)
    case .libloc: fuzzLibloc(data, size)
    case .wire: fuzzWire(Array(UnsafeBufferPointer(start: data, count: size)))
    }
    return 0
}
