import ArgumentParser
import Detection
import FlowRecords
import Foundation
import Hummingbird
import Logging
import Reputation
import Service

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve IP scoring and scan detection over HTTP (JSON in and out).",
        discussion: """
            Routes: POST /v1/ip/score, POST /v1/detect, GET /v1/models, POST /v1/models/reload, \
            GET /healthz, GET /metrics (Prometheus), GET /openapi.yaml (the API described).

            Binds 127.0.0.1 unless --host says otherwise; give --token-file before exposing it: every \
            /v1 request then needs 'Authorization: Bearer <token>'. Bodies over --body-limit get 413, \
            requests over --max-concurrent get 503 at once (over --max-per-client from one address, 429), \
            work past --timeout is abandoned with 503, and a client slower than --read-timeout to send \
            a request's headers or body is disconnected. \
            SIGHUP (or POST /v1/models/reload) loads every model, list and allowlist file again and \
            swaps them in; requests in flight finish on the old ones. SIGTERM or SIGINT stops accepting, \
            finishes the requests in flight and exits 0.

            Examples:
              flowhound serve
              flowhound serve --host 0.0.0.0 --port 9000 --token-file /etc/flowhound/token
              curl -s localhost:8080/v1/ip/score -d '{"addresses": ["77.90.185.20", "8.8.8.8"]}'
              curl -s localhost:8080/v1/detect --data-binary @conn.log
            """)

    @Option(help: "Address to listen on (default loopback only).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = 8080

    @Option(help: ArgumentHelp("File holding the bearer token that /v1 requests must carry (surrounding whitespace ignored).", valueName: "file"))
    var tokenFile: String?

    @Option(help: "Largest request body in bytes.")
    var bodyLimit = 8 << 20

    @Option(help: "How long a request may take before its work is abandoned (503): 10s, 1m.")
    var timeout = Duration(seconds: 10)

    @Option(help: "Requests handled at once; more are turned away with 503 and Retry-After.")
    var maxConcurrent = 512

    @Option(help: "Requests one client address may have in flight at once; more get 429 and Retry-After.")
    var maxPerClient = 64

    @Option(help: "How long a client has to send a request's headers, and again its body; then the connection is closed.")
    var readTimeout = Duration(seconds: 30)

    @Option(help: "Addresses one POST /v1/ip/score may carry.")
    var maxAddresses = 10_000

    @Option(help: "IP scorers for concurrent requests (default: one per core).")
    var scorers = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: ArgumentHelp("IP model file (default: the model that ships with Flowhound).", valueName: "file"))
    var ipModel: String?

    @Flag(help: "Do not serve POST /v1/ip/score (no IP model or address database is loaded).")
    var noIPScoring = false

    @Option(help: "How many driving features each IP score names.")
    var drivers = 3

    @OptionGroup(title: "Detection (POST /v1/detect)") var detection: DetectionOptions
    @OptionGroup(title: "Address databases") var databases: AddressDatabaseOptions
    @OptionGroup(title: "Feature lists") var lists: ListOptions
    @OptionGroup(title: "Config file") var configOption: ConfigOption

    /// The flag of each service setting it sets. The ranges are the service's
    /// (`ServiceConfiguration.limit(of:)`); an error naming a setting is worded here with its flag.
    static let flags: [ServiceConfiguration.Setting: String] = [
        .port: "--port", .bodyLimit: "--body-limit", .requestTimeout: "--timeout", .maxConcurrentRequests: "--max-concurrent",
        .maxConcurrentPerClient: "--max-per-client", .readTimeout: "--read-timeout", .maxAddressesPerRequest: "--max-addresses",
        .scorers: "--scorers", .drivers: "--drivers", .token: "--token-file",
    ]

    func validate() throws {
        do {
            try ServiceConfiguration.check(.port, port)
            try ServiceConfiguration.check(.bodyLimit, bodyLimit)
            try ServiceConfiguration.check(.requestTimeout, seconds: timeout.seconds)
            try ServiceConfiguration.check(.maxConcurrentRequests, maxConcurrent)
            try ServiceConfiguration.check(.maxConcurrentPerClient, maxPerClient)
            try ServiceConfiguration.check(.readTimeout, seconds: readTimeout.seconds)
            try ServiceConfiguration.check(.maxAddressesPerRequest, maxAddresses)
            try ServiceConfiguration.check(.scorers, scorers)
            try ServiceConfiguration.check(.drivers, drivers)
        } catch {
            throw ValidationError(Self.message(error))
        }
    }

    /// The error in the flags' terms: "--body-limit must be 1024–1073741824 bytes, not 12".
    static func message(_ error: ServiceConfigurationError) -> String {
        flags[error.setting].map { "\($0) \(error.reason)" } ?? error.description
    }

    func run() async throws {
        do {
            let configuration = try makeConfiguration()
            if configuration.token == nil && !["127.0.0.1", "::1", "localhost"].contains(host) {
                Diagnostics.note("warning: listening on \(host) with no --token-file: anyone who can reach it can use it")
            }
            let app = try await buildApplication(configuration)
            try await app.runService()
        } catch let error as ServiceConfigurationError {
            Diagnostics.error(Self.message(error))
            throw ExitCode.failure
        } catch let error as any OneLineError {
            Diagnostics.error(Diagnostics.message(error))
            throw ExitCode.failure
        }
    }

    func makeConfiguration() throws -> ServiceConfiguration {
        var c = ServiceConfiguration()
        c.host = host
        c.port = port
        if let tokenFile {
            // At most 4 KiB: a token is short, and a wrong path (a log, /dev/zero) must not be read whole.
            let limit = 4096
            let bytes: Data
            do {
                let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: tokenFile))
                defer { try? handle.close() }
                bytes = try handle.read(upToCount: limit + 1) ?? Data()
            } catch {
                throw ServeSetupError("\(tokenFile): cannot read the token file: \(error.localizedDescription)")
            }
            guard bytes.count <= limit else { throw ServeSetupError("\(tokenFile): the token file is over \(limit) bytes: not a token") }
            guard let text = String(data: bytes, encoding: .utf8) else { throw ServeSetupError("\(tokenFile): the token file is not UTF-8 text") }
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw ServeSetupError("\(tokenFile): the token file is empty") }
            c.token = token
        }
        c.bodyLimit = bodyLimit
        c.requestTimeout = .milliseconds(Int64((timeout.seconds * 1000).rounded()))
        c.maxConcurrentRequests = maxConcurrent
        c.maxConcurrentPerClient = maxPerClient
        c.readTimeout = .milliseconds(Int64((readTimeout.seconds * 1000).rounded()))
        c.maxAddressesPerRequest = maxAddresses
        c.scorers = scorers
        c.drivers = drivers
        c.models.ipScoring = !noIPScoring
        c.models.ipModel = ipModel
        c.models.mmdb = databases.mmdb
        c.models.libloc = databases.noLocationDatabase ? nil : databases.locationDatabase
        c.models.lists = lists.lists
        c.models.allowlist = detection.allowlist
        c.models.scanModel = detection.model
        var recipe = try detection.recipe()
        recipe.allowlist = CIDRSet()  // loaded (and reloaded) by the service from c.models.allowlist
        c.models.detection = recipe
        return c
    }
}

/// A reason `serve` cannot start, as one line.
struct ServeSetupError: OneLineError {
    var description: String
    init(_ description: String) { self.description = description }
}

extension ServiceSetupError: OneLineError {}
extension ModelStore.ReloadError: OneLineError {}
