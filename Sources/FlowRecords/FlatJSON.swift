import Foundation

/// A scanner for one-line, flat JSON objects such as Zeek's JSON logs and Flowhound's own JSON
/// lines: top-level keys with string, number, boolean or null values (nested arrays and objects
/// are skipped over). It reads bytes in place and allocates nothing for escape-free strings.
struct FlatJSON {
    enum Value {
        /// The string's content between the quotes, still escaped when `escaped` is true.
        case string(UnsafeBufferPointer<UInt8>, escaped: Bool)
        /// A number, `true`, `false`: the literal text.
        case literal(UnsafeBufferPointer<UInt8>)
        case null
        /// An array or object, skipped.
        case nested
    }

    struct SyntaxError: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// Calls `body` with each top-level key (unescaped content) and value.
    static func forEachMember(
        _ line: UnsafeBufferPointer<UInt8>,
        _ body: (UnsafeBufferPointer<UInt8>, Value) throws(LineError) -> Void
    ) throws(LineError) {
        var i = 0
        let n = line.count
        @inline(__always) func skipSpace() {
            while i < n, line[i] == 0x20 || line[i] == 0x09 { i += 1 }
        }
        /// Returns the content of a string starting at the opening quote at `i`; leaves `i` after the closing quote.
        @inline(__always) func string() throws(LineError) -> (UnsafeBufferPointer<UInt8>, Bool) {
            i += 1
            let start = i
            var escaped = false
            while i < n {
                let b = line[i]
                if b == UInt8(ascii: "\"") {
                    let content = UnsafeBufferPointer(rebasing: line[start..<i])
                    i += 1
                    return (content, escaped)
                }
                if b == UInt8(ascii: "\\") {
                    escaped = true
                    i += 2
                    continue
                }
                i += 1
            }
            throw .malformed("JSON string not terminated")
        }
        skipSpace()
        guard i < n, line[i] == UInt8(ascii: "{") else { throw .malformed("not a JSON object (expected '{')") }
        i += 1
        skipSpace()
        if i < n, line[i] == UInt8(ascii: "}") { return }
        while true {
            skipSpace()
            guard i < n, line[i] == UInt8(ascii: "\"") else { throw .malformed("JSON key expected at column \(i + 1)") }
            let (key, _) = try string()
            skipSpace()
            guard i < n, line[i] == UInt8(ascii: ":") else { throw .malformed("':' expected after a JSON key") }
            i += 1
            skipSpace()
            guard i < n else { throw .malformed("JSON object ends early") }
            let value: Value
            switch line[i] {
            case UInt8(ascii: "\""):
                let (content, escaped) = try string()
                value = .string(content, escaped: escaped)
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                var inString = false
                while i < n {
                    let b = line[i]
                    if inString {
                        if b == UInt8(ascii: "\\") { i += 1 } else if b == UInt8(ascii: "\"") { inString = false }
                    } else if b == UInt8(ascii: "\"") {
                        inString = true
                    } else if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") {
                        depth += 1
                    } else if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                        depth -= 1
                        if depth == 0 { i += 1; break }
                    }
                    i += 1
                }
                guard depth == 0 else { throw .malformed("JSON array or object not closed") }
                value = .nested
            default:
                let start = i
                while i < n, line[i] != UInt8(ascii: ","), line[i] != UInt8(ascii: "}"), line[i] != 0x20 { i += 1 }
                let text = UnsafeBufferPointer(rebasing: line[start..<i])
                guard !text.isEmpty else { throw .malformed("JSON value expected") }
                value = ByteParsing.equals(text, "null") ? .null : .literal(text)
            }
            try body(key, value)
            skipSpace()
            guard i < n else { throw .malformed("JSON object not closed") }
            if line[i] == UInt8(ascii: ",") { i += 1; continue }
            if line[i] == UInt8(ascii: "}") {
                i += 1
                skipSpace()
                guard i == n else { throw .malformed("text after the JSON object") }
                return
            }
            throw .malformed("',' or '}' expected at column \(i + 1)")
        }
    }

    /// Decodes a string value's escapes (`\"`, `\\`, `\n`, `\uXXXX` ...).
    static func unescape(_ content: UnsafeBufferPointer<UInt8>) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(content.count)
        var i = 0
        while i < content.count {
            let b = content[i]
            guard b == UInt8(ascii: "\\"), i + 1 < content.count else {
                bytes.append(b)
                i += 1
                continue
            }
            let e = content[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "u"):
                var code: UInt32 = 0
                var k = 0
                while k < 4, i < content.count, let h = IPAddress.hexValue(content[i]) {
                    code = code << 4 | UInt32(h)
                    k += 1
                    i += 1
                }
                let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                bytes.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: bytes.append(e)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
