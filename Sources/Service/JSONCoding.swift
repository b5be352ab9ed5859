import FlowRecords
import Foundation
import NIOCore
import Support

/// The service's JSON: sorted snake_case keys out, and request bodies decoded strictly, every
/// failure a 400 that names the field (`addresses[2].hour: expected an integer`).
enum JSONCoding {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }()

    static let decoder = JSONDecoder()

    /// Decodes a request body, or throws a 400 saying what was wrong and where.
    static func decode<T: Decodable>(_ type: T.Type, from body: ByteBuffer) throws(ServiceError) -> T {
        guard body.readableBytes > 0 else { throw .badRequest("the body is empty: expected a JSON object") }
        do {
            return try decoder.decode(T.self, from: Data(body.readableBytesView))
        } catch let error as DecodingError {
            throw describe(error)
        } catch let error as ServiceError {
            throw error
        } catch {
            throw .badRequest("the body is not valid JSON: \(error)")
        }
    }

    /// `addresses[2].hour` for a coding path; a client's key names are cut and escaped, not echoed whole.
    static func path(_ codingPath: [any CodingKey]) -> String {
        var text = ""
        for key in codingPath {
            if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue.excerpt() }
        }
        return text
    }

    static func describe(_ error: DecodingError) -> ServiceError {
        switch error {
        case .typeMismatch(let type, let context):
            let field = path(context.codingPath)
            return .badRequest("\(field.isEmpty ? "the body" : field): expected \(kind(of: type))", field: field.isEmpty ? nil : field)
        case .valueNotFound(let type, let context):
            let field = path(context.codingPath)
            return .badRequest("\(field.isEmpty ? "the body" : field): expected \(kind(of: type)), not null", field: field.isEmpty ? nil : field)
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath + [key])
            return .badRequest("\(field): missing (it is required)", field: field)
        case .dataCorrupted(let context):
            let field = path(context.codingPath)
            if field.isEmpty {
                let reason = (context.underlyingError.map { "\($0)" } ?? context.debugDescription).excerpt(limit: 300)
                return .badRequest("the body is not valid JSON: \(reason)")
            }
            return .badRequest("\(field): \(context.debugDescription.excerpt(limit: 300))", field: field)
        @unknown default:
            return .badRequest("the body could not be read: \(error)")
        }
    }

    static func kind(of type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type, is UInt16.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is Bool.Type: "true or false"
        case is [Any].Type: "an array"
        case is AddressEntry.Type: "a string ADDR[,HOUR[,PORT/PROTO]] or an object {address, hour, port, transport}"
        case is [String: Any].Type: "an object"
        default: "\(type)" == "Array<Any>" ? "an array" : "\(type)".hasPrefix("Dictionary") ? "an object" : "a value of type \(type)"
        }
    }
}

/// Any key of a JSON object, to find the ones a request type does not know.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Decoder {
    /// Throws when the object being decoded has a key outside `known`: a misspelt field is an error,
    /// not silently ignored.
    func rejectUnknownKeys(_ known: Set<String>) throws {
        let container = try container(keyedBy: AnyCodingKey.self)
        if let unknown = container.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: codingPath + [AnyCodingKey(stringValue: unknown)],
                    debugDescription: "unknown field (known: \(known.sorted().joined(separator: ", ")))"))
        }
    }
}
