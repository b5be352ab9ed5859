import Detection
import FlowRecords
import Foundation
import Hummingbird
import HummingbirdTesting
import Neural
import Reputation
import TestSupport
import Testing
import Yams

@testable import Service

/// Whether the libloc database the shipped IP model was trained with is installed.
let hasLibloc = FileManager.default.fileExists(atPath: "/var/lib/location/database.db")

/// A configuration for tests: IP scoring only where its database is installed, small limits.
func testConfiguration(ipScoring: Bool = hasLibloc, token: String? = nil) -> ServiceConfiguration {
    var c = ServiceConfiguration()
    c.models.ipScoring = ipScoring
    c.token = token
    c.bodyLimit = 64 * 1024
    c.scorers = 2
    return c
}

/// The decoded JSON body of a response.
func json(_ response: TestResponse) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))
    return try #require(object as? [String: Any], "not a JSON object: \(String(buffer: response.body))")
}

/// The error object of an error response.
func errorDetail(_ response: TestResponse) throws -> (message: String, field: String?) {
    let error = try #require(try json(response)["error"] as? [String: Any])
    #expect(error["status"] as? Int == Int(response.status.code))
    return (try #require(error["message"] as? String), error["field"] as? String)
}

/// Expects an error response whose message contains `text`.
func expectMessage(_ response: TestResponse, contains text: String) throws {
    let message = try errorDetail(response).message
    #expect(message.contains(text), "\(message)")
}

func jsonBody(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

/// A vertical scan (60 refused ports on one host in a minute) and a little benign traffic, as
/// Flowhound JSON lines.
func scanLog(source: String = "198.51.100.7", extraLines: [String] = []) -> ByteBuffer {
    var bytes: [UInt8] = []
    let scanner = IPAddress(source)!, target = IPAddress("10.0.0.5")!
    for i in 0..<60 {
        let t = 1_700_000_000 + Double(i)
        FlowWriter.encode(
            FlowRecord(
                start: t, end: t + 0.01, source: scanner, destination: target, sourcePort: 40000,
                destinationPort: UInt16(20 + i), transport: .tcp, sourcePackets: 1, sourceBytes: 40,
                destinationPackets: 1, destinationBytes: 40, tcpFlags: [], outcome: .rejected, state: "REJ"),
            as: .jsonl, into: &bytes)
    }
    let client = IPAddress("10.0.0.9")!, server = IPAddress("192.0.2.80")!
    for i in 0..<5 {
        let t = 1_700_000_000 + Double(10 * i)
        FlowWriter.encode(
            FlowRecord(
                start: t, end: t + 1, source: client, destination: server, sourcePort: UInt16(50000 + i),
                destinationPort: 443, transport: .tcp, sourcePackets: 10, sourceBytes: 900,
                destinationPackets: 12, destinationBytes: 9000, outcome: .established, state: "SF"),
            as: .jsonl, into: &bytes)
    }
    for line in extraLines { bytes += Array((line + "\n").utf8) }
    return ByteBuffer(bytes: bytes)
}

/// A store serving a copy of the shipped scan model (IP scoring off), the copy's path, and the
/// directory that holds it, for the caller to remove.
func storeServingACopyOfTheScanModel() throws -> (store: ModelStore, model: String, directory: URL) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flowhound-serve-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let model = directory.appendingPathComponent("scan.safetensors").path
    try FileManager.default.copyItem(atPath: try #require(ScanModel.defaultPath()), toPath: model)
    var sources = testConfiguration(ipScoring: false).models
    sources.scanModel = model
    return (try ModelStore(sources: sources, scorers: 1), model, directory)
}

@Suite("flowhound serve", .tags(.integration))
struct ServiceTests {
    @Test("GET /healthz says the generation and what is served")
    func health() async throws {
        let app = try await buildApplication(testConfiguration(ipScoring: false))
        try await app.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                let body = try json(response)
                #expect(body["status"] as? String == "ok")
                #expect(body["generation"] as? Int == 1)
                #expect(body["ip_scoring"] as? Bool == false)
                #expect(body["detectors"] as? [String] == ["threshold", "trw", "cnn", "slow", "distributed"])
            }
        }
    }

    @Test("GET /openapi.yaml parses as OpenAPI 3 and lists every route the server answers, and only those")
    func openAPIDocument() async throws {
        let app = try await buildApplication(testConfiguration(ipScoring: false))
        let routes: Set<String> = [
            "POST /v1/ip/score", "POST /v1/detect", "GET /v1/models", "POST /v1/models/reload",
            "GET /healthz", "GET /metrics", "GET /openapi.yaml",
        ]
        try await app.test(.router) { client in
            let text = try await client.execute(uri: "/openapi.yaml", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/yaml")
                return String(buffer: response.body)
            }
            let document = try #require(try Yams.load(yaml: text) as? [String: Any])
            #expect((document["openapi"] as? String)?.hasPrefix("3.") == true)
            let paths = try #require(document["paths"] as? [String: Any])
            var listed = Set<String>()
            for (path, item) in paths {
                for method in (item as? [String: Any] ?? [:]).keys where ["get", "post", "put", "delete", "patch"].contains(method) {
                    listed.insert("\(method.uppercased()) \(path)")
                }
            }
            #expect(listed == routes)
            #expect(Set(FlowhoundService.routes.map { "\($0.method) \($0.path)" }) == routes)
            // Every listed route is answered (anything but 404), and every $ref resolves.
            for route in listed {
                let parts = route.split(separator: " ")
                try await client.execute(uri: String(parts[1]), method: HTTPRequest.Method(String(parts[0]))!, body: jsonBody("{}")) { response in
                    #expect(response.status != .notFound, "\(route)")
                }
            }
            let components = try #require(document["components"] as? [String: Any])
            for ref in text.matches(of: /\$ref: "#\/components\/(\w+)\/(\w+)"/) {
                #expect((components[String(ref.1)] as? [String: Any])?[String(ref.2)] != nil, "\(ref.0) does not resolve")
            }
        }
    }

    @Test("POST /v1/ip/score scores addresses given as text or objects", .enabled(if: hasLibloc, "the libloc-database package is not installed"))
    func scoreAddresses() async throws {
        let app = try await buildApplication(testConfiguration())
        try await app.test(.router) { client in
            let body = #"{"addresses": ["77.90.185.20", "192.168.1.4", {"address": "104.16.1.1", "hour": 3, "port": 443, "transport": "tcp"}]}"#
            try await client.execute(uri: "/v1/ip/score", method: .post, body: jsonBody(body)) { response in
                #expect(response.status == .ok)
                let answer = try json(response)
                #expect(answer["generation"] as? Int == 1)
                let scores = try #require(answer["scores"] as? [[String: Any]])
                #expect(scores.map { $0["address"] as? String } == ["77.90.185.20", "192.168.1.4", "104.16.1.1"])
                #expect(scores[0]["verdict"] as? String == "suspicious")
                #expect((scores[0]["probability"] as? Double ?? 0) >= (scores[0]["threshold"] as? Double ?? 1))
                #expect((scores[0]["drivers"] as? [Any])?.count == 3)
                #expect(scores[1]["verdict"] as? String == "not-public")
                #expect(scores[1]["probability"] == nil)
                #expect(scores[2]["verdict"] as? String == "unremarkable")
                #expect(scores[2]["asn"] as? Int == 13335)
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(text.contains("flowhound_ip_addresses_scored_total 3"))
                #expect(text.contains(#"flowhound_http_requests_total{route="/v1/ip/score",method="POST",status="200"} 1"#))
            }
        }
    }

    @Test("Bad JSON, wrong types, unknown fields, bad addresses: 400 naming what and where")
    func badRequests() async throws {
        let app = try await buildApplication(testConfiguration(ipScoring: false))
        let cases: [(body: String, message: String, field: String?)] = [
            (#"{"addresses": ["1.2.3.4"]"#, "not valid JSON", nil),
            ("", "the body is empty", nil),
            ("[1, 2]", "the body: expected an object", nil),
            (#"{"addresses": "1.2.3.4"}"#, "addresses: expected an array", "addresses"),
            (#"{}"#, "addresses: missing", "addresses"),
            (#"{"addresses": null}"#, "addresses: expected an array, not null", "addresses"),
            (#"{"addresses": ["1.2.3.4"], "drivers": 5}"#, "drivers: unknown field", "drivers"),
            (#"{"addresses": [{"address": "1.2.3.4", "hour": "noon"}]}"#, "addresses[0].hour: expected an integer", "addresses[0].hour"),
            (#"{"addresses": [{"address": "1.2.3.4", "colour": "red"}]}"#, "addresses[0].colour: unknown field", "addresses[0].colour"),
            (#"{"addresses": ["1.2.3.4", "300.1.1.1"]}"#, "addresses[1]: '300.1.1.1': not an IPv4 or IPv6 address", "addresses[1]"),
            (#"{"addresses": [{"address": "1.2.3.4", "hour": 24}]}"#, "hour '24' is not 0–23", "addresses[0]"),
            (#"{"addresses": [{"address": "1.2.3.4", "transport": "udp"}]}"#, "addresses[0].transport: a transport needs a port", "addresses[0].transport"),
            (
                #"{"addresses": [{"address": "1.2.3.4", "port": 22, "transport": null}]}"#, "addresses[0].transport: expected a string, not null",
                "addresses[0].transport"
            ),
            (
                #"{"addresses": [{"address": "1.2.3.4", "port": 22, "transport": "TCP"}]}"#, "'TCP' is not tcp, udp, icmp or a protocol number 0–255",
                "addresses[0].transport"
            ),
            (#"{"addresses": [{"address": "1.2.3.4", "port": 22, "transport": "256"}]}"#, "'256' is not tcp, udp, icmp", "addresses[0].transport"),
            (#"{"addresses": [42]}"#, "addresses[0]: expected a string ADDR[,HOUR[,PORT/PROTO]] or an object", "addresses[0]"),
            (#"{"addresses": []}"#, "addresses: empty", "addresses"),
        ]
        try await app.test(.router) { client in
            for c in cases {
                try await client.execute(uri: "/v1/ip/score", method: .post, body: jsonBody(c.body)) { response in
                    #expect(response.status == .badRequest, "\(c.body)")
                    let detail = try errorDetail(response)
                    #expect(detail.message.contains(c.message), "\(c.body): \(detail.message)")
                    #expect(detail.field == c.field, "\(c.body)")
                }
            }
            // A well-formed request to a server without IP scoring: 503 saying so.
            try await client.execute(uri: "/v1/ip/score", method: .post, body: jsonBody(#"{"addresses": ["8.8.8.8"]}"#)) { response in
                #expect(response.status == .serviceUnavailable)
                try expectMessage(response, contains: "IP scoring is off")
            }
            try await client.execute(uri: "/v1/ip/score", method: .get) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "POST")
                try expectMessage(response, contains: "/v1/ip/score answers POST, not GET")
            }
            try await client.execute(uri: "/v2/nothing", method: .get) { response in
                #expect(response.status == .notFound)
                try expectMessage(response, contains: "no route for GET /v2/nothing")
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(text.contains(#"flowhound_http_requests_total{route="/v1/ip/score",method="POST",status="400"} \#(cases.count)"#))
                #expect(!text.contains(#"status="500""#))
            }
        }
    }

    @Test("An oversized body is refused with 413, by its Content-Length or while it is read")
    func oversizedBody() async throws {
        var configuration = testConfiguration(ipScoring: false)
        configuration.bodyLimit = 1024
        let app = try await buildApplication(configuration)
        try await app.test(.router) { client in
            let big = #"{"addresses": ["# + String(repeating: #""1.2.3.4","#, count: 200) + #""1.2.3.4"]}"#
            for uri in ["/v1/ip/score", "/v1/detect"] {
                for headers: HTTPFields in [[:], [.contentLength: String(big.utf8.count)]] {
                    try await client.execute(uri: uri, method: .post, headers: headers, body: jsonBody(big)) { response in
                        #expect(response.status == .contentTooLarge, "\(uri) \(headers)")
                        try expectMessage(response, contains: "limit of 1024 bytes")
                    }
                }
            }
        }
    }

    @Test("With a token, /v1 needs it (compared in constant time); health, metrics and the document do not")
    func bearerToken() async throws {
        let app = try await buildApplication(testConfiguration(ipScoring: false, token: "s3cret-token"))
        try await app.test(.router) { client in
            let attempts: [(HTTPFields, String?)] = [
                ([:], "needs a bearer token"),
                ([.authorization: "Basic czNjcmV0"], "is not 'Bearer <token>'"),
                ([.authorization: "Bearer s3cret-tokeN"], "wrong"),
                ([.authorization: "Bearer s3cret-token-and-more"], "wrong"),
                ([.authorization: "Bearer s3cret-token"], nil),
            ]
            for (headers, failure) in attempts {
                for (uri, method) in [("/v1/models", HTTPRequest.Method.get), ("/v1/models/reload", .post)] {
                    try await client.execute(uri: uri, method: method, headers: headers) { response in
                        if let failure {
                            #expect(response.status == .unauthorized, "\(uri) \(headers)")
                            #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                            try expectMessage(response, contains: failure)
                        } else {
                            #expect(response.status == .ok, "\(uri)")
                        }
                    }
                }
            }
            for uri in ["/healthz", "/metrics", "/openapi.yaml"] {
                try await client.execute(uri: uri, method: .get) { #expect($0.status == .ok, "\(uri)") }
            }
        }
        #expect(ServiceMiddleware.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        #expect(!ServiceMiddleware.constantTimeEqual(Array("abd".utf8), Array("abc".utf8)))
        #expect(!ServiceMiddleware.constantTimeEqual(Array("ab".utf8), Array("abc".utf8)))
        #expect(!ServiceMiddleware.constantTimeEqual([], Array("abc".utf8)))
        #expect(!ServiceMiddleware.constantTimeEqual([], []))
    }

    @Test("POST /v1/detect finds the scan in a log of any format, and counts malformed records")
    func detect() async throws {
        let app = try await buildApplication(testConfiguration(ipScoring: false))
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/detect", method: .post, body: scanLog(extraLines: ["{\"src\": \"not json"])) { response in
                #expect(response.status == .ok)
                let answer = try json(response)
                #expect(answer["format"] as? String == "jsonl")
                #expect(answer["records"] as? Int == 65)
                #expect(answer["malformed"] as? Int == 1)
                #expect((answer["issues"] as? [String])?.first?.hasPrefix("line 66: ") == true)
                let alerts = try #require(answer["alerts"] as? [[String: Any]])
                // One episode: its start and end alerts, as `detect` writes them.
                #expect(alerts.map { ($0["flowhound"] as? [String: Any])?["phase"] as? String } == ["start", "end"])
                #expect((alerts.first?["source"] as? [String: Any])?["ip"] as? String == "198.51.100.7")
                #expect((alerts.first?["threat"] as? [String: Any]).flatMap { ($0["technique"] as? [String: Any])?["id"] as? [String] } == ["T1046"])
                #expect(((answer["statistics"] as? [String: Any])?["flows"] as? Int) == 65)
            }
            // A real Zeek conn.log excerpt, gzip-compressed, as it is.
            let sample = Repository.url("Samples/stratosphere-008-mixed.head300.conn.log.gz")
            try await client.execute(uri: "/v1/detect?format=zeek", method: .post, body: ByteBuffer(bytes: try Data(contentsOf: sample))) { response in
                #expect(response.status == .ok)
                let answer = try json(response)
                #expect(answer["format"] as? String == "zeek")
                #expect(answer["records"] as? Int == 300)
                #expect((answer["alerts"] as? [[String: Any]])?.contains { ($0["source"] as? [String: Any])?["ip"] as? String == "104.156.155.13" } == true)
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(text.contains("flowhound_flow_records_total 365"))
                #expect(text.contains("flowhound_malformed_records_total 1"))
                #expect(text.contains("flowhound_http_request_duration_seconds_bucket{route=\"/v1/detect\""))
            }
        }
    }

    @Test("POST /v1/detect: bad parameters and unreadable logs are 4xx naming the reason")
    func detectErrors() async throws {
        let app = try await buildApplication(testConfiguration(ipScoring: false))
        let cases: [(uri: String, body: ByteBuffer, status: HTTPResponse.Status, message: String)] = [
            ("/v1/detect?format=pcap", scanLog(), .badRequest, "format: 'pcap' is not one of zeek"),
            ("/v1/detect?strict=maybe", scanLog(), .badRequest, "strict: 'maybe' is not true or false"),
            ("/v1/detect?window=60", scanLog(), .badRequest, "unknown query parameter 'window'"),
            ("/v1/detect", ByteBuffer(), .badRequest, "the body is empty"),
            ("/v1/detect", ByteBuffer(string: "hello world\nthis is not a flow log\n"), .unprocessableContent, "unrecognised flow-log format"),
            ("/v1/detect", ByteBuffer(bytes: [0xD4, 0xC3, 0xB2, 0xA1, 0, 0, 0, 0]), .unprocessableContent, "packet capture"),
            ("/v1/detect?strict=true", scanLog(extraLines: ["{\"src\": 1}"]), .unprocessableContent, "line 66: "),
            ("/v1/detect?format=nfdump", scanLog(), .unprocessableContent, "the body is not a readable flow log"),
        ]
        try await app.test(.router) { client in
            for c in cases {
                try await client.execute(uri: c.uri, method: .post, body: c.body) { response in
                    #expect(response.status == c.status, "\(c.uri)")
                    let message = try errorDetail(response).message
                    #expect(message.contains(c.message), "\(c.uri): \(message)")
                }
            }
        }
    }

    @Test("GET /v1/models shows the models in service with their cards")
    func models() async throws {
        let app = try await buildApplication(testConfiguration())
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/models", method: .get) { response in
                #expect(response.status == .ok)
                let answer = try json(response)
                #expect(answer["generation"] as? Int == 1)
                let scan = try #require(answer["scan_model"] as? [String: Any])
                #expect(scan["kind"] as? String == "scan-cnn")
                #expect((scan["input"] as? [String: Any])?["window_seconds"] as? Double == 600)
                #expect(scan["metrics"] != nil)
                let detection = try #require(answer["detection"] as? [String: Any])
                #expect(detection["window_seconds"] as? Double == 600)
                if hasLibloc {
                    let ip = try #require(answer["ip_model"] as? [String: Any])
                    #expect(ip["kind"] as? String == "ip-reputation")
                    #expect(ip["scorer"] as? String == "forest+mlp")
                    #expect(ip["card"] != nil)
                    #expect(answer["ip_scoring"] as? String == "on")
                } else {
                    #expect(answer["ip_model"] == nil)
                }
            }
        }
    }

    @Test("Reloading swaps the models while requests run: none fails, each is answered by one generation")
    func reloadWhileRequestsRun() async throws {
        let app = try await buildApplication(testConfiguration())
        try await app.test(.router) { client in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<40 {
                    group.addTask {
                        if i == 10 || i == 25 {
                            return try await client.execute(uri: "/v1/models/reload", method: .post) { response in
                                #expect(response.status == .ok || response.status == .conflict, "\(String(buffer: response.body))")
                                return -1
                            }
                        }
                        if hasLibloc && i % 2 == 0 {
                            return try await client.execute(uri: "/v1/ip/score", method: .post, body: jsonBody(#"{"addresses": ["77.90.185.20", "8.8.8.8"]}"#))
                            { response in
                                #expect(response.status == .ok)
                                return try json(response)["generation"] as? Int ?? 0
                            }
                        }
                        return try await client.execute(uri: "/v1/detect", method: .post, body: scanLog()) { response in
                            #expect(response.status == .ok)
                            let answer = try json(response)
                            #expect((answer["alerts"] as? [Any])?.count == 2)
                            return answer["generation"] as? Int ?? 0
                        }
                    }
                }
                for try await generation in group where generation != -1 {
                    #expect((1...3).contains(generation))
                }
            }
            let generation = try await client.execute(uri: "/healthz", method: .get) { try json($0)["generation"] as? Int ?? 0 }
            #expect((2...3).contains(generation))
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(String(buffer: response.body).contains("flowhound_model_generation \(generation)"))
            }
        }
    }

    @Test(
        "A generation taken before a reload still works after it (requests in flight finish on it)",
        .enabled(if: hasLibloc, "the libloc-database package is not installed"))
    func oldGenerationKeepsWorking() throws {
        let store = try ModelStore(sources: testConfiguration().models, scorers: 1)
        let old = store.current
        let new = try store.reload()
        #expect(new.number == 2 && store.current === new && old.number == 1)
        let observation = try Observation.parse("77.90.185.20").get()
        let before = try old.ipScorers!.withScorer { try $0.score(observation) }
        let after = try new.ipScorers!.withScorer { try $0.score(observation) }
        #expect(before == after)
        _ = old.makePipeline()
    }

    @Test("A reload that fails keeps the old models serving and says why")
    func failedReload() throws {
        let (store, model, directory) = try storeServingACopyOfTheScanModel()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("not a model".utf8).write(to: URL(fileURLWithPath: model))
        #expect(throws: ModelStore.ReloadError.self) { try store.reload() }
        #expect(store.current.number == 1)
        do {
            try store.reload()
        } catch {
            #expect(error.description.contains(model))
        }
    }

    @Test("A reload of a model whose architecture was made huge (checksum recomputed) fails; the old models keep serving")
    func reloadOfAHugeModel() throws {
        let (store, model, directory) = try storeServingACopyOfTheScanModel()
        defer { try? FileManager.default.removeItem(at: directory) }
        var file = try SafeTensors.read(path: model)
        let architecture = try #require(file.metadata["architecture"])
        file.metadata["architecture"] = architecture.replacingOccurrences(of: #""units":32"#, with: #""units":4611686018427387904"#)
        #expect(file.metadata["architecture"] != architecture)
        try file.sealed().write(to: model)
        // Before the bounds came first, building this network trapped and took the server down.
        let error = #expect(throws: ModelStore.ReloadError.self) { try store.reload() }
        #expect(
            error?.description.contains("\(model): has an architecture that cannot be used: layer 7 (dense 4611686018427387904)") == true,
            "\(String(describing: error))")
        #expect(store.current.number == 1)
        _ = store.current.makePipeline()
    }

    @Test("Over the concurrency cap: 503 with Retry-After at once; past the deadline: 503")
    func concurrencyCapAndTimeout() async throws {
        var configuration = testConfiguration(ipScoring: false)
        configuration.maxConcurrentRequests = 1
        configuration.requestTimeout = .milliseconds(50)
        let metrics = ServiceMetrics()
        let router = Router(context: ServiceRequestContext.self)
        router.middlewares.add(ServiceMiddleware(configuration: configuration, metrics: metrics))
        let (started, startedContinuation) = AsyncStream<Void>.makeStream()
        let (release, releaseContinuation) = AsyncStream<Void>.makeStream()
        router.get("hold") { _, _ in
            startedContinuation.yield()
            for await _ in release { break }
            return "released"
        }
        router.get("spin") { _, context -> String in
            while true {
                try context.checkDeadline()
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        let app = Application(router: router)
        try await app.test(.router) { client in
            async let held = client.execute(uri: "/hold", method: .get) { String(buffer: $0.body) }
            for await _ in started { break }
            try await client.execute(uri: "/hold", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "1")
                try expectMessage(response, contains: "limit of 1 requests")
            }
            releaseContinuation.yield()
            let heldText = try await held
            #expect(heldText == "released")
            try await client.execute(uri: "/spin", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                try expectMessage(response, contains: "took longer than")
            }
        }
    }
}
