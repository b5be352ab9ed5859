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
func follow(_ input: DetectionInput, format: FlowFormat?, into pipeline: DetectionPipeline, live: LiveOptions, lateness: Double, signals: SignalWatch)
    throws -> Int
{
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
        },
        { record in
            records += 1
            heldRecordsFlushed = false
            try pipeline.add(record)
        })
    return records
}
