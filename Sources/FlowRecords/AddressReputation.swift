/// What a reputation source (Flowhound's IP model, or another) says of an address, in the form an
/// alert about that address shows it. Detection reports scan sources without it; a layer that also
/// knows reputation adds it to the alerts afterwards, so neither has to depend on the other.
public protocol AddressReputation: Sendable, Encodable {
    /// ISO 3166 country code, for `source.geo.country_iso_code`.
    var country: String? { get }
    /// Autonomous system number and organisation, for `source.as`.
    var asn: UInt32? { get }
    var asOrganization: String? { get }
    /// The verdict and its reasons as part of a sentence ("suspicious (0.96 ≥ 0.50: ...)").
    var summary: String { get }
    /// A table cell of a few characters ("0.96!": the score, `!` when suspicious).
    var tableCell: String { get }
}
