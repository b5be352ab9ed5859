import Foundation
import Hummingbird

/// An error answered to the client: a status and one JSON object naming what was wrong,
/// `{"error": {"status": 400, "message": "...", "field": "addresses[2].hour"}}`.
public struct ServiceError: HTTPResponseError, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    /// The JSON path of the offending value, when there is one.
    public var field: String?
    /// Extra response headers (`WWW-Authenticate`, `Retry-After`).
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ message: String, field: String? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers
    }

    public var description: String { "\(status.code) \(message)" }

    struct Body: Encodable {
        struct Detail: Encodable {
            var status: Int
            var message: String
            var field: String?
        }
        var error: Detail
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = headers
        headers[.contentType] = "application/json; charset=utf-8"
        let body = Body(error: .init(status: status.code, message: message, field: field))
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try JSONCoding.encoder.encode(body))))
    }

    static func badRequest(_ message: String, field: String? = nil) -> ServiceError { ServiceError(.badRequest, message, field: field) }
}
