import CZlib
import Foundation
import Support

/// An 8-bit-per-channel RGB colour.
public struct RGB: Hashable, Sendable, CustomStringConvertible {
    public var r: UInt8
    public var g: UInt8
    public var b: UInt8

    @inlinable public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
        self.r = r
        self.g = g
        self.b = b
    }

    @inlinable public init(gray: UInt8) { self.init(gray, gray, gray) }

    public static let black = RGB(0, 0, 0)
    public static let white = RGB(255, 255, 255)
    public static let red = RGB(255, 0, 0)
    public static let green = RGB(0, 255, 0)
    public static let blue = RGB(0, 0, 255)
    public static let yellow = RGB(255, 255, 0)

    public var description: String { "rgb(\(r), \(g), \(b))" }
}

/// A raster of 8-bit RGB pixels, row-major from the top-left corner, three bytes a pixel, that can be
/// drawn on (points, rectangles, other rasters, text) and written as PNG.
///
/// Drawing is clipped: whatever falls outside the raster is ignored, so callers need not check bounds.
public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// `width × height × 3` bytes: R, G, B of each pixel, rows top to bottom.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, fill color: RGB = .black) {
        precondition(width >= 0 && height >= 0, "image size must not be negative")
        self.width = width
        self.height = height
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        if color != .black {
            for i in stride(from: 0, to: pixels.count, by: 3) {
                pixels[i] = color.r
                pixels[i + 1] = color.g
                pixels[i + 2] = color.b
            }
        }
        self.pixels = pixels
    }

    /// The colour at (x, y); both must be inside the raster.
    public subscript(x: Int, y: Int) -> RGB {
        get {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width)×\(height)")
            let i = (y * width + x) * 3
            return RGB(pixels[i], pixels[i + 1], pixels[i + 2])
        }
        set {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width)×\(height)")
            let i = (y * width + x) * 3
            pixels[i] = newValue.r
            pixels[i + 1] = newValue.g
            pixels[i + 2] = newValue.b
        }
    }

    /// Paints every pixel.
    public mutating func fill(_ color: RGB) {
        fillRect(x: 0, y: 0, width: width, height: height, color: color)
    }

    /// Paints one pixel; ignored outside the raster.
    @inlinable public mutating func set(x: Int, y: Int, _ color: RGB) {
        guard x >= 0, x < width, y >= 0, y < height else { return }
        let i = (y * width + x) * 3
        pixels[i] = color.r
        pixels[i + 1] = color.g
        pixels[i + 2] = color.b
    }

    /// Paints a filled rectangle, clipped to the raster.
    public mutating func fillRect(x: Int, y: Int, width w: Int, height h: Int, color: RGB) {
        let x0 = max(0, x), y0 = max(0, y)
        let x1 = min(width, x + w), y1 = min(height, y + h)
        guard x0 < x1, y0 < y1 else { return }
        let (r, g, b) = (color.r, color.g, color.b)
        pixels.withUnsafeMutableBufferPointer { p in
            for row in y0..<y1 {
                var i = (row * width + x0) * 3
                for _ in x0..<x1 {
                    p[i] = r
                    p[i + 1] = g
                    p[i + 2] = b
                    i += 3
                }
            }
        }
    }

    /// Paints the outline of a rectangle, `thickness` pixels wide, inside the given bounds.
    public mutating func strokeRect(x: Int, y: Int, width w: Int, height h: Int, color: RGB, thickness: Int = 1) {
        guard w > 0, h > 0, thickness > 0 else { return }
        let t = min(thickness, (min(w, h) + 1) / 2)
        fillRect(x: x, y: y, width: w, height: t, color: color)
        fillRect(x: x, y: y + h - t, width: w, height: t, color: color)
        fillRect(x: x, y: y + t, width: t, height: h - 2 * t, color: color)
        fillRect(x: x + w - t, y: y + t, width: t, height: h - 2 * t, color: color)
    }

    /// A horizontal line of `length` pixels starting at (x, y).
    public mutating func horizontalLine(x: Int, y: Int, length: Int, color: RGB) {
        fillRect(x: x, y: y, width: length, height: 1, color: color)
    }

    /// A vertical line of `length` pixels starting at (x, y).
    public mutating func verticalLine(x: Int, y: Int, length: Int, color: RGB) {
        fillRect(x: x, y: y, width: 1, height: length, color: color)
    }

    /// Copies `image` with its top-left corner at (x, y), clipped to this raster.
    public mutating func draw(_ image: RGBImage, x: Int, y: Int) {
        let x0 = max(0, x), y0 = max(0, y)
        let x1 = min(width, x + image.width), y1 = min(height, y + image.height)
        guard x0 < x1, y0 < y1 else { return }
        let count = (x1 - x0) * 3
        pixels.withUnsafeMutableBufferPointer { dst in
            image.pixels.withUnsafeBufferPointer { src in
                for row in y0..<y1 {
                    let d = (row * width + x0) * 3
                    let s = ((row - y) * image.width + (x0 - x)) * 3
                    dst.baseAddress!.advanced(by: d).update(from: src.baseAddress!.advanced(by: s), count: count)
                }
            }
        }
    }

    // MARK: PNG

    /// The raster as a PNG file: 8-bit truecolour, no interlace, each scanline filtered with whichever
    /// of the five PNG filters gives the smallest sum of absolute values (the usual heuristic), the
    /// scanlines deflated with zlib and split into IDAT chunks of at most `maxIDATLength` bytes.
    ///
    /// - Precondition: the raster is at least 1×1.
    public func pngData(maxIDATLength: Int = 1 << 16, compressionLevel: Int32 = 9) -> [UInt8] {
        precondition(width > 0 && height > 0, "a PNG must be at least 1×1")
        precondition(maxIDATLength > 0, "IDAT chunks must hold at least one byte")
        let raw = PNGEncoder.filteredScanlines(pixels, width: width, height: height)
        let deflated = PNGEncoder.deflate(raw, level: compressionLevel)

        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header: [UInt8] = []
        PNGEncoder.appendBigEndian(UInt32(width), to: &header)
        PNGEncoder.appendBigEndian(UInt32(height), to: &header)
        header += [8, 2, 0, 0, 0]  // bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace
        PNGEncoder.appendChunk("IHDR", header[...], to: &png)
        var offset = 0
        repeat {
            let end = min(deflated.count, offset + maxIDATLength)
            PNGEncoder.appendChunk("IDAT", deflated[offset..<end], to: &png)
            offset = end
        } while offset < deflated.count
        PNGEncoder.appendChunk("IEND", [][...], to: &png)
        return png
    }

    /// Writes the raster as a PNG file, atomically (`AtomicFile`): a reader never sees a half-written picture.
    public func writePNG(toFile path: String) throws {
        try RGBImage.writeAtomically(pngData(), toFile: path)
    }

    /// Writes `bytes` to `path` atomically (`AtomicFile`).
    public static func writeAtomically(_ bytes: [UInt8], toFile path: String) throws {
        try AtomicFile.write(bytes, to: path)
    }
}

/// A picture that could not be written; its description is one line, `path: reason`.
public typealias ImageWriteError = FileError

enum PNGEncoder {
    static func appendBigEndian(_ value: UInt32, to bytes: inout [UInt8]) {
        bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// Length, type, data, and the CRC-32 of type and data.
    static func appendChunk(_ type: String, _ data: ArraySlice<UInt8>, to png: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        precondition(typeBytes.count == 4)
        appendBigEndian(UInt32(data.count), to: &png)
        png += typeBytes
        png += data
        var crc = typeBytes.withUnsafeBufferPointer { CZlib.crc32(0, $0.baseAddress, 4) }
        crc = data.withUnsafeBufferPointer { CZlib.crc32(crc, $0.baseAddress, uInt($0.count)) }
        appendBigEndian(UInt32(truncatingIfNeeded: crc), to: &png)
    }

    /// Each scanline prefixed by its filter type byte (0 none, 1 Sub, 2 Up, 3 Average, 4 Paeth).
    static func filteredScanlines(_ pixels: [UInt8], width: Int, height: Int) -> [UInt8] {
        let stride = width * 3
        var out = [UInt8](repeating: 0, count: height * (stride + 1))
        var candidates = [[UInt8]](repeating: [UInt8](repeating: 0, count: stride), count: 5)
        pixels.withUnsafeBufferPointer { px in
            for y in 0..<height {
                let lineBase = y * stride
                let upBase = (y - 1) * stride
                let hasUp = y > 0
                var best = 0
                var bestCost = Int.max
                for filter in 0..<5 {
                    var cost = 0
                    candidates[filter].withUnsafeMutableBufferPointer { c in
                        for i in 0..<stride {
                            let x = px[lineBase + i]
                            let a = i >= 3 ? px[lineBase + i - 3] : 0
                            let b = hasUp ? px[upBase + i] : 0
                            let cc = hasUp && i >= 3 ? px[upBase + i - 3] : 0
                            let predictor: UInt8
                            switch filter {
                            case 0: predictor = 0
                            case 1: predictor = a
                            case 2: predictor = b
                            case 3: predictor = UInt8((Int(a) + Int(b)) / 2)
                            default: predictor = paeth(a, b, cc)
                            }
                            let v = x &- predictor
                            c[i] = v
                            cost += v < 128 ? Int(v) : 256 - Int(v)
                        }
                    }
                    if cost < bestCost {
                        bestCost = cost
                        best = filter
                    }
                }
                let base = y * (stride + 1)
                out[base] = UInt8(best)
                out.replaceSubrange((base + 1)..<(base + 1 + stride), with: candidates[best])
            }
        }
        return out
    }

    @inline(__always)
    static func paeth(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt8 {
        let p = Int(a) + Int(b) - Int(c)
        let pa = abs(p - Int(a)), pb = abs(p - Int(b)), pc = abs(p - Int(c))
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }

    /// A zlib stream (RFC 1950) of `data`.
    static func deflate(_ data: [UInt8], level: Int32) -> [UInt8] {
        var capacity = compressBound(uLong(data.count))
        var out = [UInt8](repeating: 0, count: Int(capacity))
        let status = out.withUnsafeMutableBufferPointer { dst in
            data.withUnsafeBufferPointer { src in
                compress2(dst.baseAddress, &capacity, src.baseAddress, uLong(src.count), level)
            }
        }
        // compress2 fails only when out of memory or for a bad level; compressBound guarantees room.
        precondition(status == Z_OK, "zlib compress2 failed with status \(status)")
        out.removeLast(out.count - Int(capacity))
        return out
    }
}
