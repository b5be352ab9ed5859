import FlowRecords
import Foundation
import Support

/// One distributed scan episode of one host (`DistributedScanDetector`): the sources whose attempts on
/// it failed while the episode lasted, and the ports. Reported as a source's episode is: a `start`
/// alert at the flow that reached the detector's bounds, optional `update` alerts, an `end` alert
/// with the totals, all with the same `episodeID`.
public struct DistributedScanAlert: Sendable {
    /// The host scanned.
    public var target: IPAddress
    public var firstSeen: Double
    public var lastSeen: Double
    /// Failed attempts on the host in the episode.
    public var failedFlows: Int
    /// The sources with their failed attempts, most first (ties by address); at most
    /// `DistributedScanDetector.maximumEpisodeSources`.
    public var sources: [(address: IPAddress, failedFlows: Int)]
    /// More sources took part than `sources` names.
    public var sourcesTruncated: Bool
    /// Distinct ports the failed attempts were on, ascending.
    public var ports: [UInt16]
    /// Why the episode started.
    public var reason: String
    public var phase: ScanAlert.Phase
    public var episodeID: String
    /// Log time of the flow that reached the detector's bounds.
    public var detectedAt: Double
    /// Update alerts' number within the episode; 0 for start and end alerts.
    public var update: Int

    /// Sources named in `flowhound.top_sources`.
    public static let topSources = 10

    /// 16 hex digits of SHA-256 over the host and the time the episode was recognised, apart from a
    /// source's episode identifiers.
    static func episodeID(_ target: IPAddress, _ detectedAt: Double) -> String {
        shortID("distributed \(target)", time: detectedAt)
    }

    /// One sentence a person can read.
    public var explanation: String {
        let span = CivilTime.durationText((lastSeen - firstSeen).rounded())
        let count = "\(sources.count)\(sourcesTruncated ? "+" : "")"
        let top = sources.prefix(3).map { "\($0.address) (\($0.failedFlows))" }.joined(separator: ", ")
        return
            "\(target) was probed by \(count) sources on \(ports.count) port\(ports.count == 1 ? "" : "s") (\(ScanAlert.ranges(ports, limit: 6))) in \(span), \(failedFlows) failed attempts; most from \(top) (distributed: \(reason))."
    }

    /// High: many sources working together on one host.
    public var severity: AlertFields.Severity { .high }

    /// The alert as one line of JSON, as a source's alert is written; `source` is left out (there are
    /// many), `destination.ip` is the host and `related.ip` holds it with the sources.
    public func json(_ context: AlertFields.Context = .now()) -> String { jsonLine(ECS(self, context)) }

    private struct ECS: Encodable {
        struct TopSource: Encodable {
            var ip: String
            var failed_flows: Int
        }
        struct Destination: Encodable {
            var ip: String
            var port: UInt16?
        }
        struct Detail: Encodable {
            var episode_id: String, phase: String, detected_at: String, severity: String
            var scan_type = "distributed"
            var distinct_sources: Int, sources_truncated: Bool, top_sources: [TopSource]
            var distinct_ports: Int, ports: [UInt16], ports_truncated: Bool, port_ranges: String, failed_flows: Int
            var detectors = ["distributed"], reasons: [String: String]
        }

        var timestamp: String
        var ecs = AlertFields.ECS()
        var message: String
        var event: AlertFields.Event
        var rule = AlertFields.Rule(
            id: "flowhound-scan-distributed", name: "Port scan (distributed)", category: "port scan",
            description: "Many sources' attempts on one host failed, each source too few to be a scan alone.")
        var threat = AlertFields.Threat()
        var observer: AlertFields.Observer
        var destination: Destination
        var related: AlertRelated
        var flowhound: Detail

        enum CodingKeys: String, CodingKey {
            case timestamp = "@timestamp"
            case ecs, message, event, rule, threat, observer, destination, related, flowhound
        }

        init(_ a: DistributedScanAlert, _ context: AlertFields.Context) {
            timestamp = CivilTime.iso8601Milliseconds(a.phaseTime)
            message = a.explanation
            event = AlertFields.Event(
                id: a.eventID, action: "distributed-port-scan-\(a.phase.rawValue)", dataset: ScanAlert.dataset, context: context,
                start: a.firstSeen, end: a.lastSeen, severity: a.severity)
            observer = AlertFields.Observer(context)
            destination = Destination(ip: a.target.description, port: a.ports.count == 1 ? a.ports.first : nil)
            related = AlertRelated(ip: [a.target.description] + a.sources.prefix(ScanAlert.listedHosts).map(\.address.description))
            let top = a.sources.prefix(DistributedScanAlert.topSources)
            flowhound = Detail(
                episode_id: a.episodeID, phase: a.phase.rawValue, detected_at: CivilTime.iso8601Milliseconds(a.detectedAt),
                severity: a.severity.name, distinct_sources: a.sources.count, sources_truncated: a.sourcesTruncated,
                top_sources: top.map { TopSource(ip: $0.address.description, failed_flows: $0.failedFlows) },
                distinct_ports: a.ports.count, ports: Array(a.ports.prefix(ScanAlert.listedPorts)),
                ports_truncated: a.ports.count > ScanAlert.listedPorts, port_ranges: ScanAlert.ranges(a.ports, limit: 50),
                failed_flows: a.failedFlows, reasons: ["distributed": a.reason])
        }
    }

    /// Column titles and one row for `--format table`.
    public static let tableHeader = ["first seen", "target", "sources", "ports", "failed", "top sources", "ports probed"]
    public var tableRow: [String] {
        [
            CivilTime(firstSeen).tableTime, target.description, "\(sources.count)\(sourcesTruncated ? "+" : "")", String(ports.count),
            String(failedFlows), sources.prefix(3).map(\.address.description).joined(separator: ","), ScanAlert.ranges(ports, limit: 4),
        ]
    }
}

extension DistributedScanAlert: EpisodeAlert {}
