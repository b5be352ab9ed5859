import FlowRecords
import Testing

@testable import Detection

/// The buckets' address lists: the addresses come back in the order they went in, across blocks.
@Suite struct AddressBlocksTests {
    static func address(_ i: Int) -> IPAddress { IPAddress(high: UInt64(i) &* 0x9E37_79B9, low: UInt64(i)) }

    @Test(arguments: [0, 1, AddressBlocks.blockSize - 1, AddressBlocks.blockSize, AddressBlocks.blockSize + 1, 3 * AddressBlocks.blockSize + 17])
    func keepsTheOrderAcrossBlocks(count: Int) {
        let expected = (0..<count).map(Self.address)
        var blocks = AddressBlocks()
        for a in expected { blocks.append(a) }
        #expect(blocks.count == count)
        #expect(blocks.isEmpty == (count == 0))
        #expect(Array(blocks) == expected)
        #expect(Array(AddressBlocks(expected)) == expected)
    }

    @Test func aLiteralHoldsItsAddresses() {
        let blocks: AddressBlocks = [Self.address(2), Self.address(1)]
        #expect(Array(blocks) == [Self.address(2), Self.address(1)])
        #expect(blocks.count == 2)
    }
}
