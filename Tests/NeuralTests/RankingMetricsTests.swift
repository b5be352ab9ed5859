import Testing

@testable import Neural

@Suite struct RankingMetricsTests {
    // Positives score 0.9, 0.7, 0.6; negatives 0.8, 0.2, 0.1.
    let scores = [0.9, 0.8, 0.7, 0.6, 0.2, 0.1]
    let labels = [true, false, true, true, false, false]

    @Test func measuresAHandWorkedExample() throws {
        let m = RankingMetrics(scores: scores, positives: labels)
        #expect(m.positives == 3 && m.negatives == 3)
        let auc: Double = 7.0 / 9
        #expect(abs(try #require(m.rocAUC) - auc) < 1e-12)
        // Precision at each positive: 1/1, 2/3, 3/4.
        let expected: Double = (1 + 2.0 / 3 + 0.75) / 3
        #expect(abs(try #require(m.prAUC) - expected) < 1e-12)
        // No false positive is allowed among three negatives at 1 %: only the top positive is found.
        #expect(try #require(m.recallAtFalsePositiveRate) == 1.0 / 3)
        let brier: Double = 0.95 / 6
        #expect(abs(try #require(m.brier) - brier) < 1e-12)
        let loose = RankingMetrics(scores: scores, positives: labels, maximumFalsePositiveRate: 0.34)
        #expect(loose.recallAtFalsePositiveRate == 1)
    }

    @Test func tiedScoresFormOneStep() {
        let m = RankingMetrics(scores: [0.5, 0.5], positives: [true, false])
        #expect(m.prAUC == 0.5)
        #expect(m.rocAUC == 0.5)
        #expect(m.recallAtFalsePositiveRate == 0)
    }

    @Test func choosesTheHighestThresholdReachingARecall() {
        #expect(RankingMetrics.threshold(forRecall: 0.95, scores: scores, positives: labels) == 0.6)
        #expect(RankingMetrics.threshold(forRecall: 0.5, scores: scores, positives: labels) == 0.7)
        #expect(RankingMetrics.threshold(forRecall: 0.3, scores: scores, positives: labels) == 0.9)
        #expect(RankingMetrics.threshold(forRecall: 0.9, scores: [0.1], positives: [false]) == nil)
    }

    @Test func aClassAloneHasNoRanking() {
        let m = RankingMetrics(scores: [0.2, 0.4], positives: [false, false])
        #expect(m.rocAUC == nil && m.prAUC == nil && m.recallAtFalsePositiveRate == nil)
        #expect(m.brier != nil)
    }
}
