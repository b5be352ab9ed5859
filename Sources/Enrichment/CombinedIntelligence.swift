import FlowRecords

/// Several sources asked in turn, each field taken from the first source that knows it: for
/// example libloc first for country, ASN and flags, then a City MMDB for coordinates and the time
/// zone. Order matters: put the source you trust most for a field first.
///
/// A source that throws makes the whole lookup throw (a corrupt database is reported, not
/// silently skipped). Sendable because every `AddressIntelligence` is.
public struct CombinedIntelligence: AddressIntelligence {
    public let sources: [any AddressIntelligence]

    public init(_ sources: [any AddressIntelligence]) {
        self.sources = sources
    }

    /// The sources' names joined with `+` (`libloc+GeoLite2-City`).
    public var name: String { sources.map(\.name).joined(separator: "+") }

    /// Asks every source, in order, and keeps the first answer for each field.
    public func facts(for address: IPAddress) throws -> AddressFacts {
        var merged = AddressFacts()
        for source in sources {
            merged.fillMissing(from: try source.facts(for: address))
        }
        return merged
    }
}
