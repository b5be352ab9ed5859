import FlowRecords
import Foundation
import Support

/// Sizes for drawing activity images: how many pixels a tensor cell takes, and how large text is.
public struct RenderStyle: Sendable, Equatable {
    /// Pixels per tensor column (destination host).
    public var cellWidth: Int
    /// Pixels per tensor row (destination port bin).
    public var cellHeight: Int
    /// Scale of axis labels, legend and most title text (1 = the 5×7 font in a 6×8 cell).
    public var textScale: Int
    /// Scale of each tile's first title line (the source address) when it fits.
    public var titleScale: Int
    /// Space around a grid, and between its tiles.
    public var gridMargin: Int
    public var gridGap: Int

    public init(
        cellWidth: Int = 6, cellHeight: Int = 5, textScale: Int = 1, titleScale: Int = 2,
        gridMargin: Int = 12, gridGap: Int = 14
    ) {
        precondition(cellWidth >= 1 && cellHeight >= 1 && textScale >= 1 && titleScale >= 1)
        self.cellWidth = cellWidth
        self.cellHeight = cellHeight
        self.textScale = textScale
        self.titleScale = titleScale
        self.gridMargin = gridMargin
        self.gridGap = gridGap
    }
}

/// Colours of everything around the tensor cells.
enum Palette {
    static let page = RGB(30, 30, 34)
    static let frame = RGB(120, 120, 128)
    static let tick = RGB(150, 150, 160)
    static let guide = RGB(70, 70, 78)
    static let text = RGB(235, 235, 235)
    static let dim = RGB(170, 170, 180)
    static let scan = RGB(255, 150, 70)
    static let benign = RGB(120, 190, 255)
}

// MARK: - Cells as colours

extension ActivityImage {
    /// Strength of the blue timing tint, relative to the cell's red or green.
    public static let timingTint: Float = 0.35

    /// The colour of one tensor cell, made for people to read:
    ///
    /// - **black**: no attempt in the cell;
    /// - **red** = failed targets (channel 0), **green** = answered attempts (channel 1), each
    ///   `255 × (0.2 + 0.8 × sqrt(value))` when the value is above 0: the square root and the floor lift
    ///   the log-scaled counts so that a single attempt (value 0.17, level 134) stands out against
    ///   black, 8 attempts give 199 and 64 or more saturate at 255. A cell with both failed and answered
    ///   attempts is yellow to orange or olive;
    /// - **blue** = timing (channel 2), only in active cells and faint:
    ///   `0.35 × timing × max(red, green)`, so cells touched first (timing 0.1) are nearly pure red or
    ///   green, and cells touched last lean to pink (failed) or aqua (answered). The tint never
    ///   outshines the red/green, so failed and answered stay recognisable.
    public static func color(failed: Float, answered: Float, timing: Float) -> RGB {
        guard failed > 0 || answered > 0 else { return .black }
        let r = boost(failed), g = boost(answered)
        let b = timingTint * clamp01(timing) * max(r, g)
        return RGB(byte(r), byte(g), byte(b))
    }

    /// `0.2 + 0.8 × sqrt(value)` for values above 0, else 0.
    static func boost(_ value: Float) -> Float {
        let v = clamp01(value)
        return v > 0 ? 0.2 + 0.8 * v.squareRoot() : 0
    }

    /// The colour of cell (`row`, `column`); see ``color(failed:answered:timing:)``.
    public func color(row: Int, column: Int) -> RGB {
        ActivityImage.color(failed: self[0, row, column], answered: self[1, row, column], timing: self[2, row, column])
    }

    /// The tensor as a picture, `cellSize` pixels per cell: 32 columns (destination hosts, in order of
    /// first contact) by 64 rows (destination ports, 0 at the top), coloured as
    /// ``color(failed:answered:timing:)`` describes. No axes; see ``renderPanel(label:style:legend:)``.
    public func rgb(cellSize: Int = 1) -> RGBImage {
        rgb(cellWidth: cellSize, cellHeight: cellSize)
    }

    /// The tensor as a picture with cells `cellWidth × cellHeight` pixels.
    public func rgb(cellWidth: Int, cellHeight: Int) -> RGBImage {
        precondition(cellWidth >= 1 && cellHeight >= 1, "cells must be at least one pixel")
        var image = RGBImage(width: ActivityImage.columns * cellWidth, height: ActivityImage.rows * cellHeight)
        for row in 0..<ActivityImage.rows {
            for column in 0..<ActivityImage.columns {
                let c = color(row: row, column: column)
                if c != .black {
                    image.fillRect(x: column * cellWidth, y: row * cellHeight, width: cellWidth, height: cellHeight, color: c)
                }
            }
        }
        return image
    }
}

@inline(__always) private func clamp01(_ v: Float) -> Float { v.isNaN ? 0 : min(1, max(0, v)) }
@inline(__always) private func byte(_ v: Float) -> UInt8 { UInt8((clamp01(v) * 255).rounded()) }

// MARK: - Axes

extension ActivityImage {
    /// Labelled ticks of the port axis: label and port.
    public static let portTicks: [(label: String, port: Int)] = [
        ("0", 0), ("256", 256), ("512", 512), ("768", 768), ("1024", 1024), ("4k", 4096), ("16k", 16384), ("65535", 65535),
    ]

    /// Where `port` lies on the port axis, in rows from the top edge (0...64), between cells where the
    /// binning puts it: ports 0-1023 linearly, 32 to a row; above, 32 rows per six doublings.
    public static func rowPosition(port: Int) -> Double {
        if port < 1024 { return Double(max(0, port)) / 32 }
        return min(Double(rows), 32 + log2(Double(port) / 1024) * 32 / 6)
    }

    /// Labelled ticks of the host axis: label and column. Hosts are numbered from 1 in order of first
    /// contact; the last column holds every host from the 272nd (0-based rank 271) on.
    public static let hostTicks: [(label: String, column: Int)] = {
        var ticks = [1, 8, 16, 64].map { (label: String($0), column: ActivityImage.column(rank: $0 - 1)) }
        ticks.append((label: "\(ActivityImage.firstRank(column: ActivityImage.columns - 1) + 1)+", column: ActivityImage.columns - 1))
        return ticks
    }()

    static let yAxisTitle = "dst port"
    static let xAxisTitle = "dst hosts, in order of first contact"
}

// MARK: - Panel

/// Where the parts of a panel (one activity image with title and axes) go, in pixels from its top-left corner.
public struct PanelLayout: Sendable, Equatable {
    public let style: RenderStyle
    public let width: Int
    public let height: Int
    /// Top-left pixel of the tensor's cell (0, 0).
    public let plotX: Int
    public let plotY: Int
    public var plotWidth: Int { ActivityImage.columns * style.cellWidth }
    public var plotHeight: Int { ActivityImage.rows * style.cellHeight }

    let padding: Int
    let titleLineY: [Int]
    let yAxisTitleY: Int
    let xTickLabelY: Int
    let xTitleY: Int
    let xTitleLines: [String]

    /// The top-left pixel of tensor cell (`row`, `column`).
    public func cellOrigin(row: Int, column: Int) -> (x: Int, y: Int) {
        (plotX + column * style.cellWidth, plotY + row * style.cellHeight)
    }

    /// A pixel in the middle of tensor cell (`row`, `column`).
    public func cellCentre(row: Int, column: Int) -> (x: Int, y: Int) {
        let o = cellOrigin(row: row, column: column)
        return (o.x + style.cellWidth / 2, o.y + style.cellHeight / 2)
    }

    /// Number of title lines above the plot: address, label, flows and failed share, ports and hosts, window.
    public static let titleLines = 5

    init(style: RenderStyle) {
        self.style = style
        let s = style.textScale
        let lh = BitmapFont.lineHeight(scale: s), cw = BitmapFont.cellWidth * s
        let glyphHeight = BitmapFont.glyphHeight * s
        padding = 6 + 2 * s
        var y = padding
        var lines: [Int] = [y]
        y += BitmapFont.lineHeight(scale: max(style.titleScale, s)) + 3
        for _ in 1..<PanelLayout.titleLines {
            lines.append(y)
            y += lh + 2
        }
        titleLineY = lines
        y += 4
        yAxisTitleY = y
        y += glyphHeight + 5
        plotY = y + 1  // one pixel of frame above the plot

        let labelWidth = ActivityImage.portTicks.map { BitmapFont.width(of: $0.label, scale: s) }.max()!
        plotX = padding + labelWidth + 2 + 4 + 1  // labels, gap, tick, frame
        let plotWidth = ActivityImage.columns * style.cellWidth, plotHeight = ActivityImage.rows * style.cellHeight
        var right = plotX + plotWidth + 1
        for tick in ActivityImage.hostTicks {
            let centre = plotX + tick.column * style.cellWidth + style.cellWidth / 2
            right = max(right, centre + BitmapFont.width(of: tick.label, scale: s) / 2 + 1)
        }
        width = right + padding
        xTickLabelY = plotY + plotHeight + 1 + 4 + 2
        xTitleY = xTickLabelY + lh + 3
        xTitleLines = TextLayout.wrap(ActivityImage.xAxisTitle, maxCharacters: (width - 2 * padding) / cw)
        height = xTitleY + xTitleLines.count * (lh + 2) - 2 + padding - (lh - glyphHeight)
    }
}

extension ActivityImage {
    /// The layout every panel drawn with `style` shares.
    public static func panelLayout(style: RenderStyle = RenderStyle()) -> PanelLayout {
        PanelLayout(style: style)
    }

    /// The title lines of this image's panel: source address; `label` (e.g. "scan/vertical") or
    /// nothing; flows and failed share; distinct ports and hosts; window start (UTC) and length.
    public func panelTitle(label: String?) -> [String] {
        [
            source.description,
            label ?? "",
            "\(flows) flow\(flows == 1 ? "" : "s"), \(TextLayout.percent(failedFlows, of: flows)) failed",
            "\(distinctPorts) port\(distinctPorts == 1 ? "" : "s"), \(distinctHosts) host\(distinctHosts == 1 ? "" : "s")",
            "\(TextLayout.utc(windowStart)) +\(CivilTime.durationText(windowLength))",
        ]
    }

    /// One activity image as a tile a person can read: a title (source address, optional `label` such
    /// as "scan/vertical", flows and failed share, ports and hosts, window), the cells coloured as
    /// ``color(failed:answered:timing:)`` describes, a port axis on the left (0, 256, 512, 768, 1024,
    /// 4k, 16k, 65535: linear below 1024, logarithmic above) and a host axis below (hosts 1, 8, 16, 64
    /// and 272+ in order of first contact). With `legend`, the colour scales are added underneath.
    public func renderPanel(label: String? = nil, style: RenderStyle = RenderStyle(), legend: Bool = false) -> RGBImage {
        let layout = ActivityImage.panelLayout(style: style)
        var legendImage: RGBImage?
        if legend {
            legendImage = ActivityImage.renderLegend(width: layout.width - 2 * layout.padding, style: style)
        }
        let extra = legendImage.map { $0.height + layout.padding } ?? 0
        var canvas = RGBImage(width: layout.width, height: layout.height + extra, fill: Palette.page)
        drawPanel(on: &canvas, x: 0, y: 0, label: label, layout: layout)
        if let legendImage {
            canvas.draw(legendImage, x: layout.padding, y: layout.height)
        }
        return canvas
    }

    func drawPanel(on canvas: inout RGBImage, x ox: Int, y oy: Int, label: String?, layout: PanelLayout) {
        let style = layout.style
        let s = style.textScale
        let cw = BitmapFont.cellWidth * s
        let glyphHeight = BitmapFont.glyphHeight * s
        let maxCharacters = (layout.width - 2 * layout.padding) / cw
        let title = panelTitle(label: label)

        // Title: the address large if it fits, the label coloured by its kind, the rest dimmer.
        let address = title[0]
        if BitmapFont.width(of: address, scale: style.titleScale) <= layout.width - 2 * layout.padding {
            canvas.drawText(address, x: ox + layout.padding, y: oy + layout.titleLineY[0], color: Palette.text, scale: style.titleScale)
        } else {
            canvas.drawText(
                TextLayout.fit(address, maxCharacters: maxCharacters), x: ox + layout.padding,
                y: oy + layout.titleLineY[0], color: Palette.text, scale: s)
        }
        let labelColour = title[1].hasPrefix("scan") ? Palette.scan : title[1].hasPrefix("benign") ? Palette.benign : Palette.text
        canvas.drawText(
            TextLayout.fit(title[1], maxCharacters: maxCharacters), x: ox + layout.padding,
            y: oy + layout.titleLineY[1], color: labelColour, scale: s)
        for i in 2..<title.count {
            canvas.drawText(
                TextLayout.fit(title[i], maxCharacters: maxCharacters), x: ox + layout.padding,
                y: oy + layout.titleLineY[i], color: Palette.dim, scale: s)
        }

        // The cells, framed.
        let px = ox + layout.plotX, py = oy + layout.plotY
        canvas.strokeRect(x: px - 1, y: py - 1, width: layout.plotWidth + 2, height: layout.plotHeight + 2, color: Palette.frame)
        canvas.draw(rgb(cellWidth: style.cellWidth, cellHeight: style.cellHeight), x: px, y: py)
        // Faint dotted guides at the labelled ports, only on empty cells.
        for tick in ActivityImage.portTicks.dropFirst().dropLast() {
            let gy = py + Int((ActivityImage.rowPosition(port: tick.port) * Double(style.cellHeight)).rounded())
            for gx in stride(from: px + 1, to: px + layout.plotWidth, by: 3) where canvas[gx, gy] == .black {
                canvas[gx, gy] = Palette.guide
            }
        }

        // Port axis: ticks on the left edge, labels right-aligned and centred on them (kept within the plot's height).
        canvas.drawText(ActivityImage.yAxisTitle, x: ox + layout.padding, y: oy + layout.yAxisTitleY, color: Palette.text, scale: s)
        for tick in ActivityImage.portTicks {
            let ty = py + Int((ActivityImage.rowPosition(port: tick.port) * Double(style.cellHeight)).rounded())
            canvas.horizontalLine(x: px - 1 - 4, y: min(ty, py + layout.plotHeight), length: 4, color: Palette.tick)
            let labelY = min(max(ty - glyphHeight / 2, py - 1), py + layout.plotHeight + 1 - glyphHeight)
            let labelWidth = BitmapFont.width(of: tick.label, scale: s) - s
            canvas.drawText(tick.label, x: px - 1 - 4 - 2 - labelWidth, y: labelY, color: Palette.text, scale: s)
        }

        // Host axis: ticks under the middle of the host's column, labels centred under them.
        for tick in ActivityImage.hostTicks {
            let tx = px + tick.column * style.cellWidth + style.cellWidth / 2
            canvas.verticalLine(x: tx, y: py + layout.plotHeight + 1, length: 4, color: Palette.tick)
            let labelWidth = BitmapFont.width(of: tick.label, scale: s) - s
            canvas.drawText(tick.label, x: tx - labelWidth / 2, y: oy + layout.xTickLabelY, color: Palette.text, scale: s)
        }
        var y = oy + layout.xTitleY
        for line in layout.xTitleLines {
            let w = BitmapFont.width(of: line, scale: s) - s
            // Centred under the plot if it fits there, else under the whole panel.
            let centre = w <= layout.plotWidth ? px + layout.plotWidth / 2 : ox + layout.width / 2
            canvas.drawText(line, x: max(ox + layout.padding, centre - w / 2), y: y, color: Palette.text, scale: s)
            y += BitmapFont.lineHeight(scale: s) + 2
        }
    }
}

// MARK: - Legend

extension ActivityImage {
    /// Attempts-per-cell values marked on the legend's colour ramps.
    public static let legendCounts: [(label: String, count: Int)] = [("0", 0), ("1", 1), ("8", 8), ("64+", 64)]

    /// The tensor value of `count` attempts (or failed targets) in a cell: `log2(1 + n) / log2(65)`, capped at 1.
    public static func cellValue(attempts count: Int) -> Float {
        Float(min(1, log2(1 + Double(max(0, count))) / log2(1 + saturation)))
    }

    /// How to read the pictures, at most `width` pixels wide: a red and a green ramp for failed and
    /// answered attempts per cell (ticks at 0, 1, 8, 64+ on the tensor's log scale), the timing tint,
    /// the colour of a cell with both, and what the axes mean. Blocks flow left to right and wrap.
    public static func renderLegend(width: Int, style: RenderStyle = RenderStyle()) -> RGBImage {
        let s = style.textScale
        let cw = BitmapFont.cellWidth * s, lh = BitmapFont.lineHeight(scale: s)
        let rampWidth = min(max(60, width - 4 * cw), 160 * s)
        var blocks: [RGBImage] = []

        // Two ramps: attempts per cell, red for failed, green for answered.
        for (title, channel) in [("failed targets per cell", 0), ("answered attempts per cell", 1)] {
            let barHeight = 10 * s
            let overhang = BitmapFont.width(of: "64+", scale: s) / 2 + 1
            let w = max(BitmapFont.width(of: title, scale: s), rampWidth + overhang + 2)
            var block = RGBImage(width: w, height: lh + 3 + barHeight + 4 + 2 + lh, fill: Palette.page)
            block.drawText(title, x: 0, y: 0, color: Palette.text, scale: s)
            let barY = lh + 3
            for x in 0..<rampWidth {
                let v = Float(x) / Float(rampWidth - 1)
                let c = channel == 0 ? color(failed: v, answered: 0, timing: 0) : color(failed: 0, answered: v, timing: 0)
                block.verticalLine(x: x + 1, y: barY, length: barHeight, color: v == 0 ? .black : c)
            }
            block.strokeRect(x: 0, y: barY - 1, width: rampWidth + 2, height: barHeight + 2, color: Palette.frame)
            for mark in legendCounts {
                let tx = 1 + Int((cellValue(attempts: mark.count) * Float(rampWidth - 1)).rounded())
                block.verticalLine(x: tx, y: barY + barHeight + 1, length: 4, color: Palette.tick)
                let lw = BitmapFont.width(of: mark.label, scale: s) - s
                block.drawText(
                    mark.label, x: min(max(0, tx - lw / 2), w - lw), y: barY + barHeight + 1 + 4 + 2,
                    color: Palette.text, scale: s)
            }
            blocks.append(block)
        }

        // Timing: full red and full green, tinted from first-touched to last-touched.
        do {
            let title = "blue tint: when first touched"
            let barHeight = 6 * s
            let w = max(BitmapFont.width(of: title, scale: s), rampWidth + 2)
            var block = RGBImage(width: w, height: lh + 3 + 2 * barHeight + 1 + 4 + lh, fill: Palette.page)
            block.drawText(title, x: 0, y: 0, color: Palette.text, scale: s)
            let barY = lh + 3
            for x in 0..<rampWidth {
                let t = Float(0.1 + 0.9 * Double(x) / Double(rampWidth - 1))
                block.verticalLine(x: x + 1, y: barY, length: barHeight, color: color(failed: 1, answered: 0, timing: t))
                block.verticalLine(x: x + 1, y: barY + barHeight, length: barHeight, color: color(failed: 0, answered: 1, timing: t))
            }
            block.strokeRect(x: 0, y: barY - 1, width: rampWidth + 2, height: 2 * barHeight + 2, color: Palette.frame)
            let labelY = barY + 2 * barHeight + 1 + 4
            block.drawText("first", x: 0, y: labelY, color: Palette.text, scale: s)
            let last = "last"
            block.drawText(last, x: rampWidth + 2 - (BitmapFont.width(of: last, scale: s) - s), y: labelY, color: Palette.text, scale: s)
            blocks.append(block)
        }

        // Swatches: what a cell's colour says.
        do {
            let swatches: [(RGB, String)] = [
                (color(failed: 1, answered: 0, timing: 0.1), "failed"),
                (color(failed: 0, answered: 1, timing: 0.1), "answered"),
                (color(failed: 1, answered: 1, timing: 0.1), "both"),
                (.black, "none"),
            ]
            let box = 8 * s
            var x = 0
            var positions: [Int] = []
            for (_, name) in swatches {
                positions.append(x)
                x += box + 2 * s + 1 + BitmapFont.width(of: name, scale: s) + 2 * cw
            }
            let title = "cell colour"
            let w = max(BitmapFont.width(of: title, scale: s), x - 2 * cw)
            var block = RGBImage(width: w, height: lh + 3 + box + 2, fill: Palette.page)
            block.drawText(title, x: 0, y: 0, color: Palette.text, scale: s)
            for ((colour, name), x) in zip(swatches, positions) {
                block.fillRect(x: x, y: lh + 3, width: box, height: box, color: colour)
                block.strokeRect(x: x, y: lh + 3, width: box, height: box, color: Palette.frame)
                block.drawText(
                    name, x: x + box + 2 * s + 1, y: lh + 3 + (box - BitmapFont.glyphHeight * s) / 2,
                    color: Palette.text, scale: s)
            }
            blocks.append(block)
        }

        // How to read the axes.
        do {
            let notes = [
                "rows: dst port, 0-1023 in bins of 32, log scale above",
                "columns: dst hosts by first contact, 1-16 one each, then log",
                "vertical scan = a column, horizontal scan = a row",
                "red = failed, green = answered: a scraper is a green row",
            ]
            let maxCharacters = max(10, min(width, 64 * cw) / cw)
            let lines = notes.flatMap { TextLayout.wrap($0, maxCharacters: maxCharacters) }
            let w = lines.map { BitmapFont.width(of: $0, scale: s) }.max() ?? 0
            var block = RGBImage(width: w, height: lines.count * (lh + 2), fill: Palette.page)
            for (i, line) in lines.enumerated() {
                block.drawText(line, x: 0, y: i * (lh + 2), color: Palette.dim, scale: s)
            }
            blocks.append(block)
        }

        return TextLayout.flow(blocks, width: width, horizontalGap: 4 * cw, verticalGap: lh + 2, background: Palette.page)
    }
}

// MARK: - Grid

/// Where the tiles, title and legend of a grid go.
public struct GridLayout: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let columns: Int
    public let rows: Int
    public let tileWidth: Int
    public let tileHeight: Int
    public let titleLines: [String]
    public let titleScale: Int
    let margin: Int
    let gap: Int
    let tilesY: Int
    public let legendY: Int

    /// The top-left pixel of tile `index` (row-major).
    public func tileOrigin(_ index: Int) -> (x: Int, y: Int) {
        (margin + (index % columns) * (tileWidth + gap), tilesY + (index / columns) * (tileHeight + gap))
    }
}

extension ActivityImage {
    /// The layout of a grid of `count` tiles, `columns` to a row (clamped to 1...count), under an optional title.
    public static func gridLayout(count: Int, columns: Int, title: String? = nil, style: RenderStyle = RenderStyle()) -> GridLayout {
        let panel = panelLayout(style: style)
        let columns = max(1, min(columns, count))
        let rows = count == 0 ? 0 : (count + columns - 1) / columns
        let m = style.gridMargin, g = style.gridGap
        let width = max(2 * m + columns * panel.width + (columns - 1) * g, 2 * m + 200 * style.textScale)
        var titleLines: [String] = []
        var titleScale = style.textScale
        var y = m
        if let title, !title.isEmpty {
            let available = width - 2 * m
            if BitmapFont.width(of: title, scale: style.titleScale) <= available {
                titleScale = style.titleScale
                titleLines = [title]
            } else {
                titleLines = TextLayout.wrap(title, maxCharacters: available / (BitmapFont.cellWidth * titleScale))
            }
            y += titleLines.count * (BitmapFont.lineHeight(scale: titleScale) + 2) + g - 2
        }
        let tilesY = y
        y += rows * panel.height + max(0, rows - 1) * g
        let legendY = y + g
        let legend = renderLegend(width: width - 2 * m, style: style)
        return GridLayout(
            width: width, height: legendY + legend.height + m, columns: columns, rows: rows,
            tileWidth: panel.width, tileHeight: panel.height, titleLines: titleLines, titleScale: titleScale,
            margin: m, gap: g, tilesY: tilesY, legendY: legendY)
    }

    /// Activity images as tiles in a grid, `columns` to a row (clamped to 1...count), each with its
    /// title and axes (see ``renderPanel(label:style:legend:)``) and its label, under an optional
    /// `title`, with the legend (colour ramps for attempts per cell, timing tint, axes) at the bottom.
    public static func renderGrid(
        _ images: [(ActivityImage, String?)], columns: Int, title: String? = nil,
        style: RenderStyle = RenderStyle()
    ) -> RGBImage {
        let layout = gridLayout(count: images.count, columns: columns, title: title, style: style)
        let panel = panelLayout(style: style)
        var canvas = RGBImage(width: layout.width, height: layout.height, fill: Palette.page)
        var y = style.gridMargin
        for line in layout.titleLines {
            canvas.drawText(line, x: style.gridMargin, y: y, color: Palette.text, scale: layout.titleScale)
            y += BitmapFont.lineHeight(scale: layout.titleScale) + 2
        }
        let tileBackground = RGB(40, 40, 46)
        for (index, (image, label)) in images.enumerated() {
            let origin = layout.tileOrigin(index)
            canvas.fillRect(x: origin.x, y: origin.y, width: panel.width, height: panel.height, color: tileBackground)
            image.drawPanel(on: &canvas, x: origin.x, y: origin.y, label: label, layout: panel)
        }
        canvas.draw(renderLegend(width: layout.width - 2 * style.gridMargin, style: style), x: style.gridMargin, y: layout.legendY)
        return canvas
    }
}

// MARK: - Text helpers

enum TextLayout {
    /// Words of `text` in lines of at most `maxCharacters`; longer words are cut.
    static func wrap(_ text: String, maxCharacters: Int) -> [String] {
        let limit = max(1, maxCharacters)
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            var word = Substring(word)
            while word.count > limit {
                if !line.isEmpty {
                    lines.append(line)
                    line = ""
                }
                lines.append(String(word.prefix(limit)))
                word = word.dropFirst(limit)
            }
            if line.isEmpty {
                line = String(word)
            } else if line.count + 1 + word.count <= limit {
                line += " " + word
            } else {
                lines.append(line)
                line = String(word)
            }
        }
        if !line.isEmpty || lines.isEmpty { lines.append(line) }
        return lines
    }

    /// `text` cut to `maxCharacters`, ending in ".." when cut.
    static func fit(_ text: String, maxCharacters: Int) -> String {
        guard text.count > maxCharacters else { return text }
        guard maxCharacters > 2 else { return String(text.prefix(max(0, maxCharacters))) }
        return String(text.prefix(maxCharacters - 2)) + ".."
    }

    /// `part` of `whole` as a whole percentage that never rounds a few failures to 0% or all but a few to 100%.
    static func percent(_ part: Int, of whole: Int) -> String {
        guard whole > 0 else { return "0%" }
        let p = (Double(part) * 100 / Double(whole)).rounded()
        if part > 0 && p < 1 { return "<1%" }
        if part < whole && p > 99 { return ">99%" }
        return "\(Int(p))%"
    }

    /// `2026-11-22 08:00Z`, with seconds when they are not zero.
    static func utc(_ seconds: Double) -> String {
        seconds.isFinite ? CivilTime(seconds).short : "?"
    }

    /// Places `blocks` left to right, wrapping to a new line when the next would pass `width`.
    static func flow(_ blocks: [RGBImage], width: Int, horizontalGap: Int, verticalGap: Int, background: RGB) -> RGBImage {
        var positions: [(x: Int, y: Int)] = []
        var x = 0, y = 0, lineHeight = 0, used = 0
        for block in blocks {
            if x > 0 && x + block.width > width {
                x = 0
                y += lineHeight + verticalGap
                lineHeight = 0
            }
            positions.append((x, y))
            used = max(used, x + block.width)
            x += block.width + horizontalGap
            lineHeight = max(lineHeight, block.height)
        }
        var canvas = RGBImage(width: max(1, min(width, used)), height: max(1, y + lineHeight), fill: background)
        for (block, p) in zip(blocks, positions) { canvas.draw(block, x: p.x, y: p.y) }
        return canvas
    }
}
