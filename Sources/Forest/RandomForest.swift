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
                    var builder = TreeBuilder(
                        columns: shared.value.0, labels: shared.value.1, rows: x.rows,
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
    private static func accumulate(
        _ nodes: UnsafePointer<PackedNode>, _ roots: [Int32], _ depths: [Int32],
        rows: UnsafePointer<Float>, stride: Int, count: Int, into sums: UnsafeMutablePointer<Float>
    ) {
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
                            RandomForest.accumulate(
                                p.baseAddress!, roots, depths, rows: v.baseAddress! + blockStart * x.columns,
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
