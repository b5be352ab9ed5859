import Support

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
    /// The address is judged suspicious (an alert about it is more urgent).
    var isSuspicious: Bool { get }
}

/// An alert's `source` or `destination` in Elastic Common Schema: the address, the port, and the
/// country and autonomous system that a reputation gives for the address.
public struct AlertEndpoint: Encodable, Sendable {
    struct Geo: Encodable, Sendable { var country_iso_code: String }
    struct AS: Encodable, Sendable {
        struct Organization: Encodable, Sendable { var name: String }
        var number: UInt32
        var organization: Organization?
    }
    var ip: String?
    var port: UInt16?
    var geo: Geo?
    var `as`: AS?

    public init(ip: String?, port: UInt16? = nil, reputation: (any AddressReputation)? = nil) {
        self.ip = ip
        self.port = port
        geo = reputation?.country.map(Geo.init)
        `as` = reputation?.asn.map { AS(number: $0, organization: reputation?.asOrganization.map(AS.Organization.init)) }
    }
}

extension AlertEndpoint {
    /// Written directly, members in sorted key order: the same bytes as `jsonLine` writes of it.
    public func write(to w: inout JSONLineWriter) {
        w.beginObject()
        if let system = `as` {
            w.key("as")
            w.beginObject()
            w.key("number"); w.integer(system.number)
            if let organization = system.organization {
                w.key("organization")
                w.beginObject()
                w.key("name"); w.string(organization.name)
                w.endObject()
            }
            w.endObject()
        }
        if let geo {
            w.key("geo")
            w.beginObject()
            w.key("country_iso_code"); w.string(geo.country_iso_code)
            w.endObject()
        }
        if let ip { w.key("ip"); w.string(ip) }
        if let port { w.key("port"); w.integer(port) }
        w.endObject()
    }
}
