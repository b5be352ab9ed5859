import FlowRecords

/// Addresses in the order they were appended, held in blocks of at most `blockSize` (16 KiB). One
/// array that doubles copies everything it holds at each doubling and may leave half its capacity
/// empty: as arrays, the window and expiry buckets of a million held sources took 30.6 MiB at their
/// peak for 15.3 MiB of addresses.
struct AddressBlocks: Sequence, ExpressibleByArrayLiteral {
    static let blockSize = 1024
    /// Every block but the last holds `blockSize` addresses; the last grows as an array does.
    private var blocks: [[IPAddress]] = []
    private(set) var count = 0

    init() {}

    init(_ addresses: some Sequence<IPAddress>) {
        for address in addresses { append(address) }
    }

    init(arrayLiteral addresses: IPAddress...) { self.init(addresses) }

    var isEmpty: Bool { count == 0 }
    var underestimatedCount: Int { count }

    mutating func append(_ address: IPAddress) {
        if blocks.isEmpty || blocks[blocks.count - 1].count == Self.blockSize { blocks.append([]) }
        blocks[blocks.count - 1].append(address)
        count += 1
    }

    func makeIterator() -> FlattenSequence<[[IPAddress]]>.Iterator { blocks.joined().makeIterator() }
}
