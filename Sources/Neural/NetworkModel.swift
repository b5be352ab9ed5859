import Foundation
import Support

/// A trained network saved with everything needed to use it safely: what kind of model it is, its
/// architecture, loss, class names, a checksum of its weights, and documents the caller adds (input
/// specification, training provenance, metrics) as JSON text. Stored as safetensors, sealed by the
/// file checksum (`SafeTensors.checksum()`); every part is checked on reading.
///
/// What a model file must satisfy to load (every Flowhound model kind):
/// - safetensors with float32 tensors only, whose offsets tile the data exactly, every shape and
///   offset a whole number (`SafeTensors.decode`);
/// - metadata `format` = `flowhound-model`, `format_version` = 2 exactly (1, which covered only the
///   weights by its checksum, is refused: retrain), the `kind` asked for;
/// - `sha256` equal to the file checksum over all other metadata and every tensor (name, shape, data);
/// - an architecture within `ArchitectureLimits`, whose weight tensors (names and shapes) are exactly
///   the file's, all finite; checked before the network is allocated;
/// - each kind's own bounds (the scan CNN's image shape and window, the IP model's threshold,
///   weights, feature spec and forest).
public struct NetworkModel {
    public static let format = "flowhound-model"
    /// Bumped when the layout changes in a way older readers cannot follow. 2: the file checksum
    /// (`sha256`) covers the metadata too.
    public static let formatVersion = 2
    static let reservedKeys: Set<String> = [
        "format", "format_version", "kind", "architecture", "loss", "labels", "weights_sha256",
        SafeTensors.checksumKey,
    ]

    /// What the model is for, e.g. `scan-cnn`; a reader asks for the kind it can use.
    public var kind: String
    public var network: Network
    public var loss: Loss
    /// Class names in output order.
    public var labels: [String]
    /// Further metadata by key, each a JSON document or plain text.
    public var documents: [String: String]

    public init(kind: String, network: Network, loss: Loss, labels: [String], documents: [String: String] = [:]) {
        self.kind = kind
        self.network = network
        self.loss = loss
        self.labels = labels
        self.documents = documents
    }

    /// The safetensors form, sealed by its file checksum unless it is to be part of a larger model
    /// file (`sealed: false`), whose own checksum covers it.
    public func safeTensors(sealed: Bool = true) -> SafeTensors {
        var file = SafeTensors(metadata: [:], tensors: network.parameters.map { ($0.name, $0.value) })
        for (key, value) in documents where !NetworkModel.reservedKeys.contains(key) { file.metadata[key] = value }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        file.metadata["format"] = NetworkModel.format
        file.metadata["format_version"] = String(NetworkModel.formatVersion)
        file.metadata["kind"] = kind
        file.metadata["architecture"] = String(decoding: try! encoder.encode(network.architecture), as: UTF8.self)
        file.metadata["loss"] = loss.rawValue
        file.metadata["labels"] = String(decoding: try! encoder.encode(labels), as: UTF8.self)
        file.metadata["weights_sha256"] = file.data.withUnsafeBytes { hex(sha256($0)) }
        return sealed ? file.sealed() : file
    }

    /// Writes atomically (temporary file, then rename).
    public func write(to path: String) throws(ModelFileError) {
        try safeTensors().write(to: path)
    }

    /// Reads a model of `kind`, checking the format, version, file checksum, architecture, labels,
    /// every tensor's name and shape, the weights' checksum and that every weight is finite.
    public static func read(path: String, kind expected: String) throws(ModelFileError) -> NetworkModel {
        try NetworkModel(SafeTensors.read(path: path), path: path, kind: expected)
    }

    /// Checks that `metadata` is a Flowhound model's, of the format version this build reads, and of
    /// kind `expected`.
    public static func checkHeader(_ metadata: [String: String], path: String, kind expected: String) throws(ModelFileError) {
        func fail(_ reason: String) -> ModelFileError { ModelFileError(path: path, reason: reason) }
        guard metadata["format"] == format else {
            throw fail(
                metadata["format"].map { "is a '\($0)' file, not a Flowhound model" }
                    ?? "is a safetensors file but not a Flowhound model (no format in its metadata)")
        }
        guard let versionText = metadata["format_version"] else { throw fail("has no format_version") }
        guard let version = Int(versionText), version >= 1, String(version) == versionText else {
            throw fail("has format_version '\(versionText)', which is not a model format (a whole number from 1)")
        }
        guard version <= formatVersion else {
            throw fail("was written by a newer Flowhound (model format \(version); this one reads \(formatVersion))")
        }
        guard version == formatVersion else {
            throw fail(
                "is in model format \(version), which this Flowhound no longer reads (format \(formatVersion) covers all of a model's metadata by its checksum): retrain the model"
            )
        }
        guard let kind = metadata["kind"] else { throw fail("does not say what kind of model it is") }
        let article = { (word: String) in "aeiou".contains(word.first ?? "x") ? "an" : "a" }
        guard kind == expected else { throw fail("is \(article(kind)) \(kind) model, not \(article(expected)) \(expected) model") }
    }

    /// The checks every model file starts with, whatever its kind: `checkHeader`, then the file
    /// checksum over all its metadata and tensors.
    public static func checkFile(_ file: SafeTensors, path: String, kind expected: String) throws(ModelFileError) {
        try checkHeader(file.metadata, path: path, kind: expected)
        guard let recorded = file.metadata[SafeTensors.checksumKey] else {
            throw ModelFileError(path: path, reason: "has no \(SafeTensors.checksumKey) checksum")
        }
        guard file.checksum() == recorded else {
            throw ModelFileError(path: path, reason: "does not match its SHA-256 checksum (of all its metadata and tensors): the file was altered or damaged")
        }
    }

    /// A whole model file: `checkFile`, then the network (`init(part:path:kind:)`).
    public init(_ file: SafeTensors, path: String, kind expected: String) throws(ModelFileError) {
        try NetworkModel.checkFile(file, path: path, kind: expected)
        try self.init(part: file, path: path, kind: expected)
    }

    /// A network stored in a model file whose checksum the caller has checked (a whole file, or the
    /// `mlp.` part of an IP model with the prefix taken off). Everything is checked before the network
    /// is allocated: the architecture against `ArchitectureLimits`, then that the file holds exactly
    /// the weight tensors it declares, with their shapes, all finite.
    public init(part file: SafeTensors, path: String, kind expected: String) throws(ModelFileError) {
        func fail(_ reason: String) -> ModelFileError { ModelFileError(path: path, reason: reason) }
        let m = file.metadata
        try NetworkModel.checkHeader(m, path: path, kind: expected)
        guard let architectureText = m["architecture"],
            let architecture = try? JSONDecoder().decode(Architecture.self, from: Data(architectureText.utf8))
        else {
            throw fail("has no readable architecture")
        }
        let declared: [(name: String, shape: Shape)], outputShape: Shape
        do {
            declared = try architecture.parameterShapes()
            outputShape = try architecture.outputShape()
        } catch {
            throw fail("has an architecture that cannot be used: \(error)")
        }
        guard let lossText = m["loss"], let loss = Loss(rawValue: lossText) else {
            throw fail("names no known loss (\(m["loss"] ?? "none"))")
        }
        guard let labelsText = m["labels"], let labels = try? JSONDecoder().decode([String].self, from: Data(labelsText.utf8)) else {
            throw fail("has no label names")
        }
        let outputs = outputShape.count
        guard labels.count == (loss == .binaryCrossEntropy ? 2 : outputs), loss != .binaryCrossEntropy || outputs == 1 else {
            throw fail("has \(labels.count) label names for an output of \(outputShape) with \(loss.rawValue)")
        }
        let expectedNames = Set(declared.map(\.name))
        let present = Set(file.tensors.map(\.name))
        if let missing = declared.first(where: { !present.contains($0.name) }) { throw fail("has no tensor '\(missing.name)' that its architecture needs") }
        if let extra = file.tensors.first(where: { !expectedNames.contains($0.name) }) {
            throw fail("has a tensor '\(extra.name)' its architecture does not use")
        }
        guard let checksum = m["weights_sha256"] else { throw fail("has no weights_sha256 checksum") }
        guard file.data.withUnsafeBytes({ hex(sha256($0)) }) == checksum else {
            throw fail("weights do not match their SHA-256 checksum: the file was altered or damaged")
        }
        for (name, shape) in declared {
            let t = file[name]!
            guard t.shape == shape else { throw fail("tensor '\(name)' is \(t.shape) but the architecture needs \(shape)") }
            guard t.scalars.allSatisfy(\.isFinite) else { throw fail("tensor '\(name)' holds a value that is not finite") }
        }
        // Only now, with every size known to be the file's own, is the network allocated.
        let network: Network
        do { network = try Network(architecture, seed: 0) } catch { throw fail("has an architecture that cannot be used: \(error)") }
        for p in network.parameters { p.value = file[p.name]! }
        self.init(
            kind: expected, network: network, loss: loss, labels: labels,
            documents: m.filter { !NetworkModel.reservedKeys.contains($0.key) })
    }
}

/// Where a model that ships with Flowhound is: the path in `environmentVariable` if set, else `file`
/// in the resource bundle `bundle` beside the executable, else in `sourceResources/Resources` of the
/// source tree it was built from. Nil when none is readable.
public func shippedModelPath(environmentVariable: String, bundle: String, file: String, sourceResources: URL) -> String? {
    if let path = ProcessInfo.processInfo.environment[environmentVariable], !path.isEmpty { return path }
    var candidates: [String] = []
    if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() {
        candidates.append(executable.deletingLastPathComponent().appendingPathComponent("\(bundle).resources/\(file)").path)
    }
    candidates.append(sourceResources.appendingPathComponent("Resources/\(file)").path)
    return candidates.first { FileManager.default.isReadableFile(atPath: $0) }
}
