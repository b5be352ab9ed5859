/// Text from a log, a file or a client, made safe to show: in a terminal, a log line or an error
/// body. A log line must not be able to steer the analyst's terminal (ESC sequences, carriage
/// returns that overwrite a line, newlines that forge one) or flood a message with megabytes.
extension String {
    /// Most characters of input quoted in a message.
    public static let excerptLimit = 80

    /// The text with every character that could steer a terminal written as an escape: C0 controls
    /// (`\t`, `\n`, `\r`, `\x1b`, ...), DEL, C1 controls, and the bidirectional overrides and
    /// isolates that reorder what is shown (`\u{202e}`); cut after `limit` characters with "…".
    public func escapingControlCharacters(limit: Int = .max) -> String {
        var out = ""
        var count = 0
        for scalar in unicodeScalars {
            if count >= limit {
                out += "…"
                break
            }
            count += 1
            switch scalar.value {
            case 0x09: out += "\\t"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x00..<0x20, 0x7F:
                out += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            case 0x80..<0xA0, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069:
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A short, printable excerpt of untrusted text for a message: at most `limit` characters, with
    /// control characters escaped. Messages quote input through this, never raw.
    public func excerpt(limit: Int = String.excerptLimit) -> String {
        escapingControlCharacters(limit: limit)
    }
}

extension Substring {
    public func excerpt(limit: Int = String.excerptLimit) -> String { String(self).excerpt(limit: limit) }
}
