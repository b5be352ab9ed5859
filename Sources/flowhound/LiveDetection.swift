import ArgumentParser
import Detection
import Dispatch
import FlowRecords
import Foundation
import Support
import Synchronization

/// `detect`'s options for logs that grow and for where alerts go.
struct LiveOptions: ParsableArguments {
    @Flag(
        help: ArgumentHelp(
            "Keep reading the log as it grows, until SIGTERM or SIGINT (standard input: until it ends).",
            discussion: """
                One LOG: a file (followed like 'tail -F': reopened when rotated by renaming or truncated), a \
                directory (its files in name order, then each new file as it appears; dot-files, names ending \
                in ~ .tmp .temp .part .partial .swp .lock, and nfcapd.current.* are skipped) or '-'. Once no \
                input has arrived for --lateness seconds, the log's time moves on with the wall clock: the \
                latest flow start read plus the seconds since input last arrived, so that windows close and \
                quiet episodes end.
                """))
    var follow = false

    @Option(
        name: .shortAndLong,
        help: ArgumentHelp(
            "Append alerts to this file (created 0644 when missing), one line per write, instead of standard output; reopened on SIGHUP (for logrotate).",
            valueName: "file"))
    var output: String?

    @Option(help: .hidden)
    var pollInterval = 0.05

    func validate(logs: [String]) throws {
        if follow && logs.count != 1 { throw ValidationError("--follow reads one log: a file, a directory or '-'") }
        try OptionCheck.require(pollInterval, "--poll-interval", in: 0.001...10, unit: "seconds")
    }
}

/// Where else alerts go: a syslog receiver.
struct SyslogOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Also send every alert to syslog: unix:///dev/log, udp://HOST:PORT or tcp://HOST:PORT.",
            discussion: """
                RFC 5424, the alert's JSON as the message, MSGID its event.dataset, the severity from the \
                alert's (low: notice, medium: warning, high: error, critical: crit). Over TCP, frames are \
                octet-counted (RFC 6587) and alerts wait in memory (at most 10,000) while the receiver is \
                unreachable. A receiver's message size limit must hold an alert: rsyslog's default of 8 KiB \
                can cut the largest; set global(maxMessageSize="64k").
                """,
            valueName: "url"))
    var syslog: String?

    @Option(help: ArgumentHelp("Syslog facility: kern, user, daemon, auth, authpriv, security, local0 ... local7.", valueName: "name"))
    var syslogFacility = "local0"

    func validate() throws {
        if let syslog {
            do { _ = try SyslogDestination(syslog) } catch { throw ValidationError(error.description) }
        }
        guard SyslogSender.facilities[syslogFacility] != nil else {
            throw ValidationError("--syslog-facility '\(syslogFacility)' is not a facility: \(SyslogSender.facilities.keys.sorted().joined(separator: ", "))")
        }
    }

    /// The sender, connected; nil without --syslog.
    func makeSender() throws -> SyslogSender? {
        guard let syslog else { return nil }
        return try SyslogSender(
            SyslogDestination(syslog), facility: SyslogSender.facilities[syslogFacility] ?? 16, hostname: AlertFields.Context.now().hostname)
    }
}

extension SyslogSender {
    /// Sends one alert line with its severity and dataset.
    func send(alert line: String, severity: AlertFields.Severity, dataset: String) {
        send(line, severity: severity.syslogSeverity, msgID: dataset, time: AlertFields.Context.now().created)
    }

    /// Waits up to `seconds` for alerts held for a TCP receiver to go out, then says on stderr what was
    /// sent and what was not.
    func finish(seconds: Double = 3) {
        let deadline = Date().addingTimeInterval(seconds)
        while waitingCount > 0 && Date() < deadline {
            flush()
            if waitingCount > 0 { Thread.sleep(forTimeInterval: 0.1) }
        }
        let lost = dropped + waitingCount
        Diagnostics.note(
            "sent \(sent) alert\(sent == 1 ? "" : "s") to syslog \(destination)"
                + (lost > 0 ? "; \(lost) could not be sent (\(lastError ?? "unknown reason"))" : ""))
    }
}

/// A flag set by one thread and taken by another.
final class SignalFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    func set() { flag.store(true, ordering: .releasing) }

    /// Whether it was set since the last call.
    func take() -> Bool { flag.exchange(false, ordering: .acquiringAndReleasing) }
}

/// Signals for a running `detect`: SIGTERM and SIGINT ask reading to stop (a second one exits at
/// once), SIGHUP asks for the output file to be reopened. The handlers run on a dispatch queue and
/// only set flags, which the read loop polls.
final class SignalWatch: Sendable {
    let stop = StopRequest()
    let hangup = SignalFlag()
    nonisolated(unsafe) private let sources: [any DispatchSourceSignal]

    init() {
        var sources: [any DispatchSourceSignal] = []
        for signo in [SIGTERM, SIGINT, SIGHUP] {
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
            source.setEventHandler { [stop, hangup] in
                if signo == SIGHUP {
                    hangup.set()
                } else if stop.isRequested {
                    exit(128 + signo)
                } else {
                    stop.request()
                }
            }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }
}

/// Where `detect` writes alert lines: standard output, or a file appended to (`-o`) and reopened when
/// a SIGHUP asks for it. Every line is written (one write) as it is made.
final class AlertSink {
    private let file: LineAppender?
    private let signals: SignalWatch?

    init(path: String?, signals: SignalWatch?) throws {
        file = try path.map { try LineAppender(path: $0) }
        self.signals = signals
    }

    func write(_ line: String) throws {
        guard let file else {
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
            return
        }
        if signals?.hangup.take() == true { try file.reopen() }
        try file.append(line)
    }
}

/// Reading stopped on request (a signal) before the input ended.
struct ReadingStopped: Error {}

/// Follows `input`'s one log through `pipeline` until `signals` asks to stop (standard input: or it
/// ends), each file as its own log, moving detection's clock while the input is quiet.
/// - Returns: the records read.
func follow(
    _ input: DetectionInput, format: FlowFormat?, into pipeline: DetectionPipeline, live: LiveOptions, lateness: Double, signals: SignalWatch,
    whileQuiet: @escaping () -> Void = {}
) throws -> Int {
    let follower = try LogFollower(
        path: input.source.logs[0], reader: FlowReader(options: ReadOptions(format: format, strict: input.source.strict)),
        pollInterval: live.pollInterval, idleAfter: lateness, stop: signals.stop)
    var records = 0
    var format: FlowFormat? = nil
    var heldRecordsFlushed = true
    var flushedPairing = (paired: 0, unpaired: 0)
    try follower.run(
        onFormat: { f in
            format = f
            flushedPairing = (0, 0)
            pipeline.beginLog(f)
        },
        afterEach: { summary in
            Diagnostics.reportMalformed(summary)
            try endLog(summary, in: pipeline, earlier: flushedPairing)
        },
        advance: { [pipeline] time in
            // Records the pairer holds for their reverse (nfdump, VPC) started before the time advanced
            // to; after --lateness without input their reverses are past the pairing horizon too. They go
            // on alone first, so that detection does not see them late (pairing then starts afresh).
            if !heldRecordsFlushed, let format, format.recordsOneDirection {
                if let p = try pipeline.endLog() {
                    flushedPairing.paired += p.paired
                    flushedPairing.unpaired += p.unpaired
                }
                pipeline.beginLog(format)
            }
            heldRecordsFlushed = true
            try pipeline.advance(to: time)
            whileQuiet()
        },
        caughtUp: { [pipeline] in try pipeline.deliver() },
        { record in
            records += 1
            heldRecordsFlushed = false
            try pipeline.add(record)
        })
    return records
}
