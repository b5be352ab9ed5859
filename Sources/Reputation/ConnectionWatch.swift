import FlowRecords
import Foundation
import Support

/// A connection whose remote end the IP model finds suspicious: the first such flow of each remote address.
public struct ConnectionAlert: Sendable {
    public var remote: IPAddress
    public var local: IPAddress
    /// The remote end opened the connection.
    public var inbound: Bool
    public var flow: FlowRecord
    public var score: IPScore

    public var explanation: String {
        let direction =
            inbound
            ? "connected to \(local) port \(flow.destinationPort)/\(flow.transport)"
            : "was reached from \(local) on port \(flow.destinationPort)/\(flow.transport)"
        return "\(remote) \(direction); its address is \(score.summary)."
    }

    /// `event.dataset` of connection alerts.
    public static let dataset = "flowhound.connection"

    /// High at a probability of 0.9 or more, else medium; `event.risk_score` is the probability × 100.
    public var severity: AlertFields.Severity { (score.probability ?? 0) >= 0.9 ? .high : .medium }

    /// 16 hex digits of SHA-256 over the remote address and the flow's start: the same whenever the same
    /// flows are read again. A remote address alerts once per run.
    public var eventID: String {
        shortID("connection \(remote)", time: flow.start)
    }

    /// One line of JSON with Elastic Common Schema names; Flowhound's detail under `flowhound`.
    public func json(_ context: AlertFields.Context = .now()) -> String { jsonLine(ECS(self, context)) }

    private struct ECS: Encodable {
        struct Network: Encodable { var transport: String, direction: String, community_id: String? }
        struct Related: Encodable { var ip: [String] }
        struct Detail: Encodable { var remote: String, severity: String, reputation: IPScore }
        var timestamp: String
        var ecs = AlertFields.ECS()
        var message: String
        var event: AlertFields.Event
        var rule = AlertFields.Rule(
            id: "flowhound-ip-reputation", name: "Suspicious remote address", category: "reputation",
            description: "The IP model finds the remote end of a connection suspicious from what is known of its address.")
        var observer: AlertFields.Observer
        var source: AlertEndpoint
        var destination: AlertEndpoint
        var network: Network
        var related: Related
        var flowhound: Detail

        enum CodingKeys: String, CodingKey {
            case timestamp = "@timestamp"
            case ecs, message, event, rule, observer, source, destination, network, related, flowhound
        }

        init(_ a: ConnectionAlert, _ context: AlertFields.Context) {
            let f = a.flow
            timestamp = CivilTime.iso8601Milliseconds(f.start)
            message = a.explanation
            let risk = a.score.probability.map { min(100, max(0, ($0 * 1000).rounded() / 10)) }
            event = AlertFields.Event(
                id: a.eventID, action: "suspicious-remote-address", dataset: ConnectionAlert.dataset, context: context,
                start: f.start, end: f.end, severity: a.severity, riskScore: risk)
            observer = AlertFields.Observer(context)
            // The remote end's country and AS, on whichever end it is.
            source = AlertEndpoint(ip: f.source.description, port: f.sourcePort, reputation: a.inbound ? a.score : nil)
            destination = AlertEndpoint(ip: f.destination.description, port: f.destinationPort, reputation: a.inbound ? nil : a.score)
            network = Network(
                transport: f.transport.description, direction: a.inbound ? "inbound" : "outbound", community_id: FlowKey(f).communityID)
            related = Related(ip: [f.source.description, f.destination.description])
            flowhound = Detail(remote: a.remote.description, severity: a.severity.name, reputation: a.score)
        }
    }

    public static let tableHeader = ["time", "remote", "direction", "local", "port", "probability", "drivers"]
    public var tableRow: [String] {
        [
            CivilTime(flow.start).tableTime, remote.description, inbound ? "inbound" : "outbound", local.description,
            "\(flow.destinationPort)/\(flow.transport)", score.probability.map { String(format: "%.2f", $0) } ?? "-",
            score.drivers.map { "\($0.feature)=\($0.value)" }.joined(separator: ", "),
        ]
    }
}

/// Watches flows for connections to or from suspicious addresses. The remote end of a flow is the
/// end outside `home` (by default: the public one); when the originator is outside, it is the remote
/// end (inbound), else the responder (outbound). A flow with both ends outside home is not scored: with
/// the default home, a monitored host with a public address would otherwise be scored as the remote
/// end of its own connections (they are counted in `foreignFlows`). Each remote address alerts once.
public final class ConnectionWatch {
    public let scorer: IPScorer
    public let home: CIDRSet?
    public var onAlert: (ConnectionAlert) -> Void = { _ in }
    public private(set) var alerts = 0
    /// Alerts whose remote end opened the connection, and whose remote end a home host reached.
    public private(set) var inboundAlerts = 0
    public private(set) var outboundAlerts = 0
    public private(set) var remoteFlows = 0
    /// Flows with neither end at home, not scored.
    public private(set) var foreignFlows = 0
    private var alerted = Set<IPAddress>()

    public init(scorer: IPScorer, home: CIDRSet?) {
        self.scorer = scorer
        self.home = home
    }

    func isHome(_ a: IPAddress) -> Bool { home?.contains(a) ?? !a.isGlobal }

    public func inspect(_ flow: FlowRecord) throws {
        let sourceHome = isHome(flow.source), destinationHome = isHome(flow.destination)
        guard sourceHome != destinationHome else {
            if !sourceHome { foreignFlows += 1 }
            return
        }
        let inbound = destinationHome
        remoteFlows += 1
        let remote = inbound ? flow.source : flow.destination
        guard !alerted.contains(remote) else { return }
        let score = try scorer.score(Observation(remote, in: flow))
        guard score.verdict == .suspicious else { return }
        alerted.insert(remote)
        alerts += 1
        if inbound { inboundAlerts += 1 } else { outboundAlerts += 1 }
        onAlert(ConnectionAlert(remote: remote, local: inbound ? flow.destination : flow.source, inbound: inbound, flow: flow, score: score))
    }
}
