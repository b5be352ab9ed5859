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

    @Option(help: "Seconds a request may take before its work is abandoned (503).")
    var timeout = 10.0

    @Option(help: "Requests handled at once; more are turned away with 503 and Retry-After.")
    var maxConcurrent = 512

    @Option(help: "Requests one client address may have in flight at once; more get 429 and Retry-After.")
    var maxPerClient = 64

    @Option(help: "Seconds a client has to send a request's headers, and again its body; then the connection is closed.")
    var readTimeout = 30.0

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

    func validate() throws {
        try OptionCheck.require(port, "--port", in: 0...65_535)
        try OptionCheck.require(bodyLimit, "--body-limit", in: 1024...(1 << 30), unit: "bytes")
        try OptionCheck.require(timeout, "--timeout", in: 0.001...3600, unit: "seconds")
        try OptionCheck.require(maxConcurrent, "--max-concurrent", in: 1...100_000)
        try OptionCheck.require(maxPerClient, "--max-per-client", in: 1...100_000)
        try OptionCheck.require(readTimeout, "--read-timeout", in: 0.1...3600, unit: "seconds")
        try OptionCheck.require(maxAddresses, "--max-addresses", in: 1...1_000_000)
        try OptionCheck.threads(scorers, "--scorers")
        try OptionCheck.require(drivers, "--drivers", in: 0...50)
    }

    func run() async throws {
        do {
            let configuration = try makeConfiguration()
            if configuration.token == nil && !["127.0.0.1", "::1", "localhost"].contains(host) {
                Diagnostics.note("warning: listening on \(host) with no --token-file: anyone who can reach it can use it")
            }
            let app = try await buildApplication(configuration)
            try await app.runService()
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
        c.requestTimeout = .milliseconds(Int64((timeout * 1000).rounded()))
        c.maxConcurrentRequests = maxConcurrent
        c.maxConcurrentPerClient = maxPerClient
        c.readTimeout = .milliseconds(Int64((readTimeout * 1000).rounded()))
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
