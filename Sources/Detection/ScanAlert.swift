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

        /// ECS `event.type`.
        var eventType: String { self == .update ? "info" : rawValue }
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

    /// Unique per alert line: the episode's identifier and the phase (`…-start`, `…-update-2`, `…-end`).
    public var eventID: String { episodeID + "-" + (phase == .update ? "update-\(update)" : phase.rawValue) }

    /// What a reputation source says of the scanning source. Detection leaves it nil; the layer that
    /// scores sources (the CLI's `--ip-scores`) adds it before the alert is written.
    public var sourceReputation: (any AddressReputation)?

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

    /// The alert as one line of JSON: Elastic Common Schema names where they exist, Flowhound's own
    /// detail under `flowhound`.
    public func json() -> String { jsonLine(ECS(self)) }

    private struct ECS: Encodable {
        typealias Event = AlertECS.Event
        typealias Rule = AlertECS.Rule
        typealias Threat = AlertECS.Threat
        struct Address: Encodable {
            var ip: String
            var geo: Geo? = nil
            var `as`: AS? = nil
        }
        struct Geo: Encodable { var country_iso_code: String }
        struct AS: Encodable {
            struct Organization: Encodable { var name: String }
            var number: UInt32
            var organization: Organization?
        }
        struct Detail: Encodable {
            var episode_id: String, detected_at: String
            var scan_type: String, explanation: String
            var first_seen: String, last_seen: String, duration_seconds: Double
            var distinct_ports: Int, distinct_hosts: Int, port_ranges: String, hosts: [String]
            var flows: Int, failed_flows: Int, failure_ratio: Double, windows: Int
            var scores: [String: Double], detectors: [String], reasons: [String: String]
            var source_reputation: Reputation?
        }

        /// Encodes the reputation as its own type does.
        struct Reputation: Encodable {
            var value: any AddressReputation
            func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
        }

        var timestamp: String
        var event: Event
        var rule: Rule
        var threat = Threat()
        var source: Address
        var destination: Address?
        var flowhound: Detail

        enum CodingKeys: String, CodingKey {
            case timestamp = "@timestamp"
            case event, rule, threat, source, destination, flowhound
        }

        init(_ a: ScanAlert) {
            event = Event(id: a.eventID, phase: a.phase, firstSeen: a.firstSeen, lastSeen: a.lastSeen)
            let first = event.start, last = event.end
            timestamp = first
            rule = Rule(name: "Flowhound port scan (\(a.scanType))")
            source = Address(
                ip: a.source.description, geo: a.sourceReputation?.country.map(Geo.init),
                as: a.sourceReputation?.asn.map { AS(number: $0, organization: a.sourceReputation?.asOrganization.map(AS.Organization.init)) })
            destination = a.scannedHost.map { Address(ip: $0.description) }
            flowhound = Detail(
                episode_id: a.episodeID, detected_at: CivilTime(a.detectedAt).iso8601,
                scan_type: a.scanType, explanation: a.explanation, first_seen: first, last_seen: last,
                duration_seconds: ((a.lastSeen - a.firstSeen) * 1000).rounded() / 1000,
                distinct_ports: a.ports.count, distinct_hosts: a.hosts.count, port_ranges: ScanAlert.ranges(a.ports, limit: 50),
                hosts: a.hosts.prefix(20).map(\.description), flows: a.flows, failed_flows: a.failedFlows,
                failure_ratio: (a.failureRatio * 10000).rounded() / 10000, windows: a.windows,
                scores: a.scores.mapValues { ($0 * 10000).rounded() / 10000 }, detectors: a.reasons.keys.sorted(),
                reasons: a.reasons, source_reputation: a.sourceReputation.map(Reputation.init))
        }
    }

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

/// The parts of Elastic Common Schema that every Flowhound scan alert writes alike.
enum AlertECS {
    struct Event: Encodable {
        var id: String
        var kind = "alert", category = ["network"], type: [String], dataset = "flowhound.scan"
        var start: String, end: String

        /// An episode's alert: its event identifier and phase, and the times of its first and last flows.
        init(id: String, phase: ScanAlert.Phase, firstSeen: Double, lastSeen: Double) {
            self.id = id
            type = [phase.eventType]
            start = CivilTime(firstSeen).iso8601
            end = CivilTime(lastSeen).iso8601
        }
    }
    struct Rule: Encodable { var name: String; var category = "port scan" }
    struct Technique: Encodable {
        var id = "T1046", name = "Network Service Discovery", reference = "https://attack.mitre.org/techniques/T1046/"
    }
    struct Tactic: Encodable { var id = "TA0007", name = "Discovery" }
    struct Threat: Encodable {
        var framework = "MITRE ATT&CK"
        var technique = Technique()
        var tactic = Tactic()
    }
    struct Address: Encodable { var ip: String }
}
