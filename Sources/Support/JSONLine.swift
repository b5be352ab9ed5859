/// `value` as one line of JSON, as alerts are written: keys sorted, slashes unescaped, and every
/// floating-point number written with a fraction or an exponent (`1.0`, never `1`), so that a
/// search engine that maps fields from the first value it sees maps a score as a floating-point
/// field whatever that first value was. Integers are written as integers. A number that is not
/// finite is written as `null`, as JSON has no such number.
public func jsonLine(_ value: some Encodable) -> String {
    let root = JSONTree()
    do {
        try JSONTree.encode(value, into: root, path: [])
    } catch {
        // The encoder itself never throws; only a value's own `encode(to:)` can, and Flowhound's alerts
        // and records do not.
        preconditionFailure("a value's encode(to:) failed: \(error)")
    }
    var out: [UInt8] = []
    out.reserveCapacity(1024)
    root.write(to: &out)
    return String(decoding: out, as: UTF8.self)
}

/// Appends `text` to `out` as a JSON string literal, quotes included: `"` and `\` escaped, control
/// characters as `\n`, `\r`, `\t` or `\u00XX`, everything else as its UTF-8.
public func appendJSONString(_ text: String, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    for b in text.utf8 {
        switch b {
        case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
        case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
        case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
        case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
        case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
        case 0..<0x20:
            out.append(contentsOf: Array("\\u00".utf8))
            let hex = Array("0123456789abcdef".utf8)
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 0xF)])
        default: out.append(b)
        }
    }
    out.append(UInt8(ascii: "\""))
}

/// A JSON value as `jsonLine`'s encoder builds it. A class, so that containers handed out by the
/// encoder can fill in what they were given after the encoder call returned.
final class JSONTree {
    enum Kind {
        case null
        case bool(Bool)
        /// An integer's decimal text.
        case integer(String)
        case double(Double)
        case float(Float)
        case string(String)
        case array([JSONTree])
        case object([String: JSONTree])
    }
    var kind = Kind.null

    /// Encodes `value` into `node`: floating-point values directly, so that they keep their type;
    /// everything else by its own `encode(to:)`.
    static func encode<T: Encodable>(_ value: T, into node: JSONTree, path: [any CodingKey]) throws {
        switch value {
        case let d as Double: node.kind = .double(d)
        case let f as Float: node.kind = .float(f)
        default: try value.encode(to: Encoder(node: node, codingPath: path))
        }
    }

    /// Makes the node an object (keeping its members if it is one) and sets `key`.
    func set(_ key: String, _ child: JSONTree) {
        guard case .object(var members) = kind else {
            kind = .object([key: child])
            return
        }
        kind = .null  // releases the dictionary so that it is changed in place
        members[key] = child
        kind = .object(members)
    }

    func append(_ child: JSONTree) {
        guard case .array(var items) = kind else {
            kind = .array([child])
            return
        }
        kind = .null
        items.append(child)
        kind = .array(items)
    }

    var count: Int {
        if case .array(let items) = kind { return items.count }
        return 0
    }

    func write(to out: inout [UInt8]) {
        switch kind {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .integer(let text): out.append(contentsOf: text.utf8)
        case .double(let d): JSONTree.writeNumber(d.isFinite ? d.description : nil, to: &out)
        case .float(let f): JSONTree.writeNumber(f.isFinite ? f.description : nil, to: &out)
        case .string(let s): appendJSONString(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, key) in members.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                appendJSONString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                members[key]!.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Swift's shortest round-trip text of a finite number (`1.0`, `0.25`, `1e-05`, `1e+20`) is valid
    /// JSON and always has a fraction or an exponent.
    private static func writeNumber(_ text: String?, to out: inout [UInt8]) {
        out.append(contentsOf: (text ?? "null").utf8)
    }

    struct Encoder: Swift.Encoder {
        let node: JSONTree
        let codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            if case .object = node.kind {} else { node.kind = .object([:]) }
            return KeyedEncodingContainer(Keyed(node: node, codingPath: codingPath))
        }
        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            if case .array = node.kind {} else { node.kind = .array([]) }
            return Unkeyed(node: node, codingPath: codingPath)
        }
        func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: node, codingPath: codingPath) }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: JSONTree
        let codingPath: [any CodingKey]

        private func put(_ kind: Kind, _ key: Key) {
            let child = JSONTree()
            child.kind = kind
            node.set(key.stringValue, child)
        }
        mutating func encodeNil(forKey key: Key) throws { put(.null, key) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { put(.bool(value), key) }
        mutating func encode(_ value: String, forKey key: Key) throws { put(.string(value), key) }
        mutating func encode(_ value: Double, forKey key: Key) throws { put(.double(value), key) }
        mutating func encode(_ value: Float, forKey key: Key) throws { put(.float(value), key) }
        mutating func encode(_ value: Int, forKey key: Key) throws { put(.integer(String(value)), key) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { put(.integer(String(value)), key) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { put(.integer(String(value)), key) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { put(.integer(String(value)), key) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { put(.integer(String(value)), key) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { put(.integer(String(value)), key) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { put(.integer(String(value)), key) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { put(.integer(String(value)), key) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { put(.integer(String(value)), key) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { put(.integer(String(value)), key) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            let child = JSONTree()
            try JSONTree.encode(value, into: child, path: codingPath + [key])
            node.set(key.stringValue, child)
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            let child = JSONTree()
            node.set(key.stringValue, child)
            return Encoder(node: child, codingPath: codingPath + [key]).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let child = JSONTree()
            node.set(key.stringValue, child)
            return Encoder(node: child, codingPath: codingPath + [key]).unkeyedContainer()
        }
        mutating func superEncoder() -> any Swift.Encoder {
            let child = JSONTree()
            node.set("super", child)
            return Encoder(node: child, codingPath: codingPath)
        }
        mutating func superEncoder(forKey key: Key) -> any Swift.Encoder {
            let child = JSONTree()
            node.set(key.stringValue, child)
            return Encoder(node: child, codingPath: codingPath + [key])
        }
    }

    struct Index: CodingKey {
        var intValue: Int?
        var stringValue: String { "\(intValue ?? 0)" }
        init(_ i: Int) { intValue = i }
        init?(stringValue: String) { nil }
        init?(intValue: Int) { self.intValue = intValue }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: JSONTree
        let codingPath: [any CodingKey]
        var count: Int { node.count }

        private func put(_ kind: Kind) {
            let child = JSONTree()
            child.kind = kind
            node.append(child)
        }
        mutating func encodeNil() throws { put(.null) }
        mutating func encode(_ value: Bool) throws { put(.bool(value)) }
        mutating func encode(_ value: String) throws { put(.string(value)) }
        mutating func encode(_ value: Double) throws { put(.double(value)) }
        mutating func encode(_ value: Float) throws { put(.float(value)) }
        mutating func encode(_ value: Int) throws { put(.integer(String(value))) }
        mutating func encode(_ value: Int8) throws { put(.integer(String(value))) }
        mutating func encode(_ value: Int16) throws { put(.integer(String(value))) }
        mutating func encode(_ value: Int32) throws { put(.integer(String(value))) }
        mutating func encode(_ value: Int64) throws { put(.integer(String(value))) }
        mutating func encode(_ value: UInt) throws { put(.integer(String(value))) }
        mutating func encode(_ value: UInt8) throws { put(.integer(String(value))) }
        mutating func encode(_ value: UInt16) throws { put(.integer(String(value))) }
        mutating func encode(_ value: UInt32) throws { put(.integer(String(value))) }
        mutating func encode(_ value: UInt64) throws { put(.integer(String(value))) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            let child = JSONTree()
            try JSONTree.encode(value, into: child, path: codingPath + [Index(count)])
            node.append(child)
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let child = JSONTree()
            let path = codingPath + [Index(count)]
            node.append(child)
            return Encoder(node: child, codingPath: path).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let child = JSONTree()
            let path = codingPath + [Index(count)]
            node.append(child)
            return Encoder(node: child, codingPath: path).unkeyedContainer()
        }
        mutating func superEncoder() -> any Swift.Encoder {
            let child = JSONTree()
            let path = codingPath + [Index(count)]
            node.append(child)
            return Encoder(node: child, codingPath: path)
        }
    }

    struct Single: SingleValueEncodingContainer {
        let node: JSONTree
        let codingPath: [any CodingKey]
        mutating func encodeNil() throws { node.kind = .null }
        mutating func encode(_ value: Bool) throws { node.kind = .bool(value) }
        mutating func encode(_ value: String) throws { node.kind = .string(value) }
        mutating func encode(_ value: Double) throws { node.kind = .double(value) }
        mutating func encode(_ value: Float) throws { node.kind = .float(value) }
        mutating func encode(_ value: Int) throws { node.kind = .integer(String(value)) }
        mutating func encode(_ value: Int8) throws { node.kind = .integer(String(value)) }
        mutating func encode(_ value: Int16) throws { node.kind = .integer(String(value)) }
        mutating func encode(_ value: Int32) throws { node.kind = .integer(String(value)) }
        mutating func encode(_ value: Int64) throws { node.kind = .integer(String(value)) }
        mutating func encode(_ value: UInt) throws { node.kind = .integer(String(value)) }
        mutating func encode(_ value: UInt8) throws { node.kind = .integer(String(value)) }
        mutating func encode(_ value: UInt16) throws { node.kind = .integer(String(value)) }
        mutating func encode(_ value: UInt32) throws { node.kind = .integer(String(value)) }
        mutating func encode(_ value: UInt64) throws { node.kind = .integer(String(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws { try JSONTree.encode(value, into: node, path: codingPath) }
    }
}
