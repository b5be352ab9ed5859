import FlowRecords
import Foundation

/// One source's activity in one time window, as a fixed-shape Float32 tensor that a person can look
/// at and a CNN can learn from.
///
/// Layout: `channels × rows × columns` = 5 × 64 × 32, stored channel-major (CHW), row-major within a
/// channel, every value in 0...1.
///
/// - **Rows: destination port**, top to bottom. Rows 0-31 cover ports 0-1023 in bins of 32 ports
///   (row 0 = ports 0-31, row 2 = ports 64-95, ...), so well-known services are told apart; rows 32-63
///   cover ports 1024-65535 on a logarithmic scale (row 32 starts at 1024, row 63 ends at 65535).
/// - **Columns: destination host**, left to right in the order the source first contacted them:
///   the first 16 hosts get a column each, later ones share logarithmically wider columns (column 31
///   holds the 272nd host onwards). A vertical scan is a tall column at the left; a horizontal scan a
///   long row; a block scan a rectangle.
/// - **Channel 0, failed**: distinct targets (host and port) whose attempts were rejected or unanswered,
///   `log2(1+n)/log2(1+64)` capped at 1. Targets, not attempts: 31 ports refused once each (a scan)
///   and one port refused 31 times (a client retrying) fall in the same cell and must not look alike.
/// - **Channel 1, answered**: every other attempt (established, partial, other), same scale.
///   A scraper that succeeds against 50 hosts lights channel 1; a scan failing against 50 hosts, channel 0.
/// - **Channel 2, timing**: when the cell was first touched, relative to the source's own activity in
///   the window: `0.1 + 0.9 × (t − first) / max(last − first, 1 s)`; 0 for untouched cells. Because
///   time is relative, a scan that takes one second and one that takes an hour draw the same shape;
///   the timing channel shows how it unfolded.
/// - **Channel 3, port failure share**: in every touched cell, the share of its whole row that failed:
///   the row's distinct failed targets over those plus its answered attempts. **Channel 4, host failure
///   share**: the same over the cell's column. A cell's neighbours are pooled together early in the
///   network, so channels 0 and 1 alone draw an SMB sweep that found 5 hosts open and failed on 55 much
///   like a phone whose HTTPS reached 20 edges and failed on 5 (ports 443 and 445 share a row); these two
///   carry the proportion of the whole row and column into every cell.
public struct ActivityImage: Sendable, Equatable {
    public static let channels = 5
    public static let rows = 64
    public static let columns = 32
    public static let count = channels * rows * columns
    /// `[channels, rows, columns]`: an image's shape, as models and datasets record it.
    public static let shape = [channels, rows, columns]
    public static let channelNames = ["failed", "answered", "timing", "port-failure-share", "host-failure-share"]
    /// Bumped whenever the layout (port rows, host columns, channels, scaling) changes; model files
    /// record the layout they were trained on. 2: channel 0 counts distinct failed targets instead of
    /// failed attempts. 3: the two failure-share channels.
    public static let layoutVersion = 3
    /// Attempts per cell at which channels 0 and 1 saturate.
    public static let saturation = 64.0

    public let source: IPAddress
    /// Start of the window, Unix seconds.
    public let windowStart: Double
    public let windowLength: Double
    /// `channels × rows × columns` values, channel-major.
    public var pixels: [Float]
    public var flows: Int
    public var failedFlows: Int
    public var distinctPorts: Int
    public var distinctHosts: Int
    public var firstSeen: Double
    public var lastSeen: Double

    @inlinable public subscript(channel: Int, row: Int, column: Int) -> Float {
        pixels[(channel * ActivityImage.rows + row) * ActivityImage.columns + column]
    }

    /// The row of a destination port (see the type's documentation).
    @inlinable public static func row(port: UInt16) -> Int {
        if port < 1024 { return Int(port) >> 5 }
        return Int(highPortRows[Int(port) - 1024])
    }

    /// The row of each port from 1024 up, worked out once: a table lookup instead of a logarithm for
    /// every flow.
    @usableFromInline static let highPortRows: [UInt8] = (1024...65535).map { UInt8(logRow(port: $0)) }

    /// The row of a port from 1024 up: log(65536/1024) = log(64), 32 rows across six doublings.
    static func logRow(port: Int) -> Int {
        let position = log2(Double(port) / 1024) / 6
        return 32 + min(31, Int(position * 32))
    }

    /// The lowest port drawn in `row`.
    public static func firstPort(row: Int) -> Int {
        if row < 32 { return row << 5 }
        return Int((1024 * exp2(Double(row - 32) * 6 / 32)).rounded(.up))
    }

    /// The column of the `rank`-th distinct destination host (0-based, in order of first contact).
    @inlinable public static func column(rank: Int) -> Int {
        if rank < 16 { return rank }
        return 16 + min(15, Int(log2(Double(rank - 15)) * 15 / 8))
    }

    /// The lowest host rank drawn in `column`.
    public static func firstRank(column: Int) -> Int {
        if column <= 16 { return column }
        var rank = 16
        while ActivityImage.column(rank: rank) < column { rank += 1 }
        return rank
    }
}

/// Which windows an image model scores, and when a window still open is scored again: shared by
/// detection (the CNN judges open windows) and the datasets it is trained on, so that the model learns
/// from the partial images it will be shown.
///
/// The image of an open window is the image of its flows so far. It depends on those flows alone, not
/// on the window's length or on when the window will close (timing is relative to the flows' own first
/// and last start, counts are per cell), so it is the picture a whole window holding just those flows
/// would draw: a scan seen for its first minute looks like a one-minute scan.
public struct ImageSchedule: Sendable, Equatable {
    /// Windows with fewer distinct failed targets than this are not scored. Lower lets the model judge
    /// tinier scans (and scans whose probes mostly succeed), and scores more windows (slower).
    public var minimumFailedTargets = 3
    /// Windows where a smaller share of attempts failed are not scored. Lower lets the model judge scans
    /// of networks where many probed ports are open, and busy clients with a few failures.
    public var minimumFailedShare = 0.2
    /// Seconds of log time between scorings of open windows: they are scored when the log's clock
    /// passes a multiple of it. Shorter alerts sooner on scans only the model sees, and scores more.
    public var interval = 60.0
    /// The longest `interval` allowed: an open window is scored at least once a minute of log time
    /// while it grows.
    public static let maximumInterval = 60.0

    public init() {}

    /// Whether a window (open or closed) is drawn and scored at all: scans leave failures.
    @inlinable public func worthScoring(_ a: ActivityAccumulator) -> Bool {
        a.failedTargets.count >= minimumFailedTargets && Double(a.failedFlows) >= minimumFailedShare * Double(a.flows)
    }

    /// Whether an open window last scored when it held `scoredTargets` distinct failed targets (0: not
    /// scored yet) is worth scoring again: it passes `worthScoring` and its failed targets have grown by
    /// at least a quarter (and one) since. So a window is scored when it first passes, and then at most
    /// about log₁.₂₅ of its failed targets times, whatever its flows.
    @inlinable public func worthRescoring(_ a: ActivityAccumulator, scoredTargets: Int) -> Bool {
        let grown = scoredTargets == 0 || a.failedTargets.count >= scoredTargets + max(1, scoredTargets / 4)
        return grown && worthScoring(a)
    }
}

/// Accumulates flows into activity images, one per (source, window), and, given an `ImageSchedule`,
/// the images of open windows that detection would score before they close.
///
/// Windows are aligned to multiples of `window` seconds since the epoch. Memory grows with the
/// number of (source, window) pairs and the cells they touch, not with the number of flows.
public struct ActivityImager: Sendable {
    public let window: Double
    /// When set, a window is also imaged as it was each time the log's clock passed a multiple of the
    /// schedule's interval while it was open, when `worthRescoring` held (see `ImageSchedule`): the
    /// partial images the CNN judges. Taken when the source's next flow in the window arrives, so an
    /// open window's last state before it closes is left out (it is the whole window's image).
    public let openWindows: ImageSchedule?

    struct Key: Hashable, Sendable {
        var source: IPAddress
        var window: Int64
    }

    private var accumulators: [Key: ActivityAccumulator] = [:]
    /// Open-window images taken so far, with the log time they were taken at (a multiple of the
    /// schedule's interval).
    private var snapshots: [(key: Key, at: Double, activity: ActivityAccumulator)] = []
    /// Distinct failed targets of each window when it was last imaged open.
    private var scoredTargets: [Key: Int] = [:]

    /// - Parameter window: window length in seconds (default one hour, long enough for slow scans).
    /// - Parameter openWindows: also image open windows on this schedule (nil: whole windows only).
    public init(window: Double = 3600, openWindows: ImageSchedule? = nil) {
        precondition(window > 0, "window must be positive")
        precondition(openWindows.map { $0.interval > 0 } ?? true, "the schedule's interval must be positive")
        self.window = window
        self.openWindows = openWindows
    }

    /// Number of (source, window) pairs seen so far.
    public var imageCount: Int { accumulators.count }

    /// Number of open-window images taken so far.
    public var openImageCount: Int { snapshots.count }

    /// - Complexity: amortised O(1), plus a copy of the window's tables when it is imaged open.
    public mutating func add(_ r: FlowRecord) {
        let key = Key(source: r.source, window: Int64((r.start / window).rounded(.down)))
        if let schedule = openWindows, let open = accumulators[key] {
            let tick = (r.start / schedule.interval).rounded(.down)
            if tick > (open.lastSeen / schedule.interval).rounded(.down),
                schedule.worthRescoring(open, scoredTargets: scoredTargets[key] ?? 0)
            {
                snapshots.append((key, tick * schedule.interval, open))
                scoredTargets[key] = open.failedTargets.count
            }
        }
        // Mutated in place through the subscript: copying the accumulator out would copy its tables.
        accumulators[key, default: ActivityAccumulator()].add(r)
    }

    /// The images, ordered by window start, then by flow count (busiest first), then by address.
    public func images() -> [ActivityImage] {
        var all: [ActivityImage] = []
        all.reserveCapacity(accumulators.count)
        forEachImage { all.append($0) }
        return all
    }

    /// Renders the images one at a time, in the order of `images()`, so that a caller writing them out
    /// holds one image in memory, not all of them.
    public func forEachImage(_ body: (ActivityImage) throws -> Void) rethrows {
        let keys = accumulators.keys.sorted { a, b in
            if a.window != b.window { return a.window < b.window }
            let fa = accumulators[a]!.flows, fb = accumulators[b]!.flows
            return fa != fb ? fa > fb : a.source < b.source
        }
        for key in keys {
            try body(accumulators[key]!.image(source: key.source, windowStart: Double(key.window) * window, windowLength: window))
        }
    }

    /// Renders the open-window images one at a time, in the order they were taken, each with the log
    /// time it was taken at.
    public func forEachOpenImage(_ body: (ActivityImage, Double) throws -> Void) rethrows {
        for s in snapshots {
            try body(s.activity.image(source: s.key.source, windowStart: Double(s.key.window) * window, windowLength: window), s.at)
        }
    }
}

/// One source's flows in one window, gathered as they arrive: what its activity image and the
/// detectors need. Memory grows with the distinct hosts, ports and cells touched, not with flows.
public struct ActivityAccumulator: Sendable, Equatable {
    struct Cell: Sendable, Equatable {
        /// Distinct failed targets.
        var failed: UInt32 = 0
        /// Answered attempts.
        var answered: UInt32 = 0
        var first: Double = .infinity

        mutating func add(at t: Double, failed failure: Bool, newTarget: Bool) {
            if !failure { answered &+= 1 } else if newTarget { failed &+= 1 }
            first = min(first, t)
        }
    }

    /// Destination hosts and their rank in order of first contact.
    public internal(set) var hosts: [IPAddress: Int] = [:]
    public internal(set) var ports: Set<UInt16> = []
    /// Host rank and port of every failed attempt (rank << 16 | port).
    public internal(set) var failedTargets: Set<UInt64> = []
    var cells: [Int32: Cell] = [:]
    public internal(set) var flows = 0
    public internal(set) var failedFlows = 0
    public internal(set) var firstSeen = Double.infinity
    public internal(set) var lastSeen = -Double.infinity
    /// Ports on which an attempt was answered (the source found them open).
    public internal(set) var answeredPorts: Set<UInt16> = []
    /// The earliest flow, and the latest (the last to arrive of those that started last).
    public internal(set) var firstFlow: FlowKey?
    public internal(set) var lastFlow: FlowKey?
    /// The transport's number while every flow had the same; `noTransport` before the first flow,
    /// `mixedTransports` once two differed.
    public internal(set) var soleTransport = ActivityAccumulator.noTransport
    public static let noTransport: UInt16 = 0x100, mixedTransports: UInt16 = 0x200

    /// The transport of every flow gathered, when they all had the same.
    public var transport: Transport? { Self.transport(soleTransport) }

    public static func transport(_ sole: UInt16) -> Transport? { sole < noTransport ? Transport(rawValue: UInt8(sole)) : nil }

    /// `sole` (as `soleTransport`) after flows whose own is `other`.
    public static func merge(_ sole: UInt16, _ other: UInt16) -> UInt16 {
        if other == noTransport || sole == other { return sole }
        return sole == noTransport ? other : mixedTransports
    }

    public init() {}

    /// - Returns: the rank of the flow's destination host in the window.
    /// - Complexity: amortised O(1).
    @discardableResult
    public mutating func add(_ r: FlowRecord) -> Int {
        let rank: Int
        if let known = hosts[r.destination] {
            rank = known
        } else {
            rank = hosts.count
            hosts[r.destination] = rank
        }
        ports.insert(r.destinationPort)
        let index = Int32(ActivityImage.row(port: r.destinationPort) * ActivityImage.columns + ActivityImage.column(rank: rank))
        let failure = r.outcome.isFailure
        let newTarget = failure && failedTargets.insert(UInt64(rank) << 16 | UInt64(r.destinationPort)).inserted
        cells[index, default: Cell()].add(at: r.start, failed: failure, newTarget: newTarget)
        if failure { failedFlows += 1 } else { answeredPorts.insert(r.destinationPort) }
        flows += 1
        if r.start < firstSeen {
            firstSeen = r.start
            firstFlow = FlowKey(r)
        }
        if r.start >= lastSeen {
            lastSeen = r.start
            lastFlow = FlowKey(r)
        }
        soleTransport = Self.merge(soleTransport, UInt16(r.transport.rawValue))
        return rank
    }

    /// The activity image of what was gathered.
    public func image(source: IPAddress, windowStart: Double, windowLength: Double) -> ActivityImage {
        var pixels = [Float](repeating: 0, count: ActivityImage.count)
        pixels.withUnsafeMutableBufferPointer { render(into: $0) }
        return ActivityImage(
            source: source, windowStart: windowStart, windowLength: windowLength, pixels: pixels,
            flows: flows, failedFlows: failedFlows, distinctPorts: ports.count, distinctHosts: hosts.count,
            firstSeen: firstSeen, lastSeen: lastSeen)
    }

    /// Writes the image's pixels (`ActivityImage.count`, channel by channel) into `pixels`, which
    /// must hold zeros: only the touched cells are written. What `image` holds, without an image
    /// of its own for a caller that gathers many (the CNN detector's batches).
    public func render(into pixels: UnsafeMutableBufferPointer<Float>) {
        precondition(pixels.count == ActivityImage.count, "an activity image has \(ActivityImage.count) pixels, not \(pixels.count)")
        let plane = ActivityImage.rows * ActivityImage.columns
        let scale = 1 / log2(1 + ActivityImage.saturation)
        let span = max(lastSeen - firstSeen, 1)
        // Failed targets and answered attempts per port row and per host column, for the share channels.
        var rowFailed = [Double](repeating: 0, count: ActivityImage.rows), rowAll = rowFailed
        var columnFailed = [Double](repeating: 0, count: ActivityImage.columns), columnAll = columnFailed
        for (index, cell) in cells {
            let row = Int(index) / ActivityImage.columns, column = Int(index) % ActivityImage.columns
            let failed = Double(cell.failed), all = failed + Double(cell.answered)
            rowFailed[row] += failed
            rowAll[row] += all
            columnFailed[column] += failed
            columnAll[column] += all
        }
        for (index, cell) in cells {
            let i = Int(index), row = i / ActivityImage.columns, column = i % ActivityImage.columns
            pixels[i] = Float(min(1, log2(1 + Double(cell.failed)) * scale))
            pixels[plane + i] = Float(min(1, log2(1 + Double(cell.answered)) * scale))
            pixels[2 * plane + i] = Float(0.1 + 0.9 * min(1, (cell.first - firstSeen) / span))
            // Every cell counts a failed target or an answered attempt (a target's repeated failures
            // fall in the cell of its first), so a touched row or column has a total above zero.
            pixels[3 * plane + i] = rowAll[row] > 0 ? Float(rowFailed[row] / rowAll[row]) : 0
            pixels[4 * plane + i] = columnAll[column] > 0 ? Float(columnFailed[column] / columnAll[column]) : 0
        }
    }
}
