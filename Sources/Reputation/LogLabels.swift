import FlowRecords
import Foundation

/// Labels for the IP model taken from a network's own flow logs (`train ip --logs`): remote sources
/// that the scan detectors flagged are malicious; remote servers that home clients chose to talk to,
/// and exchanged data with, on several days or from several clients, are benign.
///
/// Fed every flow once (`add`); told afterwards which sources the detectors flagged (`labels`), so
/// one pass over the logs serves detection and labelling. Memory is bounded: at most `maximumRemotes`
/// remote addresses are followed in each role (later ones are counted, not followed) and at most
/// `observationsPerAddress` distinct observations (hour, port, transport) are kept for each.
public struct LogLabeller: Sendable {
    /// Days or clients a server needs to be benign: one client on one day is one choice, not a habit.
    public static let minimumDays = 2
    public static let minimumClients = 2

    /// What is known of one remote server reached from home.
    struct Server: Sendable {
        /// Up to `minimumClients` distinct home clients, and up to `minimumDays` distinct UTC days.
        var clients: [IPAddress] = []
        var days: [Int] = []
        var observations: [Observation] = []

        var isHabit: Bool { clients.count >= LogLabeller.minimumClients || days.count >= LogLabeller.minimumDays }
    }

    public let home: CIDRSet?
    public let maximumRemotes: Int
    public let observationsPerAddress: Int
    /// Remote originators (candidate attackers) and what they did, by address.
    private var originators: [IPAddress: [Observation]] = [:]
    private var servers: [IPAddress: Server] = [:]
    /// Remote addresses not followed because the tables were full.
    public private(set) var unfollowed = 0
    /// Flows with neither end at home, and flows from home to a remote server without data both ways.
    public private(set) var foreignFlows = 0
    public private(set) var flowsWithoutExchange = 0

    /// - Parameters:
    ///   - home: your networks; nil takes the non-public addresses (as connection alerts do).
    ///   - maximumRemotes, observationsPerAddress: the bounds; by default at most about 100 MB for
    ///     each role however many addresses the logs hold.
    public init(home: CIDRSet?, maximumRemotes: Int = 250_000, observationsPerAddress: Int = 16) {
        precondition(maximumRemotes > 0 && observationsPerAddress > 0)
        self.home = home
        self.maximumRemotes = maximumRemotes
        self.observationsPerAddress = observationsPerAddress
    }

    public func isHome(_ address: IPAddress) -> Bool { home?.contains(address) ?? !address.isGlobal }

    /// - Complexity: amortised O(1); O(`observationsPerAddress`) for an address's new observation.
    public mutating func add(_ flow: FlowRecord) {
        if flow.isICMPError { return }
        let sourceHome = isHome(flow.source), destinationHome = isHome(flow.destination)
        if sourceHome == destinationHome {
            if !sourceHome { foreignFlows += 1 }
            return
        }
        if !sourceHome {
            let observation = Observation(flow.source, in: flow)
            if let index = originators.index(forKey: flow.source) {
                originators.values[index].appendNew(observation, limit: observationsPerAddress)
            } else if originators.count < maximumRemotes {
                originators[flow.source] = [observation]
            } else {
                unfollowed += 1
            }
            return
        }
        // From home to a remote server: a choice counts when the server answered and data went both ways.
        guard flow.outcome == .established, flow.sourceBytes > 0, flow.destinationBytes > 0 else {
            flowsWithoutExchange += 1
            return
        }
        let day = Int((flow.start / 86_400).rounded(.down))
        let observation = Observation(flow.destination, in: flow)
        let limit = observationsPerAddress
        if let index = servers.index(forKey: flow.destination) {
            servers.values[index].update(client: flow.source, day: day, observation: observation, limit: limit)
        } else if servers.count < maximumRemotes {
            var server = Server()
            server.update(client: flow.source, day: day, observation: observation, limit: limit)
            servers[flow.destination] = server
        } else {
            unfollowed += 1
        }
    }

    /// Observations labelled by one rule.
    public struct Labels: Sendable {
        /// Remote sources flagged by the per-source scan detectors.
        public var scanSources: [Observation] = []
        /// Remote sources named only by distributed-scan alerts.
        public var distributedSources: [Observation] = []
        /// Remote servers that home clients used on several days or from several clients.
        public var servers: [Observation] = []
        /// Servers used, but on one day by one client: left out.
        public var occasionalServers = 0
        /// Flagged sources that are servers home clients used as well: malicious, left out of the benign.
        public var flaggedServers = 0
    }

    /// The labelled observations, given the sources the scan detectors flagged (`scanners`) and those
    /// named by distributed-scan alerts (`distributed`). A flagged source at home is no remote end and
    /// is left out; a flagged source that is also a used server is malicious only. Observations come
    /// sorted by address, so the same logs give the same rows.
    public func labels(scanners: Set<IPAddress>, distributed: Set<IPAddress>) -> Labels {
        var result = Labels()
        for (address, observations) in originators.sorted(by: { $0.key < $1.key }) {
            if scanners.contains(address) {
                result.scanSources += observations
            } else if distributed.contains(address) {
                result.distributedSources += observations
            }
        }
        for (address, server) in servers.sorted(by: { $0.key < $1.key }) {
            if scanners.contains(address) || distributed.contains(address) {
                result.flaggedServers += 1
            } else if server.isHabit {
                result.servers += server.observations
            } else {
                result.occasionalServers += 1
            }
        }
        return result
    }
}

extension LogLabeller.Server {
    mutating func update(client: IPAddress, day: Int, observation: Observation, limit: Int) {
        if clients.count < LogLabeller.minimumClients, !clients.contains(client) { clients.append(client) }
        if days.count < LogLabeller.minimumDays, !days.contains(day) { days.append(day) }
        observations.appendNew(observation, limit: limit)
    }
}

extension Array where Element == Observation {
    /// Appends `observation` unless it is already here or `limit` are (a short linear scan: a handful).
    fileprivate mutating func appendNew(_ observation: Observation, limit: Int) {
        if count < limit, !contains(observation) { append(observation) }
    }
}
