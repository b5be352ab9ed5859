import Prometheus
import Synchronization

/// What `GET /metrics` reports, in Prometheus's text format: requests by route, method and status,
/// their latency, the work done (addresses scored, flow records read, alerts), requests in flight
/// and turned away, and model reloads.
final class ServiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    /// Upper bounds of the latency histogram: fine below 10 ms, where IP scores should be.
    static let latencyBuckets: [Duration] = [
        .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]

    let addressesScored: Counter
    let flowRecords: Counter
    let malformedRecords: Counter
    let alerts: Counter
    let inFlight: Gauge
    let generation: Gauge

    init() {
        addressesScored = registry.makeCounter(descriptor: Self.name("ip_addresses_scored", "total", "Addresses scored by POST /v1/ip/score."))
        flowRecords = registry.makeCounter(descriptor: Self.name("flow_records", "total", "Flow records read by POST /v1/detect."))
        malformedRecords = registry.makeCounter(descriptor: Self.name("malformed_records", "total", "Malformed flow records skipped by POST /v1/detect."))
        alerts = registry.makeCounter(descriptor: Self.name("alerts", "total", "Scan alerts returned by POST /v1/detect."))
        inFlight = registry.makeGauge(descriptor: Self.name("http_in_flight", "requests", "Requests being handled now."))
        generation = registry.makeGauge(descriptor: Self.name("model", "generation", "Generation of the models in service: 1 at start, one more each reload."))
        generation.set(Int64(1))
    }

    /// Counts a finished request and its latency. `route` is the matched route pattern (never the
    /// raw path, so that the number of series stays bounded).
    func request(route: String, method: String, status: Int, duration: Duration) {
        let key = RequestKey(route: route, method: method, status: status)
        let known = requestSeries.withLock { $0[key] }
        let series =
            known
            ?? {
                let made = RequestSeries(
                    count: registry.makeCounter(descriptor: Self.requests, labels: [("route", route), ("method", method), ("status", String(status))]),
                    latency: registry.makeDurationHistogram(descriptor: Self.latency, labels: [("route", route)], buckets: Self.latencyBuckets))
                requestSeries.withLock { $0[key] = made }
                return made
            }()
        series.count.increment()
        series.latency.record(duration)
    }

    struct RequestKey: Hashable {
        var route: String
        var method: String
        var status: Int
    }

    struct RequestSeries: Sendable {
        var count: Counter
        var latency: DurationHistogram
    }

    /// The series of each route, method and status seen, so that a request finds its own without
    /// building label lists (the registry would return the same ones).
    private let requestSeries = Mutex<[RequestKey: RequestSeries]>([:])

    /// A connection closed because its client was too slow to send a request's head or body.
    func readTimeout(duringBody: Bool) {
        registry.makeCounter(descriptor: Self.readTimeouts, labels: [("phase", duringBody ? "body" : "head")]).increment()
    }

    /// A request the client broke off or could not frame (malformed chunked encoding, a body cut short).
    func clientAbort() {
        registry.makeCounter(descriptor: Self.clientAborts).increment()
    }

    /// The method as a metric label: the standard ones by name, any other as `other`, so that a
    /// client inventing methods cannot add series without end.
    static func methodLabel(_ method: String) -> String {
        ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"].contains(method) ? method : "other"
    }

    func reload(succeeded: Bool) {
        registry.makeCounter(descriptor: Self.reloads, labels: [("result", succeeded ? "ok" : "failed")]).increment()
    }

    func text() -> [UInt8] { registry.emitToBuffer() }

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "flowhound", metricName: metric, unitName: unit, helpText: help)
    }

    static var requests: MetricNameDescriptor { name("http_requests", "total", "HTTP requests by route, method and status.") }
    static var latency: MetricNameDescriptor { name("http_request_duration", "seconds", "Time from request head to response, by route.") }
    static var readTimeouts: MetricNameDescriptor {
        name("http_read_timeouts", "total", "Connections closed because the client took longer than the read timeout to send a request's head or body.")
    }
    static var clientAborts: MetricNameDescriptor {
        name("http_client_aborts", "total", "Requests the client broke off or framed wrongly (answered 400 or closed).")
    }
    static var reloads: MetricNameDescriptor { name("model_reloads", "total", "Model reloads (SIGHUP or POST /v1/models/reload), by result.") }
}
