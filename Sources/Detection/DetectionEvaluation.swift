import FlowRecords

/// Which sources the alerts name, against ground truth (`source,label,kind`, or the flows' own labels
/// through `LabelTruth`): per-source precision, recall and F1, recall per scan kind, and the misses
/// and false alarms by name, in the truth's order.
public struct DetectionEvaluation: Codable, Sendable {
    public struct Miss: Codable, Sendable, Equatable {
        public var source: String
        public var kind: String
    }

    public var scanners: Int
    public var benignSources: Int
    public var truePositives: Int
    public var falsePositives: Int
    public var falseNegatives: Int
    public var precision: Double
    public var recall: Double
    public var f1: Double
    /// Share of each scan kind's sources that were flagged.
    public var recallByKind: [String: Double]
    /// Share of each benign kind's sources that were flagged (wrongly).
    public var falseAlarmRateByKind: [String: Double]
    public var misses: [Miss]
    public var falseAlarms: [Miss]
    /// Flagged sources that the ground truth does not name (not counted above).
    public var unlabelledFlagged: [String]
    /// Sources known to be malicious but not scanning (labels of other attacks), not counted above.
    public var otherMaliciousSources: Int
    /// Those of them that were flagged, with their kinds.
    public var otherMaliciousFlagged: [Miss]
    /// What the flows' labels held, when the truth was taken from them (nil: from a truth file).
    public var labels: LabelTruth.Summary?
    /// Hosts that distributed-scan alerts named as scanned, and how many sources took part.
    public var distributedTargets: [DistributedTarget] = []
    /// Scanning sources that a distributed-scan alert named and no alert of their own did: found as
    /// part of a scan shared among many sources (not counted in `truePositives`).
    public var scannersOnlyInDistributed = 0
    /// Benign sources that a distributed-scan alert named (not counted in `falsePositives`).
    public var benignInDistributed: [Miss] = []

    public struct DistributedTarget: Codable, Sendable, Equatable {
        public var target: String
        public var sources: Int
    }

    /// - Parameters:
    ///   - flagged: every source named by an alert.
    ///   - otherMalicious: sources known to be malicious in other ways, with their kinds: neither
    ///     scanning nor benign, listed apart when flagged.
    ///   - distributed: distributed-scan alerts' hosts, with the sources each named.
    public init(
        flagged: Set<IPAddress>, truth: GroundTruth, otherMalicious: [(source: IPAddress, kind: String)] = [],
        distributed: [(target: IPAddress, sources: [IPAddress])] = []
    ) {
        var tp = 0, fp = 0, fn = 0
        var misses: [Miss] = [], falseAlarms: [Miss] = []
        var hits: [String: (flagged: Int, total: Int)] = [:]
        var scanners = 0, benign = 0
        var scanKinds = Set<String>()
        for source in truth.sources {
            let entry = truth[source]!
            let isScan = entry.label == "scan"
            let hit = flagged.contains(source)
            if isScan { scanners += 1; scanKinds.insert(entry.kind) } else { benign += 1 }
            hits[entry.kind, default: (0, 0)].total += 1
            if hit { hits[entry.kind, default: (0, 0)].flagged += 1 }
            switch (isScan, hit) {
            case (true, true): tp += 1
            case (true, false): fn += 1; misses.append(Miss(source: source.description, kind: entry.kind))
            case (false, true): fp += 1; falseAlarms.append(Miss(source: source.description, kind: entry.kind))
            case (false, false): break
            }
        }
        self.scanners = scanners
        benignSources = benign
        truePositives = tp
        falsePositives = fp
        falseNegatives = fn
        precision = tp + fp == 0 ? 0 : Double(tp) / Double(tp + fp)
        recall = tp + fn == 0 ? 0 : Double(tp) / Double(tp + fn)
        f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
        var byKind: [String: Double] = [:], falseByKind: [String: Double] = [:]
        for (kind, h) in hits {
            if scanKinds.contains(kind) { byKind[kind] = Double(h.flagged) / Double(h.total) } else { falseByKind[kind] = Double(h.flagged) / Double(h.total) }
        }
        recallByKind = byKind
        falseAlarmRateByKind = falseByKind
        self.misses = misses
        self.falseAlarms = falseAlarms
        otherMaliciousSources = otherMalicious.count
        otherMaliciousFlagged = otherMalicious.filter { flagged.contains($0.source) }.map { Miss(source: $0.source.description, kind: $0.kind) }
        let other = Set(otherMalicious.map(\.source))
        unlabelledFlagged = flagged.filter { truth[$0] == nil && !other.contains($0) }.sorted().map(\.description)
        labels = nil
        distributedTargets = distributed.map { DistributedTarget(target: $0.target.description, sources: $0.sources.count) }
        var named = Set<IPAddress>()
        for d in distributed { named.formUnion(d.sources) }
        for source in named.sorted() {
            guard let entry = truth[source] else { continue }
            if entry.label == "scan" {
                if !flagged.contains(source) { scannersOnlyInDistributed += 1 }
            } else {
                benignInDistributed.append(Miss(source: source.description, kind: entry.kind))
            }
        }
    }

    /// Against the truth the flows' labels give (`LabelTruth.groundTruth()`), with its summary.
    public init(flagged: Set<IPAddress>, labels: LabelTruth, distributed: [(target: IPAddress, sources: [IPAddress])] = []) {
        let (truth, other) = labels.groundTruth()
        self.init(flagged: flagged, truth: truth, otherMalicious: other, distributed: distributed)
        self.labels = labels.summary
    }
}
