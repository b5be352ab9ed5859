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
