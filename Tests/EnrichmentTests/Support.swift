import Foundation
import Testing
import FlowRecords
@testable import Enrichment

/// Paths to the committed fixtures and scratch files for tests.
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    /// Writes `data` to a fresh temporary file and returns its path.
    static func temporary(_ data: Data, name: String = "file") throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flowhound-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try data.write(to: url)
        return url.path
    }

    static func temporary(_ text: String, name: String = "file") throws -> String {
        try temporary(Data(text.utf8), name: name)
    }
}

func ip(_ text: String) -> IPAddress {
    guard let a = IPAddress(text) else { fatalError("bad test address \(text)") }
    return a
}

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
