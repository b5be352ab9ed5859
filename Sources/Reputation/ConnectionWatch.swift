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

    /// One line of JSON with Elastic Common Schema names; Flowhound's detail under `flowhound`.
    public func json() -> String { jsonLine(ECS(self)) }

    private struct ECS: Encodable {
        struct Event: Encodable {
            var kind = "alert", category = ["network", "threat"], type = ["connection", "indicator"], dataset = "flowhound.connection"
        }
        struct Rule: Encodable { var name = "Flowhound suspicious remote address", category = "reputation" }
        struct Endpoint: Encodable { var ip: String, port: UInt16 }
        struct Network: Encodable { var transport: String, direction: String }
        struct Detail: Encodable { var remote: String, explanation: String, reputation: IPScore }
        var timestamp: String
        var event = Event()
        var rule = Rule()
        var source: Endpoint
        var destination: Endpoint
        var network: Network
        var flowhound: Detail

        enum CodingKeys: String, CodingKey {
            case timestamp = "@timestamp"
            case event, rule, source, destination, network, flowhound
        }

        init(_ a: ConnectionAlert) {
            timestamp = CivilTime(a.flow.start).iso8601
            source = Endpoint(ip: a.flow.source.description, port: a.flow.sourcePort)
            destination = Endpoint(ip: a.flow.destination.description, port: a.flow.destinationPort)
            network = Network(transport: a.flow.transport.description, direction: a.inbound ? "inbound" : "outbound")
            flowhound = Detail(remote: a.remote.description, explanation: a.explanation, reputation: a.score)
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
