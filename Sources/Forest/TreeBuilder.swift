import Foundation
import Randomness

/// Grows one tree depth-first over a bootstrap sample.
struct TreeBuilder {
    let columns: ContiguousArray<Float>
    let labels: [Float]
    let rows: Int
    let features: Int
    let settings: ForestSettings

    private var weights: [Float] = []
    private var indices: [Int32] = []
    private var pairs: [(Float, Int32)] = []
    private var spill: [Int32] = []
    private var featureOrder: [Int] = []

    init(columns: ContiguousArray<Float>, labels: [Float], rows: Int, features: Int, settings: ForestSettings) {
        self.columns = columns
        self.labels = labels
        self.rows = rows
        self.features = features
        self.settings = settings
    }

    /// The threshold between two neighbouring values `a < b`: halfway, or `a` when halfway rounds up
    /// to `b` or overflows (rows with `a` go left, rows with `b` right).
    static func midpoint(_ a: Float, _ b: Float) -> Float {
        let t = (a + b) / 2
        return t >= b || !t.isFinite ? a : t
    }

    static func gini(_ positive: Double, _ total: Double) -> Double {
        guard total > 0 else { return 0 }
        let p = positive / total
        return 2 * p * (1 - p)
    }

    mutating func build(rng: inout SplitMix64) -> (DecisionTree, [Double]) {
        weights = [Float](repeating: settings.bootstrap ? 0 : 1, count: rows)
        if settings.bootstrap { for _ in 0..<rows { weights[rng.int(0...(rows - 1))] += 1 } }
        indices = (0..<rows).filter { weights[$0] > 0 }.map { Int32($0) }
        featureOrder = Array(0..<features)
        let tries = min(features, settings.featuresPerSplit ?? max(1, Int(Double(features).squareRoot())))
        var feature: [Int32] = [-1], threshold: [Float] = [0], left: [Int32] = [0], right: [Int32] = [0], value: [Float] = [0]
        var importance = [Double](repeating: 0, count: features)
        var stack: [(node: Int, start: Int, end: Int, depth: Int, constants: Int)] = [(0, 0, indices.count, 0, 0)]
        while let (node, start, end, depth, knownConstants) = stack.popLast() {
            var total = 0.0, positive = 0.0
            for k in start..<end {
                let i = Int(indices[k])
                total += Double(weights[i])
                positive += Double(weights[i] * labels[i])
            }
            value[node] = total > 0 ? Float(positive / total) : 0
            let count = end - start
            if positive == 0 || positive == total || count < settings.minimumSamplesSplit
                || count < 2 * settings.minimumSamplesLeaf || depth == settings.maximumDepth
            {
                continue
            }
            let (found, constants) = bestSplit(start, end, total, positive, tries: tries, knownConstants: knownConstants, rng: &rng)
            guard let split = found else { continue }
            // Partition the node's samples, those going left first, each side keeping row order: rows
            // in ascending order make the column reads of every split search run forward through
            // memory, which the caches and prefetcher reward (random order left most reads missing).
            var i = start
            let column = split.feature * rows
            spill.removeAll(keepingCapacity: true)
            for k in start..<end {
                let row = indices[k]
                if columns[column + Int(row)] <= split.threshold { indices[i] = row; i += 1 } else { spill.append(row) }
            }
            for (offset, row) in spill.enumerated() { indices[i + offset] = row }
            importance[split.feature] += total * TreeBuilder.gini(positive, total) - split.childImpurity
            let l = feature.count, r = l + 1
            feature[node] = Int32(split.feature)
            threshold[node] = split.threshold
            left[node] = Int32(l)
            right[node] = Int32(r)
            for _ in 0..<2 {
                feature.append(-1)
                threshold.append(0)
                left.append(0)
                right.append(0)
                value.append(0)
            }
            stack.append((r, i, end, depth + 1, constants))
            stack.append((l, start, i, depth + 1, constants))
        }
        return (DecisionTree(feature: feature, threshold: threshold, left: left, right: right, value: value), importance)
    }

    /// The split of `indices[start..<end]` with the lowest weighted child impurity, found as
    /// scikit-learn's best splitter finds it. Features are drawn at random without replacement until
    /// `tries` have been visited and at least one of them varies here. Features known to be constant
    /// in this node (constant in an ancestor: `featureOrder[0..<knownConstants]`) are skipped, and
    /// those found constant here are moved after them, so that the children skip them too; a drawn
    /// feature that turns out to be constant still counts as visited. Sparse one-hot columns make most
    /// features constant deep in a tree, so this keeps the draws random where a greedier search would
    /// keep drawing until it found `tries` varying ones (slower, and a less diverse forest).
    /// - Returns: the split, if any, and how many features are now known to be constant (the
    ///   children's `knownConstants`).
    mutating func bestSplit(
        _ start: Int, _ end: Int, _ total: Double, _ positive: Double, tries: Int, knownConstants: Int,
        rng: inout SplitMix64
    ) -> (split: (feature: Int, threshold: Float, childImpurity: Double)?, constants: Int) {
        var best: (feature: Int, threshold: Float, childImpurity: Double)? = nil
        let minimumLeaf = settings.minimumSamplesLeaf
        var unvisited = features  // featureOrder[unvisited...] holds the varying features already visited
        var drawnConstants = 0, foundConstants = 0, totalConstants = knownConstants, visited = 0
        while unvisited > totalConstants && (visited < tries || visited <= foundConstants + drawnConstants) {
            visited += 1
            var j = rng.int(drawnConstants...(unvisited - foundConstants - 1))
            if j < knownConstants {
                featureOrder.swapAt(drawnConstants, j)
                drawnConstants += 1
                continue
            }
            j += foundConstants
            let f = featureOrder[j]
            let column = f * rows
            // One pass: the first two distinct values here with the weight of each, and whether a
            // third exists. One value: constant here. Two (one-hot and flag columns): the one
            // candidate split needs no sort.
            let first = columns[column + Int(indices[start])]
            var second = first, hasSecond = false, more = false
            var firstTotal = 0.0, firstPositive = 0.0, firstCount = 0
            for k in start..<end {
                let i = Int(indices[k])
                let v = columns[column + i]
                if v == first {
                    firstTotal += Double(weights[i])
                    firstPositive += Double(weights[i] * labels[i])
                    firstCount += 1
                } else if !hasSecond {
                    second = v
                    hasSecond = true
                } else if v != second {
                    more = true
                    break
                }
            }
            if !hasSecond {
                featureOrder.swapAt(j, totalConstants)
                foundConstants += 1
                totalConstants += 1
                continue
            }
            unvisited -= 1
            featureOrder.swapAt(unvisited, j)
            if !more {
                let n = end - start
                let firstIsLow = first < second
                let lowTotal = firstIsLow ? firstTotal : total - firstTotal
                let lowPositive = firstIsLow ? firstPositive : positive - firstPositive
                let lowCount = firstIsLow ? firstCount : n - firstCount
                guard lowCount >= minimumLeaf, n - lowCount >= minimumLeaf else { continue }
                let impurity =
                    lowTotal * TreeBuilder.gini(lowPositive, lowTotal)
                    + (total - lowTotal) * TreeBuilder.gini(positive - lowPositive, total - lowTotal)
                if best == nil || impurity < best!.childImpurity - 1e-12 {
                    best = (f, TreeBuilder.midpoint(min(first, second), max(first, second)), impurity)
                }
                continue
            }
            pairs.removeAll(keepingCapacity: true)
            for k in start..<end { pairs.append((columns[column + Int(indices[k])], indices[k])) }
            pairs.sort { $0.0 < $1.0 }
            var leftTotal = 0.0, leftPositive = 0.0
            let n = pairs.count
            for k in 0..<(n - 1) {
                let i = Int(pairs[k].1)
                leftTotal += Double(weights[i])
                leftPositive += Double(weights[i] * labels[i])
                guard pairs[k].0 < pairs[k + 1].0, k + 1 >= minimumLeaf, n - k - 1 >= minimumLeaf else { continue }
                let rightTotal = total - leftTotal, rightPositive = positive - leftPositive
                let impurity =
                    leftTotal * TreeBuilder.gini(leftPositive, leftTotal)
                    + rightTotal * TreeBuilder.gini(rightPositive, rightTotal)
                if best == nil || impurity < best!.childImpurity - 1e-12 {
                    best = (f, TreeBuilder.midpoint(pairs[k].0, pairs[k + 1].0), impurity)
                }
            }
        }
        return (best, totalConstants)
    }
}
