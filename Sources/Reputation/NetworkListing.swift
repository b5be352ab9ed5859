import FlowRecords
import Foundation
import Neural

/// How many entries of a reference blocklist lie near an address: in its /24, /22, /20 and /16
/// (`train ip --network-listing`, the `network_listing` feature). Attackers cluster: the networks
/// around a listed address hold more listed addresses, while the service networks people use every
/// day hold next to none, even inside a hoster whose record as a whole is poor. That tells apart
/// what the AS's record (`ASListing`) cannot: a clean web server in a busy hoster.
///
/// IPv4 only; an IPv6 address reads as unknown. Each entry counts once, an address or a block (by its
/// first address), in its /24. Entries that are rows of the training data are not counted, so a
/// row's own label never reaches its features. The table travels in the model file, so scoring
/// needs no list.
public struct NetworkListing: ListingTable {
    /// What the model card and explanations call the list (its file name).
    public var name: String
    public var sha256: String
    /// The /24 networks holding at least one entry, as the top 24 bits of their address, ascending.
    public private(set) var networks: [UInt32]
    /// `totals[i]` is the entries of `networks[0..<i]`, so that any wider network's count is one
    /// difference (`totals.count == networks.count + 1`).
    private var totals: [Int]

    /// The widths counted around an address, narrowest first; the feature has a column for each.
    public static let prefixLengths = [24, 22, 20, 16]
    /// Most entries one /24 may count in a model file: every address of it.
    public static let maximumCount = 256
    /// Most /24 networks a table in a model file may hold (2^24 exist).
    public static let maximumNetworks = 1 << 24

    /// A table from counts by /24 (keys are the top 24 bits of the network's address). Counts above
    /// `maximumCount` are capped; networks counting none are left out.
    public init(name: String, sha256: String, counts: [UInt32: Int]) {
        self.name = name
        self.sha256 = sha256
        let sorted = counts.filter { $0.value > 0 && $0.key < 1 << 24 }.sorted { $0.key < $1.key }
        networks = sorted.map(\.key)
        totals = [0]
        totals.reserveCapacity(sorted.count + 1)
        for (_, count) in sorted { totals.append(totals.last! + min(count, NetworkListing.maximumCount)) }
    }

    /// Entries counted in all.
    public var counted: Int { totals.last! }

    /// The entries in the /`length` network around `address` (`length` 8…24); nil for IPv6.
    public func count(around address: IPAddress, length: Int) -> Int? {
        guard let v4 = address.ipv4 else { return nil }
        precondition((8...24).contains(length), "a network of /8 to /24")
        let shift = UInt32(24 - length)
        let first = ((v4 >> 8) >> shift) << shift
        return totals[lowerBound(first + (1 << shift))] - totals[lowerBound(first)]
    }

    /// The entries around `address` at each of `prefixLengths`; nil for IPv6.
    public func counts(around address: IPAddress) -> [Int]? {
        guard address.isIPv4 else { return nil }
        return NetworkListing.prefixLengths.map { count(around: address, length: $0)! }
    }

    /// The first index whose network is at or above `network`.
    private func lowerBound(_ network: UInt32) -> Int {
        var low = 0, high = networks.count
        while low < high {
            let mid = (low + high) / 2
            if networks[mid] < network { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// What counting a list left out, for the model card's notes.
    public struct Tally: Sendable, Equatable {
        public var entries = 0
        public var trainingRows = 0
        public var ipv6 = 0
    }

    /// Counts `list`'s IPv4 entries by /24, leaving out the addresses in `excluding` (the training rows).
    public static func count(_ list: AddressList, sha256: String, excluding: Set<IPAddress>) -> (listing: NetworkListing, tally: Tally) {
        var byNetwork: [UInt32: Int] = [:]
        var tally = Tally()
        for entry in list.entries {
            tally.entries += 1
            let address = entry.block.address
            if entry.block.hostBits == 0 && excluding.contains(address) { tally.trainingRows += 1; continue }
            guard let v4 = address.ipv4 else { tally.ipv6 += 1; continue }
            byNetwork[v4 >> 8, default: 0] += 1
        }
        let name = URL(fileURLWithPath: list.name).lastPathComponent
        return (NetworkListing(name: name, sha256: sha256, counts: byNetwork), tally)
    }

    /// How the counts read in an explanation: `3 entries of ipsum-1.txt in its /24, 3 in its /22, 9 in
    /// its /20, 40 in its /16`.
    public func describe(_ address: IPAddress) -> String {
        guard let counts = counts(around: address) else { return "unknown (IPv6)" }
        let widths = NetworkListing.prefixLengths
        let wider = zip(widths, counts).dropFirst().map { "\($1) in its /\($0)" }
        return (["\(counts[0]) entries of \(name) in its /\(widths[0])"] + wider).joined(separator: ", ")
    }

    // MARK: - Model file

    /// What the model file's metadata holds beside the table.
    struct Header: Codable {
        var name: String
        var sha256: String
        var counted: Int
        var networks: Int
    }

    static let tensorName = "network_listing.table"
    static let feature = "network_listing"

    /// The table as one float32 tensor of rows (the /24's top 24 bits, its count): every value an
    /// integer below 2^24, which float32 holds exactly.
    var tensor: Tensor {
        var scalars = ContiguousArray<Float>()
        scalars.reserveCapacity(networks.count * 2)
        for (i, network) in networks.enumerated() {
            scalars.append(Float(network))
            scalars.append(Float(totals[i + 1] - totals[i]))
        }
        return Tensor(shape: [networks.count, 2], scalars: scalars)
    }

    var header: Header { Header(name: name, sha256: sha256, counted: counted, networks: networks.count) }

    /// Reads the table back, or says why it cannot: a value that is not an integer in range,
    /// networks not strictly ascending, a header that does not describe the table.
    static func read(_ tensor: Tensor, header: Header) -> Result<NetworkListing, ReputationDataError> {
        func fail(_ reason: String) -> Result<NetworkListing, ReputationDataError> { .failure(ReputationDataError(reason)) }
        let rows = tensor.shape.rank == 2 && tensor.shape.dimensions[1] == 2 ? tensor.shape.dimensions[0] : -1
        guard rows >= 0, rows <= maximumNetworks else { return fail("its network listing is not a table of at most \(maximumNetworks) rows of two") }
        guard header.networks == rows else { return fail("its network listing's header does not describe its table") }
        var listing = NetworkListing(name: header.name, sha256: header.sha256, counts: [:])
        listing.networks.reserveCapacity(rows)
        listing.totals.reserveCapacity(rows + 1)
        let s = tensor.scalars
        for r in 0..<rows {
            let network = s[2 * r], count = s[2 * r + 1]
            guard network == network.rounded(), network >= 0, network < Float(1 << 24), count == count.rounded(), count >= 1,
                count <= Float(maximumCount)
            else {
                return fail("its network listing holds (\(network), \(count)) in row \(r), not a /24 and a count")
            }
            let n = UInt32(network)
            if let last = listing.networks.last, n <= last { return fail("its network listing is not in ascending order at row \(r)") }
            listing.networks.append(n)
            listing.totals.append(listing.totals.last! + Int(count))
        }
        guard listing.counted == header.counted else { return fail("its network listing's header does not describe its table") }
        return .success(listing)
    }
}
