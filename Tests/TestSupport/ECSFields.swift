import Foundation

/// A JSON value that keeps how each number was written: `1` is an integer, `1.0` and `1e-5` are not.
/// Search engines map a field from the first value they see, so the difference matters for alerts.
public indirect enum JSONValue: Equatable {
    case string(String)
    case integer(String)
    case fraction(String)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    /// The JSON type a search engine's dynamic mapping would see.
    public var kind: String {
        switch self {
        case .string: "string"
        case .integer: "integer"
        case .fraction: "float"
        case .bool: "boolean"
        case .null: "null"
        case .array: "array"
        case .object: "object"
        }
    }

    public subscript(_ key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// Parses one JSON text; throws with the offset on anything else.
    public static func parse(_ text: String) throws -> JSONValue {
        var parser = Parser(bytes: Array(text.utf8))
        let value = try parser.value()
        parser.space()
        guard parser.i == parser.bytes.count else { throw parser.error("trailing characters") }
        return value
    }

    /// Every leaf with its dotted path; array elements share their array's path.
    public func leaves(_ prefix: String = "") -> [(path: String, value: JSONValue)] {
        switch self {
        case .object(let members):
            return members.sorted { $0.key < $1.key }.flatMap { $0.value.leaves(prefix.isEmpty ? $0.key : prefix + "." + $0.key) }
        case .array(let items):
            // An empty array has no element types: it is counted as an array of nothing.
            return items.isEmpty ? [(prefix, self)] : items.flatMap { $0.leaves(prefix) }
        default:
            return [(prefix, self)]
        }
    }

    struct Parser {
        let bytes: [UInt8]
        var i = 0

        func error(_ reason: String) -> Error { NSError(domain: "JSON", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(reason) at byte \(i)"]) }

        mutating func space() { while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 } }

        mutating func literal(_ word: String, _ value: JSONValue) throws -> JSONValue {
            let w = Array(word.utf8)
            guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { throw error("bad literal") }
            i += w.count
            return value
        }

        mutating func value() throws -> JSONValue {
            space()
            guard i < bytes.count else { throw error("value expected") }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var members: [String: JSONValue] = [:]
                space()
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
                    i += 1
                    return .object(members)
                }
                while true {
                    space()
                    guard case .string(let key) = try value() else { throw error("key expected") }
                    space()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("':' expected") }
                    i += 1
                    guard members.updateValue(try value(), forKey: key) == nil else { throw error("duplicate key \(key)") }
                    space()
                    guard i < bytes.count else { throw error("object not closed") }
                    if bytes[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    guard bytes[i] == UInt8(ascii: "}") else { throw error("',' or '}' expected") }
                    i += 1
                    return .object(members)
                }
            case UInt8(ascii: "["):
                i += 1
                var items: [JSONValue] = []
                space()
                if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
                    i += 1
                    return .array(items)
                }
                while true {
                    items.append(try value())
                    space()
                    guard i < bytes.count else { throw error("array not closed") }
                    if bytes[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    guard bytes[i] == UInt8(ascii: "]") else { throw error("',' or ']' expected") }
                    i += 1
                    return .array(items)
                }
            case UInt8(ascii: "\""):
                let start = i
                i += 1
                while i < bytes.count, bytes[i] != UInt8(ascii: "\"") { i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1 }
                guard i < bytes.count else { throw error("string not closed") }
                i += 1
                let decoded = try JSONSerialization.jsonObject(with: Data(bytes[start..<i]), options: .fragmentsAllowed)
                guard let s = decoded as? String else { throw error("bad string") }
                return .string(s)
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            default:
                let start = i
                while i < bytes.count, "-+.eE0123456789".utf8.contains(bytes[i]) { i += 1 }
                let text = String(decoding: bytes[start..<i], as: UTF8.self)
                guard !text.isEmpty, Double(text) != nil else { throw error("number expected") }
                return text.contains(where: { ".eE".contains($0) }) ? .fraction(text) : .integer(text)
            }
        }
    }
}

/// The Elastic Common Schema field definitions in Tests/Fixtures/ecs/ecs-fields.json (a subset of
/// ECS's own ecs_flat.yml; see the README beside it), and a check of one document against them.
public struct ECSFields {
    public struct Field: Decodable {
        public struct Allowed: Decodable {
            public var name: String
            public var expected_event_types: [String]?
        }
        public var type: String
        public var normalize: [String]
        public var required: Bool?
        public var allowed_values: [Allowed]?
        public var expected_values: [String]?
    }

    public var version: String
    public var fields: [String: Field]

    /// The ECS field sets the subset covers: a name under one of them that is not in the subset is
    /// not an ECS field.
    public static let coveredRoots = [
        "@timestamp", "message", "tags", "labels", "ecs", "event", "rule", "threat", "source", "destination", "related", "observer", "network",
    ]

    public init() throws {
        struct File: Decodable {
            var ecs_version: String
            var fields: [String: Field]
        }
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: FixtureDirectory.ecs.url("ecs-fields.json")))
        version = file.ecs_version
        fields = file.fields
    }

    /// Every way `document` breaks the definitions: a missing required field, a name under an ECS field
    /// set that ECS does not define, a value of the wrong type, a scalar where ECS normalises to an
    /// array, a value outside the allowed ones, or an event type that a category does not expect.
    public func problems(_ document: JSONValue) -> [String] {
        var problems: [String] = []
        let leaves = document.leaves()
        var byPath: [String: [JSONValue]] = [:]
        for (path, value) in leaves { byPath[path, default: []].append(value) }
        for (name, field) in fields where field.required == true && byPath[name] == nil { problems.append("\(name): required, missing") }
        for (path, values) in byPath.sorted(by: { $0.key < $1.key }) {
            let root = String(path.split(separator: ".").first ?? "")
            guard Self.coveredRoots.contains(root) else { continue }
            guard let field = fields[path] else {
                problems.append("\(path): not an ECS field")
                continue
            }
            if field.normalize.contains("array"), !isArray(document, at: path) { problems.append("\(path): ECS normalises it to an array") }
            for value in values {
                if let wrong = typeProblem(value, field.type) { problems.append("\(path): \(wrong)") }
                if let allowed = field.allowed_values, case .string(let s) = value, !allowed.contains(where: { $0.name == s }) {
                    problems.append("\(path): '\(s)' is not an allowed value")
                }
                if let expected = field.expected_values, case .string(let s) = value, !expected.contains(s) {
                    problems.append("\(path): '\(s)' is not an expected value")
                }
            }
        }
        // Every event type is one that every category of the event expects.
        let categories = (byPath["event.category"] ?? []).compactMap(\.stringValue)
        let types = (byPath["event.type"] ?? []).compactMap(\.stringValue)
        for category in categories {
            guard let expected = fields["event.category"]?.allowed_values?.first(where: { $0.name == category })?.expected_event_types else { continue }
            for type in types where !expected.contains(type) { problems.append("event.type: '\(type)' is not expected with category '\(category)'") }
        }
        return problems
    }

    private func isArray(_ document: JSONValue, at path: String) -> Bool {
        var node: JSONValue? = document
        for part in path.split(separator: ".") { node = node?[String(part)] }
        if case .array = node { return true }
        return false
    }

    private func typeProblem(_ value: JSONValue, _ type: String) -> String? {
        switch (type, value) {
        case ("keyword", .string), ("match_only_text", .string), ("wildcard", .string), ("constant_keyword", .string), ("text", .string): return nil
        case ("long", .integer): return nil
        case ("float", .fraction), ("scaled_float", .fraction), ("double", .fraction), ("half_float", .fraction): return nil
        case ("boolean", .bool): return nil
        case ("object", .object), ("flattened", .object): return nil
        case ("date", .string(let s)):
            let withFractions = ISO8601DateFormatter()
            withFractions.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return withFractions.date(from: s) != nil || ISO8601DateFormatter().date(from: s) != nil ? nil : "'\(s)' is not an ISO 8601 date"
        case ("ip", .string(let s)):
            var v4 = in_addr(), v6 = in6_addr()
            return inet_pton(AF_INET, s, &v4) == 1 || inet_pton(AF_INET6, s, &v6) == 1 ? nil : "'\(s)' is not an IP address"
        default: return "a JSON \(value.kind) where ECS has type \(type)"
        }
    }
}
