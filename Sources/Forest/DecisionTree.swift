/// A binary classification tree as flat arrays: node `i` splits on `feature[i]` at `threshold[i]`
/// (samples with `x[feature] <= threshold` go left), or is a leaf when `feature[i] < 0`; `value[i]` is
/// the share of the positive class among the (bootstrap-weighted) training samples that reached it.
public struct DecisionTree: Sendable, Equatable {
    public var feature: [Int32]
    public var threshold: [Float]
    public var left: [Int32]
    public var right: [Int32]
    public var value: [Float]

    public init(feature: [Int32], threshold: [Float], left: [Int32], right: [Int32], value: [Float]) {
        self.feature = feature
        self.threshold = threshold
        self.left = left
        self.right = right
        self.value = value
    }

    public var nodeCount: Int { feature.count }

    /// The positive-class probability of one row of features.
    /// - Complexity: O(depth).
    @inlinable
    public func probability(_ row: UnsafePointer<Float>) -> Float {
        var node = 0
        while feature[node] >= 0 {
            node = Int(row[Int(feature[node])] <= threshold[node] ? left[node] : right[node])
        }
        return value[node]
    }

    /// Checks that the arrays describe a tree over `features` features: same lengths, children inside
    /// the tree and after their parent (so no cycle), probabilities in 0...1. Nil when valid.
    public func problem(features: Int) -> String? {
        let n = feature.count
        guard n > 0, threshold.count == n, left.count == n, right.count == n, value.count == n else {
            return "node arrays of different lengths"
        }
        for i in 0..<n {
            guard value[i] >= 0 && value[i] <= 1 else { return "node \(i) has probability \(value[i])" }
            let f = Int(feature[i])
            if f < 0 { continue }
            guard f < features else { return "node \(i) splits on feature \(f) of \(features)" }
            guard threshold[i].isFinite || threshold[i] == .infinity else { return "node \(i) has threshold \(threshold[i])" }
            for child in [Int(left[i]), Int(right[i])] where child <= i || child >= n {
                return "node \(i) points to node \(child)"
            }
        }
        return nil
    }
}
