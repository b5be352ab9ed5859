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

/// Threshold-free measures of a scorer for two classes, for models whose operating point is
/// chosen afterwards (the IP reputation model picks its threshold for a target recall).
public struct RankingMetrics: Codable, Sendable, Equatable {
    public var positives: Int
    public var negatives: Int
    /// Area under the ROC curve (nil when a class is absent).
    public var rocAUC: Double?
    /// Area under the precision–recall curve as average precision: the mean, over positives, of the
    /// precision at their score (tied scores form one step). Nil without positives.
    public var prAUC: Double?
    /// The largest recall reachable with a false-positive rate of at most `maximumFalsePositiveRate`.
    public var recallAtFalsePositiveRate: Double?
    public var maximumFalsePositiveRate: Double
    /// Mean squared difference between the probability and the outcome (0 is perfect, 0.25 is a coin).
    public var brier: Double?

    /// - Parameter scores: probabilities of the positive class.
    /// - Complexity: O(n log n).
    public init(scores: [Double], positives labels: [Bool], maximumFalsePositiveRate: Double = 0.01) {
        precondition(scores.count == labels.count, "one score per label")
        positives = labels.filter { $0 }.count
        negatives = labels.count - positives
        self.maximumFalsePositiveRate = maximumFalsePositiveRate
        rocAUC = BinaryMetrics.auc(scores: scores, positives: labels)
        brier = scores.isEmpty ? nil : zip(scores, labels).reduce(0) { $0 + ($1.0 - ($1.1 ? 1 : 0)) * ($1.0 - ($1.1 ? 1 : 0)) } / Double(scores.count)
        guard positives > 0 else { return }
        // Walk thresholds from the highest score down, one step per distinct score.
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var tp = 0, fp = 0, i = 0
        var precisionSum = 0.0, bestRecall = 0.0
        while i < order.count {
            var j = i, stepPositives = 0
            while j < order.count && scores[order[j]] == scores[order[i]] {
                if labels[order[j]] { stepPositives += 1 }
                j += 1
            }
            tp += stepPositives
            fp += (j - i) - stepPositives
            precisionSum += Double(stepPositives) * Double(tp) / Double(tp + fp)
            if negatives == 0 || Double(fp) / Double(negatives) <= maximumFalsePositiveRate {
                bestRecall = Double(tp) / Double(positives)
            }
            i = j
        }
        prAUC = precisionSum / Double(positives)
        recallAtFalsePositiveRate = negatives > 0 ? bestRecall : nil
    }

    /// The highest threshold at which at least `recall` of the positives score at or above it (so
    /// `score >= threshold` flags them); nil without positives.
    public static func threshold(forRecall recall: Double, scores: [Double], positives labels: [Bool]) -> Double? {
        let positive = zip(scores, labels).filter(\.1).map(\.0).sorted(by: >)
        guard !positive.isEmpty else { return nil }
        let needed = max(1, min(positive.count, Int((recall * Double(positive.count)).rounded(.up))))
        return positive[needed - 1]
    }
}
