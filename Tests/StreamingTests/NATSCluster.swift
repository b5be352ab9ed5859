import Foundation
import Streaming
import XCTest

/// Real `nats-server` processes with JetStream on loopback ports, in a temporary directory: one server,
/// or a cluster whose nodes route to each other. `nats-server` is required (Scripts/setup.sh installs
/// it): a test fails, with the reason, when it is missing or does not become ready.
final class NATSCluster {
    /// Why the cluster could not be started.
    struct Unavailable: Error, CustomStringConvertible {
        let description: String
    }

    let directory: URL
    let clientPorts: [Int]
    private var processes: [Process?]
    private let routePorts: [Int]
    /// Set when the servers did not become ready: their logs are kept for the failure message.
    private var keepDirectory = false

    static var serverPath: String? {
        ["/usr/bin/nats-server", "/usr/local/bin/nats-server", "/usr/sbin/nats-server"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Loopback ports nothing listens on now, from the kernel.
    static func freePorts(_ n: Int) -> [Int] {
        var sockets: [Int32] = []
        var ports: [Int] = []
        for _ in 0..<n {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
            sockets.append(fd)
        }
        for fd in sockets { close(fd) }
        return ports
    }

    init(nodes: Int) throws {
        guard NATSCluster.serverPath != nil else {
            throw Unavailable(description: "nats-server is not installed (Scripts/setup.sh installs it; Debian: apt install nats-server)")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("flowhound-nats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let ports = NATSCluster.freePorts(2 * nodes)
        clientPorts = Array(ports[0..<nodes])
        routePorts = Array(ports[nodes...])
        processes = Array(repeating: nil, count: nodes)
        for i in 0..<nodes {
            let config = directory.appendingPathComponent("node\(i).conf")
            var text = """
                server_name: n\(i)
                listen: 127.0.0.1:\(clientPorts[i])
                jetstream { store_dir: "\(directory.appendingPathComponent("store\(i)").path)" }

                """
            if nodes > 1 {
                text += """
                    cluster {
                      name: flowhound-test
                      listen: 127.0.0.1:\(routePorts[i])
                      routes: [\(routePorts.enumerated().filter { $0.offset != i }.map { "nats-route://127.0.0.1:\($0.element)" }.joined(separator: ", "))]
                    }

                    """
            }
            try text.write(to: config, atomically: true, encoding: .utf8)
        }
        for i in 0..<nodes { try start(i) }
        try waitForJetStream()
    }

    var urls: String { clientPorts.map { "nats://127.0.0.1:\($0)" }.joined(separator: ",") }

    func start(_ i: Int) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: NATSCluster.serverPath!)
        p.arguments = ["-c", directory.appendingPathComponent("node\(i).conf").path]
        let log = directory.appendingPathComponent("node\(i).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        processes[i] = p
    }

    func kill(_ i: Int) {
        guard let p = processes[i] else { return }
        _ = Glibc.kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        processes[i] = nil
    }

    /// Waits until JetStream answers (in a cluster: a meta leader is elected).
    private func waitForJetStream() throws {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if (try? probe()) == true { return }
            Thread.sleep(forTimeInterval: 0.2)
        }
        keepDirectory = true
        throw Unavailable(description: "nats-server did not become ready in 30 s; logs kept in \(directory.path):\n\(logs())")
    }

    /// Ready once a replicated bucket can be created (in a cluster: a meta leader is elected and
    /// every node answers).
    private func probe() throws -> Bool {
        let nc = try NATSConnection(urls: urls, name: "flowhound test probe", requestTimeoutMilliseconds: 2_000)
        _ = try nc.keyValue(bucket: "probe", replicas: processes.count)
        return true
    }

    func logs() -> String {
        (0..<processes.count).map { i in
            (try? String(contentsOf: directory.appendingPathComponent("node\(i).log"), encoding: .utf8)).map { String($0.suffix(2000)) } ?? ""
        }.joined(separator: "\n---\n")
    }

    deinit {
        for i in processes.indices { kill(i) }
        if !keepDirectory { try? FileManager.default.removeItem(at: directory) }
    }
}
