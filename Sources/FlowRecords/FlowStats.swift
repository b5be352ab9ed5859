import Support

/// Running statistics over flow records: counts by transport and outcome, time span, volume, and
/// the busiest sources, destinations and destination ports.
///
/// Memory grows with the number of distinct addresses and ports, not with the number of records;
/// past `distinctLimit` distinct keys in a table, new keys are no longer counted and the table is
/// marked approximate.
public struct FlowStats: Sendable {
    public private(set) var records = 0
    public private(set) var firstSeen = Double.infinity
    public private(set) var lastSeen = -Double.infinity
    public private(set) var packets: UInt64 = 0
    public private(set) var bytes: UInt64 = 0
    public private(set) var transports: [Transport: Int] = [:]
    public private(set) var outcomes: [Outcome: Int] = [:]
    private var sources = CountTable<IPAddress>()
    private var destinations = CountTable<IPAddress>()
    private var ports = CountTable<PortKey>()
    public let distinctLimit: Int

    struct PortKey: Hashable, Comparable, Sendable {
        var transport: Transport
        var port: UInt16
        static func < (a: PortKey, b: PortKey) -> Bool {
            a.port != b.port ? a.port < b.port : a.transport.rawValue < b.transport.rawValue
        }
    }

    struct CountTable<Key: Hashable & Comparable & Sendable>: Sendable {
        var flows: [Key: (flows: Int, failed: Int)] = [:]
        var truncated = false

        mutating func add(_ key: Key, failed: Bool, limit: Int) {
            if let existing = flows[key] {
                flows[key] = (existing.flows + 1, existing.failed + (failed ? 1 : 0))
            } else if flows.count < limit {
                flows[key] = (1, failed ? 1 : 0)
            } else {
                truncated = true
            }
        }

        /// The `n` keys with most flows (ties broken by key order), in one pass.
        /// - Complexity: O(k·n) for k distinct keys.
        func top(_ n: Int) -> [(Key, Int, Int)] {
            var best: [(Key, Int, Int)] = []
            func before(_ a: (Key, Int, Int), _ b: (Key, Int, Int)) -> Bool {
                a.1 != b.1 ? a.1 > b.1 : a.0 < b.0
            }
            for (key, value) in flows {
                let entry = (key, value.flows, value.failed)
                if best.count == n, let last = best.last, !before(entry, last) { continue }
                let at = best.firstIndex { before(entry, $0) } ?? best.count
                best.insert(entry, at: at)
                if best.count > n { best.removeLast() }
            }
            return best
        }
    }

    public init(distinctLimit: Int = 1_000_000) {
        self.distinctLimit = distinctLimit
    }

    /// - Complexity: amortised O(1).
    public mutating func add(_ r: FlowRecord) {
        records += 1
        if r.start < firstSeen { firstSeen = r.start }
        if r.end > lastSeen { lastSeen = r.end }
        packets &+= r.sourcePackets &+ r.destinationPackets
        bytes &+= r.sourceBytes &+ r.destinationBytes
        transports[r.transport, default: 0] += 1
        outcomes[r.outcome, default: 0] += 1
        let failed = r.outcome.isFailure
        sources.add(r.source, failed: failed, limit: distinctLimit)
        destinations.add(r.destination, failed: failed, limit: distinctLimit)
        ports.add(PortKey(transport: r.transport, port: r.destinationPort), failed: failed, limit: distinctLimit)
    }

    /// A report of these statistics and the read summaries, ready to print or encode as JSON.
    public func report(inputs: [ReadSummary], top: Int = 10) -> StatsReport {
        var total = ReadSummary(file: "", format: inputs.first?.format ?? .zeek)
        for input in inputs { total.merge(input, limit: 10) }
        func entries<K>(_ table: CountTable<K>, _ name: (K) -> String) -> [StatsReport.Entry] {
            table.top(top).map { StatsReport.Entry(key: name($0.0), flows: $0.1, failed: $0.2) }
        }
        return StatsReport(
            inputs: inputs.map {
                StatsReport.Input(
                    file: $0.file, format: $0.format.rawValue, records: $0.records, malformed: $0.malformed,
                    skipped: Dictionary(uniqueKeysWithValues: $0.skipped.map { ($0.key.rawValue, $0.value) }))
            },
            records: records,
            malformed: total.malformed,
            skipped: Dictionary(uniqueKeysWithValues: total.skipped.map { ($0.key.rawValue, $0.value) }),
            issues: total.issues.map(\.description),
            firstSeen: records > 0 ? firstSeen : nil,
            lastSeen: records > 0 ? lastSeen : nil,
            packets: packets, bytes: bytes,
            transports: Dictionary(uniqueKeysWithValues: transports.map { ($0.key.description, $0.value) }),
            outcomes: Dictionary(uniqueKeysWithValues: outcomes.map { ($0.key.description, $0.value) }),
            distinctSources: sources.flows.count,
            distinctDestinations: destinations.flows.count,
            topSources: entries(sources) { $0.description },
            topDestinations: entries(destinations) { $0.description },
            topDestinationPorts: entries(ports) { "\($0.port)/\($0.transport)" },
            approximate: sources.truncated || destinations.truncated || ports.truncated)
    }
}

/// What `flowhound flows stats` prints, as text or JSON.
public struct StatsReport: Codable, Sendable {
    public struct Input: Codable, Sendable {
        public var file: String
        public var format: String
        public var records: Int
        public var malformed: Int
        public var skipped: [String: Int]
    }

    public struct Entry: Codable, Sendable {
        /// An address, or `port/transport` for ports.
        public var key: String
        public var flows: Int
        /// Flows that were rejected or unanswered.
        public var failed: Int
    }

    public var inputs: [Input]
    public var records: Int
    public var malformed: Int
    public var skipped: [String: Int]
    /// The first malformed lines, `file:line: reason`.
    public var issues: [String]
    public var firstSeen: Double?
    public var lastSeen: Double?
    public var packets: UInt64
    public var bytes: UInt64
    public var transports: [String: Int]
    public var outcomes: [String: Int]
    public var distinctSources: Int
    public var distinctDestinations: Int
    public var topSources: [Entry]
    public var topDestinations: [Entry]
    public var topDestinationPorts: [Entry]
    /// True when a table hit its distinct-key limit and its counts leave out later keys.
    public var approximate: Bool

    /// A plain-text rendering for people.
    public var text: String {
        var lines: [String] = []
        for input in inputs {
            let skipped = input.skipped.values.reduce(0, +)
            lines.append(
                "\(input.file == "-" ? "<stdin>" : input.file): \(input.format), \(input.records) records"
                    + (input.malformed > 0 ? ", \(input.malformed) malformed" : "")
                    + (skipped > 0
                        ? ", \(skipped) skipped ("
                            + input.skipped.sorted { $0.key < $1.key }
                            .map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")" : ""))
        }
        lines.append("")
        lines.append("records      \(records)")
        if let first = firstSeen, let last = lastSeen {
            lines.append("time span    \(StatsReport.iso(first)) .. \(StatsReport.iso(last)) (\(StatsReport.span(last - first)))")
        }
        lines.append("volume       \(packets) packets, \(bytes) bytes")
        lines.append("transports   " + StatsReport.shares(transports, records))
        lines.append("outcomes     " + StatsReport.shares(outcomes, records))
        lines.append("distinct     \(distinctSources) sources, \(distinctDestinations) destinations")
        if malformed > 0 { lines.append("malformed    \(malformed) records skipped") }
        let skippedTotal = skipped.values.reduce(0, +)
        if skippedTotal > 0 {
            lines.append("skipped      " + skipped.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        for (title, entries) in [
            ("top sources", topSources), ("top destinations", topDestinations),
            ("top destination ports", topDestinationPorts),
        ] where !entries.isEmpty {
            lines.append("")
            lines.append("\(title)\(approximate ? " (approximate)" : ""):")
            let width = entries.map(\.key.count).max() ?? 0
            for e in entries {
                let pad = String(repeating: " ", count: width - e.key.count)
                let failedShare = e.flows > 0 ? Double(e.failed) / Double(e.flows) * 100 : 0
                lines.append("  \(e.key)\(pad)  \(String(e.flows).leftPadded(9)) flows  \(StatsReport.percent(failedShare)) failed")
            }
        }
        if !issues.isEmpty {
            lines.append("")
            lines.append("first malformed records:")
            for issue in issues { lines.append("  \(issue)") }
        }
        return lines.joined(separator: "\n")
    }

    static func shares(_ counts: [String: Int], _ total: Int) -> String {
        counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.key) \($0.value) (\(percent(Double($0.value) / Double(max(total, 1)) * 100)))" }
            .joined(separator: ", ")
    }

    static func percent(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)%"
    }

    /// `2022-06-12T22:39:58Z` from Unix seconds.
    static func iso(_ seconds: Double) -> String { CivilTime(seconds).iso8601 }

    static func span(_ seconds: Double) -> String {
        if seconds < 120 { return "\(Int(seconds.rounded())) s" }
        if seconds < 7200 { return "\(Int((seconds / 60).rounded())) min" }
        if seconds < 172_800 { return "\(Int((seconds / 3600).rounded())) h" }
        return "\(Int((seconds / 86400).rounded())) days"
    }
}
