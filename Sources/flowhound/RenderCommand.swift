import ActivityImage
import ArgumentParser
import Detection
import FlowRecords
import Foundation
import Support

/// `flowhound render`: activity images as a PNG a person can look at.
struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw sources' activity images (ports × hosts, per time window) as a PNG.",
        discussion: """
            Each tile is one source's activity in one time window: the 64 × 32 picture
            (ports × hosts) that Flowhound's detector learns from.

            Rows: destination port, 0 at the top. Ports 0-1023 in bins of 32 (ticks 0, 256,
            512, 768), then a log scale from 1024 to 65535 (ticks 4k, 16k, 65535).
            Columns: destination hosts, left to right in the order the source first
            contacted them. Hosts 1-16 get a column each, later hosts share wider and
            wider columns; the last column holds host 272 onwards.
            Colours: red = failed attempts (rejected or unanswered) in the cell, green =
            answered attempts, yellow = both, black = none. Brightness grows with the
            number of attempts on a log scale: 1 attempt is dim, 64 or more full.
            A faint blue tint shows when the cell was first touched in the window: none
            for the source's first attempts, most (pink on red, aqua on green) for its last.

            So a vertical scan (many ports, one host) is a column at the left edge, a
            horizontal scan (one port, many hosts) is a row, and a scraper answered by
            many hosts is a green row where a scan would be red. Each tile's title gives
            the source, its --truth label, flows and failed share, distinct ports and
            hosts, and the window start (UTC) and length. A legend is drawn at the bottom.

            --source draws every window of one source (a single panel if it has one
            window); --top draws the N images with the most flows in a grid, busiest first.

            Examples:
              flowhound render conn.log.gz --top 12 -o busiest.png
              flowhound render flows.csv --top 11 --truth truth.csv -o grid.png
              flowhound render conn.log --source 192.0.2.7 --window 600 -o scanner.png
            """)

    @OptionGroup var input: InputOptions

    @Option(help: ArgumentHelp("Draw every window of this source address.", valueName: "ip"))
    var source: String?

    @Option(help: ArgumentHelp("Draw the N images with the most flows.", valueName: "n"))
    var top: Int?

    @Option(name: .shortAndLong, help: ArgumentHelp("PNG file to write.", valueName: "png"))
    var output: String

    @Option(help: ArgumentHelp("Window length (1h, 600s or seconds); windows are aligned to multiples of it (UTC).", valueName: "duration"))
    var window = Duration(seconds: 3600)

    @Option(
        help: ArgumentHelp(
            "Ground-truth CSV with header 'source,label,kind': tiles of listed sources get 'label/kind' in their title.",
            valueName: "csv"))
    var truth: String?

    @Flag(help: "With --top N and --truth: draw the busiest image of each kind in the truth file (at most N).")
    var onePerKind = false

    @Option(help: ArgumentHelp("Tiles per row of the grid (default: enough for a landscape picture).", valueName: "n"))
    var columns: Int?

    func validate() throws {
        switch (source, top) {
        case (nil, nil): throw ValidationError("give --source IP or --top N")
        case (.some, .some): throw ValidationError("give either --source or --top, not both")
        default: break
        }
        if let top { try OptionCheck.require(top, "--top", in: 1...1_000_000) }
        if let source, IPAddress(source) == nil {
            throw ValidationError("--source '\(source)' is not an IPv4 or IPv6 address")
        }
        try OptionCheck.require(window.seconds, "--window", in: ScanModel.InputSpec.windowRange, unit: "seconds")
        if let columns { try OptionCheck.require(columns, "--columns", in: 1...1_000) }
        if onePerKind && (top == nil || truth == nil) { throw ValidationError("--one-per-kind needs --top N and --truth") }
        if output.isEmpty || output == "-" { throw ValidationError("-o needs a file name (the PNG is binary)") }
    }

    func run() throws {
        try Diagnostics.run {
            let labels = try truth.map(Self.titles) ?? [:]
            let wanted = source.flatMap { IPAddress($0) }
            var imager = ActivityImager(window: window.seconds)
            var sources = Set<IPAddress>()
            let summaries = try input.readAll { record in
                if let wanted {
                    sources.insert(record.source)
                    if record.source == wanted { imager.add(record) }
                } else {
                    imager.add(record)
                }
            }
            let records = summaries.reduce(0) { $0 + $1.records }
            let all = imager.images()
            if wanted == nil { sources = Set(all.map(\.source)) }
            let windowText = CivilTime.durationText(window.seconds)

            let chosen: [ActivityImage]
            let title: String
            if let wanted {
                chosen = all  // only that source was added; in window order
                guard !chosen.isEmpty else {
                    Diagnostics.error(
                        "source \(wanted) not found in the logs (\(records) record\(records == 1 ? "" : "s") from \(sources.count) source\(sources.count == 1 ? "" : "s"))"
                    )
                    throw ExitCode.failure
                }
                title = "\(wanted): \(chosen.count) window\(chosen.count == 1 ? "" : "s") of \(windowText)"
            } else {
                guard !all.isEmpty else {
                    Diagnostics.error("no flows in the logs (\(records) records), nothing to draw")
                    throw ExitCode.failure
                }
                let n = top ?? 1
                var ranked = all.sorted {
                    $0.flows != $1.flows
                        ? $0.flows > $1.flows
                        : $0.windowStart != $1.windowStart ? $0.windowStart < $1.windowStart : $0.source < $1.source
                }
                if onePerKind {
                    // The busiest image of each kind: scans first, then benign, each by name.
                    var seen = Set<String>()
                    ranked = ranked.filter { labels[$0.source].map { seen.insert($0).inserted } ?? false }
                        .sorted {
                            let a = labels[$0.source]!, b = labels[$1.source]!
                            return (a.hasPrefix("scan") ? 0 : 1, a) < (b.hasPrefix("scan") ? 0 : 1, b)
                        }
                }
                chosen = Array(ranked.prefix(n))
                if chosen.count < n && !onePerKind {
                    Diagnostics.note("only \(all.count) image\(all.count == 1 ? "" : "s") (source × \(windowText) window) in the logs; drawing all")
                }
                title =
                    onePerKind
                    ? "the busiest image of each of \(chosen.count) kinds, of \(all.count) images (one per source and \(windowText) window)"
                    : "top \(chosen.count) of \(all.count) images by flows (one per source and \(windowText) window), from \(sources.count) source\(sources.count == 1 ? "" : "s")"
            }

            let tiles = chosen.map { ($0, truth == nil ? nil : labels[$0.source] ?? "unlabelled") }
            let picture: RGBImage
            if tiles.count == 1 {
                picture = tiles[0].0.renderPanel(label: tiles[0].1, legend: true)
            } else {
                picture = ActivityImage.renderGrid(tiles, columns: columns ?? Self.defaultColumns(tiles.count), title: title)
            }
            try picture.writePNG(toFile: output)
            let unlabelled = truth == nil ? 0 : chosen.filter { labels[$0.source] == nil }.count
            Diagnostics.note(
                "wrote \(output) (\(tiles.count) tile\(tiles.count == 1 ? "" : "s"), \(picture.width)×\(picture.height))"
                    + (unlabelled > 0 ? "; \(unlabelled) source\(unlabelled == 1 ? "" : "s") not in the truth file" : ""))
        }
    }

    /// Enough columns that the grid is wider than tall (tiles are about 1:2).
    static func defaultColumns(_ count: Int) -> Int {
        max(1, min(count, Int((Double(count) * 2.5).squareRoot().rounded(.up))))
    }

    /// "label/kind" per source of a ground-truth file.
    static func titles(_ path: String) throws -> [IPAddress: String] {
        let truth = try GroundTruth.load(path: path)
        return truth.entries.mapValues { $0.kind == $0.label ? $0.label : "\($0.label)/\($0.kind)" }
    }
}
