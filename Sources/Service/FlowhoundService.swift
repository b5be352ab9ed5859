import Detection
import Foundation
import Hummingbird
import Logging
import NIOCore
import Reputation
import ServiceLifecycle
import UnixSignals

/// Builds the HTTP service: loads the models, sets up the routes and limits. Tests call it and
/// drive the result with `app.test(.router)`; `flowhound serve` runs it.
/// - Throws: what loading the models threw (one line naming the file and the reason).
public func buildApplication(_ configuration: ServiceConfiguration, logger: Logger? = nil) async throws -> some ApplicationProtocol {
    var logger = logger ?? Logger(label: "flowhound.serve")
    if logger.logLevel > .info { logger.logLevel = .info }
    let service = try FlowhoundService(configuration, logger: logger)
    let readTimeout = TimeAmount.nanoseconds(configuration.readTimeout.nanoseconds)
    let metrics = service.metrics
    var app = Application(
        router: service.buildRouter(),
        server: .http1(
            configuration: .init(
                additionalChannelHandlers: [
                    ReadDeadline(
                        headTimeout: readTimeout, bodyTimeout: readTimeout,
                        onExpiry: { metrics.readTimeout(duringBody: $0) })
                ],
                idleTimeout: .nanoseconds(configuration.idleTimeout.nanoseconds))),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "flowhound"),
        logger: logger)
    app.addServices(HangupReload(service: service))
    return app
}

/// The routes and the state they share: the models in service, the metrics, the limits.
final class FlowhoundService: Sendable {
    let configuration: ServiceConfiguration
    let store: ModelStore
    let metrics = ServiceMetrics()
    let logger: Logger
    let openAPI: ByteBuffer

    init(_ configuration: ServiceConfiguration, logger: Logger) throws {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        store = try ModelStore(sources: configuration.models, scorers: configuration.scorers, drivers: configuration.drivers)
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"), let text = try? Data(contentsOf: url) else {
            throw ServiceSetupError(description: "the OpenAPI document is missing from the Service resources")
        }
        openAPI = ByteBuffer(bytes: text)
        for warning in store.current.warnings { logger.warning("\(warning)") }
    }

    /// Every route and its method: what the router answers and the OpenAPI document lists.
    static let routes: [(method: HTTPRequest.Method, path: String)] = [
        (.get, "/healthz"), (.get, "/metrics"), (.get, "/openapi.yaml"), (.post, "/v1/ip/score"),
        (.post, "/v1/detect"), (.get, "/v1/models"), (.post, "/v1/models/reload"),
    ]

    func buildRouter() -> Router<ServiceRequestContext> {
        let router = Router(context: ServiceRequestContext.self)
        router.middlewares.add(
            ServiceMiddleware(
                configuration: configuration, metrics: metrics,
                allowed: Dictionary(grouping: Self.routes, by: \.path).mapValues { $0.map(\.method) }))
        for (method, path) in Self.routes {
            router.on(RouterPath(path), method: method) { request, context in try await self.respond(path, request, context) }
        }
        return router
    }

    private func respond(_ path: String, _ request: Request, _ context: ServiceRequestContext) async throws -> Response {
        // Authenticated on the route that matched, whatever spelling of the path reached it.
        if let token = configuration.token, path.hasPrefix("/v1/") {
            try ServiceMiddleware.authorize(request, token: Array(token.utf8))
        }
        switch path {
        case "/healthz": return try health()
        case "/metrics":
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.text())))
        case "/openapi.yaml": return Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: openAPI))
        case "/v1/ip/score": return try await scoreAddresses(request, context: context)
        case "/v1/detect": return try await detect(request, context: context)
        case "/v1/models": return try json(ModelsResponse(store.current))
        case "/v1/models/reload": return try await reloadRequested()
        default: preconditionFailure("no handler for the route \(path)")
        }
    }

    struct Health: Encodable {
        var status = "ok"
        var generation: Int
        var ipScoring: Bool
        var detectors: [String]
    }

    func health() throws -> Response {
        let current = store.current
        return try json(Health(generation: current.number, ipScoring: current.ipScorers != nil, detectors: current.recipe.detectors.map(\.rawValue)))
    }

    struct ReloadResponse: Encodable {
        var generation: Int
        var previous: Int
        var loadedAt: String
    }

    /// `POST /v1/models/reload`: 200 with the new generation, 409 while another reload runs, 500
    /// (with the reason, still serving the old models) when a file no longer loads.
    func reloadRequested() async throws -> Response {
        let (previous, next) = try await reload(trigger: "POST /v1/models/reload")
        return try json(ReloadResponse(generation: next.number, previous: previous, loadedAt: Self.timestamp(next.loadedAt)))
    }

    /// Loads the models again off the request threads and swaps them in.
    func reload(trigger: String) async throws(ServiceError) -> (previous: Int, next: ModelGeneration) {
        let previous = store.current.number
        let store = self.store
        let result: Result<ModelGeneration, ModelStore.ReloadError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: Result { () throws(ModelStore.ReloadError) in try store.reload() }) }
        }
        switch result {
        case .success(let next):
            metrics.reload(succeeded: true)
            metrics.generation.set(Int64(next.number))
            logger.info("models reloaded (\(trigger)): generation \(next.number)")
            for warning in next.warnings { logger.warning("\(warning)") }
            return (previous, next)
        case .failure(.busy):
            throw ServiceError(.conflict, "a reload is already running; try again when it has finished")
        case .failure(.failed(let reason)):
            metrics.reload(succeeded: false)
            logger.error("model reload failed (\(trigger)), still serving generation \(previous): \(reason)")
            throw ServiceError(.internalServerError, "the reload failed and generation \(previous) is still serving: \(reason)")
        }
    }

    func json(_ value: some Encodable) throws -> Response {
        Self.jsonResponse(try JSONCoding.encoder.encode(value))
    }

    static func jsonResponse(_ data: Data) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func timestamp(_ date: Date) -> String { date.formatted(.iso8601) }
}

/// A configuration the service cannot start with; its description is the whole message.
public struct ServiceSetupError: Error, CustomStringConvertible {
    public var description: String
}

/// Reloads the models on SIGHUP until the service shuts down.
struct HangupReload: Service {
    let service: FlowhoundService

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            _ = try? await service.reload(trigger: "SIGHUP")
        }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
