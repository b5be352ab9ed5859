import FlowRecords

/// An address written in a test; a typo in the test stops it at once.
public func ip(_ text: String) -> IPAddress {
    guard let a = IPAddress(text) else { fatalError("bad test address \(text)") }
    return a
}
