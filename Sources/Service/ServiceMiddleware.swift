import FlowRecords
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Support
import Synchronization

/// The request context of the service: Hummingbird's, plus the time by which the request's work
/// must be done.
public struct ServiceRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by the middleware from the configured timeout; long loops call `checkDeadline()`.
    public var deadline = ContinuousClock.Instant.now.advanced(by: .seconds(3600))
    var timeout: Duration = .seconds(3600)
    /// The client's address (without its port), when the connection has one: requests are counted
    /// per client against `maxConcurrentPerClient`.
    let client: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        client = source.channel.remoteAddress?.ipAddress
    }

    /// Throws a 503 once the request has run past its time.
    func checkDeadline() throws(ServiceError) {
        if ContinuousClock.now > deadline {
            throw ServiceError(
                .serviceUnavailable, "the request took longer than the \(timeout) limit and was abandoned; send less at once",
                headers: [.retryAfter: "1"])
        }
    }
}

/// Everything every request goes through, outermost first: errors become JSON responses and every
/// request is counted with its latency; requests over the concurrency cap are turned away at once;
/// `/v1` requests need the bearer token when one is set; the deadline is set.
struct ServiceMiddleware: RouterMiddleware {
    typealias Context = ServiceRequestContext

    final class Gate: Sendable {
        let inFlight = Atomic<Int>(0)
        /// Requests in flight by client address (entries leave at zero).
        let perClient = Mutex<[String: Int]>([:])

        /// Counts a request of `client` in, unless it already has `limit` in flight.
        func enter(_ client: String, limit: Int) -> Bool {
            perClient.withLock { table in
                let count = table[client, default: 0]
                guard count < limit else { return false }
                table[client] = count + 1
                return true
            }
        }

        func leave(_ client: String) {
            perClient.withLock { table in
                let count = table[client, default: 1] - 1
                table[client] = count > 0 ? count : nil
            }
        }
    }

    let metrics: ServiceMetrics
    let gate = Gate()
    let maxConcurrent: Int
    let maxPerClient: Int
    let timeout: Duration
    let token: [UInt8]?
    /// The methods of each path, so that a known path asked with another method gets 405, not 404.
    let allowed: [String: [HTTPRequest.Method]]

    init(configuration: ServiceConfiguration, metrics: ServiceMetrics, allowed: [String: [HTTPRequest.Method]] = [:]) {
        self.metrics = metrics
        self.allowed = allowed
        maxConcurrent = configuration.maxConcurrentRequests
        maxPerClient = configuration.maxConcurrentPerClient
        timeout = configuration.requestTimeout
        token = configuration.token.map { Array($0.utf8) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response: Response
        do {
            response = try await admit(request, context, next)
        } catch {
            response = try errorResponse(error, request: request, context: context)
        }
        metrics.request(
            route: context.endpointPath ?? "unmatched", method: ServiceMetrics.methodLabel(request.method.rawValue),
            status: response.status.code, duration: ContinuousClock.now - started)
        return response
    }

    private func admit(_ request: Request, _ context: Context, _ next: (Request, Context) async throws -> Response) async throws -> Response {
        let count = gate.inFlight.add(1, ordering: .relaxed).newValue
        defer { gate.inFlight.subtract(1, ordering: .relaxed) }
        metrics.inFlight.set(Int64(count))
        guard count <= maxConcurrent else {
            throw ServiceError(
                .serviceUnavailable, "the server is handling its limit of \(maxConcurrent) requests; try again shortly",
                headers: [.retryAfter: "1"])
        }
        if let client = context.client {
            guard gate.enter(client, limit: maxPerClient) else {
                throw ServiceError(
                    .tooManyRequests, "this client already has \(maxPerClient) requests in flight; wait for them to finish",
                    headers: [.retryAfter: "1"])
            }
        }
        defer { if let client = context.client { gate.leave(client) } }
        // The token is asked for any path that names the /v1 tree however it is spelled (empty and `.`
        // segments, percent-encoding, letter case), before routing; the /v1 handlers ask again on the
        // route that matched, so no spelling the router accepts can pass without it.
        if let token, Self.namesProtectedTree(request.uri.path) { try Self.authorize(request, token: token) }
        var context = context
        context.timeout = timeout
        context.deadline = .now.advanced(by: timeout)
        return try await next(request, context)
    }

    /// Whether `path` reaches into `/v1` once percent-decoded (so `%2F` separates segments too), its
    /// empty and `.` segments dropped and `..` applied, compared without regard to case.
    static func namesProtectedTree(_ path: String) -> Bool {
        let decoded = path.removingPercentEncoding ?? path
        var segments: [Substring] = []
        for segment in decoded.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..": _ = segments.popLast()
            default: segments.append(segment)
            }
        }
        return segments.first?.lowercased() == "v1"
    }

    /// Errors that mean the client closed its connection or stopped sending before the request was in.
    static func isClientDisconnect(_ error: any Error) -> Bool {
        switch error {
        case let error as ChannelError:
            switch error {
            case .ioOnClosedChannel, .eof, .alreadyClosed, .outputClosed, .inputClosed: return true
            default: return false
            }
        case is IOError, is CancellationError: return true
        default: return false
        }
    }

    /// Checks `Authorization: Bearer <token>`, comparing in time that does not depend on where the
    /// given token first differs.
    static func authorize(_ request: Request, token: [UInt8]) throws(ServiceError) {
        let challenge: HTTPFields = [.wwwAuthenticate: "Bearer realm=\"flowhound\""]
        guard let header = request.headers[.authorization] else {
            throw ServiceError(.unauthorized, "this server needs a bearer token: send 'Authorization: Bearer <token>'", headers: challenge)
        }
        let prefix = "Bearer "
        guard header.count > prefix.count, header.prefix(prefix.count).lowercased() == prefix.lowercased() else {
            throw ServiceError(.unauthorized, "the Authorization header is not 'Bearer <token>'", headers: challenge)
        }
        guard constantTimeEqual(Array(header.utf8.dropFirst(prefix.utf8.count)), token) else {
            throw ServiceError(.unauthorized, "the bearer token is wrong", headers: challenge)
        }
    }

    /// Whether `given` equals `expected`, looking at every byte of `expected` whatever `given` holds.
    static func constantTimeEqual(_ given: [UInt8], _ expected: [UInt8]) -> Bool {
        guard !expected.isEmpty else { return false }
        var difference = UInt(bitPattern: given.count ^ expected.count)
        for i in expected.indices {
            difference |= UInt(expected[i] ^ (given.isEmpty ? 0 : given[i % given.count]))
        }
        return difference == 0
    }

    /// Any error as a JSON response: the service's own as they are, Hummingbird's (no route, body
    /// too large) with their status, anything else as a 500 that is logged.
    func errorResponse(_ error: any Error, request: Request, context: Context) throws -> Response {
        switch error {
        case let error as ServiceError:
            return try error.response(from: request, context: context)
        case let error as HTTPError where error.status == .notFound && allowed[request.uri.path] != nil:
            let methods = allowed[request.uri.path]!.map(\.rawValue).joined(separator: ", ")
            return try ServiceError(.methodNotAllowed, "\(request.uri.path) answers \(methods), not \(request.method)", headers: [.allow: methods])
                .response(from: request, context: context)
        case let error as HTTPError where error.status == .notFound:
            return try ServiceError(.notFound, "no route for \(request.method) \(request.uri.path); GET /openapi.yaml lists them")
                .response(from: request, context: context)
        case let error as HTTPError:
            return try ServiceError(error.status, error.body ?? error.status.reasonPhrase, headers: error.headers)
                .response(from: request, context: context)
        case let error as any HTTPResponseError:
            return try ServiceError(error.status, "\(error)").response(from: request, context: context)
        case let error as HTTPParserError:
            // The client framed the request wrongly (a bad chunk size, a cut header): its fault, one quiet line.
            metrics.clientAbort()
            context.logger.info("bad request from client", metadata: ["error": "\(error)", "client": "\(context.client ?? "-")"])
            return try ServiceError(.badRequest, "the request is not well-formed HTTP: \(error)").response(from: request, context: context)
        case _ where Self.isClientDisconnect(error):
            metrics.clientAbort()
            context.logger.info("client went away mid-request", metadata: ["error": "\(error)", "client": "\(context.client ?? "-")"])
            return try ServiceError(.badRequest, "the request was cut short").response(from: request, context: context)
        default:
            context.logger.error(
                "internal error", metadata: ["error": "\(String(describing: error).excerpt(limit: 500))", "path": "\(request.uri.path.excerpt())"])
            return try ServiceError(.internalServerError, "internal error: \(error)").response(from: request, context: context)
        }
    }
}

extension Request {
    /// The body, at most `limit` bytes; a longer one is a 413 (refused from its Content-Length
    /// before reading when it has one).
    func collectBody(limit: Int) async throws -> ByteBuffer {
        let tooLarge = ServiceError(.contentTooLarge, "the body is larger than this server's limit of \(limit) bytes")
        if let length = headers[.contentLength].flatMap(Int.init), length > limit { throw tooLarge }
        do {
            return try await body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw tooLarge
        }
    }
}
