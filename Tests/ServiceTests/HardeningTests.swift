import Foundation
import Hummingbird
import HummingbirdTesting
import TestSupport
import Testing

@testable import Service

#if canImport(Glibc)
import Glibc
#endif

/// How a hostile client attacks the service: other spellings of protected paths, bodies that cost
/// time without producing flows, bad framing, and inputs echoed back.
@Suite("flowhound serve against hostile clients", .tags(.integration))
struct ServiceHardeningTests {
    /// Every /v1 route spelled the ways a router or a proxy may read the same path.
    static func spellings(of path: String) -> [String] {
        let rest = path.dropFirst("/v1/".count)
        return [
            "/" + path, "//" + path.dropFirst(), path + "/", path + "//", "/./" + path.dropFirst(), "/v1/./" + rest,
            "/v1//" + rest, "/x/../" + path.dropFirst(), "/v1%2F" + rest, "/%76%31/" + rest, "/V1/" + rest,
            "/v1/" + rest.uppercased(), path + "?x=1", "///" + path.dropFirst() + "/.",
        ]
    }

    @Test("No spelling of a /v1 route gets past the token: //, /./, %2F, trailing slashes, case")
    func everySpellingNeedsTheToken() async throws {
        let app = try await buildApplication(testConfiguration(ipScoring: false, token: "s3cret-token"))
        let routes = FlowhoundService.routes.filter { $0.path.hasPrefix("/v1/") }
        #expect(routes.count == 4)
        // Live: the request goes through the HTTP parser exactly as curl --path-as-is sends it.
        try await app.test(.live) { client in
            for (method, path) in routes {
                for uri in Self.spellings(of: path) {
                    try await client.execute(uri: uri, method: method, body: ByteBuffer(string: "{}")) { response in
                        #expect(response.status == .unauthorized, "\(method) \(uri) answered \(response.status) without the token")
                    }
                }
            }
            // With the token the same spellings reach the routes the router matches.
            try await client.execute(uri: "//v1/models", method: .get, headers: [.authorization: "Bearer s3cret-token"]) {
                #expect($0.status == .ok)
            }
        }
    }

    @Test("The path check reads paths as the router and proxies may")
    func protectedTree() {
        for path in ["/v1/models", "//v1/models", "/./v1/models", "/V1/Models", "/v1%2Fmodels", "/%2Fv1/models", "/a/../v1/x", "/v1", "/v1/"] {
            #expect(ServiceMiddleware.namesProtectedTree(path), "\(path)")
        }
        for path in ["/healthz", "/metrics", "//openapi.yaml", "/v1x/models", "/v10/models", "/", "", "/v1/../healthz"] {
            #expect(!ServiceMiddleware.namesProtectedTree(path), "\(path)")
        }
    }

    @Test("A client trickling its body is disconnected after the read timeout, and its slot freed")
    func slowBodyIsCut() async throws {
        var configuration = testConfiguration(ipScoring: false)
        configuration.readTimeout = .milliseconds(600)
        let app = try await buildApplication(configuration)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let socket = try RawClient(port: port)
            try socket.send("POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab")
            // Never more: the server must not wait for the rest for ever.
            let answer = try await socket.readUntilClosed(seconds: 10)
            #expect(answer.closed, "the connection stayed open")
            #expect(!answer.text.contains("200 OK"))
            // Headers trickled in are cut too.
            let slowHead = try RawClient(port: port)
            try slowHead.send("GET /healthz HTTP/1.1\r\nHost")
            #expect(try await slowHead.readUntilClosed(seconds: 10).closed)
            // And the server goes on answering (on new connections: the test's own would be cut as idle).
            let health = try RawClient(port: port)
            try health.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(try await health.readUntilClosed(seconds: 10).text.hasPrefix("HTTP/1.1 200"))
            let metrics = try RawClient(port: port)
            try metrics.send("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let text = try await metrics.readUntilClosed(seconds: 10).text
            #expect(text.contains("flowhound_http_read_timeouts_total{phase=\"body\"} 1"), "\(text)")
            // At least the slow head's (the test framework's own idle connection may be cut too).
            #expect(text.contains("flowhound_http_read_timeouts_total{phase=\"head\"} "))
        }
    }

    @Test("Malformed chunked encoding is the client's fault: 400 or a closed connection, never 500")
    func malformedChunking() async throws {
        let app = try await buildApplication(testConfiguration(ipScoring: false))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            for body in ["ZZ\r\nabc\r\n0\r\n\r\n", "5\r\nab", "-1\r\n\r\n", "fffffffffffffffffff\r\n"] {
                let socket = try RawClient(port: port)
                try socket.send("POST /v1/detect HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
                socket.shutdownWrite()
                let answer = try await socket.readUntilClosed(seconds: 10)
                #expect(!answer.text.contains(" 500 "), "\(body.debugDescription): \(answer.text)")
                #expect(answer.text.isEmpty || answer.text.hasPrefix("HTTP/1.1 400"), "\(body.debugDescription): \(answer.text)")
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(!String(buffer: response.body).contains("status=\"500\""))
            }
        }
    }

    @Test("One client holds at most its share of the request slots")
    func perClientSlots() {
        let gate = ServiceMiddleware.Gate()
        #expect(gate.enter("192.0.2.1", limit: 2))
        #expect(gate.enter("192.0.2.1", limit: 2))
        #expect(!gate.enter("192.0.2.1", limit: 2))
        #expect(gate.enter("192.0.2.2", limit: 2))
        gate.leave("192.0.2.1")
        #expect(gate.enter("192.0.2.1", limit: 2))
        gate.leave("192.0.2.1")
        gate.leave("192.0.2.1")
        gate.leave("192.0.2.2")
        #expect(gate.perClient.withLock { $0.isEmpty })
    }

    @Test("A client over its share gets 429, others are still served")
    func perClientLimitLive() async throws {
        var configuration = testConfiguration(ipScoring: false)
        configuration.maxConcurrentPerClient = 1
        configuration.readTimeout = .seconds(5)
        let app = try await buildApplication(configuration)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            // One request whose body is still arriving holds this client's only slot.
            let holder = try RawClient(port: port)
            try holder.send("POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
            try await Task.sleep(for: .milliseconds(300))
            let second = try RawClient(port: port)
            try second.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let answer = try await second.readUntilClosed(seconds: 10)
            #expect(answer.text.hasPrefix("HTTP/1.1 429"), "\(answer.text)")
            #expect(answer.text.lowercased().contains("retry-after: 1"))
        }
    }

    @Test("An 8 MB bad address is not echoed back: the error body stays small")
    func echoIsCapped() async throws {
        let app = try await buildApplication(testConfiguration(ipScoring: false))
        var configuration = testConfiguration(ipScoring: hasLibloc)
        configuration.bodyLimit = 16 << 20
        let scoring = try await buildApplication(configuration)
        let huge = String(repeating: "9", count: 8 << 20)
        try await scoring.test(.router) { client in
            for body in [
                "{\"addresses\": [\"\(huge)\"]}", "{\"\(huge)\": 1}", "{\"addresses\": [{\"address\": \"1.2.3.4\", \"\(huge)\": 1}]}",
                "{\"addresses\": [\"1.2.3.4,,\(huge)/tcp\"]}", "{\"addresses\": [\"1.2.3.4,,/\"]}",
            ] {
                try await client.execute(uri: "/v1/ip/score", method: .post, body: ByteBuffer(string: body)) { response in
                    #expect(response.status.code >= 400 && response.status.code < 500, "\(response.status)")
                    #expect(response.body.readableBytes < 2048, "\(response.body.readableBytes) bytes")
                }
            }
        }
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/detect?format=" + String(repeating: "x", count: 4000), method: .post, body: ByteBuffer(string: "x")) {
                #expect($0.status == .badRequest)
                #expect($0.body.readableBytes < 2048)
            }
        }
    }

    @Test("Input that yields no flow still meets the deadline")
    func deadlineWithoutFlows() async throws {
        var configuration = testConfiguration(ipScoring: false)
        configuration.bodyLimit = 32 << 20
        configuration.requestTimeout = .milliseconds(1)  // the shortest the configuration allows
        let app = try await buildApplication(configuration)
        // 16 MiB of comment lines after a Zeek header: no record ever reaches the per-flow check, and
        // copying and reading them takes well over the millisecond on any machine.
        var text = "#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n"
        text += String(repeating: "#" + String(repeating: "x", count: 1023) + "\n", count: 16_000)
        let body = ByteBuffer(string: text)
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/detect", method: .post, body: body) { response in
                #expect(response.status == .serviceUnavailable, "\(response.status)")
                try expectMessage(response, contains: "longer than")
            }
        }
    }
}

/// A blocking TCP client on loopback that sends exactly the bytes it is given.
final class RawClient {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    deinit { close(fd) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard Glibc.send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw POSIXError(.EPIPE) }
    }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Everything the server sends until it closes the connection or `seconds` pass. Waits by
    /// sleeping, never blocking: the server's handlers share the test's threads.
    func readUntilClosed(seconds: Double) async throws -> (text: String, closed: Bool) {
        var received: [UInt8] = []
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 0) > 0 else {
                try await Task.sleep(for: .milliseconds(20))
                continue
            }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return (String(decoding: received, as: UTF8.self), true) }
            received += buffer[0..<n]
        }
        return (String(decoding: received, as: UTF8.self), false)
    }
}
