import FlowRecords

/// A bounded cache of another source's answers, by exact address, so that the addresses a flow
/// log repeats (most of them) are looked up once.
///
/// Eviction is by generations, an approximation of least-recently-used that costs O(1) with no
/// per-entry bookkeeping: new answers go into the current generation; when it holds
/// `capacity / 2` entries it becomes the old generation and the previous old one is dropped. A
/// hit in the old generation is copied into the current one. So an answer is kept at least until
/// `capacity / 2` further answers have been added (new ones, or old ones copied forward), an
/// address asked for that often is never evicted, and the cache never holds more than `capacity`
/// answers. Errors are not cached: a lookup that threw is tried again next time.
///
/// Thread-safe: the tables are behind a lock, held only to read or insert (never while the
/// wrapped source is asked, so two threads missing on the same address may both ask it).
public final class CachedIntelligence: AddressIntelligence {
    /// Counts since the cache was made (or last cleared).
    public struct Statistics: Sendable, Equatable {
        public var hits = 0
        public var misses = 0
        /// Answers held now.
        public var entries = 0

        public init(hits: Int = 0, misses: Int = 0, entries: Int = 0) {
            self.hits = hits
            self.misses = misses
            self.entries = entries
        }
    }

    private struct State {
        var current: [IPAddress: AddressFacts] = [:]
        var previous: [IPAddress: AddressFacts] = [:]
        var hits = 0
        var misses = 0
    }

    public let source: any AddressIntelligence
    /// The most answers held at once (at least 2).
    public let capacity: Int
    private let state = Locked(State())

    /// Caches `source`'s answers, at most `capacity` of them (about 150 bytes each, plus strings
    /// that the database returns shared).
    public init(_ source: any AddressIntelligence, capacity: Int = 65_536) {
        self.source = source
        self.capacity = max(2, capacity)
    }

    public var name: String { source.name }

    public func facts(for address: IPAddress) throws -> AddressFacts {
        let generation = capacity / 2
        let cached: AddressFacts? = state.withLock { state in
            if let facts = state.current[address] {
                state.hits += 1
                return facts
            }
            if let facts = state.previous[address] {
                state.hits += 1
                Self.insert(facts, for: address, into: &state, generation: generation)
                return facts
            }
            state.misses += 1
            return nil
        }
        if let cached { return cached }
        let facts = try source.facts(for: address)
        state.withLock { Self.insert(facts, for: address, into: &$0, generation: generation) }
        return facts
    }

    private static func insert(_ facts: AddressFacts, for address: IPAddress, into state: inout State, generation: Int) {
        if state.current.count >= generation, state.current[address] == nil {
            state.previous = state.current
            state.current = Dictionary(minimumCapacity: generation)
        }
        state.current[address] = facts
    }

    public var statistics: Statistics {
        state.withLock { state in
            let entries = state.current.count + state.previous.keys.count(where: { state.current[$0] == nil })
            return Statistics(hits: state.hits, misses: state.misses, entries: entries)
        }
    }

    /// Drops every answer and zeroes the counts (after the databases were replaced, say).
    public func removeAll() {
        state.withLock { $0 = State() }
    }
}
