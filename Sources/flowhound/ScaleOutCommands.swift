import ArgumentParser
import Detection
import Dispatch
import FlowRecords
import Foundation
import Streaming
import Support

extension NATSError: OneLineError {}
extension WireError: OneLineError {}

/// Where the NATS deployment is and what its streams are called: shared by `publish` and `worker`.
struct NATSOptions: ParsableArguments {
    @Option(help: ArgumentHelp("NATS server URLs, comma-separated (every one a seed; the client fails over between them).", valueName: "urls"))
    var nats = "nats://127.0.0.1:4222"

    @Option(help: "JetStream stream of the flows; partition p is subject <stream>.<p>.")
    var stream = "flows"

    @Option(
        help: ArgumentHelp(
            "Partitions when this deployment has none recorded yet (later processes read it from the <stream>-state bucket and must agree).", valueName: "n"))
    var partitionCount: Int?

    @Option(help: "Replicas of the streams and buckets this creates (3 on a three-node cluster survives the loss of a node).")
    var replicas = 1

    func validate() throws {
        guard (1...5).contains(replicas) else { throw ValidationError("--replicas must be in 1...5") }
        if let partitionCount, !(1...1024).contains(partitionCount) { throw ValidationError("--partition-count must be in 1...1024") }
    }
}

struct Publish: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish flow logs to NATS JetStream, partitioned by source address, for 'flowhound worker'.",
        discussion: """
            Reads any log 'detect' reads (pairing the two directions of nfdump and VPC records as it \
            does) and publishes the records in batches of --batch to <stream>.<partition>, where the \
            partition is FNV-1a of the source address modulo the partition count: every flow of a \
            source reaches the same worker. Messages are a versioned binary format (see the README). \
            Each publish is acknowledged by JetStream; when --max-pending are unacknowledged, reading \
            waits (back-pressure). Watermarks carry the flows' clock to every partition, so that \
            partitions with few flows still close their windows on time.

            Creates the stream (a work queue: a flow is removed once a worker has checkpointed its effect) \
            and the alerts stream if they are missing.

            Examples:
              flowhound publish conn.log --nats nats://127.0.0.1:4222
              nfdump -r nfcapd.202611220000 -o csv | flowhound publish - --format nfdump
              flowhound publish day1.log.gz day2.log.gz --end-of-input
            """)

    @OptionGroup var input: DetectionInput
    @OptionGroup(title: "NATS") var natsOptions: NATSOptions
    @OptionGroup(title: "Config file") var configOption: ConfigOption

    @Option(help: "Records per message.")
    var batch = 512

    @Option(help: "Flow time between watermarks, as 1m or seconds (keep it a divisor of the workers' --window and --lateness).")
    var watermarkEvery = Duration(seconds: 60)

    @Option(help: "Publishes awaiting JetStream's acknowledgement before reading waits.")
    var maxPending = 4096

    @Flag(
        help:
            "After the last log, tell the workers the input is complete: they judge every open window and report every open episode, as 'detect' does at its end, then start afresh."
    )
    var endOfInput = false

    func validate() throws {
        guard (1...65_536).contains(batch) else { throw ValidationError("--batch must be in 1...65536") }
        try OptionCheck.require(watermarkEvery.seconds, "--watermark-every", in: 1...OptionCheck.day, unit: "seconds")
        try OptionCheck.require(maxPending, "--max-pending", in: 1...1_000_000)
    }

    func run() throws {
        try Diagnostics.run {
            try input.noteOldSpellings(tableOutput: false)
            let topology = try Topology(stream: natsOptions.stream)
            let nc = try NATSConnection(urls: natsOptions.nats, name: "flowhound publish", maxPendingPublishes: maxPending)
            let partitioning = try retryingTransientErrors {
                try topology.ensureStreams(nc, replicas: natsOptions.replicas)
                let state = try nc.keyValue(bucket: topology.stateBucket, replicas: natsOptions.replicas)
                return try topology.partitioning(state, requested: natsOptions.partitionCount)
            }
            let publisher = FlowPublisher(nc, topology: topology, partitioning: partitioning, batch: batch, watermarkEvery: watermarkEvery.seconds)
            let started = DispatchTime.now().uptimeNanoseconds
            let pipeline = DetectionPipeline(sink: publisher.add)
            _ = try read(input, into: pipeline)
            try pipeline.finish()
            try publisher.finish(endOfInput: endOfInput)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            let s = publisher.statistics
            Diagnostics.note(
                "published \(s.records) flows to \(topology.stream).0-\(partitioning.count - 1) in \(s.messages) messages (\(s.destinationCopies) failed attempts also to their destination's partition, \(s.watermarks) watermarks\(endOfInput ? ", end of input" : ""), \(fixed(Double(s.bytes) / 1e6, 1)) MB) in \(fixed(seconds, 2)) s (\(Int(Double(s.records) / max(seconds, 1e-9))) flows/s); waited for acknowledgements \(s.stalls) times"
            )
        }
    }
}

struct Worker: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run scan detection on partitions of a NATS JetStream flow stream, with others sharing the work.",
        discussion: """
            Takes leases on partitions (of those --partitions allows), runs the same detection pipeline \
            as 'detect' on each, and publishes alerts, one JSON line each (as 'detect' prints them), to \
            <alerts-stream>.<partition>. Workers share the partitions evenly: one that starts takes \
            its share from the others, and the partitions of one that stops (or dies: its leases expire \
            after --lease-ttl) are taken over by the rest.

            A flow is acknowledged only once a checkpoint of the partition's state (in the \
            <stream>-state key-value bucket) includes it; a worker that takes a partition resumes from \
            its checkpoint, and alerts raised again while catching up are not published twice. SIGTERM \
            or SIGINT hands every partition back after a last checkpoint.

            Examples:
              flowhound worker --nats nats://10.0.0.5:4222,nats://10.0.0.6:4222 --replicas 3
              flowhound worker --partitions 0-3 --print --detectors threshold,trw
            """)

    @OptionGroup(title: "NATS") var natsOptions: NATSOptions

    @Option(help: "Stream the alerts go to; partition p publishes on <alerts-stream>.<p>.")
    var alertsStream = "alerts"

    @Option(help: ArgumentHelp("Partitions this worker may run: N, N-M, comma-separated (default: all).", valueName: "list"))
    var partitions: String?

    @Option(help: "This worker's name in leases and logs (default: host name and process id).")
    var id: String?

    @Option(help: "How long a lease lasts unrenewed: how soon a dead worker's partitions move (used when the lease bucket is created).")
    var leaseTTL = Duration(seconds: 6)

    @Option(
        help:
            "Time between checkpoints of a partition whose state changed (flows are acknowledged by checkpoints; longer means more to replay after a crash)."
    )
    var checkpointInterval = Duration(seconds: 2)

    @Option(help: "Most flows between checkpoints.")
    var checkpointFlows = 250_000

    @Flag(help: "Also print the alerts this worker publishes on standard output, one JSON line each.")
    var print = false

    @Flag(help: "Stop at the first malformed message instead of skipping and counting it.")
    var strict = false

    @Flag(help: "Exit once the flows stream is empty (every flow published so far checkpointed): for working through a backlog.")
    var drain = false

    @OptionGroup(title: "Detection") var options: DetectionOptions
    @OptionGroup(title: "Syslog") var syslogOptions: SyslogOptions
    @OptionGroup(title: "Config file") var configOption: ConfigOption

    func validate() throws {
        try OptionCheck.require(leaseTTL.seconds, "--lease-ttl", in: 1...3600, unit: "seconds")
        try OptionCheck.require(checkpointInterval.seconds, "--checkpoint-interval", above: 0, atMost: 3600, unit: "seconds")
        try OptionCheck.require(checkpointFlows, "--checkpoint-flows", in: 1...100_000_000)
        if options.reorder != nil {
            throw ValidationError(
                "a worker does not take --reorder: its checkpoints hold no flows waiting to be reordered; publish the logs sorted by start time")
        }
    }

    /// Where the CPU went: the partitions' threads summed by part, the worker's lease rounds, and the
    /// rest of the process (the NATS client's threads that read and write the sockets, and the
    /// others). "CPU: detection 2.10 s, broker calls 0.40 s (fetching, acknowledging, publishing
    /// alerts), checkpoints 0.01 s encoding and 0.03 s writing (16, the last 5048 bytes over 8
    /// partitions, the longest 0.04 s wall), lease rounds 0.02 s (9 rounds), other threads 0.90 s,
    /// process 3.46 s". The last checkpoint's bytes are summed over the partitions.
    static func cpuSummary(_ reports: [PartitionReport], leaseCPUSeconds: Double, leaseRounds: Int, processCPUSeconds: Double) -> String {
        func total(_ key: KeyPath<PartitionReport, Double>) -> Double { reports.reduce(0) { $0 + $1[keyPath: key] } }
        let parts = [\PartitionReport.detectionCPUSeconds, \.brokerCPUSeconds, \.checkpointEncodeCPUSeconds, \.checkpointStoreCPUSeconds].map(total)
        let other = max(0, processCPUSeconds - parts.reduce(0, +) - leaseCPUSeconds)
        let checkpoints = reports.reduce(0) { $0 + $1.checkpoints }
        let last = reports.reduce(0) { $0 + $1.checkpointBytes }
        let longest = reports.map(\.longestCheckpointSeconds).max() ?? 0
        return "CPU: detection \(fixed(parts[0], 2)) s, broker calls \(fixed(parts[1], 2)) s (fetching, acknowledging, publishing alerts), "
            + "checkpoints \(fixed(parts[2], 2)) s encoding and \(fixed(parts[3], 2)) s writing "
            + "(\(checkpoints), the last \(last) bytes over \(reports.count) partition\(reports.count == 1 ? "" : "s"), the longest \(fixed(longest, 2)) s wall), "
            + "lease rounds \(fixed(leaseCPUSeconds, 2)) s (\(leaseRounds) rounds), other threads \(fixed(other, 2)) s, process \(fixed(processCPUSeconds, 2)) s"
    }

    func run() throws {
        try Diagnostics.run {
            let recipe = try options.recipe()
            let model = try options.loadScanModel(for: recipe)
            let name = id ?? "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
            let nc = try NATSConnection(urls: natsOptions.nats, name: "flowhound worker \(name)")
            var settings = WorkerSettings()
            settings.leaseTTL = leaseTTL.seconds
            settings.checkpointInterval = checkpointInterval.seconds
            settings.checkpointFlows = checkpointFlows
            settings.strict = strict
            settings.replicas = natsOptions.replicas
            let printing = print
            let output = OutputLock()
            let syslog = try syslogOptions.makeSender().map(SharedSyslog.init)
            let worker = try DetectionWorker(
                nc, id: name, topology: try Topology(stream: natsOptions.stream, alertsStream: alertsStream),
                partitions: partitions, partitionCount: natsOptions.partitionCount, settings: settings,
                recipe: recipe, model: model,
                log: { Diagnostics.note("worker \(name): \($0)") },
                onAlert: { alert in
                    if printing { output.write(alert.line + "\n") }
                    syslog?.send(alert: alert.line, severity: alert.severity)
                })
            let stop = StopSignal()
            Diagnostics.note("worker \(name): started on \(natsOptions.nats)")
            try worker.run(drain: drain, shouldStop: { stop.raised })
            let reports = worker.reports
            Diagnostics.note("worker \(name): stopped; \(reports.reduce(0) { $0 + $1.flows }) flows, \(reports.reduce(0) { $0 + $1.alerts }) alerts published")
            Diagnostics.note(
                "worker \(name): \(Self.cpuSummary(reports, leaseCPUSeconds: worker.leaseRoundCPUSeconds, leaseRounds: worker.leaseRounds, processCPUSeconds: CPUTime.process))"
            )
            syslog?.finish()
        }
    }
}

/// A syslog sender for the partitions' threads, one alert at a time.
final class SharedSyslog: @unchecked Sendable {
    private let lock = NSLock()
    private let sender: SyslogSender

    init(_ sender: SyslogSender) { self.sender = sender }

    /// Sends a published scan alert (workers publish no other kind).
    func send(alert line: String, severity: AlertFields.Severity) {
        lock.withLock { sender.send(alert: line, severity: severity, dataset: ScanAlert.dataset) }
    }

    func finish() { lock.withLock { sender.finish() } }
}

final class OutputLock: @unchecked Sendable {
    private let lock = NSLock()
    func write(_ s: String) { lock.withLock { FileHandle.standardOutput.write(Data(s.utf8)) } }
}

/// Set by SIGTERM or SIGINT.
final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    private var sources: [DispatchSourceSignal] = []

    init() {
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [self] in lock.withLock { value = true } }
            source.resume()
            sources.append(source)
        }
    }

    var raised: Bool { lock.withLock { value } }
}
