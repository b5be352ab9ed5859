import FlowRecords

/// Which sources the alerts name, against ground truth (`source,label,kind`): per-source precision,
/// recall and F1, recall per scan kind, and the misses and false alarms by name.
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

    /// - Parameter flagged: every source named by an alert.
    public init(flagged: Set<IPAddress>, truth: GroundTruth) {
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
        unlabelledFlagged = flagged.filter { truth[$0] == nil }.sorted().map(\.description)
    }
}
