import FlowRecords
import Foundation
import Support

/// One scan episode of one source: everything it touched while detectors kept flagging it, and why.
///
/// An episode is reported as it happens: a `start` alert as soon as it is recognised (at the flow that
/// decided it), optional `update` alerts while it grows, and an `end` alert with the final totals.
/// All three carry the same `episodeID`; each has its own `eventID`.
public struct ScanAlert: Sendable {
    /// Where in its episode's life an alert is.
    public enum Phase: String, Sendable, Codable, CaseIterable {
        /// The episode was recognised: what the source had done by the deciding flow.
        case start
        /// The episode goes on: its totals so far (only when updates are asked for).
        case update
        /// The episode ended (quiet for the quiet period, or the input ended): its final totals.
        case end
    }

    public var source: IPAddress
    public var firstSeen: Double
    public var lastSeen: Double
    /// Windows in the episode that a detector flagged.
    public var windows: Int
    public var flows: Int
    public var failedFlows: Int
    public var ports: [UInt16]
    public var hosts: [IPAddress]
    /// Each detector's highest score over the episode.
    public var scores: [String: Double]
    /// The detectors that flagged, with their first reason.
    public var reasons: [String: String]
    /// The most distinct ports that failed on one host in one flagged window, and that host.
    public var busiestHost: (host: IPAddress, failedPorts: Int)?
    /// The most distinct hosts that failed on one port in one flagged window, and that port.
    public var busiestPort: (port: UInt16, failedHosts: Int)?
    public var phase = Phase.end
    /// The same for every alert of one episode: 16 hex digits derived from the source and the time it
    /// was recognised, so that a replay (a worker resuming from a checkpoint) gives the same.
    public var episodeID = ""
    /// Log time of the flow that decided the episode: the flow that crossed a sequential detector's
    /// bound, or the last flow of the window that a window detector flagged.
    public var detectedAt = 0.0
    /// Update alerts' number within the episode (1, 2, ...); 0 for start and end alerts.
    public var update = 0

    /// What a reputation source says of the scanning source. Detection leaves it nil; the layer that
    /// scores sources (the CLI's `--ip-scores`) adds it before the alert is written.
    public var sourceReputation: (any AddressReputation)?

    /// Ports on which an attempt was answered (found open), ascending.
    public var answeredPorts: [UInt16] = []
    /// The transport of every flow in the episode, when they all had one.
    public var transport: Transport?
    /// The episode's first and last flows, to find them in the log or in other tools.
    public var firstFlow: FlowKey?
    public var lastFlow: FlowKey?

    public var failureRatio: Double { flows == 0 ? 0 : Double(failedFlows) / Double(flows) }

    /// The host scanned: the only host touched, or the host that holds most of the failed attempts
    /// (a vertical scan beside the source's DNS lookups); nil when the probes are spread.
    public var scannedHost: IPAddress? {
        if hosts.count == 1 { return hosts[0] }
        guard let busiest = busiestHost, busiest.failedPorts * 2 > failedFlows else { return nil }
        return busiest.host
    }

    /// `vertical` (most failed ports on one host), `horizontal` (most failed hosts on one port) or
    /// `block` (spread over both). Incidental traffic beside a scan (DNS lookups, a web page) does not
    /// change its type.
    public var scanType: String {
        let ports = busiestHost?.failedPorts ?? 0, hosts = busiestPort?.failedHosts ?? 0
        if ports >= 5 && ports >= 4 * hosts { return "vertical" }
        if hosts >= 5 && hosts >= 4 * ports { return "horizontal" }
        if ports >= 5 || hosts >= 5 { return "block" }
        // Too few failures to tell: by what was touched.
        if self.hosts.count <= 2 { return "vertical" }
        if self.ports.count <= 3 { return "horizontal" }
        return "block"
    }

    /// `22, 80-90, 443` with at most `limit` ranges, then how many more.
    public static func ranges(_ ports: [UInt16], limit: Int = 12) -> String {
        var parts: [String] = []
        var i = 0
        while i < ports.count {
            var j = i
            while j + 1 < ports.count && ports[j + 1] == ports[j] + 1 { j += 1 }
            parts.append(i == j ? "\(ports[i])" : "\(ports[i])-\(ports[j])")
            i = j + 1
        }
        return parts.count <= limit ? parts.joined(separator: ",") : parts.prefix(limit).joined(separator: ",") + " (+\(parts.count - limit) more)"
    }

    /// One sentence a person can read.
    public var explanation: String {
        let span = CivilTime.durationText((lastSeen - firstSeen).rounded())
        let what: String
        switch scanType {
        case "vertical":
            let target = busiestHost?.host.description ?? hosts.first?.description ?? "?"
            what = "\(ports.count) port\(ports.count == 1 ? "" : "s") on \(hosts.count == 1 ? target : "\(hosts.count) hosts, most on \(target)")"
        case "horizontal": what = "port\(ports.count == 1 ? "" : "s") \(ScanAlert.ranges(ports, limit: 3)) on \(hosts.count) hosts"
        default: what = "\(ports.count) ports on \(hosts.count) hosts"
        }
        let why = reasons.keys.sorted().map { "\($0): \(reasons[$0]!)" }.joined(separator: "; ")
        let reputation = sourceReputation.map { " Source reputation: \($0.summary)." } ?? ""
        return "\(source) probed \(what) in \(span), \(Int((failureRatio * 100).rounded()))% of \(flows) attempts failed (\(why))." + reputation
    }

    /// How urgent the alert is: medium; high when two detectors or more agree, or the source's reputation
    /// is suspicious; critical when both.
    public var severity: AlertFields.Severity {
        var level = AlertFields.Severity.medium
        if reasons.count >= 2 { level = level.raised }
        if sourceReputation?.isSuspicious == true { level = level.raised }
        return level
    }

    /// Ports and hosts listed in an alert; `distinct_ports` and `distinct_hosts` count them all.
    public static let listedPorts = 1000, listedHosts = 100

    /// The alert as one line of JSON: Elastic Common Schema names where they exist, Flowhound's own
    /// detail under `flowhound`. `context` gives the writing time and machine.
    public func json(_ context: AlertFields.Context = .now()) -> String {
        var w = JSONLineWriter()
        write(to: &w, context)
        return w.line
    }

    /// The same line through the `Encodable` document (`ECS`), which `json` writes directly without the
    /// generic encoder's walk: tests hold the two to the same bytes.
    func encodableJSON(_ context: AlertFields.Context) -> String { jsonLine(ECS(self, context)) }

    /// `ECS`'s members in sorted key order, each value as `ECS.init` makes it.
    private func write(to w: inout JSONLineWriter, _ context: AlertFields.Context) {
        let severity = self.severity
        let onePort = ports.count == 1 ? ports.first : nil
        let hosts = self.hosts.prefix(ScanAlert.listedHosts)
        w.beginObject()
        w.key("@timestamp"); w.time(phaseTime)
        if scannedHost != nil || onePort != nil {
            w.key("destination"); AlertEndpoint(ip: scannedHost?.description, port: onePort).write(to: &w)
        }
        w.key("ecs"); AlertFields.ECS().write(to: &w)
        w.key("event")
        AlertFields.Event(
            id: eventID, action: "port-scan-\(phase.rawValue)", dataset: ScanAlert.dataset, context: context, start: firstSeen,
            end: lastSeen, severity: severity
        ).write(to: &w)
        w.key("flowhound")
        w.beginObject()
        w.key("answered_ports"); w.integers(answeredPorts.prefix(ScanAlert.listedPorts))
        w.key("detected_at"); w.time(detectedAt)
        w.key("detectors"); w.strings(reasons.keys.sorted())
        w.key("distinct_answered_ports"); w.integer(answeredPorts.count)
        w.key("distinct_hosts"); w.integer(self.hosts.count)
        w.key("distinct_ports"); w.integer(ports.count)
        w.key("episode_id"); w.string(episodeID)
        w.key("failed_flows"); w.integer(failedFlows)
        w.key("failure_ratio"); w.double((failureRatio * 10000).rounded() / 10000)
        if let firstFlow { w.key("first_flow"); AlertFlow.write(firstFlow, to: &w) }
        w.key("flows"); w.integer(flows)
        w.key("hosts"); w.addresses(hosts)
        w.key("hosts_truncated"); w.bool(self.hosts.count > ScanAlert.listedHosts)
        if let lastFlow { w.key("last_flow"); AlertFlow.write(lastFlow, to: &w) }
        w.key("phase"); w.string(phase.rawValue)
        w.key("port_ranges"); w.string(ScanAlert.ranges(ports, limit: 50))
        w.key("ports"); w.integers(ports.prefix(ScanAlert.listedPorts))
        w.key("ports_truncated"); w.bool(ports.count > ScanAlert.listedPorts)
        w.key("reasons"); w.object(reasons) { $0.string($1) }
        w.key("scan_type"); w.string(scanType)
        w.key("scores"); w.object(scores) { $0.double(($1 * 10000).rounded() / 10000) }
        w.key("severity"); w.string(severity.name)
        if let sourceReputation { w.key("source_reputation"); w.raw(jsonLine(ECS.Reputation(value: sourceReputation))) }
        w.key("windows"); w.integer(windows)
        w.endObject()
        w.key("message"); w.string(explanation)
        if let transport { w.key("network"); AlertNetwork(transport: transport.description).write(to: &w) }
        w.key("observer"); AlertFields.Observer(context).write(to: &w)
        w.key("related"); AlertRelated.write(source, hosts, to: &w)
        w.key("rule")
        AlertFields.Rule(
            id: "flowhound-scan-\(scanType)", name: "Port scan (\(scanType))", category: "port scan",
            description: ScanAlert.ruleDescriptions[scanType] ?? ""
        ).write(to: &w)
        w.key("source"); AlertEndpoint(ip: source.description, reputation: sourceReputation).write(to: &w)
        w.key("threat"); AlertFields.Threat.writeStandard(to: &w)
        w.endObject()
    }

    private struct ECS: Encodable {
        struct Detail: Encodable {
            var episode_id: String, phase: String, detected_at: String, severity: String
            var scan_type: String
            var distinct_ports: Int, ports: [UInt16], ports_truncated: Bool, port_ranges: String
            var distinct_answered_ports: Int, answered_ports: [UInt16]
            var distinct_hosts: Int, hosts: [String], hosts_truncated: Bool
            var flows: Int, failed_flows: Int, failure_ratio: Double, windows: Int
            var scores: [String: Double], detectors: [String], reasons: [String: String]
            var first_flow: AlertFlow?, last_flow: AlertFlow?
            var source_reputation: Reputation?
        }

        /// Encodes the reputation as its own type does.
        struct Reputation: Encodable {
            var value: any AddressReputation
            func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
        }

        var timestamp: String
        var ecs = AlertFields.ECS()
        var message: String
        var event: AlertFields.Event
        var rule: AlertFields.Rule
        var threat = AlertFields.Threat()
        var observer: AlertFields.Observer
        var source: AlertEndpoint
        var destination: AlertEndpoint?
        var network: AlertNetwork?
        var related: AlertRelated
        var flowhound: Detail

        enum CodingKeys: String, CodingKey {
            case timestamp = "@timestamp"
            case ecs, message, event, rule, threat, observer, source, destination, network, related, flowhound
        }

        init(_ a: ScanAlert, _ context: AlertFields.Context) {
            let severity = a.severity
            timestamp = CivilTime.iso8601Milliseconds(a.phaseTime)
            message = a.explanation
            event = AlertFields.Event(
                id: a.eventID, action: "port-scan-\(a.phase.rawValue)", dataset: ScanAlert.dataset, context: context,
                start: a.firstSeen, end: a.lastSeen, severity: severity)
            rule = AlertFields.Rule(
                id: "flowhound-scan-\(a.scanType)", name: "Port scan (\(a.scanType))", category: "port scan",
                description: ScanAlert.ruleDescriptions[a.scanType] ?? "")
            observer = AlertFields.Observer(context)
            source = AlertEndpoint(ip: a.source.description, reputation: a.sourceReputation)
            let onePort = a.ports.count == 1 ? a.ports.first : nil
            // The host scanned, when one was; the port, when one was (a sweep of many hosts on it).
            destination = a.scannedHost != nil || onePort != nil ? AlertEndpoint(ip: a.scannedHost?.description, port: onePort) : nil
            network = a.transport.map { AlertNetwork(transport: $0.description) }
            let hosts = a.hosts.prefix(ScanAlert.listedHosts).map(\.description)
            related = AlertRelated(ip: [a.source.description] + hosts)
            flowhound = Detail(
                episode_id: a.episodeID, phase: a.phase.rawValue, detected_at: CivilTime.iso8601Milliseconds(a.detectedAt),
                severity: severity.name, scan_type: a.scanType,
                distinct_ports: a.ports.count, ports: Array(a.ports.prefix(ScanAlert.listedPorts)),
                ports_truncated: a.ports.count > ScanAlert.listedPorts, port_ranges: ScanAlert.ranges(a.ports, limit: 50),
                distinct_answered_ports: a.answeredPorts.count, answered_ports: Array(a.answeredPorts.prefix(ScanAlert.listedPorts)),
                distinct_hosts: a.hosts.count, hosts: hosts, hosts_truncated: a.hosts.count > ScanAlert.listedHosts,
                flows: a.flows, failed_flows: a.failedFlows,
                failure_ratio: (a.failureRatio * 10000).rounded() / 10000, windows: a.windows,
                scores: a.scores.mapValues { ($0 * 10000).rounded() / 10000 }, detectors: a.reasons.keys.sorted(),
                reasons: a.reasons, first_flow: a.firstFlow.map(AlertFlow.init), last_flow: a.lastFlow.map(AlertFlow.init),
                source_reputation: a.sourceReputation.map(Reputation.init))
        }
    }

    /// `rule.description` by scan type.
    static let ruleDescriptions = [
        "vertical": "One source tried many ports on one host, most of them failing.",
        "horizontal": "One source tried the same ports on many hosts, most of them failing.",
        "block": "One source tried many ports on many hosts, most of them failing.",
    ]

    /// Column titles and one row for `--format table`.
    public static let tableHeader = ["first seen", "source", "type", "ports", "hosts", "failed", "detectors", "ip score", "ports probed"]
    public var tableRow: [String] {
        [
            CivilTime(firstSeen).tableTime, source.description, scanType, String(ports.count), String(hosts.count),
            "\(Int((failureRatio * 100).rounded()))%", reasons.keys.sorted().joined(separator: "+"),
            sourceReputation?.tableCell ?? "-",
            ScanAlert.ranges(ports, limit: 4),
        ]
    }
}

/// `network.*` of an alert whose flows all had one transport.
struct AlertNetwork: Encodable {
    var transport: String

    func write(to w: inout JSONLineWriter) {
        w.beginObject()
        w.key("transport"); w.string(transport)
        w.endObject()
    }
}

/// `related.ip`: every address an alert names.
struct AlertRelated: Encodable {
    var ip: [String]

    /// `AlertRelated(ip: [first] + rest)` written, without building the addresses' strings.
    static func write(_ first: IPAddress, _ rest: some Sequence<IPAddress>, to w: inout JSONLineWriter) {
        w.beginObject()
        w.key("ip")
        w.beginArray()
        w.address(first)
        for a in rest { w.address(a) }
        w.endArray()
        w.endObject()
    }
}

/// A flow behind an alert, as another tool can find it: its start, ends, transport, Community ID, and
/// its record's identifier where the log has one.
struct AlertFlow: Encodable {
    var timestamp: String
    var source_ip: String, source_port: UInt16
    var destination_ip: String, destination_port: UInt16
    var transport: String
    var community_id: String?
    /// The record's own identifier in the log (Zeek's `uid`), when it has one.
    var uid: String?

    init(_ key: FlowKey) {
        timestamp = CivilTime.iso8601Milliseconds(key.start)
        source_ip = key.source.description
        source_port = key.sourcePort
        destination_ip = key.destination.description
        destination_port = key.destinationPort
        transport = key.transport.description
        community_id = key.communityID
        uid = key.uid.isEmpty ? nil : key.uid.description
    }

    /// `AlertFlow(key)` written, members in sorted key order, without building its strings first.
    static func write(_ key: FlowKey, to w: inout JSONLineWriter) {
        w.beginObject()
        if key.hasCommunityID { w.key("community_id"); w.plainString { key.appendCommunityID(to: &$0) } }
        w.key("destination_ip"); w.address(key.destination)
        w.key("destination_port"); w.integer(key.destinationPort)
        w.key("source_ip"); w.address(key.source)
        w.key("source_port"); w.integer(key.sourcePort)
        w.key("timestamp"); w.time(key.start)
        w.key("transport"); w.string(key.transport.description)
        if !key.uid.isEmpty { w.key("uid"); w.string(key.uid.description) }
        w.endObject()
    }
}

/// An alert of an episode's life (a source's scan, a host's distributed scan): what its event
/// identifier and its time are made of.
public protocol EpisodeAlert {
    var phase: ScanAlert.Phase { get }
    var episodeID: String { get }
    /// Update alerts' number within the episode; 0 for start and end alerts.
    var update: Int { get }
    var detectedAt: Double { get }
    var lastSeen: Double { get }
}

extension EpisodeAlert {
    /// Unique per alert line: the episode's identifier and the phase (`…-start`, `…-update-2`, `…-end`).
    public var eventID: String { episodeID + "-" + (phase == .update ? "update-\(update)" : phase.rawValue) }

    /// Log time at which this alert's phase happened: the deciding flow for a start alert, the latest
    /// flow so far for an update or end alert (`@timestamp`; `event.start` and `event.end` bound
    /// the episode).
    public var phaseTime: Double { phase == .start ? detectedAt : lastSeen }
}

extension ScanAlert: EpisodeAlert {
    /// `event.dataset` of scan alerts, a source's or a host's.
    public static let dataset = "flowhound.scan"
}
