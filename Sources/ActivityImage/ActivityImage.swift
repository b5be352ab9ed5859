import FlowRecords
import Foundation

/// One source's activity in one time window, as a fixed-shape Float32 tensor that a person can look
/// at and a CNN can learn from.
///
/// Layout: `channels × rows × columns` = 3 × 64 × 32, stored channel-major (CHW), row-major within a
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
public struct ActivityImage: Sendable, Equatable {
    public static let channels = 3
    public static let rows = 64
    public static let columns = 32
    public static let count = channels * rows * columns
    public static let channelNames = ["failed", "answered", "timing"]
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
        // log(65536/1024) = log(64): 32 rows across six doublings.
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

/// Accumulates flows into activity images, one per (source, window).
///
/// Windows are aligned to multiples of `window` seconds since the epoch. Memory grows with the
/// number of (source, window) pairs and the cells they touch, not with the number of flows.
public struct ActivityImager: Sendable {
    public let window: Double

    struct Key: Hashable, Sendable {
        var source: IPAddress
        var window: Int64
    }

    private var accumulators: [Key: ActivityAccumulator] = [:]

    /// - Parameter window: window length in seconds (default one hour, long enough for slow scans).
    public init(window: Double = 3600) {
        precondition(window > 0, "window must be positive")
        self.window = window
    }

    /// Number of (source, window) pairs seen so far.
    public var imageCount: Int { accumulators.count }

    /// - Complexity: amortised O(1).
    public mutating func add(_ r: FlowRecord) {
        let key = Key(source: r.source, window: Int64((r.start / window).rounded(.down)))
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
        if failure { failedFlows += 1 }
        flows += 1
        firstSeen = min(firstSeen, r.start)
        lastSeen = max(lastSeen, r.start)
        return rank
    }

    /// The activity image of what was gathered.
    public func image(source: IPAddress, windowStart: Double, windowLength: Double) -> ActivityImage {
        var pixels = [Float](repeating: 0, count: ActivityImage.count)
        let plane = ActivityImage.rows * ActivityImage.columns
        let scale = 1 / log2(1 + ActivityImage.saturation)
        let span = max(lastSeen - firstSeen, 1)
        for (index, cell) in cells {
            let i = Int(index)
            pixels[i] = Float(min(1, log2(1 + Double(cell.failed)) * scale))
            pixels[plane + i] = Float(min(1, log2(1 + Double(cell.answered)) * scale))
            pixels[2 * plane + i] = Float(0.1 + 0.9 * min(1, (cell.first - firstSeen) / span))
        }
        return ActivityImage(
            source: source, windowStart: windowStart, windowLength: windowLength, pixels: pixels,
            flows: flows, failedFlows: failedFlows, distinctPorts: ports.count, distinctHosts: hosts.count,
            firstSeen: firstSeen, lastSeen: lastSeen)
    }
}
