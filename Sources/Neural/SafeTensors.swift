import Foundation
import Support

/// A model file that cannot be used, and why (`path: reason`).
public typealias ModelFileError = FileError

/// The safetensors layout: an 8-byte little-endian header length, a JSON header naming each tensor's
/// dtype, shape and byte range, and the raw little-endian tensor data; `__metadata__` maps strings to
/// strings. Only float32 tensors are written or accepted. Nothing in the file is ever executed.
///
/// Reading checks everything: the header length against the file, the JSON, every tensor's dtype,
/// shape and offsets (which must tile the data exactly, in order, with no gap or overlap).
public struct SafeTensors: Sendable {
    public var metadata: [String: String]
    /// Tensors in file order.
    public var tensors: [(name: String, tensor: Tensor)]

    public init(metadata: [String: String], tensors: [(name: String, tensor: Tensor)]) {
        self.metadata = metadata
        self.tensors = tensors
    }

    public subscript(name: String) -> Tensor? { tensors.first { $0.name == name }?.tensor }

    /// The raw data section (what a checksum covers).
    public var data: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(tensors.reduce(0) { $0 + $1.tensor.count * 4 })
        for (_, t) in tensors {
            t.scalars.withUnsafeBufferPointer { p in
                for v in p { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
            }
        }
        return out
    }

    /// The file's bytes. The header is padded with spaces to a multiple of 8 bytes, as the format allows.
    public func encoded() -> [UInt8] {
        var entries = ["\"__metadata__\":{" + metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",") + "}"]
        var offset = 0
        for (name, t) in tensors {
            let end = offset + t.count * 4
            entries.append(
                "\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.dimensions.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}"
            )
            offset = end
        }
        var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out += header
        out += data
        return out
    }

    /// Largest header accepted: far above any Flowhound model, far below what could exhaust memory.
    static let maximumHeader = 16 << 20

    /// Parses and checks a whole file's bytes; `path` is for messages.
    public static func decode(_ bytes: [UInt8], path: String) throws(ModelFileError) -> SafeTensors {
        func fail(_ reason: String) -> ModelFileError { ModelFileError(path: path, reason: reason) }
        guard bytes.count >= 8 else {
            throw fail(bytes.isEmpty ? "is empty, not a model file" : "is \(bytes.count) bytes, too short for a model file (truncated?)")
        }
        let length = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard length >= 2, length <= UInt64(maximumHeader) else {
            throw fail("header length \(length) is implausible: not a safetensors model file, or damaged")
        }
        guard Int(length) <= bytes.count - 8 else {
            throw fail("header says \(length) bytes but the file has \(bytes.count - 8) after the length: truncated")
        }
        let headerEnd = 8 + Int(length)
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd])), let header = object as? [String: Any] else {
            throw fail("header is not a JSON object: not a safetensors model file, or damaged")
        }
        var metadata: [String: String] = [:]
        if let raw = header["__metadata__"] {
            guard let m = raw as? [String: Any] else { throw fail("__metadata__ is not an object") }
            for (key, value) in m {
                guard let s = value as? String else { throw fail("__metadata__ value for '\(key)' is not a string") }
                metadata[key] = s
            }
        }
        let dataSize = bytes.count - headerEnd
        var entries: [(name: String, shape: [Int], begin: Int, end: Int)] = []
        for (name, raw) in header where name != "__metadata__" {
            guard let entry = raw as? [String: Any] else { throw fail("tensor '\(name)' has no description object") }
            guard let dtype = entry["dtype"] as? String else { throw fail("tensor '\(name)' has no dtype") }
            guard dtype == "F32" else { throw fail("tensor '\(name)' is \(dtype); only F32 is supported") }
            guard let shape = wholeNumbers(entry["shape"]), shape.allSatisfy({ $0 >= 0 && $0 < 1 << 31 }) else {
                throw fail("tensor '\(name)' has a bad shape")
            }
            guard let offsets = wholeNumbers(entry["data_offsets"]), offsets.count == 2 else {
                throw fail("tensor '\(name)' has bad data_offsets")
            }
            // A shape too large to count is refused like any other that the data cannot hold.
            let bytes = Shape([4] + shape).checkedCount
            guard let bytes, offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] - offsets[0] == bytes else {
                throw fail("tensor '\(name)' (\(shape)) has data_offsets \(offsets) that do not hold its float32 values")
            }
            entries.append((name, shape, offsets[0], offsets[1]))
        }
        entries.sort { $0.begin != $1.begin ? $0.begin < $1.begin : $0.end < $1.end }
        var position = 0
        for e in entries {
            guard e.begin == position else {
                throw fail(e.begin < position ? "tensor '\(e.name)' overlaps the tensor before it" : "gap in the data before tensor '\(e.name)'")
            }
            position = e.end
        }
        guard position == dataSize else {
            throw fail(
                position > dataSize
                    ? "tensors need \(position) bytes of data but the file has \(dataSize): truncated"
                    : "\(dataSize - position) bytes after the last tensor: not written by Flowhound, or damaged")
        }
        var tensors: [(name: String, tensor: Tensor)] = []
        bytes.withUnsafeBytes { raw in
            for e in entries {
                let values = (0..<((e.end - e.begin) / 4)).map { i in
                    Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: headerEnd + e.begin + 4 * i, as: UInt32.self)))
                }
                tensors.append((e.name, Tensor(shape: Shape(e.shape), scalars: values)))
            }
        }
        return SafeTensors(metadata: metadata, tensors: tensors)
    }

    /// Largest model file read: far above the limits on weights (`ArchitectureLimits`) and forests.
    public static let maximumFile = 1 << 30

    /// Reads and checks a file.
    public static func read(path: String) throws(ModelFileError) -> SafeTensors {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelFileError(path: path, reason: "no such model file")
        }
        guard !isDirectory.boolValue else { throw ModelFileError(path: path, reason: "is a directory, not a model file") }
        // Only a regular file of bounded size is read: a device (/dev/zero) or a pipe could be endless.
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            attributes[.type] as? FileAttributeType == .typeRegular
        else {
            throw ModelFileError(path: path, reason: "is not a regular file, not a model file")
        }
        if let size = (attributes[.size] as? NSNumber)?.int64Value, size > Int64(maximumFile) {
            throw ModelFileError(path: path, reason: "is \(size) bytes, over the \(maximumFile >> 20) MiB a model file may be")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelFileError(path: path, reason: "cannot be read")
        }
        return try decode([UInt8](data), path: path)
    }

    /// Writes the file atomically (`AtomicFile`): a reader never sees half a model, and a failed
    /// write leaves the old file in place.
    public func write(to path: String) throws(ModelFileError) {
        try AtomicFile.write(encoded(), to: path)
    }
}

/// A JSON array of whole numbers (shape or offsets), or nil when it is not one: a fraction (2.5), a
/// number too large to be exact in a double, or anything but a number is refused, never rounded.
func wholeNumbers(_ value: Any?) -> [Int]? {
    guard let array = value as? [Any] else { return nil }
    var out: [Int] = []
    for element in array {
        guard let number = element as? NSNumber else { return nil }
        let d = number.doubleValue
        guard d.isFinite, d == d.rounded(), abs(d) < 0x1p53, let i = Int(exactly: d), number.int64Value == Int64(i) else { return nil }
        out.append(i)
    }
    return out
}

/// A JSON string literal.
func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
        default: out.unicodeScalars.append(u)
        }
    }
    return out + "\""
}
