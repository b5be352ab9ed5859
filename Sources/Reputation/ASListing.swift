import Enrichment
import FlowRecords
import Foundation
import Neural

/// A reference blocklist's counts that a model file carries for one feature (`ASListing`,
/// `NetworkListing`): a float32 tensor of exact integers, a JSON header under the feature's name in
/// the metadata, and a reader that checks every value.
protocol ListingTable: Sendable, Equatable {
    associatedtype Header: Codable
    /// The tensor's name in the model file.
    static var tensorName: String { get }
    /// The feature's name, which is also the header's key in the metadata.
    static var feature: String { get }
    var tensor: Tensor { get }
    var header: Header { get }
    static func read(_ tensor: Tensor, header: Header) -> Result<Self, ReputationDataError>
}

/// How many entries of a reference blocklist fall in each autonomous system: an operator's record,
/// which carries over to its addresses that no list names and to operators a model never saw in
/// training (`train ip --as-listing`, the `as_listing` feature). An abusive hoster's networks are
/// dense with listed addresses; a content network's or a transit carrier's are not.
///
/// Each entry counts once, an address or a block (by its first address), in the AS the address
/// databases place it in. Entries that are rows of the training data are not counted, so a row's
/// own label never reaches its features: the count says what is known of the AS besides the row.
/// The table travels in the model file, so scoring needs no list.
public struct ASListing: ListingTable {
    /// What the model card and explanations call the list (its file name).
    public var name: String
    public var sha256: String
    /// Entries counted (in an AS and not a training row).
    public var counted: Int
    /// AS numbers, ascending, each with at least one entry.
    public private(set) var asns: [UInt32]
    public private(set) var counts: [UInt32]

    /// Most entries one AS may count (what a float32 in the model file holds exactly).
    public static let maximumCount: UInt32 = (1 << 24) - 1
    /// Most ASes a table in a model file may hold (about 120,000 are allocated).
    public static let maximumASes = 1 << 20

    /// A table from counts by AS. Counts above `maximumCount` are capped.
    public init(name: String, sha256: String, counts byASN: [UInt32: Int]) {
        self.name = name
        self.sha256 = sha256
        let sorted = byASN.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        asns = sorted.map(\.key)
        counts = sorted.map { UInt32(min($0.value, Int(ASListing.maximumCount))) }
        counted = byASN.values.reduce(0) { $0 + max(0, $1) }
    }

    /// The entries of `asn` (0 for an AS the list does not name).
    public func count(of asn: UInt32) -> Int {
        var low = 0, high = asns.count
        while low < high {
            let mid = (low + high) / 2
            if asns[mid] < asn { low = mid + 1 } else { high = mid }
        }
        return low < asns.count && asns[low] == asn ? Int(counts[low]) : 0
    }

    /// What counting a list left out, for the model card's notes.
    public struct Tally: Sendable, Equatable {
        public var entries = 0
        public var trainingRows = 0
        public var withoutAS = 0
    }

    /// Counts `list`'s entries by the AS `intelligence` places each in, leaving out the addresses in
    /// `excluding` (the training rows).
    public static func count(
        _ list: AddressList, sha256: String, excluding: Set<IPAddress>, intelligence: IntelligenceSetup
    ) throws -> (listing: ASListing, tally: Tally) {
        var byASN: [UInt32: Int] = [:]
        var tally = Tally()
        for entry in list.entries {
            tally.entries += 1
            let address = entry.block.address
            if entry.block.hostBits == 0 && excluding.contains(address) { tally.trainingRows += 1; continue }
            guard let asn = try intelligence.source.facts(for: address).asn else { tally.withoutAS += 1; continue }
            byASN[asn, default: 0] += 1
        }
        let name = URL(fileURLWithPath: list.name).lastPathComponent
        return (ASListing(name: name, sha256: sha256, counts: byASN), tally)
    }

    // MARK: - Model file

    /// What the model file's metadata holds beside the table.
    struct Header: Codable {
        var name: String
        var sha256: String
        var counted: Int
        var ases: Int
    }

    static let tensorName = "as_listing.table"
    static let feature = "as_listing"

    /// The table as one float32 tensor of rows (AS number's high 16 bits, low 16 bits, count): every
    /// value an integer below 2^24, which float32 holds exactly.
    var tensor: Tensor {
        var scalars = ContiguousArray<Float>()
        scalars.reserveCapacity(asns.count * 3)
        for (asn, count) in zip(asns, counts) {
            scalars.append(Float(asn >> 16))
            scalars.append(Float(asn & 0xFFFF))
            scalars.append(Float(count))
        }
        return Tensor(shape: [asns.count, 3], scalars: scalars)
    }

    var header: Header { Header(name: name, sha256: sha256, counted: counted, ases: asns.count) }

    /// Reads the table back, or says why it cannot: a value that is not an integer in range, AS
    /// numbers not strictly ascending, a header that does not describe the table.
    static func read(_ tensor: Tensor, header: Header) -> Result<ASListing, ReputationDataError> {
        func fail(_ reason: String) -> Result<ASListing, ReputationDataError> { .failure(ReputationDataError(reason)) }
        let rows = tensor.shape.rank == 2 && tensor.shape.dimensions[1] == 3 ? tensor.shape.dimensions[0] : -1
        guard rows >= 0, rows <= maximumASes else { return fail("its AS listing is not a table of at most \(maximumASes) rows of three") }
        guard header.ases == rows, header.counted >= 0 else { return fail("its AS listing's header does not describe its table") }
        var listing = ASListing(name: header.name, sha256: header.sha256, counts: [:])
        listing.counted = header.counted
        listing.asns.reserveCapacity(rows)
        listing.counts.reserveCapacity(rows)
        let s = tensor.scalars
        for r in 0..<rows {
            let high = s[3 * r], low = s[3 * r + 1], count = s[3 * r + 2]
            guard [high, low, count].allSatisfy({ $0 == $0.rounded() && $0 >= 0 }), high <= 0xFFFF, low <= 0xFFFF, count >= 1,
                count <= Float(maximumCount)
            else {
                return fail("its AS listing holds (\(high), \(low), \(count)) in row \(r), not an AS number and a count")
            }
            let asn = UInt32(high) << 16 | UInt32(low)
            if let last = listing.asns.last, asn <= last { return fail("its AS listing is not in ascending order of AS number at row \(r)") }
            listing.asns.append(asn)
            listing.counts.append(UInt32(count))
        }
        return .success(listing)
    }
}
