import ActivityImage
import ArgumentParser
import Detection
import FlowRecords
import Foundation
import Reputation
import Support

extension DetectionRecipe.Detector: ExpressibleByArgument {}

extension EnsemblePolicy: ExpressibleByArgument {}

/// Detectors named on the command line: `threshold,trw,cnn`, each parsed as a
/// `DetectionRecipe.Detector`, repeats dropped.
struct DetectorList: ExpressibleByArgument, CustomStringConvertible {
    var detectors: [DetectionRecipe.Detector]

    init(_ detectors: [DetectionRecipe.Detector]) { self.detectors = detectors }

    init?(argument: String) {
        var list: [DetectionRecipe.Detector] = []
        for name in argument.split(separator: ",", omittingEmptySubsequences: false) {
            guard let d = DetectionRecipe.Detector(argument: name.trimmingCharacters(in: .whitespaces)) else { return nil }
            if !list.contains(d) { list.append(d) }
        }
        guard !list.isEmpty else { return nil }
        detectors = list
    }

    var description: String { detectors.map(\.rawValue).joined(separator: ",") }

    /// The option's parser: names the detector that is not one.
    static func parse(_ argument: String) throws -> DetectorList {
        let known = DetectionRecipe.Detector.allCases.map(\.rawValue).joined(separator: ", ")
        for name in argument.split(separator: ",", omittingEmptySubsequences: false) {
            let name = name.trimmingCharacters(in: .whitespaces)
            guard DetectionRecipe.Detector(argument: name) != nil else {
                throw ValidationError(
                    name.isEmpty ? "--detectors names an empty detector (known: \(known))" : "unknown detector '\(name)' in --detectors (known: \(known))")
            }
        }
        return DetectorList(argument: argument)!
    }
}

/// Options shared by `detect` and `eval detect`: which detectors, their settings, the pipeline's.
/// Every default is the library's (`DetectionRecipe`, `DetectionSettings` and the detectors), so that
/// `--help` shows what the pipeline does when a flag is not given.
struct DetectionOptions: ParsableArguments {
    private static let defaults = DetectionRecipe()

    @Option(
        help: ArgumentHelp(
            "Detectors to run, comma-separated: threshold, trw, cnn, slow, distributed (default: \(DetectorList(defaults.detectors))).", valueName: "list"),
        transform: DetectorList.parse)
    var detectors = DetectorList(defaults.detectors)

    @Option(help: "How verdicts become an alert: any (misses least), majority, weighted (mean score ≥ --weighted-threshold).")
    var policy = defaults.settings.policy

    @Option(help: "weighted policy: mean detector score that alerts.")
    var weightedThreshold = defaults.settings.weightedThreshold

    @Option(help: "Scan CNN model (default: the one that ships with Flowhound).")
    var model: String?

    @Option(help: "Addresses and blocks (CIDR, one a line, '#' comments): alerts of these sources are silenced, flows to these destinations ignored.")
    var allowlist: String?

    @Option(help: "Window length: 10m, 600s or seconds (default: the CNN's, 10m for the default model; 10m without the CNN).")
    var window: Duration?

    @Option(help: "threshold: distinct failed ports on one host that make a vertical scan (Zeek: 15).")
    var portsPerHost = defaults.threshold.portsPerHost

    @Option(help: "threshold: distinct failed hosts on one port that make a horizontal scan (Zeek: 25).")
    var hostsPerPort = defaults.threshold.hostsPerPort

    @Option(help: "threshold: distinct failed (host, port) targets that make a block scan.")
    var failedTargets = defaults.threshold.failedTargets

    @Option(
        help: "threshold: distinct failed hosts on one port that make a small horizontal scan, when --sweep-failed-share of the attempts failed (Slips: 6).")
    var sweepHosts = defaults.threshold.sweepHosts

    @Option(help: "threshold: share of a source's attempts in the window that must have failed for --sweep-hosts to count.")
    var sweepFailedShare = defaults.threshold.sweepFailedShare

    @Option(help: "threshold: share of the hosts the source touched in the window that the sweep's failed hosts must make up.")
    var sweepHostShare = defaults.threshold.sweepHostShare

    @Option(help: "trw: chance that a benign source's first contact with a host succeeds (θ0).")
    var theta0 = defaults.trw.theta0

    @Option(help: "trw: chance that a scanner's first contact succeeds (θ1).")
    var theta1 = defaults.trw.theta1

    @Option(help: "slow: distinct failed ports on one host within --slow-horizon that make a slow vertical scan.")
    var slowPortsPerHost = defaults.slow.portsPerHost

    @Option(help: "slow: distinct failed hosts on one port within --slow-horizon that make a slow horizontal scan.")
    var slowHostsPerPort = defaults.slow.hostsPerPort

    @Option(help: ArgumentHelp("slow: how long failed targets count (1h to 7d).", valueName: "duration"))
    var slowHorizon = Duration(seconds: defaults.slow.horizon)

    @Option(help: "distributed: distinct sources whose attempts on one host failed within --distributed-horizon that make a distributed scan of it.")
    var distributedSources = defaults.distributed.sources

    @Option(help: "distributed: distinct ports those failed attempts must be on (a host that is down fails on one or two).")
    var distributedPorts = defaults.distributed.ports

    @Option(help: ArgumentHelp("distributed: how long failed attempts on a host count (1m to 1d).", valueName: "duration"))
    var distributedHorizon = Duration(seconds: defaults.distributed.horizon)

    @Option(help: "distributed: most hosts watched at once; beyond it the least recently probed are dropped and counted.")
    var maxTargets = defaults.distributed.maxTargets

    @Option(help: "cnn: scan probability that flags a window.")
    var cnnThreshold = defaults.cnnThreshold

    @Option(
        help:
            "cnn: when no other detector flags (policy any), the CNN alerts only if this share of the window's attempts failed, or --cnn-alone-failed-ports on one host; 0 lets it alert alone on any window."
    )
    var cnnAloneFailedShare = defaults.cnnAloneFailedShare

    @Option(help: "cnn: distinct failed ports on one host that let the CNN alert alone whatever the share of failures (a small vertical scan).")
    var cnnAloneFailedPorts = defaults.cnnAloneFailedPorts

    @Option(
        help: ArgumentHelp(
            "cnn: log time between judgements of windows still open (those that have grown since), so that scans only the CNN sees alert before their window closes: 1s to 60s.",
            valueName: "duration"))
    var cnnInterval = Duration(seconds: defaults.cnnSchedule.interval)

    @Option(help: "A scan episode ends after this long without a flagged window (30m, 1800s or 1800); later scanning alerts again.")
    var quietPeriod = Duration(seconds: defaults.settings.quietPeriod)

    @Option(
        help: ArgumentHelp(
            "While an episode goes on, an update alert with its totals so far at most this often in log time: 90s, 10m, 1h (default: none, only start and end alerts).",
            valueName: "duration"))
    var updates: Duration?

    @Option(help: "How long after its window has passed a flow may arrive and still count in it (60s, 1m).")
    var lateness = Duration(seconds: defaults.settings.lateness)

    @Option(
        help: ArgumentHelp(
            "Hold flows this long (90s, 10m, 1h, 2d or seconds) of log time to put them in start order before detection: for logs whose flows arrive out of order. Alerts come as much later. (default: off)",
            valueName: "duration"))
    var reorder: Duration?

    @Option(
        help:
            "Most sources (and open scan episodes) held in memory; beyond it the least recently seen are evicted (their open windows judged first) and counted."
    )
    var maxSources = defaults.settings.maxSources

    @Option(help: "Threads for the CNN (default: one per core).")
    var threads = defaultThreadCount

    @Option(
        help: ArgumentHelp(
            "Detection threads: sources are shared among them by address, as among NATS workers, while one thread reads. 'auto' is one per core, at most \(Self.mostJobs); 1 to \(Self.mostJobs). The alerts are those of one thread, each source's in the same order (different sources' raised close together may come in another; a CNN score may move in its fourth decimal); --max-sources and --max-targets are shared out, each thread a share and a small margin. 'auto' is \(Jobs.auto.count) here.",
            valueName: "n|auto"))
    var jobs = Jobs.auto

    func validate() throws {
        try OptionCheck.require(portsPerHost, "--ports-per-host", in: 1...65_536)
        try OptionCheck.require(hostsPerPort, "--hosts-per-port", in: 1...16_777_216)
        try OptionCheck.require(failedTargets, "--failed-targets", in: 1...1 << 32)
        try OptionCheck.require(sweepHosts, "--sweep-hosts", in: 1...16_777_216)
        try OptionCheck.require(slowPortsPerHost, "--slow-ports-per-host", in: 1...SlowScanDetector.maximumTargets)
        try OptionCheck.require(slowHostsPerPort, "--slow-hosts-per-port", in: 1...SlowScanDetector.maximumTargets)
        try OptionCheck.require(slowHorizon.seconds, "--slow-horizon", in: 3600...7 * OptionCheck.day, unit: "seconds")
        try OptionCheck.require(sweepFailedShare, "--sweep-failed-share", in: 0...1)
        try OptionCheck.require(sweepHostShare, "--sweep-host-share", in: 0...1)
        try OptionCheck.require(distributedSources, "--distributed-sources", in: 2...DistributedScanDetector.maximumEpisodeSources)
        try OptionCheck.require(distributedPorts, "--distributed-ports", in: 1...1024)
        try OptionCheck.require(distributedHorizon.seconds, "--distributed-horizon", in: 60...OptionCheck.day, unit: "seconds")
        try OptionCheck.require(maxTargets, "--max-targets", in: 10...10_000_000)
        guard theta1 > 0, theta0 < 1, theta1 < theta0 else { throw ValidationError("trw needs 0 < --theta1 < --theta0 < 1") }
        try OptionCheck.require(cnnThreshold, "--cnn-threshold", in: 0...1)
        try OptionCheck.require(cnnAloneFailedShare, "--cnn-alone-failed-share", in: 0...1)
        try OptionCheck.require(cnnAloneFailedPorts, "--cnn-alone-failed-ports", in: 1...65_536)
        try OptionCheck.require(cnnInterval.seconds, "--cnn-interval", in: 1...ImageSchedule.maximumInterval, unit: "seconds")
        try OptionCheck.require(weightedThreshold, "--weighted-threshold", in: 0...1)
        if let window { try OptionCheck.require(window.seconds, "--window", in: ScanModel.InputSpec.windowRange, unit: "seconds") }
        try OptionCheck.require(quietPeriod.seconds, "--quiet-period", in: 0...30 * OptionCheck.day, unit: "seconds")
        try OptionCheck.require(lateness.seconds, "--lateness", in: 0...OptionCheck.day, unit: "seconds")
        if let updates { try OptionCheck.require(updates.seconds, "--updates", in: 1...30 * OptionCheck.day, unit: "seconds") }
        if let reorder { try OptionCheck.require(reorder.seconds, "--reorder", above: 0, atMost: Self.longestReorder, unit: "seconds") }
        try OptionCheck.require(maxSources, "--max-sources", in: 10...100_000_000)
        try OptionCheck.threads(threads)
        try OptionCheck.require(jobs.count, "--jobs", in: 1...Self.mostJobs)
    }

    /// The most --jobs: partitions beyond the cores only add hand-overs.
    static let mostJobs = 64

    /// `--jobs`: a count, or `auto` for one per core.
    struct Jobs: ExpressibleByArgument, CustomStringConvertible {
        var count: Int
        var isAuto = false

        static var auto: Jobs { Jobs(count: min(defaultThreadCount, DetectionOptions.mostJobs), isAuto: true) }

        init(count: Int, isAuto: Bool = false) {
            self.count = count
            self.isAuto = isAuto
        }

        init?(argument: String) {
            if argument == "auto" {
                self = .auto
            } else if let n = Int(argument) {
                count = n
            } else {
                return nil
            }
        }

        var description: String { isAuto ? "auto" : String(count) }
    }

    /// The detectors and settings these options describe.
    func recipe() throws -> DetectionRecipe {
        var recipe = DetectionRecipe()
        recipe.detectors = detectors.detectors
        recipe.window = window?.seconds
        recipe.threshold.portsPerHost = portsPerHost
        recipe.threshold.hostsPerPort = hostsPerPort
        recipe.threshold.failedTargets = failedTargets
        recipe.threshold.sweepHosts = sweepHosts
        recipe.threshold.sweepFailedShare = sweepFailedShare
        recipe.threshold.sweepHostShare = sweepHostShare
        recipe.slow.portsPerHost = slowPortsPerHost
        recipe.slow.hostsPerPort = slowHostsPerPort
        recipe.slow.horizon = slowHorizon.seconds
        recipe.distributed.sources = distributedSources
        recipe.distributed.ports = distributedPorts
        recipe.distributed.horizon = distributedHorizon.seconds
        recipe.distributed.maxTargets = maxTargets
        recipe.trw.theta0 = theta0
        recipe.trw.theta1 = theta1
        recipe.cnnThreshold = cnnThreshold
        recipe.cnnAloneFailedShare = cnnAloneFailedShare
        recipe.cnnAloneFailedPorts = cnnAloneFailedPorts
        recipe.cnnSchedule.interval = cnnInterval.seconds
        recipe.cnnThreads = threads
        recipe.settings.policy = policy
        recipe.settings.weightedThreshold = weightedThreshold
        recipe.settings.quietPeriod = quietPeriod.seconds
        recipe.settings.lateness = lateness.seconds
        recipe.settings.updateInterval = updates?.seconds
        recipe.reorder = reorder?.seconds ?? 0
        recipe.settings.maxSources = maxSources
        recipe.allowlist = try loadAllowlist()
        return recipe
    }

    /// The scan model when the CNN runs (`--model`, or the shipped one), else nil.
    func loadScanModel(for recipe: DetectionRecipe) throws -> ScanModel? {
        guard recipe.usesCNN else { return nil }
        let scanModel = try ScanModel.load(pathOrDefault: model)
        if let window = window?.seconds, window != scanModel.input.windowSeconds {
            Diagnostics.note("--window \(Int(window)) s: the scan model was trained on \(Int(scanModel.input.windowSeconds)) s images; its scores may be off")
        }
        return scanModel
    }

    /// The pipeline these options describe; it warns once on stderr when its input is out of order.
    func makePipeline() throws -> DetectionPipeline {
        let recipe = try recipe()
        let pipeline = DetectionPipeline(recipe: recipe, model: try loadScanModel(for: recipe), partitions: jobs.count)
        let lateness = recipe.settings.lateness
        pipeline.onLateFlows = { Diagnostics.note(Self.lateWarning($0, lateness: lateness)) }
        return pipeline
    }

    /// The longest --reorder: a week of log time.
    static let longestReorder = 7 * OptionCheck.day

    /// The warning that the input is out of order, with what to do about it.
    static func lateWarning(_ l: DetectionPipeline.LateFlows, lateness: Double) -> String {
        let share = fixed(100 * Double(l.late) / Double(max(l.flows, 1)), 1)
        var text =
            "warning: \(l.late) of the first \(l.flows) flows (\(share) %) came after their window had closed (--lateness "
            + "\(OptionCheck.number(lateness)) s) and were counted in a later one: the input is out of order, by up to "
            + "\(roughly(l.largestLag)) so far, and alerts depend on the order of its lines. "
        let fits = [60.0, 300, 600, 1800, 3600, 2 * 3600, 6 * 3600, 12 * 3600, OptionCheck.day, 2 * OptionCheck.day, longestReorder].first {
            $0 >= l.largestLag
        }
        if l.releasedEarly > 0 {
            text += "\(l.releasedEarly) flows left the reorder buffer early because it was full: sort the logs by start time."
        } else if let fits, fits > l.reorder {
            text += "Sort the logs by start time, or give --reorder \(CivilTime.durationText(fits)) (holds flows that long), or raise --lateness."
        } else {
            text += "Sort the logs by start time."
        }
        return text
    }

    /// Seconds for people: `45 s`, `12 min`, `3.2 h`, `2.5 days`.
    static func roughly(_ seconds: Double) -> String {
        if seconds < 120 { return "\(fixed(seconds, 0)) s" }
        if seconds < 7200 { return "\(fixed(seconds / 60, 0)) min" }
        if seconds < 2 * OptionCheck.day { return "\(fixed(seconds / 3600, 1)) h" }
        return "\(fixed(seconds / OptionCheck.day, 1)) days"
    }

    func loadAllowlist() throws -> CIDRSet { try allowlist.map { try CIDRSet.load(path: $0) } ?? CIDRSet() }
}

extension CIDRSetError: OneLineError {}

enum AlertFormat: String, ExpressibleByArgument, CaseIterable {
    case jsonl, table
}

/// `--format` of `detect`, `eval detect` and `publish`: the input format, as for every command.
/// `table` is taken too, for `detect`, where `--format` once named the output.
enum DetectionFormatArgument: ExpressibleByArgument, Equatable {
    case input(FlowFormat)
    case oldOutputTable

    init?(argument: String) {
        if argument == "table" {
            self = .oldOutputTable
        } else if let format = FlowFormat(argument: argument) {
            self = .input(format)
        } else {
            return nil
        }
    }

    static var allValueStrings: [String] { FlowFormat.allValueStrings }
}

/// The logs `detect`, `eval detect` and `publish` read. `--input-format` is the input format's old
/// name (from when `detect --format` named the output): still taken, with a note.
struct DetectionInput: ParsableArguments {
    @OptionGroup var source: LogArguments

    @Option(help: InputOptions.formatHelp)
    var format: DetectionFormatArgument?

    @Option(help: .hidden)
    var inputFormat: FlowFormat?

    func validate() throws {
        if inputFormat != nil, format != nil, format != .oldOutputTable {
            throw ValidationError("give the input format once, with --format (--input-format is its old name)")
        }
    }

    /// The input format given (nil: detected from each log).
    var chosenFormat: FlowFormat? {
        if case .input(let f) = format { return f }
        return inputFormat
    }

    /// Notes on stderr the old spellings used; throws when `--format table` is given to a command
    /// without table output.
    func noteOldSpellings(tableOutput: Bool) throws {
        if inputFormat != nil { Diagnostics.note("note: --input-format is now --format (the input format); the old name will go") }
        if format == .oldOutputTable {
            guard tableOutput else { throw ValidationError("--format names the input format; 'table' is not one") }
            Diagnostics.note("note: --format names the input format now; use --output-format table for a table")
        }
    }
}

/// Reads every log through `pipeline`, then finishes it. With `live.follow`, follows the one log
/// until a signal stops it; SIGTERM and SIGINT stop reading in any case, and detection still finishes.
/// `whileQuiet` runs whenever a followed log's clock moves on without input (alerts held for a syslog
/// receiver go out then, not only with the next alert).
func runDetection(
    _ input: DetectionInput, _ pipeline: DetectionPipeline, live: LiveOptions? = nil, lateness: Double = 0, signals: SignalWatch? = nil,
    whileQuiet: @escaping () -> Void = {}
) throws -> (seconds: Double, flows: Int) {
    let started = DispatchTime.now().uptimeNanoseconds
    let flows: Int
    if let live, live.follow, let signals {
        flows = try follow(
            input, format: input.chosenFormat, into: pipeline, live: live, lateness: lateness, signals: signals, whileQuiet: whileQuiet)
    } else {
        flows = try read(input, into: pipeline, stop: signals?.stop)
    }
    try pipeline.finish()
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    return (seconds, flows)
}

/// The end of one log in `pipeline`: pairing is flushed, and what it did noted.
/// `earlier`: what pairing did in parts of the log flushed before (`detect --follow`).
func endLog(_ summary: ReadSummary, in pipeline: DetectionPipeline, earlier: (paired: Int, unpaired: Int) = (0, 0)) throws {
    guard let p = try pipeline.endLog() else { return }
    Diagnostics.note(
        "\(summary.file): paired the two directions of \(p.paired + earlier.paired) attempts; \(p.unpaired + earlier.unpaired) records had no answer within \(Int(p.horizon)) s"
    )
}

/// Reads every log into `pipeline` (which pairs the two directions of logs that record them apart),
/// noting what pairing did for each log; stops early (the current log ended) when `stop` is requested.
/// - Returns: the records read.
func read(_ input: DetectionInput, into pipeline: DetectionPipeline, stop: StopRequest? = nil) throws -> Int {
    var records = 0
    do {
        _ = try input.source.read(
            format: input.chosenFormat, onFormat: pipeline.beginLog, afterEach: { try endLog($0, in: pipeline) },
            { record in
                // Every 1,024 records (well under a millisecond): binding `stop` on every record
                // retains it, a measurable share of detect's time.
                if records & 1023 == 0, let stop, stop.isRequested { throw ReadingStopped() }
                records += 1
                try pipeline.add(record)
            })
    } catch is ReadingStopped {
        Diagnostics.note("stopped by a signal: reading ends here")
        try pipeline.endLog()
    }
    return records
}

struct Detect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find port scans in flow logs: threshold, Threshold Random Walk and CNN detectors, alerts as scans start and end.",
        discussion: """
            Reads the logs in order (each in time order, small disorder tolerated), keeps per-source \
            windows, and judges every closed window with the detectors; the --policy decides which \
            windows are flagged. A source's flagged windows make one scan episode. It is reported when \
            it is recognised (a start alert: with the default --policy any, threshold and trw decide at \
            the flow that crosses their bound, mid-window; the cnn at the next whole minute of log time, on \
            the window so far), optionally \
            while it goes on (--updates), and when it ends (an end alert with the final totals, after \
            --quiet-period without a flagged window, or at the end of input). The alerts of one episode \
            share flowhound.episode_id; flowhound.phase is start, update or end.

            Alerts are JSON lines in Elastic Common Schema 8.12 (@timestamp, message, event.* with \
            severity and risk score, rule.*, threat.technique.id [T1046], source.ip, destination.*, \
            related.ip, observer.*; Flowhound's detail under flowhound.*: scan type, probed and answered \
            ports, hosts, failure ratio, every detector's score and reason, the first and last flows with \
            their uid and Community ID) or, with --output-format table, a table. They go to standard output, or with -o FILE are appended to FILE \
            as they are made (reopened on SIGHUP). A summary goes to stderr at the end.

            --format names the input format, as for every command (it once named the output: --format \
            table still gives a table, with a note; --format jsonl is the Flowhound JSONL input). \
            --input-format still works, with a note.

            SIGTERM or SIGINT stop reading: open windows are judged, every open episode's alert is written, \
            and detect exits 0 (a second signal exits at once). With --follow, detect reads a growing log \
            until then.

            Detectors:
              threshold  failed ports on a host, hosts on a port, targets in all
                         (Zeek/Snort style); 6 failed hosts on a port when a
                         quarter of the attempts fail (Slips style)
              trw        Threshold Random Walk over first contacts (Jung 2004)
              cnn        the scan CNN on the activity image (--model)
              slow       failed ports on a host (30) or hosts on a port (50)
                         within 6 hours
              distributed
                         a host whose attempts from 20 sources failed on 5
                         ports within an hour: scanning shared among many
                         sources, each too small to alert alone (its own
                         alerts, scan_type distributed, destination.ip the host)

            Examples:
              flowhound detect conn.log
              flowhound detect flows.csv --output-format table --allowlist allow.txt
              flowhound detect conn.log.gz --detectors threshold,trw --policy majority
              flowhound detect --follow /opt/zeek/logs/current/conn.log -o alerts.jsonl
            """)

    @OptionGroup var input: DetectionInput
    @OptionGroup(title: "Detection") var options: DetectionOptions
    @OptionGroup(title: "IP reputation") var reputation: RemoteScoringOptions
    @OptionGroup(title: "Live input and output") var live: LiveOptions
    @OptionGroup(title: "Syslog") var syslogOptions: SyslogOptions
    @OptionGroup(title: "Config file") var configOption: ConfigOption

    @Option(help: "Alerts as jsonl (one alert a line as scans start and end) or table (one row per episode, at the end). (default: jsonl)")
    var outputFormat: AlertFormat?

    func validate() throws {
        try live.validate(logs: input.source.logs)
    }

    func run() throws {
        try Diagnostics.run {
            try input.noteOldSpellings(tableOutput: true)
            let format = outputFormat ?? (input.format == .oldOutputTable ? .table : .jsonl)
            let signals = SignalWatch()
            let out = try AlertSink(path: live.output, signals: signals)
            let syslog = try syslogOptions.makeSender()
            var writeFailure: (any Error)? = nil
            /// Writes an alert line (jsonl output) and sends it to syslog; the line is made only for them.
            func emit(_ alert: @autoclosure () -> String, _ severity: AlertFields.Severity, _ dataset: String) {
                guard format == .jsonl || syslog != nil else { return }
                let line = alert()
                syslog?.send(alert: line, severity: severity, dataset: dataset)
                guard format == .jsonl else { return }
                do { try out.write(line) } catch {
                    writeFailure = writeFailure ?? error
                    signals.stop.request()
                }
            }
            let pipeline = try options.makePipeline()
            let scorer = try reputation.makeScorer(allowlist: options.loadAllowlist())
            var table: [ScanAlert] = []
            var distributedTable: [DistributedScanAlert] = []
            var connectionTable: [ConnectionAlert] = []
            var scoringFailure: String? = nil
            // With no reputation to add, an alert's line is the one detection's threads wrote.
            if scorer == nil && (format == .jsonl || syslog != nil) {
                pipeline.alertLines = PartitionedDetection.Lines(scan: { $0.json() }, distributed: { $0.json() })
            }
            pipeline.onAlert = { [unowned pipeline] found in
                var alert = found
                if let scorer {
                    do {
                        let port = alert.busiestPort?.port ?? alert.ports.first
                        // The port the scan tried most, over TCP: what a model that uses ports needs.
                        alert.sourceReputation = try scorer.score(Observation(alert.source, at: alert.firstSeen, port: port, transport: port.map { _ in .tcp }))
                    } catch {
                        scoringFailure = scoringFailure ?? "\(error)"
                    }
                }
                emit((scorer == nil ? pipeline.deliveredLine : nil) ?? alert.json(), alert.severity, ScanAlert.dataset)
                if format == .table && alert.phase == .end { table.append(alert) }  // one row per episode, with its final totals
            }
            pipeline.onDistributedAlert = { [unowned pipeline] alert in
                emit(pipeline.deliveredLine ?? alert.json(), alert.severity, ScanAlert.dataset)
                if format == .table && alert.phase == .end { distributedTable.append(alert) }
            }
            var watch: ConnectionWatch? = nil
            if reputation.connectionAlerts, let scorer {
                watch = ConnectionWatch(scorer: scorer, home: try reputation.home.map { try CIDRSet.load(path: $0) })
                watch!.onAlert = { alert in
                    emit(alert.json(), alert.severity, ConnectionAlert.dataset)
                    if format == .table { connectionTable.append(alert) }
                }
            }
            pipeline.inspect = watch.map { w in w.inspect }
            let (seconds, flows) = try runDetection(
                input, pipeline, live: live, lateness: options.lateness.seconds, signals: signals, whileQuiet: { syslog?.flush() })
            if let writeFailure { throw writeFailure }
            if format == .table {
                try out.write(alertTable(table))
                if !distributedTable.isEmpty {
                    try out.write("\ndistributed scans:\n" + textTable(DistributedScanAlert.tableHeader, distributedTable.map(\.tableRow)))
                }
                if let watch {
                    try out.write(
                        "\n" + textTable(ConnectionAlert.tableHeader, connectionTable.map(\.tableRow))
                            + (connectionTable.isEmpty ? "\n(no suspicious connections among \(watch.remoteFlows) flows with a remote end)" : ""))
                }
            }
            syslog?.finish()
            if let scoringFailure { Diagnostics.note("warning: scan sources were not scored: \(scoringFailure)") }
            if let watch {
                Diagnostics.note(
                    "\(watch.alerts) suspicious remote address\(watch.alerts == 1 ? "" : "es") (\(watch.inboundAlerts) connecting in, \(watch.outboundAlerts) reached from home) among \(watch.remoteFlows) flows with a remote end"
                )
                let n = watch.foreignFlows
                if n > 0 {
                    let flows = "\(n) flow\(n == 1 ? "" : "s") had"
                    Diagnostics.note(
                        reputation.home == nil
                            ? "note: \(flows) public addresses at both ends and \(n == 1 ? "was" : "were") not scored: home is the non-public addresses when --home is not given; give --home FILE with your public networks to score them"
                            : "note: \(flows) neither end in --home and \(n == 1 ? "was" : "were") not scored")
                }
            }
            let s = pipeline.statistics
            Diagnostics.note(
                "\(flows) flows in \(fixed(seconds, 2)) s (\(Int(Double(flows) / max(seconds, 1e-9))) flows/s): \(s.alerts) scan episode\(s.alerts == 1 ? "" : "s") (\(s.startAlerts) start\(s.updateAlerts > 0 ? ", \(s.updateAlerts) update" : "") and \(s.alerts) end alert\(s.alerts == 1 ? "" : "s")), \(s.windows) windows judged (\(s.flaggedWindows) flagged), peak \(s.peakSources) sources"
                    + (options.jobs.count > 1 ? " (the \(options.jobs.count) detection threads' peaks summed)" : "")
                    + (s.silenced > 0 ? ", \(s.silenced) silenced by the allowlist" : "")
                    + (s.allowlistedFlows > 0 ? ", \(s.allowlistedFlows) flows to allowlisted destinations ignored" : "")
                    + (s.lateFlows > 0 ? ", \(s.lateFlows) late flows" : "")
                    + (s.evictedSources > 0 ? ", \(s.evictedSources) sources evicted at --max-sources" : "")
                    + (s.episodesEndedEarly > 0 ? ", \(s.episodesEndedEarly) episodes ended early at --max-sources" : "")
                    + (s.distributedAlerts > 0 ? ", \(s.distributedAlerts) distributed scan\(s.distributedAlerts == 1 ? "" : "s") of a host" : "")
                    + (s.evictedTargets > 0 ? ", \(s.evictedTargets) hosts no longer watched at --max-targets" : ""))
        }
    }
}

/// A table of alerts, columns padded to fit.
func alertTable(_ alerts: [ScanAlert]) -> String {
    textTable(ScanAlert.tableHeader, alerts.map(\.tableRow)) + (alerts.isEmpty ? "\n(no scans found)" : "")
}

/// Rows under a header, columns padded to fit (the last left ragged).
func textTable(_ header: [String], _ body: [[String]]) -> String {
    let rows = [header] + body
    let widths = header.indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
    return rows.map { row in
        row.enumerated().map { c, cell in c == row.count - 1 ? cell : cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
    }.joined(separator: "\n")
}

struct EvalDetect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Run detection over labelled logs and compare the flagged sources with the ground truth.",
        discussion: """
            Per source: precision, recall and F1, the share of each scan kind found and of each benign \
            kind wrongly flagged, and the misses and false alarms by address and kind (the first \
            \(listLimit) of each; every one with --json). The detection options are those of 'flowhound detect'.

            The ground truth is --truth (CSV source,label,kind), or without it the labels the flows \
            carry: Stratosphere Zeek label/detailedlabel, CTU-13 Argus Label, CICFlowMeter Label. A \
            flow's label is a scan (Stratosphere Malicious with a detailed label containing "scan", \
            CIC PortScan, CTU-13 From-Botnet or Malware labels containing "scan"), benign (Benign, \
            BENIGN, From-Normal), other malicious (the other attacks: counted neither way), ignored \
            (Background, CTU-13 To-...), or unknown (counted and named in a note, never guessed). A \
            source is scanning when any of its flows is a scan; benign when all its flows are benign, \
            ignored and unlabelled ones apart; its kind is that of most of those flows (the detailed \
            label, or CIC's label). --scan-label names more labels that mean scans. README, "eval \
            detect", has the whole mapping.

            Examples:
              flowhound synth --seed 7 -o conn.log --truth truth.csv
              flowhound eval detect conn.log --truth truth.csv
              flowhound eval detect cicids2017-portscan.csv cicids2017-benign.csv
              flowhound eval detect conn.log.labeled --scan-label External-Attack-to-Device
            """)

    /// Misses, false alarms and other source lists show this many in text; --json has them all.
    static let listLimit = 10

    @OptionGroup var input: DetectionInput
    @OptionGroup var truthOptions: TruthOptions
    @OptionGroup(title: "Detection") var options: DetectionOptions
    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        try Diagnostics.run {
            try input.noteOldSpellings(tableOutput: false)
            let groundTruth = try truthOptions.truth.map { try GroundTruth.load(path: $0) }
            let pipeline = try options.makePipeline()
            var flagged = Set<IPAddress>()
            pipeline.onAlert = { flagged.insert($0.source) }
            var distributed: [(target: IPAddress, sources: [IPAddress])] = []
            pipeline.onDistributedAlert = { alert in
                if alert.phase == .end { distributed.append((alert.target, alert.sources.map(\.address))) }
            }
            var labels = LabelTruth(scanLabels: truthOptions.scanLabels)
            if groundTruth == nil { pipeline.inspect = { labels.add($0) } }
            let (seconds, flows) = try runDetection(input, pipeline)
            let e: DetectionEvaluation
            if let groundTruth {
                e = DetectionEvaluation(flagged: flagged, truth: groundTruth, distributed: distributed)
            } else {
                guard labels.summary.labelledFlows > 0 else { throw EvalTruthError(flows: flows, logs: input.source.logs) }
                e = DetectionEvaluation(flagged: flagged, labels: labels, distributed: distributed)
                for note in Self.labelNotes(e.labels) { Diagnostics.note(note) }
            }
            print(json ? try jsonText(e) : Self.report(e, flows: flows, seconds: seconds))
        }
    }

    /// Notes on stderr about truth taken from labels: labels not known, --scan-label that matched
    /// nothing, and what is lost when the labels name no scanning (`noScanners`) or no benign source.
    static func labelNotes(
        _ summary: LabelTruth.Summary?, noScanners: String = "recall is not measured", noBenign: String = "false alarms are not measured"
    ) -> [String] {
        guard let s = summary else { return [] }
        var notes: [String] = []
        if !s.unknownLabels.isEmpty {
            notes.append(
                "note: \(s.unknownFlows) flow\(s.unknownFlows == 1 ? " carries" : "s carry") labels Flowhound does not know, which label no source (\(s.undecidedSources) left unlabelled): "
                    + listed(s.unknownLabels.map { "'\($0.label.excerpt(limit: 60))' (\($0.flows))" }))
        }
        for label in s.unmatchedScanLabels { notes.append("note: --scan-label '\(label.excerpt(limit: 60))' matched no flow") }
        if s.scanners == 0 {
            var text = "warning: the labels name no scanning source: \(noScanners)"
            if s.otherMaliciousSources > 0 {
                let kinds = s.otherMaliciousKinds.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(3)
                text +=
                    "; \(s.otherMaliciousSources) source\(s.otherMaliciousSources == 1 ? " is" : "s are") other malicious (\(kinds.map { "\($0.key.excerpt(limit: 60)): \($0.value)" }.joined(separator: ", "))): if a label of theirs means scanning, name it with --scan-label"
            }
            notes.append(text)
        }
        if s.benignSources == 0 { notes.append("warning: the labels name no benign source: \(noBenign)") }
        return notes
    }

    /// The evaluation as text: lists cut at `listLimit`.
    static func report(_ e: DetectionEvaluation, flows: Int, seconds: Double) -> String {
        var lines = ["sources: \(e.scanners) scanning, \(e.benignSources) benign; \(flows) flows in \(fixed(seconds, 2)) s"]
        if let s = e.labels {
            let c = s.flowsByClass
            func n(_ key: String) -> Int { c[key] ?? 0 }
            lines.append(
                "truth from the flows' labels: \(n("scan")) scan flows, \(n("benign")) benign, \(n("other-malicious")) other malicious, \(n("ignored")) ignored, \(n("unknown")) unknown, \(n("unlabelled")) without a label"
                    + (s.otherMaliciousSources > 0 ? "; \(s.otherMaliciousSources) other malicious sources (not counted)" : ""))
        }
        lines += [
            "precision \(fixed(e.precision, 4))  recall \(fixed(e.recall, 4))  F1 \(fixed(e.f1, 4))  (\(e.truePositives) found, \(e.falseNegatives) missed, \(e.falsePositives) false alarms)",
            "found by scan kind:",
        ]
        let scanKinds = e.recallByKind.keys.sorted(), benignKinds = e.falseAlarmRateByKind.keys.sorted()
        // Kinds from labels are the logs' text: printed as excerpts, the column as wide as the widest.
        let width = max(18, (scanKinds.prefix(listLimit) + benignKinds.prefix(listLimit)).map { $0.excerpt(limit: 60).count + 2 }.max() ?? 0)
        for kind in scanKinds.prefix(listLimit) { lines.append(kindLine(kind.excerpt(limit: 60), e.recallByKind[kind]!, width: width)) }
        if scanKinds.count > listLimit { lines.append("  and \(scanKinds.count - listLimit) more kinds") }
        lines.append("wrongly flagged by benign kind:")
        for kind in benignKinds.prefix(listLimit) { lines.append(kindLine(kind.excerpt(limit: 60), e.falseAlarmRateByKind[kind]!, width: width)) }
        if benignKinds.count > listLimit { lines.append("  and \(benignKinds.count - listLimit) more kinds") }
        func named(_ list: [DetectionEvaluation.Miss]) -> [String] { list.map { "\($0.source) (\($0.kind.excerpt(limit: 60)))" } }
        if !e.misses.isEmpty { lines.append("missed: " + listed(named(e.misses))) }
        if !e.falseAlarms.isEmpty { lines.append("false alarms: " + listed(named(e.falseAlarms))) }
        if !e.otherMaliciousFlagged.isEmpty {
            lines.append(
                "flagged, other malicious (not counted): \(e.otherMaliciousFlagged.count) of \(e.otherMaliciousSources): "
                    + listed(named(e.otherMaliciousFlagged)))
        }
        if !e.unlabelledFlagged.isEmpty { lines.append("flagged but not in the ground truth: " + listed(e.unlabelledFlagged)) }
        if !e.distributedTargets.isEmpty {
            lines.append(
                "distributed scans: " + listed(e.distributedTargets.map { "\($0.target) (\($0.sources) sources)" })
                    + "; they name \(e.scannersOnlyInDistributed) scanning source\(e.scannersOnlyInDistributed == 1 ? "" : "s") with no alert of their own, and \(e.benignInDistributed.count) benign"
            )
            if !e.benignInDistributed.isEmpty { lines.append("benign sources in distributed scans: " + listed(named(e.benignInDistributed))) }
        }
        return lines.joined(separator: "\n")
    }

    /// The first `listLimit` items, comma-separated, then how many more there are.
    static func listed(_ items: [String]) -> String {
        let shown = items.prefix(listLimit).joined(separator: ", ")
        return items.count > listLimit ? shown + " and \(items.count - listLimit) more (all with --json)" : shown
    }
}

/// `eval detect` or `dataset` has no ground truth: neither --truth nor labels in the logs.
struct EvalTruthError: OneLineError {
    var description: String

    init(flows: Int, logs: [String]) {
        description =
            "no ground truth: the \(flows) flows of \(logs.joined(separator: ", ").excerpt(limit: 200)) carry no labels; give --truth CSV (source,label,kind), or logs with labels (Stratosphere Zeek label, CTU-13 Argus Label, CICFlowMeter Label)"
    }
}

/// Where the ground truth of labelled logs comes from (`eval detect`, `dataset`): a truth file, or the
/// flows' own labels, with the labels that mean scanning.
struct TruthOptions: ParsableArguments {
    @Option(help: "Ground truth: CSV source,label,kind (as 'flowhound synth' writes). Without it: the flows' own labels.")
    var truth: String?

    @Option(
        name: .customLong("scan-label"),
        help: ArgumentHelp(
            "Truth from labels: flows with this label or detailed label (ignoring case) are scans, such as Stratosphere's External-Attack-to-Device. Repeat for more.",
            valueName: "label"))
    var scanLabels: [String] = []

    func validate() throws {
        if truth != nil, !scanLabels.isEmpty { throw ValidationError("--scan-label is for truth taken from the flows' labels, not with --truth") }
        if let empty = scanLabels.first(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ValidationError("--scan-label needs a label, found '\(empty)'")
        }
    }
}
