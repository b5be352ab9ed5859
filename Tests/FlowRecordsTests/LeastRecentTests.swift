import Testing

@testable import Support

/// `leastRecent` picks what sorting the whole table would, in the same order, whatever the times'
/// order and ties; `kthSmallest` is the sorted array's element.
@Suite struct LeastRecentTests {
    /// Orders that break naive selections: sorted, reversed, all equal, few distinct values, organ pipe,
    /// and pseudo-random.
    static func orders(_ n: Int) -> [[Double]] {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return seed >> 33
        }
        let ascending = (0..<n).map(Double.init)
        return [
            ascending, ascending.reversed(), [Double](repeating: 7, count: n), (0..<n).map { Double($0 % 3) },
            (0..<n).map { Double(min($0, n - $0)) }, (0..<n).map { _ in Double(next() % 1000) },
        ]
    }

    @Test(arguments: [1, 2, 3, 10, 257, 4096])
    func theSameAsSortingEverything(n: Int) {
        for times in Self.orders(n) {
            let entries = times.enumerated().map { (time: $0.element, key: ($0.offset &* 7919) % n) }
            let sorted = entries.sorted { $0.time != $1.time ? $0.time < $1.time : $0.key < $1.key }
            for count in Set([0, 1, n / 10, n / 2, n - 1, n, n + 5]) where count >= 0 {
                let picked = leastRecent(entries, count: count)
                #expect(picked.map(\.key) == sorted.prefix(count).map(\.key), "n \(n), count \(count)")
                #expect(picked.map(\.time) == sorted.prefix(count).map(\.time))
            }
            for k in Set([0, n / 3, n - 1]) {
                var values = times
                #expect(kthSmallest(&values, k) == times.sorted()[k])
                #expect(values.sorted() == times.sorted())
            }
        }
    }
}
