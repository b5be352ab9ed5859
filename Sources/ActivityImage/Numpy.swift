#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes NumPy `.npy` files (format version 1.0) row by row, so that arrays larger than memory can be
/// written: the header is written first with room for the final row count and rewritten on `finish`.
///
/// `numpy.load("X.npy")` reads the result; see the format at
/// numpy.org/doc/stable/reference/generated/numpy.lib.format.html.
public final class NumpyWriter {
    public enum DType: String, Sendable {
        case float32 = "<f4"
        case int64 = "<i8"

        var size: Int { self == .float32 ? 4 : 8 }
    }

    public let path: String
    public let dtype: DType
    /// The shape of one row (empty for a vector).
    public let rowShape: [Int]
    public private(set) var rows = 0
    private let fd: Int32
    private let temporary: String
    private var buffer: [UInt8] = []
    private var finished = false
    /// The header's fixed size: 128 bytes leave room for any row count.
    static let headerLength = 128

    public init(path: String, dtype: DType, rowShape: [Int]) throws(NumpyError) {
        self.path = path
        self.dtype = dtype
        self.rowShape = rowShape
        temporary = path + ".tmp-\(getpid())"
        fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw NumpyError(path: path, reason: "cannot create: \(String(cString: strerror(errno)))") }
        buffer = header(rows: 0)
    }

    deinit {
        if !finished {
            close(fd)
            unlink(temporary)
        }
    }

    func header(rows: Int) -> [UInt8] {
        let shape = ([rows] + rowShape).map(String.init)
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.joined(separator: ", ") + ")"
        var dict = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
        let total = NumpyWriter.headerLength
        let padding = total - 10 - dict.utf8.count - 1
        precondition(padding >= 0, "npy header too long")
        dict += String(repeating: " ", count: padding) + "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let length = UInt16(total - 10)
        bytes += [UInt8(length & 0xFF), UInt8(length >> 8)]
        bytes += Array(dict.utf8)
        return bytes
    }

    public func append(_ values: [Float]) throws(NumpyError) {
        precondition(dtype == .float32 && values.count == rowShape.reduce(1, *), "row does not match the array's shape")
        values.withUnsafeBytes { buffer.append(contentsOf: $0) }  // little-endian on every platform Swift runs here
        rows += 1
        if buffer.count >= 1 << 20 { try flush() }
    }

    public func append(_ value: Int64) throws(NumpyError) {
        precondition(dtype == .int64 && rowShape.isEmpty, "row does not match the array's shape")
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
        rows += 1
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func flush() throws(NumpyError) {
        var offset = 0
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw NumpyError(path: path, reason: "write failed: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes the final header and moves the file into place.
    public func finish() throws(NumpyError) {
        try flush()
        let final = header(rows: rows)
        let written = final.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, 0) }
        guard written == final.count, fsync(fd) == 0 else {
            throw NumpyError(path: path, reason: "write failed: \(String(cString: strerror(errno)))")
        }
        close(fd)
        finished = true
        guard rename(temporary, path) == 0 else {
            throw NumpyError(path: path, reason: "cannot write: \(String(cString: strerror(errno)))")
        }
    }
}

public struct NumpyError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}
