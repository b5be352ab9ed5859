import COpenBLAS
import Dispatch
import Foundation

/// Every matrix product in Neural goes through OpenBLAS's `cblas_sgemm` (row-major).
enum BLAS {
    /// `C = alpha · op(A) · op(B) + beta · C`, where op(A) is m×k, op(B) is k×n and C is m×n, all row-major.
    /// `lda`, `ldb`, `ldc` are the row strides of A, B, C as stored.
    /// - Complexity: O(m·n·k).
    @inline(__always)
    static func gemm(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// Neural spreads batches over cores itself, one OpenBLAS call per core at a time; OpenBLAS's own
    /// threads would only compete with that. Called once before any parallel work.
    static let singleThreaded: Void = {
        openblas_set_num_threads(1)
    }()
}

/// Runs `body(worker)` for `0..<workers` at once on the available cores and returns when all are done.
/// Each worker must touch only its own state.
func parallelFor(_ workers: Int, _ body: (Int) -> Void) {
    _ = BLAS.singleThreaded
    if workers <= 1 {
        body(0)
        return
    }
    withoutActuallyEscaping(body) { body in
        let box = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: workers) { box.value($0) }
    }
}

/// Hands a value to `parallelFor` workers that each use their own part of it.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
