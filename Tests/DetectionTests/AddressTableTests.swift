import FlowRecords
import Testing

@testable import Detection

/// The held first flows' table: it behaves as a dictionary through growth, removals that shift keys
/// back, in-place changes and iteration, for IPv4 and IPv6 keys alike.
@Suite struct AddressTableTests {
    /// A small deterministic generator, so that a failure can be replayed.
    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Keys from a few thousand, IPv4 and IPv6, so that keys are reused, removed and added again.
    static func key(_ n: UInt64) -> IPAddress {
        n % 5 == 0 ? IPAddress(high: 0x2001_0DB8_0000_0000 | (n & 0xFFFF), low: n) : IPAddress(ipv4: UInt32(truncatingIfNeeded: 0x0A00_0000 &+ n))
    }

    @Test func behavesAsADictionaryThroughGrowthAndRemovals() {
        var table = AddressTable<Int>()
        var model: [IPAddress: Int] = [:]
        var random = SplitMix(state: 7)
        for step in 0..<60_000 {
            let r = random.next()
            let key = Self.key(r % 6000)
            switch (r >> 32) % 10 {
            case 0...4:
                #expect(table.updateValue(step, forKey: key) == model.updateValue(step, forKey: key))
            case 5...7:
                #expect(table.removeValue(forKey: key) == model.removeValue(forKey: key))
            case 8:
                let changed = table.modify(key) { value -> Int in
                    value += 1
                    return value
                }
                if model[key] != nil { model[key]! += 1 }
                #expect(changed == model[key])
            default:
                table[key] = nil
                model[key] = nil
            }
            #expect(table.count == model.count)
            // Every so often the whole table agrees, found by lookup and by iteration.
            if step % 5000 == 4999 {
                for (k, v) in model { #expect(table[k] == v) }
                var seen: [IPAddress: Int] = [:]
                for (k, v) in table { #expect(seen.updateValue(v, forKey: k) == nil) }
                #expect(seen == model)
                #expect(Set(table.keys) == Set(model.keys))
            }
        }
        #expect(table.capacity >= table.count)
        // Emptied by removals, a table finds nothing.
        for k in model.keys { table[k] = nil }
        var rest = table.makeIterator()
        #expect(table.isEmpty && rest.next() == nil)
        #expect((0..<6000).allSatisfy { table[Self.key(UInt64($0))] == nil })
    }

    /// Room made ahead holds every key without growing a segment; a literal and `removeAll` work as a
    /// dictionary's do.
    @Test func reservedRoomAndLiterals() {
        var table = AddressTable<Int>()
        table.reserveCapacity(10_000)
        let reserved = table.capacity
        for n in 0..<10_000 { table[Self.key(UInt64(n))] = n }
        #expect(table.capacity == reserved && table.count == 10_000)
        #expect(table[Self.key(1234)] == 1234 && table[Self.key(10_001)] == nil)
        // Four fifths full at most: a probe for a missing key meets an empty slot.
        #expect(5 * table.count <= 4 * table.capacity)
        table.removeAll()
        #expect(table.isEmpty && table.capacity == 0)
        let literal: AddressTable<Int> = [IPAddress("10.0.0.1")!: 1, IPAddress("2001:db8::1")!: 2]
        #expect(literal.count == 2 && literal[IPAddress("2001:db8::1")!] == 2)
    }
}
