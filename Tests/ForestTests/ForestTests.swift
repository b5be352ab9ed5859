import Foundation
import Randomness
import Testing

@testable import Forest

@Suite struct ForestTests {
    /// Rows of `columns` uniform features; label = whether feature 0 + 0.5·feature 1 exceeds 0.75,
    /// flipped for a share `noise` of rows. The other features are noise.
    static func data(rows: Int, columns: Int, noise: Double = 0, seed: UInt64) -> (FeatureMatrix, [Bool]) {
        var rng = SplitMix64(seed: seed)
        var values = ContiguousArray<Float>()
        var labels: [Bool] = []
        for _ in 0..<rows {
            let row = (0..<columns).map { _ in Float(rng.unit()) }
            values.append(contentsOf: row)
            var label = row[0] + 0.5 * row[1] > 0.75
            if rng.chance(noise) { label.toggle() }
            labels.append(label)
        }
        return (FeatureMatrix(rows: rows, columns: columns, values: values), labels)
    }

    @Test func aStumpFindsTheGiniSplit() {
        let x = FeatureMatrix(rows: 6, columns: 1, values: [1, 2, 3, 4, 5, 6])
        var settings = ForestSettings()
        settings.trees = 1
        settings.bootstrap = false
        settings.maximumDepth = 1
        let forest = RandomForest.fit(x, labels: [false, false, false, true, true, true], settings: settings)
        let tree = forest.trees[0]
        #expect(tree.feature == [0, -1, -1])
        #expect(tree.threshold[0] == 3.5)
        #expect(tree.value == [0.5, 0, 1])
        #expect(forest.importances == [1])
    }

    @Test func aFullTreeWithoutBootstrapFitsItsTrainingData() {
        let (x, y) = Self.data(rows: 500, columns: 4, noise: 0.1, seed: 1)
        var settings = ForestSettings()
        settings.trees = 1
        settings.bootstrap = false
        settings.featuresPerSplit = 4
        let forest = RandomForest.fit(x, labels: y, settings: settings)
        let p = forest.probabilities(x)
        #expect(zip(p, y).allSatisfy { ($0 >= 0.5) == $1 })
        #expect(forest.trees[0].problem(features: 4) == nil)
    }

    @Test func forestsGeneraliseAndRankTheInformativeFeatures() {
        let (train, trainLabels) = Self.data(rows: 3000, columns: 8, noise: 0.05, seed: 2)
        let (test, testLabels) = Self.data(rows: 2000, columns: 8, noise: 0.05, seed: 3)
        var settings = ForestSettings()
        settings.trees = 50
        let forest = RandomForest.fit(train, labels: trainLabels, settings: settings)
        let p = forest.probabilities(test)
        let accuracy = Double(zip(p, testLabels).filter { ($0 >= 0.5) == $1 }.count) / Double(testLabels.count)
        #expect(accuracy > 0.90, "accuracy \(accuracy)")  // the noise alone costs 5 %
        let ranked = forest.importances.indices.sorted { forest.importances[$0] > forest.importances[$1] }
        #expect(Array(ranked.prefix(2)) == [0, 1])
        #expect(abs(forest.importances.reduce(0, +) - 1) < 1e-9)
        for tree in forest.trees { #expect(tree.problem(features: 8) == nil) }
    }

    @Test func theSameSeedGivesTheSameForestWhateverTheThreads() {
        let (x, y) = Self.data(rows: 800, columns: 6, noise: 0.1, seed: 4)
        var settings = ForestSettings()
        settings.trees = 12
        settings.threads = 1
        let one = RandomForest.fit(x, labels: y, settings: settings)
        settings.threads = 2
        let two = RandomForest.fit(x, labels: y, settings: settings)
        #expect(one == two)
        settings.seed = 5
        #expect(RandomForest.fit(x, labels: y, settings: settings) != one)
    }

    @Test func limitsAreKept() {
        let (x, y) = Self.data(rows: 1000, columns: 5, noise: 0.2, seed: 6)
        var settings = ForestSettings()
        settings.trees = 5
        settings.maximumDepth = 3
        settings.minimumSamplesLeaf = 20
        let forest = RandomForest.fit(x, labels: y, settings: settings)
        for tree in forest.trees {
            #expect(tree.nodeCount <= 15)  // a binary tree of depth 3
        }
        let single = forest.probability(Array(x.values[0..<5]))
        #expect(single == forest.probabilities(x)[0])
    }

    @Test func brokenTreesAreDescribed() {
        let cycle = DecisionTree(feature: [0, -1, -1], threshold: [0.5, 0, 0], left: [0, 0, 0], right: [2, 0, 0], value: [0.5, 0, 1])
        #expect(cycle.problem(features: 1) == "node 0 points to node 0")
        let feature = DecisionTree(feature: [3, -1, -1], threshold: [0.5, 0, 0], left: [1, 0, 0], right: [2, 0, 0], value: [0.5, 0, 1])
        #expect(feature.problem(features: 2) == "node 0 splits on feature 3 of 2")
        let probability = DecisionTree(feature: [-1], threshold: [0], left: [0], right: [0], value: [1.5])
        #expect(probability.problem(features: 2) == "node 0 has probability 1.5")
    }
}

@Suite struct ContributionTests {
    @Test func biasPlusContributionsIsTheProbability() {
        let (x, y) = ForestTests.data(rows: 600, columns: 6, noise: 0.05, seed: 3)
        var settings = ForestSettings()
        settings.trees = 12
        let forest = RandomForest.fit(x, labels: y, settings: settings)
        for r in stride(from: 0, to: 600, by: 37) {
            let row = Array(x.values[(r * 6)..<((r + 1) * 6)])
            let (bias, perFeature) = forest.contributions(row)
            #expect(abs(bias + perFeature.reduce(0, +) - forest.probability(row)) < 1e-4)
        }
        // The label depends on features 0 and 1 only: they move the probability more than the noise features.
        let (_, spread) = (0..<600).reduce(into: (0, [Float](repeating: 0, count: 6))) { acc, r in
            let c = forest.contributions(Array(x.values[(r * 6)..<((r + 1) * 6)])).perFeature
            for f in 0..<6 { acc.1[f] += abs(c[f]) }
        }
        #expect(spread[0] > spread[2] && spread[0] > spread[3] && spread[1] > spread[4])
    }
}

@Suite struct OneHotTests {
    /// A categorical feature of 40 levels one-hot encoded, beside 60 columns that are always zero: the
    /// label is whether the level is one of eight. Most columns are constant in every node.
    @Test func learnsFromSparseOneHotColumns() {
        var rng = SplitMix64(seed: 5)
        let rows = 2000, columns = 100
        var values = ContiguousArray<Float>(repeating: 0, count: rows * columns)
        var labels: [Bool] = []
        for r in 0..<rows {
            let level = rng.int(0...39)
            values[r * columns + level] = 1
            labels.append(level % 5 == 0)
        }
        var settings = ForestSettings()
        settings.trees = 20
        let forest = RandomForest.fit(FeatureMatrix(rows: rows, columns: columns, values: values), labels: labels, settings: settings)
        for tree in forest.trees {
            for (f, t) in zip(tree.feature, tree.threshold) where f >= 0 {
                #expect(f < 40 && t == 0.5)  // never a column that is always zero; halfway between 0 and 1
            }
        }
        let scores = forest.probabilities(FeatureMatrix(rows: rows, columns: columns, values: values))
        let right = zip(scores, labels).filter { ($0.0 >= 0.5) == $0.1 }.count
        #expect(right == rows)
        #expect(TreeBuilder.midpoint(0, 1) == 0.5 && TreeBuilder.midpoint(1, 1.0000001) == 1)
    }
}

@Suite struct PredictionTests {
    /// Each tree's walk as the tree's own arrays give it, summed in tree order and scaled as the
    /// forest scales: what every prediction path must equal, bit for bit.
    static func reference(_ forest: RandomForest, _ row: [Float]) -> Float {
        var sum: Float = 0
        row.withUnsafeBufferPointer { r in for tree in forest.trees { sum += tree.probability(r.baseAddress!) } }
        return sum * (1 / Float(forest.trees.count))
    }

    /// Deep trees (noisy labels, no depth limit), batches that end inside a lane set and a block,
    /// one thread and several: batch, single row and the trees' own walk agree exactly.
    @Test func batchesSingleRowsAndTheTreesAgreeBitForBit() {
        let (x, y) = ForestTests.data(rows: 3000, columns: 8, noise: 0.3, seed: 9)
        var settings = ForestSettings()
        settings.trees = 9
        let forest = RandomForest.fit(x, labels: y, settings: settings)
        #expect(forest.trees.map(\.nodeCount).max()! > 300, "deep trees")
        for rows in [1, 15, 17, 1000, 3000] {
            let part = FeatureMatrix(rows: rows, columns: 8, values: ContiguousArray(x.values[0..<(rows * 8)]))
            for threads in [1, 3] {
                let batch = forest.probabilities(part, threads: threads)
                for r in 0..<rows {
                    let row = Array(x.values[(r * 8)..<((r + 1) * 8)])
                    #expect(batch[r] == forest.probability(row), "row \(r) of \(rows), \(threads) threads")
                    #expect(batch[r] == Self.reference(forest, row), "row \(r) of \(rows)")
                }
            }
        }
    }

    /// A model file may hold a split at +∞ (`DecisionTree.problem` takes it): every row goes left.
    /// Leaves are told apart by their feature, so such a split is not taken for a leaf.
    @Test func aSplitAtInfinitySendsEveryRowLeft() {
        let tree = DecisionTree(feature: [0, -1, -1], threshold: [.infinity, 0, 0], left: [1, -1, -1], right: [2, -1, -1], value: [0.5, 0.25, 0.75])
        #expect(tree.problem(features: 1) == nil)
        let forest = RandomForest(trees: [tree], featureCount: 1, importances: [1])
        for x: Float in [-1e30, 0, 7, .greatestFiniteMagnitude] {
            #expect(forest.probability([x]) == 0.25)
            #expect(forest.probabilities(FeatureMatrix(rows: 1, columns: 1, values: [x])) == [0.25])
        }
    }
}
