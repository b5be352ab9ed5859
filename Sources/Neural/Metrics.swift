/// How well scores separate positives from negatives, at a decision threshold and over all thresholds.
public struct BinaryMetrics: Codable, Sendable, Equatable {
    public var truePositives = 0, falsePositives = 0, trueNegatives = 0, falseNegatives = 0
    public var threshold: Double
    /// Area under the ROC curve: the chance that a random positive scores above a random negative
    /// (ties count half). Nil when either class is absent.
    public var rocAUC: Double?

    /// - Parameters:
    ///   - scores: the positive class's probability per sample.
    ///   - positives: whether each sample is positive.
    /// - Complexity: O(n log n).
    public init(scores: [Double], positives: [Bool], threshold: Double = 0.5) {
        precondition(scores.count == positives.count, "one score per label")
        self.threshold = threshold
        for (s, p) in zip(scores, positives) {
            switch (s >= threshold, p) {
            case (true, true): truePositives += 1
            case (true, false): falsePositives += 1
            case (false, false): trueNegatives += 1
            case (false, true): falseNegatives += 1
            }
        }
        rocAUC = BinaryMetrics.auc(scores: scores, positives: positives)
    }

    public var count: Int { truePositives + falsePositives + trueNegatives + falseNegatives }
    public var accuracy: Double { ratio(truePositives + trueNegatives, count) }
    public var precision: Double { ratio(truePositives, truePositives + falsePositives) }
    /// Share of positives found (detection rate).
    public var recall: Double { ratio(truePositives, truePositives + falseNegatives) }
    /// Share of negatives left alone.
    public var specificity: Double { ratio(trueNegatives, trueNegatives + falsePositives) }
    public var f1: Double { precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall) }
    public var falsePositiveRate: Double { ratio(falsePositives, falsePositives + trueNegatives) }

    private func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }

    /// Mann–Whitney U over ranks, with tied scores sharing their mean rank.
    static func auc(scores: [Double], positives: [Bool]) -> Double? {
        let p = positives.filter { $0 }.count, n = positives.count - p
        guard p > 0, n > 0 else { return nil }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSum = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let meanRank = Double(i + j + 2) / 2
            for k in i...j where positives[order[k]] { rankSum += meanRank }
            i = j + 1
        }
        return (rankSum - Double(p) * Double(p + 1) / 2) / (Double(p) * Double(n))
    }
}
