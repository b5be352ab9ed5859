import Detection
import Enrichment
import Foundation

/// How `flowhound serve` runs: where it listens, the limits that keep it safe to expose, and the
/// files its models are loaded from. Defaults are the safe ones: loopback only, bounded bodies,
/// bounded time and concurrency.
public struct ServiceConfiguration: Sendable {
    /// Address to bind. Loopback unless told otherwise: the service has no TLS.
    public var host = "127.0.0.1"
    /// Port to listen on; 0 picks a free one.
    public var port = 8080
    /// When set, every `/v1` request needs `Authorization: Bearer <token>` (compared in constant time).
    public var token: String?
    /// Largest request body accepted, in bytes; larger ones get 413 without being read to the end.
    public var bodyLimit = 8 << 20
    /// A request still being worked on after this long gets 503 and its work is abandoned.
    public var requestTimeout: Duration = .seconds(10)
    /// Requests handled at once; more get 503 with `Retry-After` at once instead of queueing.
    public var maxConcurrentRequests = 512
    /// Requests one client address may have in flight at once; more get 429. Keeps one peer (slow
    /// bodies, a flood) from holding every slot.
    public var maxConcurrentPerClient = 64
    /// Time a client has to send a request's head (line and headers), from the connection's opening
    /// or the previous response, and again to send its body once the head is in; then the connection
    /// is closed. A client trickling bytes is never idle, so the idle timeout does not catch it.
    public var readTimeout: Duration = .seconds(30)
    /// Addresses one `POST /v1/ip/score` may carry.
    public var maxAddressesPerRequest = 10_000
    /// IP scorers kept for concurrent requests (each has its own cache and network buffers).
    public var scorers = ProcessInfo.processInfo.activeProcessorCount
    /// How many features each IP score names as its drivers.
    public var drivers = 3
    /// A connection with nothing to read or write for this long is closed (slow or stalled clients).
    public var idleTimeout: Duration = .seconds(30)
    /// What to load, and load again on reload.
    public var models = ModelSources()

    public init() {}
}

/// The files the service's models come from. A reload reads every one of them again.
public struct ModelSources: Sendable {
    /// Whether `POST /v1/ip/score` is served (needs the IP model's databases).
    public var ipScoring = true
    /// IP model file; nil for the one that ships with Flowhound.
    public var ipModel: String?
    /// MaxMind-format databases, asked before libloc.
    public var mmdb: [String] = []
    /// The libloc location database; nil leaves it out.
    public var libloc: String? = LocationDatabase.defaultPath
    /// Infrastructure lists the IP model uses, as `NAME=FILE`.
    public var lists: [String] = []
    /// Addresses and blocks never reported: scan alerts of these sources are silenced, flows to
    /// them ignored, and their IP score is `allowlisted`.
    public var allowlist: String?
    /// Scan CNN file; nil for the shipped one. Loaded only when the recipe uses the CNN.
    public var scanModel: String?
    /// Detectors and settings of `POST /v1/detect` (its allowlist comes from `allowlist`).
    public var detection = DetectionRecipe()

    public init() {}
}

extension ServiceConfiguration {
    /// A setting with a range (or, for the token, a form) the service checks before it starts.
    public enum Setting: String, Sendable, CaseIterable {
        case port, bodyLimit, requestTimeout, maxConcurrentRequests, maxConcurrentPerClient, readTimeout
        case maxAddressesPerRequest, scorers, drivers, idleTimeout, token

        /// The setting in words, for messages: "the body limit".
        public var name: String {
            switch self {
            case .port: "the port"
            case .bodyLimit: "the body limit"
            case .requestTimeout: "the request timeout"
            case .maxConcurrentRequests: "the requests handled at once"
            case .maxConcurrentPerClient: "the requests one client may have in flight"
            case .readTimeout: "the read timeout"
            case .maxAddressesPerRequest: "the addresses a request may carry"
            case .scorers: "the number of IP scorers"
            case .drivers: "the drivers each IP score names"
            case .idleTimeout: "the idle timeout"
            case .token: "the token"
            }
        }
    }

    /// The values a setting may take: a count (in `unit` when there is one) or a time in seconds.
    public enum Limit: Sendable, Equatable {
        case count(ClosedRange<Int>, unit: String)
        case seconds(ClosedRange<Double>)
    }

    /// Where every range of the configuration is written: what the service runs with. Front ends
    /// check their options against these (`check`) rather than keeping ranges of their own.
    /// Nil for the token, which has no range (it must not be empty).
    public static func limit(of setting: Setting) -> Limit? {
        switch setting {
        case .port: .count(0...65_535, unit: "")
        case .bodyLimit: .count(1024...(1 << 30), unit: "bytes")
        case .requestTimeout: .seconds(0.001...3600)
        case .maxConcurrentRequests, .maxConcurrentPerClient: .count(1...100_000, unit: "")
        case .readTimeout: .seconds(0.1...3600)
        case .maxAddressesPerRequest: .count(1...1_000_000, unit: "")
        case .scorers: .count(1...1024, unit: "")
        case .drivers: .count(0...50, unit: "")
        case .idleTimeout: .seconds(0.001...3600)
        case .token: nil
        }
    }

    /// Checks a count against the range of `setting`.
    /// - Throws: `ServiceConfigurationError` naming the setting, its range and `value`.
    public static func check(_ setting: Setting, _ value: Int) throws(ServiceConfigurationError) {
        guard case .count(let range, let unit)? = limit(of: setting) else { preconditionFailure("\(setting) is not a count") }
        guard range.contains(value) else {
            throw ServiceConfigurationError(
                setting: setting,
                reason: "must be \(range.lowerBound)–\(range.upperBound)\(unit.isEmpty ? "" : " " + unit), not \(value)")
        }
    }

    /// Checks a time in seconds against the range of `setting`; `nan` and infinities are outside every range.
    /// - Throws: `ServiceConfigurationError` naming the setting, its range and `value`.
    public static func check(_ setting: Setting, seconds value: Double) throws(ServiceConfigurationError) {
        guard case .seconds(let range)? = limit(of: setting) else { preconditionFailure("\(setting) is not a time") }
        guard value.isFinite, range.contains(value) else {
            throw ServiceConfigurationError(
                setting: setting,
                reason: "must be from \(number(range.lowerBound)) to \(number(range.upperBound)) seconds, not \(value)")
        }
    }

    /// Checks every setting, in the order of `Setting`; the service does this before it starts.
    /// - Throws: `ServiceConfigurationError` for the first setting out of its range.
    public func validate() throws(ServiceConfigurationError) {
        try Self.check(.port, port)
        try Self.check(.bodyLimit, bodyLimit)
        try Self.check(.requestTimeout, seconds: requestTimeout.inSeconds)
        try Self.check(.maxConcurrentRequests, maxConcurrentRequests)
        try Self.check(.maxConcurrentPerClient, maxConcurrentPerClient)
        try Self.check(.readTimeout, seconds: readTimeout.inSeconds)
        try Self.check(.maxAddressesPerRequest, maxAddressesPerRequest)
        try Self.check(.scorers, scorers)
        try Self.check(.drivers, drivers)
        try Self.check(.idleTimeout, seconds: idleTimeout.inSeconds)
        if let token, token.isEmpty { throw ServiceConfigurationError(setting: .token, reason: "is empty") }
    }

    /// `600` rather than `600.0`; other values as Swift prints them.
    private static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

/// A setting of a `ServiceConfiguration` out of its range: the service does not start.
public struct ServiceConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The setting at fault; a front end names it its own way (the CLI as its flag).
    public var setting: ServiceConfiguration.Setting
    /// What is wrong with it, without its name: "must be 1024–1073741824 bytes, not 12".
    public var reason: String

    public init(setting: ServiceConfiguration.Setting, reason: String) {
        self.setting = setting
        self.reason = reason
    }

    /// "the body limit must be 1024–1073741824 bytes, not 12".
    public var description: String { "\(setting.name) \(reason)" }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
