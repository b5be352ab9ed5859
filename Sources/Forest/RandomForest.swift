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
    /// children of a split are always side by side (right = left + 1), so a step has no branch but the
    /// leaf test: `n = left[n] + (row[feature[n]] > threshold[n])`. A leaf has feature -1 (not an
    /// infinite threshold: a model file may hold a split at +∞, which sends every row left).
    private let nodes: ContiguousArray<PackedNode>
    private let roots: [Int32]

    struct PackedNode: Sendable, Equatable {
        /// The split's feature; -1 for a leaf.
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
        var roots: [Int32] = []
        for tree in trees {
            let base = Int32(nodes.count)
            roots.append(base)
            for i in 0..<tree.nodeCount {
                if tree.feature[i] < 0 {
                    nodes.append(PackedNode(feature: -1, threshold: .infinity, left: base + Int32(i), value: tree.value[i]))
                } else {
                    precondition(tree.right[i] == tree.left[i] + 1, "children of a split are side by side")
                    nodes.append(PackedNode(feature: tree.feature[i], threshold: tree.threshold[i], left: base + tree.left[i], value: 0))
                }
            }
        }
        self.nodes = nodes
        self.roots = roots
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

    /// Walks in flight at once in `accumulate`: on the benchmark's deep trees (8,000 nodes each) and
    /// on the IP model's (1,100) 16 did best among 8 to 64.
    static let lanes = 16
    /// Bytes of rows `probabilities` hands `accumulate` at once: every tree walks the block, so it
    /// should stay in the core's cache (1,638 rows of 40 features, 312 of the IP model's 210), and be
    /// long, since the last walks of a block leave lanes idle.
    static let blockBytes = 256 << 10

    /// Adds each tree's leaf probability for `count` rows (row r at `rows + r · stride`) to `sums`,
    /// tree by tree so that a tree's nodes stay in cache while the rows walk it. `lanes` walks are in
    /// flight at once, so that their memory reads overlap, and a walk that reaches its leaf hands its
    /// lane to the next row: no lane waits for a deeper walk (a block of eight rows walked in step,
    /// before, cost the depth of the deepest of them: 2.0–2.5× slower). Each row's sum
    /// takes the trees in order, whatever the lanes: one row and a batch give the same bits.
    @inline(__always)
    private static func accumulate(
        _ nodes: UnsafePointer<PackedNode>, _ roots: [Int32],
        rows: UnsafePointer<Float>, stride: Int, count: Int, into sums: UnsafeMutablePointer<Float>
    ) {
        let lanes = Self.lanes
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * lanes) { buffer in
            let at = buffer.baseAddress!, row = buffer.baseAddress! + lanes
            for root in roots {
                let root = Int(root)
                var active = min(lanes, count)
                for l in 0..<active {
                    at[l] = root
                    row[l] = l
                }
                var next = active
                while active > 0 {
                    var l = 0
                    while l < active {
                        let node = nodes[at[l]]
                        if node.feature >= 0 {
                            let x = rows[row[l] &* stride &+ Int(node.feature)]
                            at[l] = Int(node.left) &+ (x > node.threshold ? 1 : 0)
                            l &+= 1
                        } else {
                            sums[row[l]] += node.value
                            if next < count {
                                at[l] = root
                                row[l] = next
                                next &+= 1
                                l &+= 1
                            } else {
                                // The lane is done: the last active lane takes its place.
                                active &-= 1
                                at[l] = at[active]
                                row[l] = row[active]
                            }
                        }
                    }
                }
            }
        }
    }

    /// The positive-class probability of one row.
    /// - Complexity: O(trees · depth).
    public func probability(_ row: UnsafeBufferPointer<Float>) -> Float {
        precondition(row.count == featureCount, "a row of \(featureCount) features")
        // One walk at a time: lanes would only add their bookkeeping to a single row's latency.
        var sum: Float = 0
        nodes.withUnsafeBufferPointer { p in
            let nodes = p.baseAddress!, x = row.baseAddress!
            for root in roots {
                var n = Int(root)
                while nodes[n].feature >= 0 {
                    let node = nodes[n]
                    n = Int(node.left) &+ (x[Int(node.feature)] > node.threshold ? 1 : 0)
                }
                sum += nodes[n].value
            }
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
                    let box = UncheckedBox((v, o, p, roots))
                    let block = max(64, RandomForest.blockBytes / (4 * max(1, x.columns)))
                    DispatchQueue.concurrentPerform(iterations: workers) { w in
                        let (v, o, p, roots) = box.value
                        let start = w * x.rows / workers, end = (w + 1) * x.rows / workers
                        let scale = 1 / Float(roots.count)
                        // Blocks of rows, so that the rows stay in cache while every tree walks them.
                        var blockStart = start
                        while blockStart < end {
                            let blockEnd = min(blockStart + block, end)
                            for i in blockStart..<blockEnd { o[i] = 0 }
                            RandomForest.accumulate(
                                p.baseAddress!, roots, rows: v.baseAddress! + blockStart * x.columns,
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
