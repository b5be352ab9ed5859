import Foundation
import Support
import TestSupport
import Testing

@testable import ActivityImage

/// `NumpyReader` reads back what `NumpyWriter` and `numpy.save` write, and refuses what it cannot read.
@Suite struct NumpyReaderTests {
    /// A fresh temporary directory; the caller removes it.
    static func directory() throws -> String {
        try temporaryDirectory("npy-reader")
    }

    /// Writes arrays with NumPy into `dir`: a Python statement per file, `a` bound to the array.
    static func save(_ arrays: [String: String], in dir: String) throws {
        var script = "import sys, numpy as np\nd = sys.argv[1]\n"
        for (name, expression) in arrays.sorted(by: { $0.key < $1.key }) {
            script += "np.save(d + '/\(name).npy', \(expression))\n"
        }
        _ = try python(script, [dir])
    }

    /// Runs `/usr/bin/python3 -c script arguments…` (the project setup installs python3-numpy) and returns its output.
    static func python(_ script: String, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", script] + arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let message = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "python3: \(String(decoding: message, as: UTF8.self))", sourceLocation: sourceLocation)
        return String(decoding: data, as: UTF8.self)
    }

    // MARK: - Round trips

    @Test func float32RowsRoundTrip() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/X.npy"
        let writer = try NumpyWriter(path: path, dtype: .float32, rowShape: [2, 3])
        let rows: [[Float]] =
            (0..<5).map { r in (0..<6).map { Float(r * 6 + $0) * 0.37 - 2 } } + [[.pi, -0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -1e-30, 1]]
        for row in rows { try writer.append(row) }
        try writer.finish()
        let (shape, values) = try NumpyReader.readFloat32(path: path)
        #expect(shape == [6, 2, 3])
        #expect(values.map(\.bitPattern) == rows.flatMap { $0 }.map(\.bitPattern))
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp-\(getpid())"))
    }

    @Test func int64VectorsRoundTrip() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/y.npy"
        let writer = try NumpyWriter(path: path, dtype: .int64, rowShape: [])
        let labels: [Int64] = [0, 1, 1, 0, -7, .max, .min]
        for label in labels { try writer.append(label) }
        try writer.finish()
        let (shape, values) = try NumpyReader.readIntegers(path: path)
        #expect(shape == [7])
        #expect(values == labels)
    }

    @Test func anEmptyArrayRoundTrips() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/empty.npy"
        let writer = try NumpyWriter(path: path, dtype: .float32, rowShape: [3, 4])
        try writer.finish()
        let (shape, values) = try NumpyReader.readFloat32(path: path)
        #expect(shape == [0, 3, 4])
        #expect(values.isEmpty)
    }

    // MARK: - Files written by NumPy

    @Test func numpyFilesAreRead() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.save(
            [
                "f32": "(np.arange(12, dtype='<f4') * 0.25 - 1).reshape(3, 4)",
                "f32-empty": "np.zeros((0, 5), dtype='<f4')",
                "i64": "np.array([-(2**63), -1, 0, 2**63 - 1], dtype='<i8')",
                "i32": "np.array([[-5, 0, 7], [2**31 - 1, -2**31, 42]], dtype='<i4')",
                "u8": "np.array([0, 1, 128, 255], dtype=np.uint8)",
                "bool": "np.array([True, False, False, True])",
            ], in: dir)

        let f32 = try NumpyReader.readFloat32(path: dir + "/f32.npy")
        #expect(f32.shape == [3, 4])
        #expect(Array(f32.values) == (0..<12).map { Float($0) * 0.25 - 1 })

        let empty = try NumpyReader.readFloat32(path: dir + "/f32-empty.npy")
        #expect(empty.shape == [0, 5])
        #expect(empty.values.isEmpty)

        let i64 = try NumpyReader.readIntegers(path: dir + "/i64.npy")
        #expect(i64.shape == [4])
        #expect(i64.values == [.min, -1, 0, .max])

        let i32 = try NumpyReader.readIntegers(path: dir + "/i32.npy")
        #expect(i32.shape == [2, 3])
        #expect(i32.values == [-5, 0, 7, Int64(Int32.max), Int64(Int32.min), 42])

        let u8 = try NumpyReader.readIntegers(path: dir + "/u8.npy")
        #expect(u8.shape == [4])
        #expect(u8.values == [0, 1, 128, 255])

        let bool = try NumpyReader.readIntegers(path: dir + "/bool.npy")
        #expect(bool.shape == [4])
        #expect(bool.values == [1, 0, 0, 1])
    }

    @Test(arguments: ["(2, 0)", "(3, 0)"])
    func laterHeaderVersionsAreRead(version: String) throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/v.npy"
        _ = try Self.python(
            """
            import sys, numpy as np
            a = (np.arange(6, dtype='<f4') - 2.5).reshape(2, 3)
            with open(sys.argv[1], 'wb') as f:
                np.lib.format.write_array(f, a, version=\(version))
            """, [path])
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.count > 8 && bytes[6] == (version == "(2, 0)" ? 2 : 3))
        let (shape, values) = try NumpyReader.readFloat32(path: path)
        #expect(shape == [2, 3])
        #expect(Array(values) == [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])
    }

    // MARK: - Refusals

    @Test func theWrongTypeIsRefused() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.save(["f8": "np.ones((2, 3))", "f4": "np.ones(3, dtype='<f4')", "be": "np.ones(3, dtype='>f4')"], in: dir)
        let f8 = #expect(throws: NumpyError.self) { _ = try NumpyReader.readFloat32(path: dir + "/f8.npy") }
        #expect(f8?.path == dir + "/f8.npy")
        #expect(f8?.reason == "holds <f8 values, expected float32 (<f4)")
        let bigEndian = #expect(throws: NumpyError.self) { _ = try NumpyReader.readFloat32(path: dir + "/be.npy") }
        #expect(bigEndian?.reason == "holds >f4 values, expected float32 (<f4)")
        let floats = #expect(throws: NumpyError.self) { _ = try NumpyReader.readIntegers(path: dir + "/f4.npy") }
        #expect(floats?.reason == "holds <f4 values, expected integers (<i8, <i4, |u1)")
    }

    /// A type whose item size is neither 8 nor 4 bytes is refused for its type, not called truncated.
    @Test func aTwoByteTypeIsRefusedForItsType() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.save(["i2": "np.arange(5, dtype='<i2')", "f2": "np.ones(5, dtype='<f2')"], in: dir)
        let i2 = #expect(throws: NumpyError.self) { _ = try NumpyReader.readIntegers(path: dir + "/i2.npy") }
        let f2 = #expect(throws: NumpyError.self) { _ = try NumpyReader.readFloat32(path: dir + "/f2.npy") }
        #expect(i2?.reason == "holds <i2 values, expected integers (<i8, <i4, |u1)")
        #expect(f2?.reason == "holds <f2 values, expected float32 (<f4)")
    }

    @Test func fortranOrderIsRefused() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.save(["f": "np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3))"], in: dir)
        let error = #expect(throws: NumpyError.self) { _ = try NumpyReader.readFloat32(path: dir + "/f.npy") }
        #expect(error?.reason == "is in Fortran order; save it with numpy.ascontiguousarray")
    }

    @Test func truncatedDataIsRefused() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/X.npy"
        let writer = try NumpyWriter(path: path, dtype: .float32, rowShape: [4])
        for r in 0..<3 { try writer.append([Float](repeating: Float(r), count: 4)) }
        try writer.finish()
        let full = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(full.count == 128 + 48)
        try full.prefix(full.count - 6).write(to: URL(fileURLWithPath: path))
        let cut = #expect(throws: NumpyError.self) { _ = try NumpyReader.readFloat32(path: path) }
        #expect(cut?.reason == "is 170 bytes but its header ([3, 4] of <f4) needs 176: truncated or not written to the end")
        // Trailing bytes are refused the same way.
        try (full + Data([0, 0, 0, 0])).write(to: URL(fileURLWithPath: path))
        let long = #expect(throws: NumpyError.self) { _ = try NumpyReader.readFloat32(path: path) }
        #expect(long?.reason == "is 180 bytes but its header ([3, 4] of <f4) needs 176: truncated or not written to the end")
        // Cut inside the header itself.
        try full.prefix(40).write(to: URL(fileURLWithPath: path))
        let header = #expect(throws: NumpyError.self) { _ = try NumpyReader.readFloat32(path: path) }
        #expect(header?.reason == "ends inside its header: truncated")
    }

    @Test func aFileThatIsNotNpyIsRefused() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/X.npy"
        try Data("label,source\n0,10.0.0.1\n".utf8).write(to: URL(fileURLWithPath: path))
        let text = #expect(throws: NumpyError.self) { _ = try NumpyReader.readFloat32(path: path) }
        #expect(text?.reason == "not a NumPy .npy file (no \\x93NUMPY magic)")
        try Data([0x93] + Array("NUMPY".utf8) + [9, 0, 16, 0, 0, 0]).write(to: URL(fileURLWithPath: path))
        let version = #expect(throws: NumpyError.self) { _ = try NumpyReader.readIntegers(path: path) }
        #expect(version?.reason == "unsupported .npy format version 9")
        try Data([0x93] + Array("NUM".utf8)).write(to: URL(fileURLWithPath: path))
        let short = #expect(throws: NumpyError.self) { _ = try NumpyReader.readIntegers(path: path) }
        #expect(short?.reason == "ends inside its header: truncated")
    }

    @Test func aMissingFileIsRefused() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/missing.npy"
        let error = #expect(throws: NumpyError.self) { _ = try NumpyReader.readIntegers(path: path) }
        #expect(error?.path == path)
        #expect(error?.reason == "cannot open: No such file or directory")
        #expect(error?.description == "\(path): cannot open: No such file or directory")
    }

    /// A shape whose element count overflows `Int` is refused, not a crash.
    @Test func aShapeWhoseSizeOverflowsIsRefused() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/overflow.npy"
        var dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"
        dict += String(repeating: " ", count: 118 - dict.utf8.count - 1) + "\n"
        try Data([0x93] + Array("NUMPY".utf8) + [1, 0, 118, 0] + Array(dict.utf8)).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: NumpyError.self) { _ = try NumpyReader.readFloat32(path: path) }
        #expect(error?.reason == "shape [4611686018427387904, 4] in its header is too large for any file")
    }
}
