import Support

extension AlertFields.Context {
    /// A fixed writing time and machine, so that the same alerts give the same lines in tests.
    public static let fixed = AlertFields.Context(created: 1_700_000_000, hostname: "flowhound-test")
}

/// An alert line, or lines, without their writing time (`event.created`): what two runs over the
/// same flows agree on.
public func withoutCreated(_ text: some StringProtocol) -> String {
    var out = ""
    var rest = Substring(text)
    while let r = rest.range(of: #""created":""#) {
        out += rest[..<r.upperBound]
        rest = rest[r.upperBound...]
        if let end = rest.firstIndex(of: "\"") { rest = rest[end...] }
    }
    return out + rest
}
