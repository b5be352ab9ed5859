import Foundation

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
    /// The file being written, moved into place by `finish` (`AtomicFile`).
    private let file: AtomicFile.Pending
    private var buffer: [UInt8] = []
    /// The header's fixed size: 128 bytes leave room for any row count.
    static let headerLength = 128

    public init(path: String, dtype: DType, rowShape: [Int]) throws(NumpyError) {
        self.path = path
        self.dtype = dtype
        self.rowShape = rowShape
        file = try AtomicFile.Pending(path: path)
        buffer = header(rows: 0)
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
        try file.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes the final header and moves the file into place.
    public func finish() throws(NumpyError) {
        try flush()
        let final = header(rows: rows)
        let written = final.withUnsafeBytes { pwrite(file.descriptor, $0.baseAddress!, $0.count, 0) }
        guard written == final.count else {
            throw NumpyError(path: path, reason: "cannot write: \(String(cString: strerror(errno)))")
        }
        try file.commit()
    }
}

/// A NumPy file that cannot be read or written (`path: reason`).
public typealias NumpyError = FileError

/// Reads NumPy `.npy` files (format versions 1–3) written by `NumpyWriter` or by `numpy.save`:
/// little-endian float32 arrays as `Float`, integer arrays (int64, int32, uint8, bool) as `Int64`.
/// The header and the file size are checked; a wrong type, Fortran order or missing data is refused.
public enum NumpyReader {
    public struct Header: Sendable, Equatable {
        public var descr: String
        public var shape: [Int]
        public var dataOffset: Int
        /// Number of values (the parser refuses shapes whose product overflows).
        public var count: Int { shape.reduce(1, *) }
    }

    /// A float32 array (`<f4`).
    public static func readFloat32(path: String) throws(NumpyError) -> (shape: [Int], values: ContiguousArray<Float>) {
        let (header, fd) = try open(path)
        defer { close(fd) }
        guard header.descr == "<f4" else {
            throw NumpyError(path: path, reason: "holds \(header.descr) values, expected float32 (<f4)")
        }
        var values = ContiguousArray<Float>(repeating: 0, count: header.count)
        let problem = values.withUnsafeMutableBytes { b in
            failure { () throws(NumpyError) in try readFully(fd, into: b, at: header.dataOffset, path: path) }
        }
        if let problem { throw problem }
        return (header.shape, values)
    }

    /// An integer array (`<i8`, `<i4`, `|u1`, `|b1`), widened to Int64.
    public static func readIntegers(path: String) throws(NumpyError) -> (shape: [Int], values: [Int64]) {
        let (header, fd) = try open(path)
        defer { close(fd) }
        let size: Int
        switch header.descr {
        case "<i8": size = 8
        case "<i4": size = 4
        case "|u1", "|b1": size = 1
        default: throw NumpyError(path: path, reason: "holds \(header.descr) values, expected integers (<i8, <i4, |u1)")
        }
        var bytes = [UInt8](repeating: 0, count: header.count * size)
        let problem = bytes.withUnsafeMutableBytes { b in
            failure { () throws(NumpyError) in try readFully(fd, into: b, at: header.dataOffset, path: path) }
        }
        if let problem { throw problem }
        let values: [Int64] = bytes.withUnsafeBytes { raw in
            (0..<header.count).map { i in
                switch size {
                case 8: Int64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))
                case 4: Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
                default: Int64(raw[i])
                }
            }
        }
        return (header.shape, values)
    }

    /// Opens `path` and parses its header; checks that the file holds exactly the data it announces.
    static func open(_ path: String) throws(NumpyError) -> (Header, Int32) {
        let fd = Glibc.open(path, O_RDONLY)
        guard fd >= 0 else { throw NumpyError(path: path, reason: "cannot open: \(String(cString: strerror(errno)))") }
        do throws(NumpyError) {
            var prefix = [UInt8](repeating: 0, count: 12)
            if let failure = prefix.withUnsafeMutableBytes({ b in
                failure { () throws(NumpyError) in try readFully(fd, into: b, at: 0, path: path, what: "header") }
            }) {
                throw failure
            }
            guard prefix[0] == 0x93, Array(prefix[1...5]) == Array("NUMPY".utf8) else {
                throw NumpyError(path: path, reason: "not a NumPy .npy file (no \\x93NUMPY magic)")
            }
            let major = prefix[6]
            let (lengthSize, length): (Int, Int)
            switch major {
            case 1: (lengthSize, length) = (2, Int(prefix[8]) | Int(prefix[9]) << 8)
            case 2, 3: (lengthSize, length) = (4, Int(prefix[8]) | Int(prefix[9]) << 8 | Int(prefix[10]) << 16 | Int(prefix[11]) << 24)
            default: throw NumpyError(path: path, reason: "unsupported .npy format version \(major)")
            }
            guard length < 1 << 20 else { throw NumpyError(path: path, reason: "header of \(length) bytes is implausible") }
            let offset = 8 + lengthSize + length
            var text = [UInt8](repeating: 0, count: length)
            if let failure = text.withUnsafeMutableBytes({ b in
                failure { () throws(NumpyError) in try readFully(fd, into: b, at: 8 + lengthSize, path: path, what: "header") }
            }) {
                throw failure
            }
            let header = try parse(String(decoding: text, as: UTF8.self), dataOffset: offset, path: path)
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw NumpyError(path: path, reason: "cannot stat: \(String(cString: strerror(errno)))") }
            // The item size is the number after the type letter ('<f4', '<i8', '|u1').
            guard let itemSize = Int(header.descr.dropFirst(2)), itemSize > 0 else {
                throw NumpyError(path: path, reason: "unsupported dtype \(header.descr)")
            }
            let (bytes, overflow) = header.count.multipliedReportingOverflow(by: itemSize)
            guard !overflow, bytes < Int.max - offset else {
                throw NumpyError(path: path, reason: "shape \(header.shape) in its header is too large for any file")
            }
            let expected = offset + bytes
            guard Int(st.st_size) == expected else {
                throw NumpyError(
                    path: path,
                    reason: "is \(st.st_size) bytes but its header (\(header.shape) of \(header.descr)) needs \(expected): truncated or not written to the end")
            }
            return (header, fd)
        } catch {
            close(fd)
            throw error
        }
    }

    /// Parses `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
    static func parse(_ text: String, dataOffset: Int, path: String) throws(NumpyError) -> Header {
        func value(of key: String) -> Substring? {
            guard let r = text.range(of: "'\(key)':") else { return nil }
            return text[r.upperBound...].drop { $0 == " " }
        }
        guard let d = value(of: "descr"), d.first == "'", let end = d.dropFirst().firstIndex(of: "'") else {
            throw NumpyError(path: path, reason: "header has no 'descr'")
        }
        let descr = String(d[d.index(after: d.startIndex)..<end])
        guard let f = value(of: "fortran_order"), f.hasPrefix("False") else {
            throw NumpyError(path: path, reason: "is in Fortran order; save it with numpy.ascontiguousarray")
        }
        guard let s = value(of: "shape"), s.first == "(", let close = s.firstIndex(of: ")") else {
            throw NumpyError(path: path, reason: "header has no 'shape'")
        }
        var shape: [Int] = []
        for part in s[s.index(after: s.startIndex)..<close].split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let n = Int(trimmed), n >= 0 else { throw NumpyError(path: path, reason: "bad shape in header: \(s[...close])") }
            shape.append(n)
        }
        var total = 1
        for n in shape {
            let (product, overflow) = total.multipliedReportingOverflow(by: n)
            guard !overflow else { throw NumpyError(path: path, reason: "shape \(shape) in its header is too large for any file") }
            total = product
        }
        return Header(descr: descr, shape: shape, dataOffset: dataOffset)
    }

    /// The error `body` throws, if any (typed throws do not pass through `withUnsafe…` closures).
    static func failure(_ body: () throws(NumpyError) -> Void) -> NumpyError? {
        do { try body() } catch { return error }
        return nil
    }

    static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String, what: String = "data") throws(NumpyError) {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw NumpyError(path: path, reason: n == 0 ? "ends inside its \(what): truncated" : "read failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }
}
