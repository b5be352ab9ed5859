import Foundation
import Randomness

@testable import Neural

/// A tensor of normal random values.
func randomTensor(_ shape: Shape, seed: UInt64, scale: Double = 1) -> Tensor {
    var rng = SplitMix64(seed: seed)
    return Tensor(shape: shape, scalars: (0..<shape.count).map { _ in Float(rng.normal() * scale) })
}

/// Largest |a − b| / max(1, |b|) over two equally long sequences.
func worstRelativeError(_ a: some Sequence<Float>, _ b: some Sequence<Float>) -> Double {
    zip(a, b).map { Double(abs($0 - $1)) / max(1, Double(abs($1))) }.max() ?? 0
}
