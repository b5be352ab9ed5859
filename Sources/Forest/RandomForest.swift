import Dispatch
import Foundation
import Randomness

/// Rows of Float32 features, row-major: row `i` is `values[i·columns ..< (i+1)·columns]`.
public struct FeatureMatrix: Sendable {
    public let rows: Int
    public let columns: Int
    public var values: ContiguousArray<Float>

    public init(rows: Int, columns: Int, values: ContiguousArray<Float>) {
        precondition(values.count == rows * columns, "\(values.count) values for \(rows) × \(columns)")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// The same values by column (`f · rows + i`), as tree building reads them.
    func columnMajor() -> ContiguousArray<Float> {
        var out = ContiguousArray<Float>(repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { v in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<rows { for f in 0..<columns { o[f * rows + i] = v[i * columns + f] } }
            }
        }
        return out
    }
}

/// How trees grow. Defaults are scikit-learn's for `RandomForestClassifier`.
public struct ForestSettings: Sendable, Codable, Equatable {
    public var trees = 100
    /// Deepest a tree may grow (nil: until leaves are pure or too small).
    public var maximumDepth: Int? = nil
    /// Fewest samples a node needs to be split.
    public var minimumSamplesSplit = 2
    /// Fewest samples each side of a split must keep.
    public var minimumSamplesLeaf = 1
    /// Features visited at each split: nil means ⌊√features⌋ (scikit-learn's "sqrt").
    public var featuresPerSplit: Int? = nil
    /// Each tree learns from a bootstrap sample (n rows drawn with replacement).
    public var bootstrap = true
    /// The same seed and data give the same forest, whatever the number of threads.
    public var seed: UInt64 = 1
    public var threads = ProcessInfo.processInfo.activeProcessorCount

    public init() {}
}

/// A random forest of CART trees (Breiman 2001) for two classes: Gini impurity, bootstrap samples,
/// a random subset of features tried at each split, probability = mean of the trees' leaf shares.
public struct RandomForest: Sendable, Equatable {
    public let trees: [DecisionTree]
    public let featureCount: Int
    /// Mean decrease in Gini impurity per feature, each tree's normalised to 1, averaged.
    public let importances: [Double]
    /// Every tree's nodes in one array of 16-byte nodes, for prediction: four to a cache line. The two
    /// children of a split are always side by side (right = left + 1), and a leaf points to itself
    /// with an infinite threshold, so a row walks a tree in exactly its depth in steps with no branch:
    /// `n = left[n] + (row[feature[n]] > threshold[n])`. Several rows walk a tree at once, so their
    /// memory reads overlap.
    private let nodes: ContiguousArray<PackedNode>
    private let roots: [Int32]
    private let depths: [Int32]

    struct PackedNode: Sendable, Equatable {
        var feature: Int32
        var threshold: Float
        var left: Int32
        /// A leaf's probability (0 for splits).
        var value: Float
    }

    public init(trees: [DecisionTree], featureCount: Int, importances: [Double]) {
        self.trees = trees
        self.featureCount = featureCount
        self.importances = importances
        var nodes = ContiguousArray<PackedNode>()
        var roots: [Int32] = [], depths: [Int32] = []
        for tree in trees {
            let base = Int32(nodes.count)
            roots.append(base)
            var depth = [Int32](repeating: 0, count: tree.nodeCount)
            for i in 0..<tree.nodeCount {
                if tree.feature[i] < 0 {
                    nodes.append(PackedNode(feature: 0, threshold: .infinity, left: base + Int32(i), value: tree.value[i]))
                } else {
                    precondition(tree.right[i] == tree.left[i] + 1, "children of a split are side by side")
                    nodes.append(PackedNode(feature: tree.feature[i], threshold: tree.threshold[i], left: base + tree.left[i], value: 0))
                    depth[Int(tree.left[i])] = depth[i] + 1
                    depth[Int(tree.right[i])] = depth[i] + 1
                }
            }
            depths.append(depth.max() ?? 0)
        }
        self.nodes = nodes
        self.roots = roots
        self.depths = depths
    }

    /// Learns a forest from labelled rows (`labels[i]` true for the positive class).
    /// - Complexity: O(trees · features-per-split · n log² n) for n rows, spread over `threads`.
    public static func fit(_ x: FeatureMatrix, labels: [Bool], settings: ForestSettings = ForestSettings()) -> RandomForest {
        precondition(labels.count == x.rows && x.rows > 0 && x.columns > 0, "one label a row, at least one row and column")
        let columns = x.columnMajor()
        let y = labels.map { $0 ? Float(1) : 0 }
        let count = max(1, settings.trees)
        var built = [(DecisionTree, [Double])?](repeating: nil, count: count)
        let shared = UncheckedBox((columns, y))
        built.withUnsafeMutableBufferPointer { out in
            let out = UncheckedBox(out)
            let workers = max(1, min(settings.threads, count))
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var t = w
                while t < count {
                    var rng = SplitMix64.stream(seed: settings.seed, index: UInt64(t))
                    var builder = TreeBuilder(columns: shared.value.0, labels: shared.value.1, rows: x.rows,
                                              features: x.columns, settings: settings)
                    out.value[t] = builder.build(rng: &rng)
                    t += workers
                }
            }
        }
        var importances = [Double](repeating: 0, count: x.columns)
        for case let (_, imp)? in built {
            let total = imp.reduce(0, +)
            if total > 0 { for f in imp.indices { importances[f] += imp[f] / total } }
        }
        let trees = built.map { $0!.0 }
        return RandomForest(trees: trees, featureCount: x.columns, importances: importances.map { $0 / Double(trees.count) })
    }

    /// Adds each tree's leaf probability for `count` rows (row r at `rows + r · stride`) to `sums`.
    @inline(__always)
    private static func accumulate(_ nodes: UnsafePointer<PackedNode>, _ roots: [Int32], _ depths: [Int32],
                                   rows: UnsafePointer<Float>, stride: Int, count: Int, into sums: UnsafeMutablePointer<Float>) {
        // Tree by tree, eight rows at a time: a tree's nodes stay in cache while the block's rows walk it.
        for (root, depth) in zip(roots, depths) {
            var lane = 0
            while lane < count {
                let width = min(8, count - lane)
                var n = (Int(root), Int(root), Int(root), Int(root), Int(root), Int(root), Int(root), Int(root))
                withUnsafeMutableBytes(of: &n) { raw in
                    let at = raw.bindMemory(to: Int.self).baseAddress!
                    // Unbalanced trees (one-hot features make long chains) are walked in steps of
                    // four, stopping once every row of the block is at its leaf.
                    var step = 0
                    let depth = Int(depth)
                    while step < depth {
                        for _ in 0..<min(4, depth - step) {
                            for l in 0..<width {
                                let node = nodes[at[l]]
                                let x = rows[(lane + l) * stride + Int(node.feature)]
                                at[l] = Int(node.left) + (x > node.threshold ? 1 : 0)
                            }
                        }
                        step += 4
                        var done = true
                        for l in 0..<width where nodes[at[l]].threshold != .infinity { done = false }
                        if done { break }
                    }
                    for l in 0..<width { sums[lane + l] += nodes[at[l]].value }
                }
                lane += width
            }
        }
    }

    /// The positive-class probability of one row.
    /// - Complexity: O(trees · depth).
    public func probability(_ row: UnsafeBufferPointer<Float>) -> Float {
        precondition(row.count == featureCount, "a row of \(featureCount) features")
        var sum: Float = 0
        nodes.withUnsafeBufferPointer {
            RandomForest.accumulate($0.baseAddress!, roots, depths, rows: row.baseAddress!, stride: featureCount, count: 1, into: &sum)
        }
        // Scaled as `probabilities` scales, so that one row and a batch give the same bits.
        return sum * (1 / Float(roots.count))
    }

    public func probability(_ row: [Float]) -> Float {
        row.withUnsafeBufferPointer { probability($0) }
    }

    /// Why the forest gives `row` its probability, feature by feature (Saabas's decomposition):
    /// along each tree's path, the change in the node's positive share at every split is credited
    /// to the split's feature. `bias` (the mean share at the roots) plus the sum of `perFeature`
    /// equals `probability(row)` up to rounding.
    /// - Complexity: O(trees · depth).
    public func contributions(_ row: [Float]) -> (bias: Float, perFeature: [Float]) {
        precondition(row.count == featureCount, "a row of \(featureCount) features")
        var perFeature = [Float](repeating: 0, count: featureCount)
        var bias: Float = 0
        for tree in trees {
            var node = 0
            bias += tree.value[0]
            while tree.feature[node] >= 0 {
                let f = Int(tree.feature[node])
                let next = Int(row[f] <= tree.threshold[node] ? tree.left[node] : tree.right[node])
                perFeature[f] += tree.value[next] - tree.value[node]
                node = next
            }
        }
        let scale = 1 / Float(max(1, trees.count))
        return (bias * scale, perFeature.map { $0 * scale })
    }

    /// Probabilities for every row, the rows spread over `threads`.
    public func probabilities(_ x: FeatureMatrix, threads: Int = ProcessInfo.processInfo.activeProcessorCount) -> [Float] {
        precondition(x.columns == featureCount, "rows of \(featureCount) features, got \(x.columns)")
        var out = [Float](repeating: 0, count: x.rows)
        let workers = max(1, min(threads, x.rows / 256 + 1))
        x.values.withUnsafeBufferPointer { v in
            out.withUnsafeMutableBufferPointer { o in
                nodes.withUnsafeBufferPointer { p in
                    let box = UncheckedBox((v, o, p, roots, depths))
                    DispatchQueue.concurrentPerform(iterations: workers) { w in
                        let (v, o, p, roots, depths) = box.value
                        let start = w * x.rows / workers, end = (w + 1) * x.rows / workers
                        let scale = 1 / Float(roots.count)
                        // Blocks of rows, so that the rows stay in cache while every tree walks them.
                        var blockStart = start
                        while blockStart < end {
                            let blockEnd = min(blockStart + 128, end)
                            for i in blockStart..<blockEnd { o[i] = 0 }
                            RandomForest.accumulate(p.baseAddress!, roots, depths, rows: v.baseAddress! + blockStart * x.columns,
                                                    stride: x.columns, count: blockEnd - blockStart, into: o.baseAddress! + blockStart)
                            for i in blockStart..<blockEnd { o[i] *= scale }
                            blockStart = blockEnd
                        }
                    }
                }
            }
        }
        return out
    }
}

/// Lets `concurrentPerform` workers share data each touches its own part of.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

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
                || count < 2 * settings.minimumSamplesLeaf || depth == settings.maximumDepth {
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
    mutating func bestSplit(_ start: Int, _ end: Int, _ total: Double, _ positive: Double, tries: Int, knownConstants: Int,
                            rng: inout SplitMix64) -> (split: (feature: Int, threshold: Float, childImpurity: Double)?, constants: Int) {
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
                let impurity = lowTotal * TreeBuilder.gini(lowPositive, lowTotal)
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
                let impurity = leftTotal * TreeBuilder.gini(leftPositive, leftTotal)
                    + rightTotal * TreeBuilder.gini(rightPositive, rightTotal)
                if best == nil || impurity < best!.childImpurity - 1e-12 {
                    best = (f, TreeBuilder.midpoint(pairs[k].0, pairs[k + 1].0), impurity)
                }
            }
        }
        return (best, totalConstants)
    }
}
