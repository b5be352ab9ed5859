import Foundation
import Support
import TestSupport
import Testing

/// Alerts to syslog: destinations and their errors, RFC 5424 lines, and a real rsyslog receiving them
/// over a local socket, UDP and TCP.
@Suite struct SyslogTests {
    @Test func destinationsAndTheirErrors() throws {
        #expect(try SyslogDestination("unix:///dev/log") == .unix(path: "/dev/log"))
        #expect(try SyslogDestination("udp://127.0.0.1:514") == .udp(host: "127.0.0.1", port: 514))
        #expect(try SyslogDestination("tcp://[::1]:6514") == .tcp(host: "::1", port: 6514))
        #expect(try SyslogDestination("tcp://[::1]:6514").description == "tcp://[::1]:6514")
        func refusal(_ url: String) -> String? { #expect(throws: SyslogError.self) { try SyslogDestination(url) }?.description }
        #expect(refusal("syslog.example.org") == "syslog destination 'syslog.example.org': give unix:///dev/log, udp://HOST:PORT or tcp://HOST:PORT")
        #expect(refusal("udp://127.0.0.1") == "syslog destination 'udp://127.0.0.1': no port (HOST:PORT)")
        #expect(refusal("tcp://host:0")?.hasSuffix("the port '0' is not a number from 1 to 65535") == true)
        #expect(refusal("tcp://::1:514") == "syslog destination 'tcp://::1:514': an IPv6 host is written [ADDRESS]:PORT")
        #expect(refusal("tcp://[::1]514") == "syslog destination 'tcp://[::1]514': an IPv6 host is written [ADDRESS]:PORT")
        #expect(refusal("udp://a b:514")?.hasSuffix("'a b' is not a host name or address") == true)
        #expect(refusal("unix://relative/log")?.hasPrefix("syslog destination 'unix://relative/log': a local socket is") == true)
        let cli = try FlowhoundCLI.run(["detect", "-", "--syslog", "udp://127.0.0.1:99999"], stdin: "")
        #expect(cli.status == 64 && cli.stderr.contains("the port '99999' is not a number from 1 to 65535"), "\(cli.stderr)")
        let facility = try FlowhoundCLI.run(["detect", "-", "--syslog-facility", "local9"], stdin: "")
        #expect(facility.status == 64 && facility.stderr.contains("--syslog-facility 'local9' is not a facility"), "\(facility.stderr)")
        let missing = try FlowhoundCLI.run(["detect", "-", "--syslog", "unix:///nonexistent/flowhound/log"], stdin: "")
        #expect(missing.status == 1 && missing.stderr.contains("syslog unix:///nonexistent/flowhound/log: cannot connect"), "\(missing.stderr)")
    }

    @Test func aMessageIsAnRFC5424Line() throws {
        // A datagram socket of the test's own stands in for /dev/log.
        let directory = try temporaryDirectory("syslog")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/log"
        let receiver = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(receiver) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(receiver, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)
        let sender = try SyslogSender(.unix(path: path), facility: 13, hostname: "sensor 1\u{7}")
        sender.send(#"{"message":"a b"}"#, severity: AlertFields.Severity.high.syslogSeverity, msgID: "flowhound.scan", time: 1_700_000_000.25)
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(receiver, &buffer, buffer.count, 0)
        let line = String(decoding: buffer.prefix(max(0, n)), as: UTF8.self)
        // Facility 13 × 8 + severity 3 (error); the host name's space and bell are left out.
        #expect(line == #"<107>1 2023-11-14T22:13:20.250Z sensor1 flowhound \#(getpid()) flowhound.scan - {"message":"a b"}"#)
        #expect(sender.sent == 1 && sender.dropped == 0)
    }

    /// A TCP listener on 127.0.0.1 that gathers the octet-counted frames it receives.
    final class FrameListener: @unchecked Sendable {
        let port: UInt16
        private let fd: Int32
        private let lock = NSLock()
        private var frames: [String] = []
        private var connection: Int32 = -1

        init(port: UInt16 = 0) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var yes: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = port.bigEndian
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let fd = self.fd
            let ok = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 4) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            try #require(ok)
            self.port = UInt16(bigEndian: address.sin_port)
            Thread.detachNewThread { [self] in serve() }
        }

        private func serve() {
            let c = accept(fd, nil, nil)
            guard c >= 0 else { return }
            lock.withLock { connection = c }
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = recv(c, &buffer, buffer.count, 0)
                if n <= 0 { return }
                pending += buffer.prefix(n)
                // "LENGTH SP MESSAGE", as many as have arrived whole.
                while let space = pending.firstIndex(of: 0x20), let length = Int(String(decoding: pending[..<space], as: UTF8.self)),
                    pending.count >= space + 1 + length
                {
                    let frame = String(decoding: pending[(space + 1)..<(space + 1 + length)], as: UTF8.self)
                    lock.withLock { frames.append(frame) }
                    pending.removeFirst(space + 1 + length)
                }
            }
        }

        var received: [String] { lock.withLock { frames } }

        /// Closes the listening socket and the connection: the receiver goes away.
        func close() {
            lock.withLock {
                if connection >= 0 { shutdown(connection, Int32(SHUT_RDWR)) }
                Glibc.close(connection)
            }
            shutdown(fd, Int32(SHUT_RDWR))
            Glibc.close(fd)
        }
    }

    /// Over TCP, alerts that cannot be sent while the receiver is away wait, and go out in order once
    /// it is back.
    @Test(.timeLimit(.minutes(1))) func tcpHoldsAlertsWhileTheReceiverIsAway() throws {
        let first = try FrameListener()
        let sender = try SyslogSender(.tcp(host: "127.0.0.1", port: first.port), hostname: "h")
        sender.send("one", severity: 4, msgID: "m", time: 0)
        func waitFor(_ condition: () -> Bool) {
            let deadline = Date().addingTimeInterval(10)
            while !condition() && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        }
        waitFor { first.received.count == 1 }
        #expect(first.received.map { $0.hasSuffix(" - one") } == [true])
        first.close()
        // The first message after the receiver left may still be written into the dead connection (TCP
        // learns of it from the reset that answers); the ones after it wait.
        for text in ["two", "three", "four", "five"] {
            sender.send(text, severity: 4, msgID: "m", time: 0)
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(sender.waitingCount >= 3, "\(sender.waitingCount) waiting, \(sender.lastError ?? "")")
        let second = try FrameListener(port: first.port)
        defer { second.close() }
        waitFor {
            sender.flush()
            return sender.waitingCount == 0
        }
        waitFor { second.received.count >= 3 }
        let tail = second.received.map { String($0.split(separator: " ").last ?? "") }
        #expect(Array(["two", "three", "four", "five"].suffix(tail.count)) == tail && tail.count >= 3, "\(tail)")
        #expect(sender.dropped == 0)
    }

    /// A free port on 127.0.0.1 for `type` (taken, then let go).
    static func freePort(_ type: Int32) throws -> UInt16 {
        let s = socket(AF_INET, type, 0)
        defer { close(s) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, length) == 0 && getsockname(s, $0, &length) == 0 }
        }
        try #require(ok)
        return UInt16(bigEndian: address.sin_port)
    }

    static let rsyslogd = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// rsyslog (Debian's `rsyslog`) started on loopback ports and a socket of its own, writing what
    /// it receives to a file; `detect --syslog` sends to each of its inputs, and every alert arrives
    /// as `detect` wrote it, with the severity and facility asked for.
    @Test(.tags(.integration), .enabled(if: rsyslogd != nil, "rsyslog is not installed (Scripts/setup.sh installs it)"))
    func rsyslogReceivesTheAlerts() throws {
        let directory = try temporaryDirectory("rsyslog")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let udp = try Self.freePort(Int32(SOCK_DGRAM.rawValue)), tcp = try Self.freePort(Int32(SOCK_STREAM.rawValue))
        let received = directory + "/received.log"
        let config = """
            global(workDirectory="\(directory)" maxMessageSize="64k")
            module(load="imudp")
            module(load="imtcp")
            module(load="imuxsock" SysSock.Use="off")
            input(type="imudp" address="127.0.0.1" port="\(udp)")
            input(type="imtcp" address="127.0.0.1" port="\(tcp)")
            input(type="imuxsock" Socket="\(directory)/log" UseSpecialParser="off" ParseHostname="on")
            template(name="fields" type="list") {
              property(name="syslogfacility") constant(value="|")
              property(name="syslogseverity") constant(value="|")
              property(name="app-name") constant(value="|")
              property(name="msgid") constant(value="|")
              property(name="msg" droplastlf="on") constant(value="\\n")
            }
            action(type="omfile" file="\(received)" template="fields")

            """
        try config.write(toFile: directory + "/rsyslog.conf", atomically: true, encoding: .utf8)
        let rsyslog = Process()
        rsyslog.executableURL = URL(fileURLWithPath: Self.rsyslogd!)
        rsyslog.arguments = ["-n", "-f", directory + "/rsyslog.conf", "-i", directory + "/rsyslogd.pid"]
        rsyslog.standardOutput = FileHandle.nullDevice
        rsyslog.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try rsyslog.run()
        defer {
            // SIGKILL: started from a test thread, rsyslogd inherits a signal mask that blocks SIGTERM.
            kill(rsyslog.processIdentifier, SIGKILL)
            rsyslog.waitUntilExit()
        }
        // Ready once its socket exists and its TCP port takes a connection.
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: directory + "/log"), (try? SyslogSender(.tcp(host: "127.0.0.1", port: tcp), hostname: "probe")) != nil {
                break
            }
            Thread.sleep(forTimeInterval: 0.1)
        }

        let log = Repository.path("Samples/stratosphere-008-mixed.head300.conn.log.gz")
        var expected: [String] = []
        for (url, facility) in [("udp://127.0.0.1:\(udp)", "local0"), ("tcp://127.0.0.1:\(tcp)", "authpriv"), ("unix://\(directory)/log", "local7")] {
            let r = try FlowhoundCLI.run(["detect", log, "--syslog", url, "--syslog-facility", facility])
            #expect(r.status == 0, "\(r.stderr)")
            let lines = r.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 4 && r.stderr.contains("sent 4 alerts to syslog \(url)"), "\(r.stderr)")
            let code = SyslogSender.facilities[facility]!
            for line in lines {
                let alert = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                let severity = try #require((alert["event"] as? [String: Any])?["severity"] as? Int)
                let level = try #require(AlertFields.Severity(rawValue: severity))
                expected.append("\(code)|\(level.syslogSeverity)|flowhound|flowhound.scan|\(line)")
            }
        }
        var got: [String] = []
        let until = Date().addingTimeInterval(15)
        while Date() < until {
            got = ((try? String(contentsOfFile: received, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            if got.count >= expected.count { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        // Every alert, byte for byte, with its facility and severity (UDP, TCP and the socket each 4).
        #expect(got.sorted() == expected.sorted())
        #expect(Set(got.map { $0.split(separator: "|")[1] }) == ["3", "4"])  // high and medium alerts
    }
}
