#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A loss over a batch: its value and its gradient with respect to the logits.
public struct LossResult: Sendable {
    /// Sum of the per-sample losses divided by `normaliser` (the batch size unless told otherwise).
    public var value: Float
    public var gradient: Tensor
}

/// The losses a model can be trained with; stored in model files by their raw value.
public enum Loss: String, Codable, Sendable {
    /// Softmax over `K` logits per sample, cross-entropy with an integer class label in `0..<K`.
    case softmaxCrossEntropy = "softmax_cross_entropy"
    /// Sigmoid of one logit per sample, cross-entropy with a label 0 or 1.
    case binaryCrossEntropy = "binary_cross_entropy"

    /// The loss of `logits` (`N × K`, or `N × 1` for binary) against class labels.
    /// - Parameter normaliser: what the summed loss and gradient are divided by; defaults to `N`. A batch
    ///   split across threads passes the whole batch's size so that the parts add up to the mean.
    public func evaluate(logits: Tensor, labels: some Collection<Int32>, normaliser: Int? = nil) throws(ShapeError) -> LossResult {
        switch self {
        case .softmaxCrossEntropy: try Neural.softmaxCrossEntropy(logits: logits, labels: labels, normaliser: normaliser)
        case .binaryCrossEntropy: try Neural.binaryCrossEntropy(logits: logits, labels: labels.map(Float.init), normaliser: normaliser)
        }
    }

    /// Class probabilities from logits: softmax rows, or for binary `[1 − σ, σ]` so that column 1 is
    /// always the positive class.
    public func probabilities(_ logits: Tensor) -> Tensor {
        switch self {
        case .softmaxCrossEntropy: return Neural.softmax(logits)
        case .binaryCrossEntropy:
            var p = Tensor(zeros: [logits.shape[0], 2])
            for i in 0..<logits.shape[0] {
                let s = sigmoid(logits.scalars[i])
                p.scalars[2 * i] = 1 - s
                p.scalars[2 * i + 1] = s
            }
            return p
        }
    }
}

@inline(__always)
func sigmoid(_ x: Float) -> Float { x >= 0 ? 1 / (1 + expf(-x)) : expf(x) / (1 + expf(x)) }

/// Row-wise softmax of an `N × K` tensor, computed stably (the row maximum is subtracted first).
public func softmax(_ logits: Tensor) -> Tensor {
    precondition(logits.shape.rank == 2, "softmax expects N×K logits, got \(logits.shape)")
    let (n, k) = (logits.shape[0], logits.shape[1])
    var p = logits
    p.scalars.withUnsafeMutableBufferPointer { v in
        for r in 0..<n {
            let row = v.baseAddress! + r * k
            var top = -Float.infinity
            for j in 0..<k { top = max(top, row[j]) }
            var sum: Float = 0
            for j in 0..<k {
                row[j] = expf(row[j] - top)
                sum += row[j]
            }
            for j in 0..<k { row[j] /= sum }
        }
    }
    return p
}

/// Mean softmax cross-entropy of `N × K` logits against `N` labels in `0..<K`; the gradient is
/// `(softmax − one-hot) / normaliser`.
public func softmaxCrossEntropy(logits: Tensor, labels: some Collection<Int32>, normaliser: Int? = nil) throws(ShapeError) -> LossResult {
    guard logits.shape.rank == 2 else {
        throw ShapeError("softmax cross-entropy: logits must be N×K (one row of class scores a sample), got \(logits.shape)")
    }
    let (n, k) = (logits.shape[0], logits.shape[1])
    guard labels.count == n else {
        throw ShapeError("softmax cross-entropy: logits are \(logits.shape) (\(n) samples × \(k) classes) but there are \(labels.count) labels")
    }
    if let bad = labels.first(where: { $0 < 0 || Int($0) >= k }) {
        throw ShapeError("softmax cross-entropy: label \(bad) is not a class of \(k)-class logits \(logits.shape) (labels must be in 0..<\(k))")
    }
    var gradient = softmax(logits)
    let scale = 1 / Float(normaliser ?? max(n, 1))
    var total: Double = 0
    gradient.scalars.withUnsafeMutableBufferPointer { g in
        logits.scalars.withUnsafeBufferPointer { z in
            for (r, label) in labels.enumerated() {
                let row = r * k, y = Int(label)
                // -log softmax_y = logsumexp(z) - z_y, from the logits for precision.
                var top = -Float.infinity
                for j in 0..<k { top = max(top, z[row + j]) }
                var sum: Double = 0
                for j in 0..<k { sum += Double(expf(z[row + j] - top)) }
                total += log(sum) + Double(top - z[row + y])
                g[row + y] -= 1
                for j in 0..<k { g[row + j] *= scale }
            }
        }
    }
    return LossResult(value: Float(total) * scale, gradient: gradient)
}

/// Mean binary cross-entropy of `N × 1` (or `N`) logits against labels 0…1, from the logits
/// (`max(z, 0) − z·y + log(1 + e^−|z|)`, stable for any z); the gradient is `(σ(z) − y) / normaliser`.
public func binaryCrossEntropy(logits: Tensor, labels: [Float], normaliser: Int? = nil) throws(ShapeError) -> LossResult {
    let n = logits.shape.rank >= 1 ? logits.shape[0] : 0
    guard logits.shape.rank == 1 || (logits.shape.rank == 2 && logits.shape[1] == 1) else {
        throw ShapeError("binary cross-entropy: logits must be N×1 (one score a sample), got \(logits.shape); use softmax cross-entropy for several classes")
    }
    guard labels.count == n else {
        throw ShapeError("binary cross-entropy: logits are \(logits.shape) (\(n) samples) but there are \(labels.count) labels")
    }
    if let bad = labels.first(where: { !($0 >= 0 && $0 <= 1) }) {
        throw ShapeError("binary cross-entropy: label \(bad) is outside 0...1")
    }
    let scale = 1 / Float(normaliser ?? max(n, 1))
    var gradient = logits
    var total: Double = 0
    for i in 0..<n {
        let z = logits.scalars[i], y = labels[i]
        total += Double(max(z, 0) - z * y + log1pf(expf(-abs(z))))
        gradient.scalars[i] = (sigmoid(z) - y) * scale
    }
    return LossResult(value: Float(total) * scale, gradient: gradient)
}
