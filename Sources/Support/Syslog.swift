#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The system's calls under names of their own: `SyslogSender` has methods named `connect` and `send`.
private func socketConnect(_ s: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 { connect(s, address, length) }
private func socketSend(_ s: Int32, _ bytes: UnsafeRawPointer?, _ count: Int, _ flags: Int32) -> Int { send(s, bytes, count, flags) }

/// Why alerts cannot go to syslog: a destination that is not one, or a receiver that cannot be
/// reached. The message names the destination.
public struct SyslogError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Where syslog messages go: `unix:///dev/log` (a local datagram socket), `udp://HOST:PORT` or
/// `tcp://HOST:PORT` (an IPv6 host in brackets, `udp://[::1]:514`).
public enum SyslogDestination: Equatable, CustomStringConvertible, Sendable {
    case unix(path: String)
    case udp(host: String, port: UInt16)
    case tcp(host: String, port: UInt16)

    public init(_ url: String) throws(SyslogError) {
        func hostAndPort(_ rest: Substring) throws(SyslogError) -> (String, UInt16) {
            let host: Substring, port: Substring
            if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]"), rest[rest.index(after: close)...].hasPrefix(":") else {
                    throw SyslogError("syslog destination '\(url)': an IPv6 host is written [ADDRESS]:PORT")
                }
                host = rest[rest.index(after: rest.startIndex)..<close]
                port = rest[rest.index(close, offsetBy: 2)...]
            } else {
                guard let colon = rest.lastIndex(of: ":") else { throw SyslogError("syslog destination '\(url)': no port (HOST:PORT)") }
                host = rest[..<colon]
                guard !host.contains(":") else { throw SyslogError("syslog destination '\(url)': an IPv6 host is written [ADDRESS]:PORT") }
                port = rest[rest.index(after: colon)...]
            }
            guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".-:_".contains($0)) }) else {
                throw SyslogError("syslog destination '\(url)': '\(host)' is not a host name or address")
            }
            guard let number = UInt16(port), number > 0 else {
                throw SyslogError("syslog destination '\(url)': the port '\(port)' is not a number from 1 to 65535")
            }
            return (String(host), number)
        }
        if url.hasPrefix("unix://") {
            let path = String(url.dropFirst("unix://".count))
            guard path.hasPrefix("/"), path.utf8.count < 108 else {
                throw SyslogError("syslog destination '\(url)': a local socket is unix:///ABSOLUTE/PATH, shorter than 108 bytes")
            }
            self = .unix(path: path)
        } else if url.hasPrefix("udp://") {
            let (host, port) = try hostAndPort(url.dropFirst("udp://".count))
            self = .udp(host: host, port: port)
        } else if url.hasPrefix("tcp://") {
            let (host, port) = try hostAndPort(url.dropFirst("tcp://".count))
            self = .tcp(host: host, port: port)
        } else {
            throw SyslogError("syslog destination '\(url)': give unix:///dev/log, udp://HOST:PORT or tcp://HOST:PORT")
        }
    }

    public var description: String {
        switch self {
        case .unix(let path): "unix://\(path)"
        case .udp(let host, let port): "udp://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        case .tcp(let host, let port): "tcp://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        }
    }
}

/// Sends messages to a syslog receiver as RFC 5424 lines (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID -
/// MSG`): one datagram each over a local socket or UDP, octet-counted frames (RFC 6587) over TCP.
///
/// A receiver that goes away does not stop the caller: over TCP, messages that cannot be sent wait
/// (at most `maximumWaiting`, the oldest dropped first) and go out, in order, once a connection is
/// made again (tried after 1 s, then at doubling intervals up to a minute while it stays away; a TCP
/// connect or send blocks at most `tcpTimeout` seconds). Datagrams that cannot be sent are dropped.
/// Both are counted in `dropped`; `lastError` says why.
public final class SyslogSender {
    public let destination: SyslogDestination
    public let facility: Int
    public let appName: String
    public let hostname: String
    /// Messages held while a TCP receiver is unreachable.
    public static let maximumWaiting = 10_000
    public private(set) var sent = 0
    public private(set) var dropped = 0
    public private(set) var lastError: String?

    private var fd: Int32 = -1
    private var waiting: [[UInt8]] = []
    private var nextAttempt = 0.0
    /// Seconds until the next reconnection: 1, doubling to 60 while the receiver stays away.
    private var retryDelay = 1.0
    /// How long a TCP connect or send may block: a receiver that stops reading, or a host that drops
    /// packets, holds detection up this long at most per attempt.
    static let tcpTimeout = 2
    private let pid = getpid()

    /// Facilities by name (RFC 5424 section 6.2.1): `kern` 0 … `local7` 23.
    public static let facilities: [String: Int] = [
        "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7, "uucp": 8, "cron": 9,
        "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14, "local0": 16, "local1": 17, "local2": 18,
        "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
    ]

    /// Connects at once, so that a destination that cannot be reached is an error before any alert.
    public init(_ destination: SyslogDestination, facility: Int = 16, appName: String = "flowhound", hostname: String) throws(SyslogError) {
        precondition((0...23).contains(facility), "syslog facility \(facility) is not 0 to 23")
        self.destination = destination
        self.facility = facility
        self.appName = appName
        // RFC 5424's HOSTNAME: printable US-ASCII, at most 255.
        let printable = String(hostname.unicodeScalars.filter { $0.value > 32 && $0.value < 127 }.map(Character.init).prefix(255))
        self.hostname = printable.isEmpty ? "-" : printable
        try connect()
    }

    deinit { if fd >= 0 { close(fd) } }

    /// The RFC 5424 text of one message.
    public func format(_ message: String, severity: Int, msgID: String, time: Double) -> String {
        let id = String(msgID.unicodeScalars.filter { $0.value > 32 && $0.value < 127 }.map(Character.init).prefix(32))
        return
            "<\(facility * 8 + min(7, max(0, severity)))>1 \(CivilTime.iso8601Milliseconds(time)) \(hostname) \(appName) \(pid) \(id.isEmpty ? "-" : id) - \(message)"
    }

    /// Sends one message (`severity` 0 emergency … 7 debug) written at `time`.
    public func send(_ message: String, severity: Int, msgID: String, time: Double) {
        let bytes = Array(format(message, severity: severity, msgID: msgID, time: time).utf8)
        guard case .tcp = destination else {
            do throws(SyslogError) {
                if fd < 0 { try connect() }
                try sendDatagram(bytes)
                sent += 1
            } catch {
                dropped += 1
                lastError = error.description
            }
            return
        }
        waiting.append(Array("\(bytes.count) ".utf8) + bytes)
        if waiting.count > Self.maximumWaiting {
            waiting.removeFirst(waiting.count - Self.maximumWaiting)
            dropped += 1
        }
        flush()
    }

    /// Sends what waits for a TCP receiver, reconnecting when the retry interval has passed.
    public func flush() {
        while let frame = waiting.first {
            if fd < 0 {
                let now = Self.now()
                guard now >= nextAttempt else { return }
                do throws(SyslogError) { try connect() } catch {
                    lastError = error.description
                    nextAttempt = now + retryDelay
                    retryDelay = min(60, retryDelay * 2)
                    return
                }
                retryDelay = 1
            }
            do throws(SyslogError) {
                try writeAll(frame)
                waiting.removeFirst()
                sent += 1
            } catch {
                lastError = error.description
                close(fd)
                fd = -1
                return
            }
        }
    }

    /// Messages not yet sent to a TCP receiver.
    public var waitingCount: Int { waiting.count }

    private static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    private func connect() throws(SyslogError) {
        if fd >= 0 { close(fd) }
        fd = -1
        switch destination {
        case .unix(let path):
            let s = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard s >= 0 else { throw SyslogError("syslog \(destination): cannot make a socket: \(String(cString: strerror(errno)))") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (i, b) in path.utf8.enumerated() { raw[i] = b }
            }
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketConnect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard result == 0 else {
                let reason = String(cString: strerror(errno))
                close(s)
                throw SyslogError("syslog \(destination): cannot connect: \(reason)")
            }
            fd = s
        case .udp(let host, let port), .tcp(let host, let port):
            let stream: Bool
            if case .tcp = destination { stream = true } else { stream = false }
            var hints = addrinfo()
            hints.ai_socktype = stream ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue)
            hints.ai_flags = AI_NUMERICSERV
            var list: UnsafeMutablePointer<addrinfo>? = nil
            let status = getaddrinfo(host, String(port), &hints, &list)
            guard status == 0, let first = list else {
                throw SyslogError("syslog \(destination): cannot resolve \(host): \(String(cString: gai_strerror(status)))")
            }
            defer { freeaddrinfo(list) }
            var reason = "no address"
            var entry: UnsafeMutablePointer<addrinfo>? = first
            while let e = entry {
                let s = socket(e.pointee.ai_family, e.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), e.pointee.ai_protocol)
                if s >= 0 {
                    if stream {
                        // Bounds connect(2) too on Linux (it waits for the send timeout).
                        var limit = timeval(tv_sec: Self.tcpTimeout, tv_usec: 0)
                        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
                    }
                    if socketConnect(s, e.pointee.ai_addr, e.pointee.ai_addrlen) == 0 {
                        fd = s
                        return
                    }
                    reason = String(cString: strerror(errno))
                    close(s)
                }
                entry = e.pointee.ai_next
            }
            throw SyslogError("syslog \(destination): cannot connect: \(reason)")
        }
    }

    private func sendDatagram(_ bytes: [UInt8]) throws(SyslogError) {
        let n = bytes.withUnsafeBytes { socketSend(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard n == bytes.count else {
            let reason = n < 0 ? String(cString: strerror(errno)) : "sent \(n) of \(bytes.count) bytes"
            if n < 0, errno == ECONNREFUSED || errno == ENOTCONN || errno == ECONNRESET {
                close(fd)
                fd = -1
            }
            throw SyslogError("syslog \(destination): a message of \(bytes.count) bytes not sent: \(reason)")
        }
    }

    private func writeAll(_ bytes: [UInt8]) throws(SyslogError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { socketSend(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SyslogError("syslog \(destination): cannot send: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }
}
