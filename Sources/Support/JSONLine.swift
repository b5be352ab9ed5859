/// `value` as one line of JSON, as alerts are written: keys sorted, slashes unescaped, and every
/// floating-point number written with a fraction or an exponent (`1.0`, never `1`), so that a
/// search engine that maps fields from the first value it sees maps a score as a floating-point
/// field whatever that first value was. Integers are written as integers. A number that is not
/// finite is written as `null`, as JSON has no such number.
public func jsonLine(_ value: some Encodable) -> String {
    let tree = JSONTree()
    do {
        try value.encode(to: JSONTree.Encoder(tree: tree, node: JSONTree.root))
    } catch {
        // The encoder itself never throws; only a value's own `encode(to:)` can, and Flowhound's alerts
        // and records do not.
        preconditionFailure("a value's encode(to:) failed: \(error)")
    }
    var out: [UInt8] = []
    out.reserveCapacity(1024)
    tree.write(JSONTree.root, to: &out)
    return String(decoding: out, as: UTF8.self)
}

/// The order `jsonLine` writes an object's members in: by the keys' UTF-8 bytes.
public func jsonKeyPrecedes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

/// Appends `text` to `out` as a JSON string literal, quotes included: `"` and `\` escaped, control
/// characters as `\n`, `\r`, `\t` or `\u00XX`, everything else as its UTF-8.
public func appendJSONString(_ text: String, to out: inout [UInt8]) {
    // A native string's bytes are read where they lie (a small one's from a copy on the stack).
    let done: Void? = text.utf8.withContiguousStorageIfAvailable { appendJSONString(bytes: $0, to: &out) }
    if done == nil { Array(text.utf8).withUnsafeBufferPointer { appendJSONString(bytes: $0, to: &out) } }
}

/// `appendJSONString` of UTF-8 bytes.
public func appendJSONString(bytes text: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    var plain = true
    for b in text where b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") {
        plain = false
        break
    }
    // Most text needs no escape: copied at once.
    if plain {
        out.append(contentsOf: text)
        out.append(UInt8(ascii: "\""))
        return
    }
    for b in text {
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

/// Appends `value` in decimal, as `String(value)` writes it, padded with zeros to `digits` at least:
/// the one way Flowhound writes a number's digits as bytes (alerts, and every flow format it writes).
public func appendDecimal(_ value: UInt64, minimumDigits digits: Int = 1, to out: inout [UInt8]) {
    var m = value
    if m < 10 && digits <= 1 {
        out.append(UInt8(ascii: "0") + UInt8(m))
        return
    }
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { buffer in
        var i = buffer.count
        repeat {
            i -= 1
            buffer[i] = UInt8(ascii: "0") + UInt8(m % 10)
            m /= 10
        } while m > 0 || buffer.count - i < min(digits, 20)
        out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[i...]))
    }
}

/// `appendDecimal` of a signed value: a minus sign, then the magnitude's digits.
public func appendDecimal(_ value: Int64, minimumDigits digits: Int = 1, to out: inout [UInt8]) {
    if value < 0 { out.append(UInt8(ascii: "-")) }
    appendDecimal(value.magnitude, minimumDigits: digits, to: &out)
}

/// The JSON values `jsonLine`'s encoder builds, in one array: a node is an index, an object's members
/// and an array's items are indices too. One table for a whole value rather than an object and a
/// dictionary for every node: an alert is a hundred values or so, and allocating each was most of
/// the cost of writing it.
final class JSONTree {
    enum Kind {
        case null
        case bool(Bool)
        /// An integer's decimal text.
        case integer(String)
        case double(Double)
        case float(Float)
        case string(String)
        case array([Int])
        /// Members in the order they were set; written sorted by key. A key set twice keeps its last
        /// value, as a dictionary would.
        case object([(key: String, node: Int)])
    }

    static let root = 0
    private(set) var kinds: [Kind] = [.null]
    /// Each node's parent and the key it has there (nil for the root), for `codingPath`, which is
    /// worked out only when asked.
    private var parents: [(node: Int, key: any CodingKey)?] = [nil]

    func add(_ kind: Kind = .null, under parent: Int, key: any CodingKey) -> Int {
        kinds.append(kind)
        parents.append((parent, key))
        return kinds.count - 1
    }

    func codingPath(_ node: Int) -> [any CodingKey] {
        var path: [any CodingKey] = []
        var at = node
        while let (parent, key) = parents[at] {
            path.append(key)
            at = parent
        }
        return path.reversed()
    }

    /// Makes `node` an object (keeping its members if it is one) and sets `key` to `child`.
    func set(_ node: Int, _ key: String, _ child: Int) {
        guard case .object(var members) = kinds[node] else {
            kinds[node] = .object([(key, child)])
            return
        }
        kinds[node] = .null  // releases the members so that they are changed in place
        if let i = members.firstIndex(where: { $0.key == key }) {
            members[i].node = child
        } else {
            members.append((key, child))
        }
        kinds[node] = .object(members)
    }

    /// Makes `node` an array (keeping its items if it is one) and appends `child`.
    func append(_ node: Int, _ child: Int) {
        guard case .array(var items) = kinds[node] else {
            kinds[node] = .array([child])
            return
        }
        kinds[node] = .null
        items.append(child)
        kinds[node] = .array(items)
    }

    func makeObject(_ node: Int) {
        if case .object = kinds[node] {} else { kinds[node] = .object([]) }
    }

    func makeArray(_ node: Int) {
        if case .array = kinds[node] {} else { kinds[node] = .array([]) }
    }

    func setKind(_ node: Int, _ kind: Kind) { kinds[node] = kind }

    func count(_ node: Int) -> Int {
        if case .array(let items) = kinds[node] { return items.count }
        return 0
    }

    func write(_ node: Int, to out: inout [UInt8]) {
        switch kinds[node] {
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
                write(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, member) in members.sorted(by: { jsonKeyPrecedes($0.key, $1.key) }).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                appendJSONString(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(member.node, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Swift's shortest round-trip text of a finite number (`1.0`, `0.25`, `1e-05`, `1e+20`) is valid
    /// JSON and always has a fraction or an exponent.
    private static func writeNumber(_ text: String?, to out: inout [UInt8]) {
        out.append(contentsOf: (text ?? "null").utf8)
    }

    /// A Double or Float encodes itself through `Single`, as `.double` or `.float`, so it keeps its
    /// type; everything else by its own `encode(to:)` too.
    struct Encoder: Swift.Encoder {
        let tree: JSONTree
        let node: Int
        var codingPath: [any CodingKey] { tree.codingPath(node) }
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            tree.makeObject(node)
            return KeyedEncodingContainer(Keyed(tree: tree, node: node))
        }
        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            tree.makeArray(node)
            return Unkeyed(tree: tree, node: node)
        }
        func singleValueContainer() -> any SingleValueEncodingContainer { Single(tree: tree, node: node) }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let tree: JSONTree
        let node: Int
        var codingPath: [any CodingKey] { tree.codingPath(node) }

        private func child(_ key: Key, _ kind: Kind = .null) -> Int {
            let child = tree.add(kind, under: node, key: key)
            tree.set(node, key.stringValue, child)
            return child
        }
        mutating func encodeNil(forKey key: Key) throws { _ = child(key) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { _ = child(key, .bool(value)) }
        mutating func encode(_ value: String, forKey key: Key) throws { _ = child(key, .string(value)) }
        mutating func encode(_ value: Double, forKey key: Key) throws { _ = child(key, .double(value)) }
        mutating func encode(_ value: Float, forKey key: Key) throws { _ = child(key, .float(value)) }
        mutating func encode(_ value: Int, forKey key: Key) throws { _ = child(key, .integer(String(value))) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { _ = child(key, .integer(String(value))) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { _ = child(key, .integer(String(value))) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { _ = child(key, .integer(String(value))) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { _ = child(key, .integer(String(value))) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { _ = child(key, .integer(String(value))) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { _ = child(key, .integer(String(value))) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { _ = child(key, .integer(String(value))) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { _ = child(key, .integer(String(value))) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { _ = child(key, .integer(String(value))) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try value.encode(to: Encoder(tree: tree, node: child(key)))
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            Encoder(tree: tree, node: child(key)).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            Encoder(tree: tree, node: child(key)).unkeyedContainer()
        }
        mutating func superEncoder() -> any Swift.Encoder {
            let child = tree.add(under: node, key: Super())
            tree.set(node, "super", child)
            return Encoder(tree: tree, node: child)
        }
        mutating func superEncoder(forKey key: Key) -> any Swift.Encoder { Encoder(tree: tree, node: child(key)) }
    }

    struct Super: CodingKey {
        var stringValue: String { "super" }
        var intValue: Int? { nil }
        init() {}
        init?(stringValue: String) { nil }
        init?(intValue: Int) { nil }
    }

    struct Index: CodingKey {
        var intValue: Int?
        var stringValue: String { "\(intValue ?? 0)" }
        init(_ i: Int) { intValue = i }
        init?(stringValue: String) { nil }
        init?(intValue: Int) { self.intValue = intValue }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let tree: JSONTree
        let node: Int
        var codingPath: [any CodingKey] { tree.codingPath(node) }
        var count: Int { tree.count(node) }

        private func item(_ kind: Kind = .null) -> Int {
            let child = tree.add(kind, under: node, key: Index(count))
            tree.append(node, child)
            return child
        }
        mutating func encodeNil() throws { _ = item() }
        mutating func encode(_ value: Bool) throws { _ = item(.bool(value)) }
        mutating func encode(_ value: String) throws { _ = item(.string(value)) }
        mutating func encode(_ value: Double) throws { _ = item(.double(value)) }
        mutating func encode(_ value: Float) throws { _ = item(.float(value)) }
        mutating func encode(_ value: Int) throws { _ = item(.integer(String(value))) }
        mutating func encode(_ value: Int8) throws { _ = item(.integer(String(value))) }
        mutating func encode(_ value: Int16) throws { _ = item(.integer(String(value))) }
        mutating func encode(_ value: Int32) throws { _ = item(.integer(String(value))) }
        mutating func encode(_ value: Int64) throws { _ = item(.integer(String(value))) }
        mutating func encode(_ value: UInt) throws { _ = item(.integer(String(value))) }
        mutating func encode(_ value: UInt8) throws { _ = item(.integer(String(value))) }
        mutating func encode(_ value: UInt16) throws { _ = item(.integer(String(value))) }
        mutating func encode(_ value: UInt32) throws { _ = item(.integer(String(value))) }
        mutating func encode(_ value: UInt64) throws { _ = item(.integer(String(value))) }
        mutating func encode<T: Encodable>(_ value: T) throws { try value.encode(to: Encoder(tree: tree, node: item())) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            Encoder(tree: tree, node: item()).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { Encoder(tree: tree, node: item()).unkeyedContainer() }
        mutating func superEncoder() -> any Swift.Encoder { Encoder(tree: tree, node: item()) }
    }

    struct Single: SingleValueEncodingContainer {
        let tree: JSONTree
        let node: Int
        var codingPath: [any CodingKey] { tree.codingPath(node) }
        mutating func encodeNil() throws { tree.setKind(node, .null) }
        mutating func encode(_ value: Bool) throws { tree.setKind(node, .bool(value)) }
        mutating func encode(_ value: String) throws { tree.setKind(node, .string(value)) }
        mutating func encode(_ value: Double) throws { tree.setKind(node, .double(value)) }
        mutating func encode(_ value: Float) throws { tree.setKind(node, .float(value)) }
        mutating func encode(_ value: Int) throws { tree.setKind(node, .integer(String(value))) }
        mutating func encode(_ value: Int8) throws { tree.setKind(node, .integer(String(value))) }
        mutating func encode(_ value: Int16) throws { tree.setKind(node, .integer(String(value))) }
        mutating func encode(_ value: Int32) throws { tree.setKind(node, .integer(String(value))) }
        mutating func encode(_ value: Int64) throws { tree.setKind(node, .integer(String(value))) }
        mutating func encode(_ value: UInt) throws { tree.setKind(node, .integer(String(value))) }
        mutating func encode(_ value: UInt8) throws { tree.setKind(node, .integer(String(value))) }
        mutating func encode(_ value: UInt16) throws { tree.setKind(node, .integer(String(value))) }
        mutating func encode(_ value: UInt32) throws { tree.setKind(node, .integer(String(value))) }
        mutating func encode(_ value: UInt64) throws { tree.setKind(node, .integer(String(value))) }
        mutating func encode<T: Encodable>(_ value: T) throws { try value.encode(to: Encoder(tree: tree, node: node)) }
    }
}

/// Writes one JSON line directly, for a type whose fields are fixed and worth the speed (a scan
/// alert is written for every episode, twice): the caller names each object's members in sorted key
/// order, as `jsonLine` would write them, and numbers follow `jsonLine`'s rules (integers as
/// integers, every floating-point number with a fraction or an exponent, `null` when not finite).
/// A test holds each such writer to `jsonLine`'s output for the same values.
public struct JSONLineWriter {
    public private(set) var bytes: [UInt8] = []
    /// For each open object or array: whether it has no member yet.
    private var empty: [Bool] = []
    /// A key was just written: the next value is its member's.
    private var keyed = false

    public init(capacity: Int = 2048) { bytes.reserveCapacity(capacity) }

    public var line: String { String(decoding: bytes, as: UTF8.self) }

    /// A comma before every member or item but an object's or array's first.
    private mutating func separate() {
        guard let first = empty.last else { return }
        if !first { bytes.append(UInt8(ascii: ",")) }
        empty[empty.count - 1] = false
    }

    private mutating func valueStart() {
        if keyed {
            keyed = false
        } else {
            separate()
        }
    }

    /// A member's key; its value is what is written next.
    public mutating func key(_ name: String) {
        separate()
        appendJSONString(name, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        keyed = true
    }

    public mutating func beginObject() {
        valueStart()
        bytes.append(UInt8(ascii: "{"))
        empty.append(true)
    }

    public mutating func endObject() {
        empty.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    public mutating func beginArray() {
        valueStart()
        bytes.append(UInt8(ascii: "["))
        empty.append(true)
    }

    public mutating func endArray() {
        empty.removeLast()
        bytes.append(UInt8(ascii: "]"))
    }

    public mutating func string(_ text: String) {
        valueStart()
        appendJSONString(text, to: &bytes)
    }

    /// Inlined, so that each caller's integer type is known where it is converted: the generic
    /// conversion through the runtime cost more than writing the digits.
    @inlinable public mutating func integer(_ value: some BinaryInteger) {
        if let v = UInt64(exactly: value) {
            unsigned(v)
        } else if let v = Int64(exactly: value) {
            signed(v)
        } else {
            number(String(value))
        }
    }

    /// A non-negative integer, in decimal.
    public mutating func unsigned(_ value: UInt64) {
        valueStart()
        appendDecimal(value, to: &bytes)
    }

    /// A signed integer, in decimal.
    public mutating func signed(_ value: Int64) {
        valueStart()
        appendDecimal(value, to: &bytes)
    }

    /// A number's text as it is (an integer too wide for 64 bits).
    public mutating func number(_ text: String) {
        valueStart()
        bytes.append(contentsOf: text.utf8)
    }

    /// A string whose UTF-8 `write` appends, for text that needs no escape (no `"`, `\` or control
    /// character: digits, addresses, base64), so that no `String` is built for it.
    public mutating func plainString(_ write: (inout [UInt8]) -> Void) {
        valueStart()
        bytes.append(UInt8(ascii: "\""))
        write(&bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// A time as `CivilTime.iso8601Milliseconds` writes it, a string.
    public mutating func time(_ seconds: Double) {
        valueStart()
        bytes.append(UInt8(ascii: "\""))
        CivilTime.appendISO8601Milliseconds(seconds, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func double(_ value: Double) {
        valueStart()
        bytes.append(contentsOf: (value.isFinite ? value.description : "null").utf8)
    }

    public mutating func bool(_ value: Bool) {
        valueStart()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// Text that is already one JSON value (`jsonLine` of a nested value).
    public mutating func raw(_ json: String) {
        valueStart()
        bytes.append(contentsOf: json.utf8)
    }

    /// `raw` of UTF-8 bytes.
    public mutating func raw(bytes json: [UInt8]) {
        valueStart()
        bytes.append(contentsOf: json)
    }
}

extension JSONLineWriter {
    /// An array of strings.
    @inlinable public mutating func strings(_ items: some Sequence<String>) {
        beginArray()
        for item in items { string(item) }
        endArray()
    }

    /// An object of a dictionary's members, in `jsonLine`'s key order, each value written by `value`.
    @inlinable public mutating func object<Value>(_ members: [String: Value], _ value: (inout JSONLineWriter, Value) -> Void) {
        beginObject()
        for name in members.keys.sorted(by: jsonKeyPrecedes) {
            key(name)
            value(&self, members[name]!)
        }
        endObject()
    }

    /// An array of integers.
    @inlinable public mutating func integers<T: BinaryInteger>(_ items: some Sequence<T>) {
        beginArray()
        for item in items { integer(item) }
        endArray()
    }
}
