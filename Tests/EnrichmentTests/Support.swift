import FlowRecords
import Foundation
import TestSupport
import Testing

@testable import Enrichment

/// The `EnrichmentError` that `body` throws, or nil (recording an issue) if it throws none.
func enrichmentError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> EnrichmentError? {
    do {
        try body()
        Issue.record("expected an EnrichmentError, got none", sourceLocation: sourceLocation)
    } catch let error as EnrichmentError {
        return error
    } catch {
        Issue.record("expected an EnrichmentError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// A source with fixed answers that counts its lookups, for the combination and cache tests.
final class FixedSource: AddressIntelligence, @unchecked Sendable {
    // @unchecked: `lookups` is behind the lock.
    let name: String
    let answers: [IPAddress: AddressFacts]
    let failing: Set<IPAddress>
    private let lock = NSLock()
    private var lookups = 0

    init(name: String, answers: [IPAddress: AddressFacts], failing: Set<IPAddress> = []) {
        self.name = name
        self.answers = answers
        self.failing = failing
    }

    var lookupCount: Int { lock.withLock { lookups } }

    func facts(for address: IPAddress) throws -> AddressFacts {
        lock.withLock { lookups += 1 }
        if failing.contains(address) { throw EnrichmentError(.corruptDatabase, "\(name): broken record for \(address)") }
        return answers[address] ?? AddressFacts()
    }
}
