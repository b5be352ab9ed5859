import FlowRecords
import Foundation
import TestSupport
import Testing

@testable import ActivityImage

private func flow(_ src: String, _ dst: String, _ port: UInt16, _ t: Double, _ outcome: Outcome) -> FlowRecord {
    FlowRecord(
        start: t, end: t, source: IPAddress(src)!, destination: IPAddress(dst)!, sourcePort: 40000,
        destinationPort: port, transport: .tcp, outcome: outcome)
}

/// Decodes PNG files with an independent decoder: a Python 3 script using only the standard library,
/// which checks the signature and every chunk's CRC, reads IHDR, inflates the IDAT chunks, undoes all
/// five scanline filters and prints the size, the chunks, the filters used, an Adler-32 of all pixels
/// and the RGB of the requested pixels.
enum IndependentPNGDecoder {
    struct Decoded {
        var width: Int
        var height: Int
        var chunks: [String]
        var filters: Set<Int>
        var adler32: UInt32
        var pixels: [RGB]
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static let script = #"""
        import binascii, struct, sys, zlib

        data = open(sys.argv[1], 'rb').read()
        if data[:8] != b'\x89PNG\r\n\x1a\n':
            sys.exit('bad signature')
        pos, chunks, idat, ihdr = 8, [], b'', None
        while True:
            if pos + 12 > len(data):
                sys.exit('truncated chunk at byte %d' % pos)
            length, = struct.unpack('>I', data[pos:pos + 4])
            kind = data[pos + 4:pos + 8]
            body = data[pos + 8:pos + 8 + length]
            if len(body) != length:
                sys.exit('truncated %r chunk' % kind)
            crc, = struct.unpack('>I', data[pos + 8 + length:pos + 12 + length])
            if binascii.crc32(kind + body) & 0xffffffff != crc:
                sys.exit('bad CRC in %s chunk at byte %d' % (kind.decode('latin-1'), pos))
            chunks.append(kind.decode('ascii'))
            pos += 12 + length
            if kind == b'IHDR':
                ihdr = struct.unpack('>IIBBBBB', body)
            elif kind == b'IDAT':
                idat += body
            elif kind == b'IEND':
                break
        if pos != len(data):
            sys.exit('%d bytes after IEND' % (len(data) - pos))
        if chunks[0] != 'IHDR' or chunks.count('IHDR') != 1 or 'IDAT' not in chunks:
            sys.exit('bad chunk order: %s' % chunks)
        width, height, depth, colour, compression, filtering, interlace = ihdr
        if (depth, colour, compression, filtering, interlace) != (8, 2, 0, 0, 0):
            sys.exit('not 8-bit RGB without interlace: %s' % (ihdr,))
        raw = zlib.decompress(idat)
        stride = width * 3
        if len(raw) != height * (stride + 1):
            sys.exit('inflated %d bytes, expected %d' % (len(raw), height * (stride + 1)))
        rows, previous, filters = [], bytearray(stride), set()
        for y in range(height):
            start = y * (stride + 1)
            kind = raw[start]
            filters.add(kind)
            line = bytearray(raw[start + 1:start + 1 + stride])
            if kind == 1:
                for i in range(3, stride):
                    line[i] = (line[i] + line[i - 3]) & 255
            elif kind == 2:
                for i in range(stride):
                    line[i] = (line[i] + previous[i]) & 255
            elif kind == 3:
                for i in range(stride):
                    left = line[i - 3] if i >= 3 else 0
                    line[i] = (line[i] + (left + previous[i]) // 2) & 255
            elif kind == 4:
                for i in range(stride):
                    a = line[i - 3] if i >= 3 else 0
                    b = previous[i]
                    c = previous[i - 3] if i >= 3 else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            elif kind != 0:
                sys.exit('bad filter type %d on row %d' % (kind, y))
            rows.append(line)
            previous = line
        print('size', width, height)
        print('chunks', *chunks)
        print('filters', *sorted(filters))
        print('adler32', zlib.adler32(b''.join(rows)) & 0xffffffff)
        for point in sys.argv[2:]:
            x, y = map(int, point.split(','))
            print('pixel', *rows[y][3 * x:3 * x + 3])
        """#

    static func decode(_ png: [UInt8], at points: [(x: Int, y: Int)] = []) throws -> Decoded {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("flowhound-render-\(UUID().uuidString).png").path
        try Data(png).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try decode(file: path, at: points)
    }

    static func decode(file path: String, at points: [(x: Int, y: Int)] = []) throws -> Decoded {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, path] + points.map { "\($0.x),\($0.y)" }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "python3 decoder failed (status \(process.terminationStatus)): \(errors)")
        }
        var decoded = Decoded(width: 0, height: 0, chunks: [], filters: [], adler32: 0, pixels: [])
        for line in output.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            switch words.first {
            case "size": decoded.width = Int(words[1])!; decoded.height = Int(words[2])!
            case "chunks": decoded.chunks = Array(words.dropFirst())
            case "filters": decoded.filters = Set(words.dropFirst().map { Int($0)! })
            case "adler32": decoded.adler32 = UInt32(words[1])!
            case "pixel": decoded.pixels.append(RGB(UInt8(words[1])!, UInt8(words[2])!, UInt8(words[3])!))
            default: throw Failure(description: "unexpected decoder output: \(line)")
            }
        }
        guard decoded.pixels.count == points.count else { throw Failure(description: "decoder gave \(decoded.pixels.count) pixels") }
        return decoded
    }

    /// Adler-32 (RFC 1950) of the raster, to compare every pixel with what the decoder saw.
    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for chunk in stride(from: 0, to: bytes.count, by: 5552) {
            for byte in bytes[chunk..<min(bytes.count, chunk + 5552)] {
                a += UInt32(byte)
                b += a
            }
            a %= 65521
            b %= 65521
        }
        return b << 16 | a
    }
}

private func isRed(_ c: RGB) -> Bool { c.r >= 100 && c.g == 0 && Int(c.b) * 2 < Int(c.r) }
private func isGreen(_ c: RGB) -> Bool { c.g >= 100 && c.r == 0 && Int(c.b) * 2 < Int(c.g) }

@Suite struct RenderTests {
    /// One source: 3 refused attempts on 192.0.2.1:22 (row 0, column 0), one answered on 192.0.2.2:80
    /// (row 2, column 1), one unanswered on 192.0.2.3:8080 (row 47, column 2).
    static func sampleImage(source: String = "10.0.0.9") -> ActivityImage {
        var imager = ActivityImager(window: 3600)
        for i in 0..<3 { imager.add(flow(source, "192.0.2.1", 22, 7200 + Double(i), .rejected)) }
        imager.add(flow(source, "192.0.2.2", 80, 7210, .established))
        imager.add(flow(source, "192.0.2.3", 8080, 7220, .unanswered))
        let images = imager.images()
        precondition(images.count == 1)
        return images[0]
    }

    @Test func cellColoursAreReadable() {
        let image = Self.sampleImage()
        #expect(ActivityImage.row(port: 8080) == 47)
        #expect(isRed(image.color(row: 0, column: 0)))
        #expect(isGreen(image.color(row: 2, column: 1)))
        #expect(image.color(row: 10, column: 10) == .black)
        // A single attempt is clearly visible; 64 saturate.
        #expect(ActivityImage.color(failed: ActivityImage.cellValue(attempts: 1), answered: 0, timing: 0).r >= 120)
        #expect(ActivityImage.color(failed: 0, answered: ActivityImage.cellValue(attempts: 64), timing: 0).g == 255)
        #expect(ActivityImage.color(failed: 1, answered: 1, timing: 0.1).r == 255)
        // The timing tint stays faint: never more than 0.35 of the red or green.
        for t in stride(from: Float(0), through: 1, by: 0.1) {
            for v in [ActivityImage.cellValue(attempts: 1), 0.5, 1] {
                let c = ActivityImage.color(failed: v, answered: 0, timing: t)
                #expect(Float(c.b) <= 0.35 * Float(c.r) + 1)
            }
        }
        // The last cell touched carries the strongest tint.
        #expect(image.color(row: 47, column: 2).b > image.color(row: 0, column: 0).b)
    }

    @Test func tensorPictureDecodesIndependently() throws {
        let image = Self.sampleImage()
        let picture = image.rgb(cellSize: 4)
        #expect(picture.width == 32 * 4 && picture.height == 64 * 4)
        let centre = { (row: Int, column: Int) in (x: column * 4 + 2, y: row * 4 + 2) }
        let points = [centre(0, 0), centre(2, 1), centre(47, 2), centre(30, 20), centre(63, 31)]
        // Small IDAT chunks: the decoder must concatenate several.
        let decoded = try IndependentPNGDecoder.decode(picture.pngData(maxIDATLength: 100), at: points)
        #expect(decoded.width == 128 && decoded.height == 256)
        #expect(decoded.chunks.first == "IHDR" && decoded.chunks.last == "IEND")
        #expect(decoded.chunks.filter { $0 == "IDAT" }.count > 1)
        #expect(decoded.adler32 == IndependentPNGDecoder.adler32(picture.pixels))
        #expect(isRed(decoded.pixels[0]), "failed cell: \(decoded.pixels[0])")
        #expect(isGreen(decoded.pixels[1]), "answered cell: \(decoded.pixels[1])")
        #expect(isRed(decoded.pixels[2]), "single failed attempt: \(decoded.pixels[2])")
        #expect(decoded.pixels[3] == .black && decoded.pixels[4] == .black)
        for (point, colour) in zip(points, decoded.pixels) {
            #expect(picture[point.x, point.y] == colour)
        }
    }

    @Test func everyScanlineFilterRoundTrips() throws {
        // Noise, gradients, repeated and flat rows, so that the encoder picks several filter types.
        var picture = RGBImage(width: 61, height: 40)
        var state: UInt32 = 12345
        for y in 0..<picture.height {
            for x in 0..<picture.width {
                state = state &* 1_103_515_245 &+ 12345
                let noise = UInt8(truncatingIfNeeded: state >> 16)
                let colour: RGB
                switch y % 5 {
                case 0: colour = RGB(noise, noise &+ 1, noise &+ 2)
                case 1: colour = RGB(UInt8(x * 4), UInt8(y * 6), 7)
                case 2: colour = RGB(UInt8(x * 4), UInt8(y * 6), 7)
                case 3: colour = RGB(UInt8(truncatingIfNeeded: x * y), UInt8(truncatingIfNeeded: x + 3 * y), UInt8(truncatingIfNeeded: x &* 7))
                default: colour = RGB(UInt8((x + y) * 2), UInt8((x + y) * 2), UInt8(y * 3))
                }
                picture[x, y] = colour
            }
        }
        let decoded = try IndependentPNGDecoder.decode(picture.pngData(), at: [(0, 0), (60, 39), (17, 23)])
        #expect(decoded.width == 61 && decoded.height == 40)
        #expect(decoded.filters.count >= 3, "filters used: \(decoded.filters.sorted())")
        #expect(decoded.adler32 == IndependentPNGDecoder.adler32(picture.pixels))
        #expect(decoded.pixels == [picture[0, 0], picture[60, 39], picture[17, 23]])
    }

    @Test func panelHasTitleAxesAndCellsWhereTheLayoutSays() throws {
        let image = Self.sampleImage()
        let layout = ActivityImage.panelLayout()
        let panel = image.renderPanel(label: "scan/vertical")
        #expect(panel.width == layout.width && panel.height == layout.height)
        #expect(
            image.panelTitle(label: "scan/vertical") == [
                "10.0.0.9", "scan/vertical", "5 flows, 80% failed", "3 ports, 3 hosts", "1970-01-01 02:00Z +1h",
            ])
        let points = [
            layout.cellCentre(row: 0, column: 0), layout.cellCentre(row: 2, column: 1), layout.cellCentre(row: 47, column: 2),
            layout.cellCentre(row: 20, column: 20), (x: 1, y: 1),
        ]
        let decoded = try IndependentPNGDecoder.decode(panel.pngData(), at: points)
        #expect(decoded.width == layout.width && decoded.height == layout.height)
        #expect(isRed(decoded.pixels[0]), "\(decoded.pixels[0])")
        #expect(isGreen(decoded.pixels[1]), "\(decoded.pixels[1])")
        #expect(isRed(decoded.pixels[2]), "\(decoded.pixels[2])")
        #expect(decoded.pixels[3] == .black)
        #expect(decoded.pixels[4] != .black)  // the page around the plot is not black
        #expect(decoded.adler32 == IndependentPNGDecoder.adler32(panel.pixels))
        // Text was drawn above the plot (title) and left of it (port labels).
        let textColour = RGB(235, 235, 235)
        func hasText(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int) -> Bool {
            (y0..<y1).contains { y in (x0..<x1).contains { x in panel[x, y] == textColour } }
        }
        #expect(hasText(0, 0, panel.width, layout.plotY - 1))
        #expect(hasText(0, layout.plotY, layout.plotX - 1, layout.plotY + layout.plotHeight))
        #expect(hasText(0, layout.plotY + layout.plotHeight + 2, panel.width, panel.height))
        // With the legend, the panel grows by the legend's height.
        let withLegend = image.renderPanel(label: nil, legend: true)
        #expect(withLegend.width == layout.width && withLegend.height > layout.height + 40)
    }

    @Test func axisTicksSitWhereThePortsAndHostsAre() {
        #expect(ActivityImage.portTicks.map(\.label) == ["0", "256", "512", "768", "1024", "4k", "16k", "65535"])
        for tick in ActivityImage.portTicks where tick.port < 65535 {
            let position = ActivityImage.rowPosition(port: tick.port)
            #expect(Int(position) == ActivityImage.row(port: UInt16(tick.port)), "\(tick.label)")
        }
        #expect(ActivityImage.rowPosition(port: 1024) == 32)
        #expect(abs(ActivityImage.rowPosition(port: 65535) - 64) < 0.01)
        #expect(ActivityImage.hostTicks.map(\.label) == ["1", "8", "16", "64", "272+"])
        #expect(ActivityImage.hostTicks.map(\.column) == [0, 7, 15, 26, 31])
        #expect(ActivityImage.firstRank(column: 31) == 271)  // 0-based: the 272nd host
    }

    @Test func gridHasOneTilePerImageAndALegend() throws {
        let style = RenderStyle(cellWidth: 2, cellHeight: 2, titleScale: 1, gridMargin: 5, gridGap: 7)
        let panel = ActivityImage.panelLayout(style: style)
        let tiles = (1...5).map { (Self.sampleImage(source: "10.0.0.\($0)"), $0 % 2 == 0 ? "benign/web" : nil as String?) }
        for (count, columns) in [(1, 3), (2, 3), (3, 3), (4, 3), (5, 3), (5, 2), (5, 9), (4, 1)] {
            let grid = ActivityImage.renderGrid(Array(tiles.prefix(count)), columns: columns, style: style)
            let used = min(columns, count), rows = (count + used - 1) / used
            let width = 2 * 5 + used * panel.width + (used - 1) * 7
            #expect(grid.width == max(width, 2 * 5 + 200), "\(count) tiles in \(columns) columns")
            let legend = ActivityImage.renderLegend(width: grid.width - 10, style: style)
            #expect(
                grid.height == 5 + rows * panel.height + (rows - 1) * 7 + 7 + legend.height + 5,
                "\(count) tiles in \(columns) columns")
        }
        // A title adds lines above the tiles.
        let titled = ActivityImage.gridLayout(count: 5, columns: 2, title: "five sources", style: style)
        let untitled = ActivityImage.gridLayout(count: 5, columns: 2, style: style)
        #expect(titled.height > untitled.height && titled.width == untitled.width)

        // Each tile's cells are where its origin and the panel layout say, in the decoded file.
        let grid = ActivityImage.renderGrid(tiles, columns: 2, title: "five sources", style: style)
        var points: [(x: Int, y: Int)] = []
        for index in 0..<5 {
            let origin = titled.tileOrigin(index)
            let failed = panel.cellCentre(row: 0, column: 0), answered = panel.cellCentre(row: 2, column: 1)
            let empty = panel.cellCentre(row: 40, column: 20)
            points += [
                (origin.x + failed.x, origin.y + failed.y), (origin.x + answered.x, origin.y + answered.y),
                (origin.x + empty.x, origin.y + empty.y),
            ]
        }
        let decoded = try IndependentPNGDecoder.decode(grid.pngData(), at: points)
        #expect(decoded.width == grid.width && decoded.height == grid.height)
        #expect(decoded.width == titled.width && decoded.height == titled.height)
        for index in 0..<5 {
            #expect(isRed(decoded.pixels[3 * index]), "tile \(index)")
            #expect(isGreen(decoded.pixels[3 * index + 1]), "tile \(index)")
            #expect(decoded.pixels[3 * index + 2] == .black, "tile \(index)")
        }
    }

    @Test func fontDrawsEveryPrintableCharacter() {
        var bitmaps = Set<[UInt8]>()
        for code in BitmapFont.printable {
            var cell = RGBImage(width: BitmapFont.cellWidth, height: BitmapFont.cellHeight)
            let advance = cell.drawText(String(UnicodeScalar(code)), x: 0, y: 0, color: .white)
            #expect(advance == BitmapFont.cellWidth)
            var lit = 0
            for y in 0..<cell.height {
                for x in 0..<cell.width where cell[x, y] == .white {
                    lit += 1
                    #expect(x < BitmapFont.glyphWidth, "'\(UnicodeScalar(code))' draws in the spacing column")
                    if !BitmapFont.descends(code) {
                        #expect(y < BitmapFont.glyphHeight, "'\(UnicodeScalar(code))' draws in the spacing row")
                    }
                }
            }
            if code == 32 {
                #expect(lit == 0)
            } else {
                #expect(lit >= 2, "'\(UnicodeScalar(code))' draws nothing")
                bitmaps.insert(cell.pixels)
            }
            // Scale 2 draws each font pixel as a 2×2 square.
            var big = RGBImage(width: 2 * BitmapFont.cellWidth, height: 2 * BitmapFont.cellHeight)
            big.drawText(String(UnicodeScalar(code)), x: 0, y: 0, color: .white, scale: 2)
            #expect(stride(from: 0, to: big.pixels.count, by: 3).filter { big.pixels[$0] == 255 }.count == 4 * lit)
        }
        #expect(bitmaps.count == 94, "every printable character has its own glyph")
        // Strings advance one cell a character; unknown characters are drawn, as '?'.
        var line = RGBImage(width: 200, height: 8)
        #expect(line.drawText("10.0.0.1:443 (scan/vertical) 99% >", x: 0, y: 0, color: .white) == 34 * 6)
        var unknown = RGBImage(width: 6, height: 8), question = RGBImage(width: 6, height: 8)
        unknown.drawText("é", x: 0, y: 0, color: .white)
        question.drawText("?", x: 0, y: 0, color: .white)
        #expect(unknown == question)
        // Clipped, not crashing, at the edges.
        var tiny = RGBImage(width: 3, height: 3)
        tiny.drawText("W", x: -2, y: -2, color: .white, scale: 3)
    }

    @Test func pngIsWrittenAtomically() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flowhound-render-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("out.png").path
        let first = Self.sampleImage().rgb(cellSize: 1)
        try first.writePNG(toFile: path)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == first.pngData())
        let second = Self.sampleImage().rgb(cellSize: 2)
        try second.writePNG(toFile: path)  // replaces the file
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == second.pngData())
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["out.png"])
        #expect(throws: ImageWriteError.self) {
            try first.writePNG(toFile: directory.appendingPathComponent("missing/out.png").path)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["out.png"])
    }

    @Test(.tags(.integration)) func renderCommandDrawsTheRealToolFixture() throws {
        let fixtures = FixtureDirectory.realTools.directory
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("flowhound-render-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        func run(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
            let r = try FlowhoundCLI.run(arguments)
            return (r.status, r.stderr)
        }
        let log = fixtures.appendingPathComponent("loopback-scans.argus.csv").path
        let truth = fixtures.appendingPathComponent("loopback-scans.truth.csv").path
        let grid = try run(["render", log, "--top", "11", "--truth", truth, "-o", output, "--no-progress"])
        #expect(grid.status == 0, "\(grid.stderr)")
        let png = Array(try Data(contentsOf: URL(fileURLWithPath: output)))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
        #expect(grid.stderr.contains("wrote \(output) (11 tiles, \(width)×\(height))"), "\(grid.stderr)")

        let single = try run(["render", log, "--source", "127.0.0.26", "-o", output, "--no-progress"])
        #expect(single.status == 0 && single.stderr.contains("(1 tile,"), "\(single.stderr)")

        let missing = try run(["render", log, "--source", "10.9.9.9", "-o", output, "--no-progress"])
        #expect(missing.status == 1)
        #expect(missing.stderr == "flowhound: error: source 10.9.9.9 not found in the logs (513 records from 12 sources)\n")

        for bad in [["--top", "0"], ["--source", "300.1.1.1"], ["--top", "2", "--source", "127.0.0.26"], [], ["--top", "2", "--window", "0"]] {
            let r = try run(["render", log, "-o", output] + bad)
            #expect(r.status == 64, "\(bad): \(r.stderr)")
        }
    }
}
