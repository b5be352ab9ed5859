import Foundation
import Support

/// A list of addresses and address blocks as reputation feeds and cloud providers publish them:
///
/// - text, one entry a line: an address or block first, optionally followed (after spaces, a tab
///   or a comma) by a count, as in IPsum's `198.51.100.7<TAB>4` (the number of blocklists naming
///   the address) or by other words, which are ignored. `#` and `;` start comments (Spamhaus DROP
///   writes `192.0.2.0/24 ; SBL123`);
/// - JSON (a file starting with `{` or `[`): every string value that is an address or block, as in
///   the published ranges of Google Cloud (`"ipv4Prefix": "34.1.208.0/20"`) or Fastly
///   (`"addresses": [...]`).
///
/// A text line whose first word is not an address or block is an error naming the file and line,
/// or, when not `strict`, is skipped and kept in `malformed`.
public struct AddressList: Sendable {
    public struct Entry: Sendable, Equatable {
        public var block: AddressBlock
        /// The number after the block, when the line has one.
        public var count: Int?
        /// 1-based line of the entry in its file.
        public var line: Int
    }

    /// The file name or path, for messages.
    public var name: String
    public var entries: [Entry]
    /// Lines skipped because they are not addresses (only when not strict), as `name:line: reason`.
    public var malformed: [String] = []

    /// Parses a list's text; `name` is used in error messages (`name:line: reason`).
    public init(text: String, name: String, strict: Bool = true) throws(AddressListError) {
        self.name = name
        let trimmed = text.drop { $0.isWhitespace }
        if trimmed.first == "{" || trimmed.first == "[" {
            entries = AddressList.jsonEntries(text)
            guard !entries.isEmpty else {
                throw AddressListError(description: "\(name): a JSON document without any address or address block in it")
            }
            return
        }
        entries = []
        for (number, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let content = raw.prefix { $0 != "#" && $0 != ";" }
            let words = content.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," })
            guard let first = words.first else { continue }
            guard let block = AddressBlock(first) else {
                let problem = "\(name):\(number + 1): '\(first.excerpt())' is not an address or address block (like 10.0.0.0/8 or 2001:db8::/32)"
                if strict { throw AddressListError(description: problem) }
                malformed.append(problem)
                continue
            }
            entries.append(Entry(block: block, count: words.count > 1 ? Int(words[1]) : nil, line: number + 1))
        }
    }

    /// What reading skipped, as one sentence for the user: "FILE: skipped 2 malformed lines, the
    /// first: 3: 'x' is not an address ... (--strict stops at it)"; nil when nothing was skipped.
    public var malformedNote: String? {
        guard let first = malformed.first else { return nil }
        return
            "\(name): skipped \(malformed.count) malformed line\(malformed.count == 1 ? "" : "s"), the first: \(first.dropFirst(name.count + 1)) (--strict stops at it)"
    }

    /// Reads a list file.
    public static func read(path: String, strict: Bool = true) throws(AddressListError) -> AddressList {
        let data: [UInt8]
        do { data = try BoundedFile.read(path) } catch { throw AddressListError(description: "\(path): \(error)") }
        return try AddressList(text: String(decoding: data, as: UTF8.self), name: path, strict: strict)
    }

    /// Every JSON string literal that parses as an address or block, with its line.
    static func jsonEntries(_ text: String) -> [Entry] {
        var entries: [Entry] = []
        var line = 1
        var iterator = text.utf8.makeIterator()
        var current: [UInt8] = []
        var inString = false, escaped = false
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "\n") { line += 1 }
            if !inString {
                if byte == UInt8(ascii: "\"") { inString = true; current.removeAll(keepingCapacity: true) }
                continue
            }
            if escaped { escaped = false; current.append(byte); continue }
            if byte == UInt8(ascii: "\\") { escaped = true; continue }
            if byte == UInt8(ascii: "\"") {
                inString = false
                // Only short strings of address characters can be blocks; skip the rest cheaply.
                if current.count <= 49, current.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":") }),
                    let block = AddressBlock(String(decoding: current, as: UTF8.self))
                {
                    entries.append(Entry(block: block, count: nil, line: line))
                }
                continue
            }
            current.append(byte)
        }
        return entries
    }
}

public struct AddressListError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

extension IPAddress {
    /// Blocks that are not addresses of the public Internet (IANA special-purpose registries,
    /// RFC 6890 and successors): private, shared, loopback, link-local, documentation,
    /// benchmarking, multicast and reserved space in both families.
    static let specialPurpose: CIDRSet = {
        var set = CIDRSet()
        for text in [
            "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
            "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
            "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
            "::/128", "::1/128", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
            "fc00::/7", "fe80::/10", "ff00::/8",
        ] {
            set.insert(text)
        }
        return set
    }()

    /// True for an address of the public Internet: not private, loopback, link-local, multicast,
    /// documentation or otherwise reserved. Only such addresses have a reputation worth scoring.
    public var isGlobal: Bool { !IPAddress.specialPurpose.contains(self) }
}
