import Randomness

/// 2-D convolution (cross-correlation, as in every deep-learning library) over NCHW batches, computed
/// as im2col + GEMM: each sample's input patches become the columns of a `(C·k·k) × (H'·W')` matrix,
/// and one `cblas_sgemm` with the `F × (C·k·k)` weight matrix gives all `F` output planes.
///
/// Weights are `F × C × k × k`, biases `F`.
public final class Conv2D: Layer {
    public let spec: LayerSpec
    public let weight: Parameter
    public let bias: Parameter
    let channels, height, width, filters, kernel, stride, padding, outHeight, outWidth: Int
    /// Rows of the patch matrix (`C·k·k`) and its columns (`H'·W'`).
    var patchSize: Int { channels * kernel * kernel }
    var positions: Int { outHeight * outWidth }
    /// The patch matrices of the last training batch, one after another, for `backward`.
    private var columns = ContiguousArray<Float>()
    private var cachedBatch = 0
    /// One patch matrix, for prediction and for the input gradient.
    private var scratch = ContiguousArray<Float>()
    /// `forwardChangedPooled`'s outputs for its background, with what they were computed from.
    private var pooledBackground: PooledBackground?

    private struct PooledBackground {
        let background, weight, bias: Tensor
        let size: Int
        let rectified, pooled: Tensor

        func matches(_ background: Tensor, _ weight: Tensor, _ bias: Tensor, _ size: Int) -> Bool {
            self.size == size && self.background == background && self.weight == weight && self.bias == bias
        }
    }

    init(spec: LayerSpec, position: Int, input: Shape, initializer: Initializer, rng: inout SplitMix64) throws(ShapeError) {
        guard case let .conv2d(filters, kernel, stride, padding) = spec else { preconditionFailure() }
        let output = try spec.outputShape(for: input, position: position)
        self.spec = spec
        (channels, height, width) = (input[0], input[1], input[2])
        (self.filters, self.kernel, self.stride, self.padding) = (filters, kernel, stride, padding)
        (outHeight, outWidth) = (output[1], output[2])
        var w = Tensor(zeros: [filters, input[0], kernel, kernel])
        let fanIn = input[0] * kernel * kernel
        initializer.fill(&w, fanIn: fanIn, fanOut: filters * kernel * kernel, rng: &rng)
        let names = spec.parameterNames(position: position)
        weight = Parameter(name: names[0], value: w)
        bias = Parameter(name: names[1], value: Tensor(zeros: [filters]))
    }

    private init(copying other: Conv2D) {
        spec = other.spec
        (channels, height, width) = (other.channels, other.height, other.width)
        (filters, kernel, stride, padding) = (other.filters, other.kernel, other.stride, other.padding)
        (outHeight, outWidth) = (other.outHeight, other.outWidth)
        weight = Parameter(name: other.weight.name, value: other.weight.value)
        bias = Parameter(name: other.bias.name, value: other.bias.value)
    }

    public var parameters: [Parameter] { [weight, bias] }
    public func copy(replica: Int) -> any Layer { Conv2D(copying: self) }

    /// - Complexity: O(N · F · C·k² · H'·W').
    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        let n = input.shape[0]
        let (k, p, f) = (patchSize, positions, filters)
        var output = Tensor(zeros: [n, f, outHeight, outWidth])
        if training {
            if columns.count < n * k * p { columns = ContiguousArray(repeating: 0, count: n * k * p) }
            cachedBatch = n
        } else if scratch.count < k * p {
            scratch = ContiguousArray(repeating: 0, count: k * p)
        }
        let sampleSize = channels * height * width
        input.scalars.withUnsafeBufferPointer { x in
            output.scalars.withUnsafeMutableBufferPointer { y in
                weight.value.scalars.withUnsafeBufferPointer { w in
                    bias.value.scalars.withUnsafeBufferPointer { b in
                        func run(_ cols: UnsafeMutablePointer<Float>, sample s: Int) {
                            im2col(x.baseAddress! + s * sampleSize, into: cols)
                            let out = y.baseAddress! + s * f * p
                            for j in 0..<f { (out + j * p).update(repeating: b[j], count: p) }
                            BLAS.gemm(m: f, n: p, k: k, a: w.baseAddress!, lda: k, b: cols, ldb: p, beta: 1, c: out, ldc: p)
                        }
                        if training {
                            columns.withUnsafeMutableBufferPointer { c in
                                for s in 0..<n { run(c.baseAddress! + s * k * p, sample: s) }
                            }
                        } else {
                            scratch.withUnsafeMutableBufferPointer { c in
                                for s in 0..<n { run(c.baseAddress!, sample: s) }
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    /// - Complexity: O(N · F · C·k² · H'·W').
    public func backward(_ outputGradient: Tensor, inputGradient: Bool) -> Tensor {
        let n = cachedBatch
        precondition(outputGradient.shape == [n, filters, outHeight, outWidth], "conv2d backward without a matching forward")
        let (k, p, f) = (patchSize, positions, filters)
        var result = inputGradient ? Tensor(zeros: [n, channels, height, width]) : Tensor(zeros: [0])
        if inputGradient && scratch.count < k * p { scratch = ContiguousArray(repeating: 0, count: k * p) }
        let sampleSize = channels * height * width
        outputGradient.scalars.withUnsafeBufferPointer { dy in
            columns.withUnsafeBufferPointer { cols in
                weight.value.scalars.withUnsafeBufferPointer { w in
                    weight.gradient.scalars.withUnsafeMutableBufferPointer { dw in
                        bias.gradient.scalars.withUnsafeMutableBufferPointer { db in
                            for s in 0..<n {
                                let g = dy.baseAddress! + s * f * p
                                // dW += dY_s · cols_sᵀ
                                BLAS.gemm(
                                    transposeB: true, m: f, n: k, k: p, a: g, lda: p,
                                    b: cols.baseAddress! + s * k * p, ldb: p, beta: 1, c: dw.baseAddress!, ldc: k)
                                for j in 0..<f {
                                    var sum: Float = 0
                                    for q in 0..<p { sum += g[j * p + q] }
                                    db[j] += sum
                                }
                            }
                            guard inputGradient else { return }
                            result.scalars.withUnsafeMutableBufferPointer { dx in
                                scratch.withUnsafeMutableBufferPointer { dcols in
                                    for s in 0..<n {
                                        // dcols = Wᵀ · dY_s, then scattered back onto the input grid.
                                        BLAS.gemm(
                                            transposeA: true, m: k, n: p, k: f, a: w.baseAddress!, lda: k,
                                            b: dy.baseAddress! + s * f * p, ldb: p, beta: 0, c: dcols.baseAddress!, ldc: p)
                                        col2im(dcols.baseAddress!, into: dx.baseAddress! + s * sampleSize)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return result
    }

    /// Prediction for inputs that equal `background` (one sample) except at a few positions: the
    /// output is the background's output except where a kernel reaches a changed input, and only
    /// there is it computed (im2col of those columns alone, one GEMM per sample).
    /// - Parameter changed: per sample, the input positions (`y · W + x`, all channels) that may
    ///   differ from `background`.
    /// - Complexity: O(N · (F·H'·W' + changed outputs · F·C·k²)).
    func forwardChanged(_ input: Tensor, changed: [[Int32]], background: Tensor) -> Tensor {
        let (f, p) = (filters, positions)
        let base = forward(background, training: false)
        var output = Tensor(zeros: [input.shape[0], f, outHeight, outWidth])
        output.scalars.withUnsafeMutableBufferPointer { y in
            base.scalars.withUnsafeBufferPointer { b in
                forEachChanged(input, changed: changed, background: background) { s, dirty, values in
                    let out = y.baseAddress! + s * f * p
                    out.update(from: b.baseAddress!, count: f * p)
                    let d = dirty.count
                    for j in 0..<f {
                        for (column, position) in dirty.enumerated() { out[j * p + position] = values[j * d + column] }
                    }
                }
            }
        }
        return output
    }

    /// `forwardChanged` followed by ReLU and `pool`, whose windows must not overlap: only the pooled
    /// outputs whose window holds a changed output are computed, every other is the background's.
    /// Equals the three layers run one after another, bit for bit: each value goes through the
    /// ReLU's `max(x, 0)` and each window is pooled in the pool's order.
    /// - Complexity: O(N · (F·H''·W'' + changed outputs · F·C·k²)).
    func forwardChangedPooled(_ input: Tensor, changed: [[Int32]], background: Tensor, pool: MaxPool2D) -> Tensor {
        precondition(
            pool.size == pool.stride && pool.channels == filters && pool.height == outHeight && pool.width == outWidth,
            "a pool of non-overlapping windows over this convolution's output")
        let (f, p, size) = (filters, positions, pool.size)
        let (poolHeight, poolWidth) = (pool.outHeight, pool.outWidth)
        let pooled = poolHeight * poolWidth
        // The background's outputs after ReLU (a scratch plane set that changed outputs are written
        // into and restored from) and after the pool: the same from batch to batch while the weights
        // stay, so kept (comparing arrays that share their storage costs nothing).
        if pooledBackground?.matches(background, weight.value, bias.value, pool.size) != true {
            var rectified = forward(background, training: false)
            rectified.scalars.withUnsafeMutableBufferPointer { v in for i in v.indices { v[i] = max(v[i], 0) } }
            pooledBackground = PooledBackground(
                background: background, weight: weight.value, bias: bias.value, size: pool.size,
                rectified: rectified, pooled: pool.forward(rectified, training: false))
        }
        let (rectified, base) = (pooledBackground!.rectified, pooledBackground!.pooled)
        var plane = rectified.scalars
        var output = Tensor(zeros: [input.shape[0], f, poolHeight, poolWidth])
        var marked = [Bool](repeating: false, count: pooled)
        var windows: [Int] = []
        output.scalars.withUnsafeMutableBufferPointer { y in
            base.scalars.withUnsafeBufferPointer { b in
                rectified.scalars.withUnsafeBufferPointer { r in
                    plane.withUnsafeMutableBufferPointer { plane in
                        let plane = plane.baseAddress!
                        forEachChanged(input, changed: changed, background: background) { s, dirty, values in
                            let out = y.baseAddress! + s * f * pooled
                            out.update(from: b.baseAddress!, count: f * pooled)
                            let d = dirty.count
                            windows.removeAll(keepingCapacity: true)
                            for (column, position) in dirty.enumerated() {
                                for j in 0..<f { plane[j * p + position] = max(values[j * d + column], 0) }
                                let py = position / outWidth / size, px = position % outWidth / size
                                guard py < poolHeight, px < poolWidth, !marked[py * poolWidth + px] else { continue }
                                marked[py * poolWidth + px] = true
                                windows.append(py * poolWidth + px)
                            }
                            for window in windows {
                                marked[window] = false
                                let top = window / poolWidth * size, left = window % poolWidth * size
                                for j in 0..<f {
                                    let src = plane + j * p
                                    var value = src[top * outWidth + left]
                                    for dy in 0..<size {
                                        let rowStart = (top + dy) * outWidth + left
                                        for dx in 0..<size where src[rowStart + dx] > value { value = src[rowStart + dx] }
                                    }
                                    out[j * pooled + window] = value
                                }
                            }
                            for position in dirty {
                                for j in 0..<f { plane[j * p + position] = r[j * p + position] }
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    /// Calls `body(sample, dirty, values)` for every sample whose changed inputs reach an output:
    /// `dirty` lists those output positions (`oy · W' + ox`), and `values` holds their outputs, bias
    /// included, filter by filter (`values[j · dirty.count + column]`). Each sample must equal
    /// `background` outside its `changed` positions: windows are read from the background with the
    /// changed inputs written in.
    private func forEachChanged(
        _ input: Tensor, changed: [[Int32]], background: Tensor, _ body: (_ sample: Int, _ dirty: [Int], _ values: UnsafePointer<Float>) -> Void
    ) {
        precondition(stride == 1, "only stride-1 convolutions compute changed outputs alone")
        let n = input.shape[0]
        let (k, p, f) = (patchSize, positions, filters)
        var marked = [Bool](repeating: false, count: p)
        var dirty: [Int] = []
        var corners: [Int] = []
        var cols = [Float](), product = [Float]()
        let sampleSize = channels * height * width
        // The background sample with its zero padding written out, so that reading a window needs
        // no bounds check.
        let (paddedHeight, paddedWidth) = (height + 2 * padding, width + 2 * padding)
        let (plane, paddedPlane) = (height * width, paddedHeight * paddedWidth)
        func paddedOffset(_ position: Int) -> Int { (position / width + padding) * paddedWidth + position % width + padding }
        let padded = UnsafeMutablePointer<Float>.allocate(capacity: channels * paddedPlane)
        padded.initialize(repeating: 0, count: channels * paddedPlane)
        defer { padded.deallocate() }
        let background = background.scalars
        for ch in 0..<channels {
            for position in 0..<plane { padded[ch * paddedPlane + paddedOffset(position)] = background[ch * plane + position] }
        }
        input.scalars.withUnsafeBufferPointer { x in
            for s in 0..<n {
                // Outputs whose window holds a changed input.
                dirty.removeAll(keepingCapacity: true)
                for position in changed[s] {
                    let iy = Int(position) / width, ix = Int(position) % width
                    let (top, bottom) = (max(0, iy + padding - kernel + 1), min(outHeight - 1, iy + padding))
                    let (left, right) = (max(0, ix + padding - kernel + 1), min(outWidth - 1, ix + padding))
                    guard top <= bottom, left <= right else { continue }
                    for oy in top...bottom {
                        for ox in left...right where !marked[oy * outWidth + ox] {
                            marked[oy * outWidth + ox] = true
                            dirty.append(oy * outWidth + ox)
                        }
                    }
                }
                for position in dirty { marked[position] = false }
                guard !dirty.isEmpty else {
                    body(s, dirty, product)
                    continue
                }
                let d = dirty.count
                if cols.count < k * d { cols = [Float](repeating: 0, count: k * d) }
                if product.count < f * d { product = [Float](repeating: 0, count: f * d) }
                let sample = x.baseAddress! + s * sampleSize
                // The sample in the padded copy of the background: only its changed inputs differ.
                for position in changed[s] {
                    let at = paddedOffset(Int(position))
                    for ch in 0..<channels { padded[ch &* paddedPlane &+ at] = sample[ch &* plane &+ Int(position)] }
                }
                defer {
                    for position in changed[s] {
                        let at = paddedOffset(Int(position))
                        for ch in 0..<channels { padded[ch &* paddedPlane &+ at] = background[ch &* plane &+ Int(position)] }
                    }
                }
                corners.removeAll(keepingCapacity: true)
                for position in dirty { corners.append(position / outWidth * paddedWidth + position % outWidth) }
                cols.withUnsafeMutableBufferPointer { c in
                    // Row by row of the patch matrix, so that its writes are contiguous.
                    corners.withUnsafeBufferPointer { corners in
                        var row = c.baseAddress!
                        for ch in 0..<channels {
                            for ki in 0..<kernel {
                                for kj in 0..<kernel {
                                    let tap = padded + ((ch &* paddedHeight &+ ki) &* paddedWidth &+ kj)
                                    for column in 0..<d { row[column] = tap[corners[column]] }
                                    row += d
                                }
                            }
                        }
                    }
                    product.withUnsafeMutableBufferPointer { r in
                        weight.value.scalars.withUnsafeBufferPointer { w in
                            BLAS.gemm(
                                m: f, n: d, k: k, a: w.baseAddress!, lda: k, b: c.baseAddress!, ldb: d,
                                beta: 0, c: r.baseAddress!, ldc: d)
                        }
                        bias.value.scalars.withUnsafeBufferPointer { bias in
                            for j in 0..<f {
                                for column in 0..<d { r[j * d + column] += bias[j] }
                            }
                        }
                    }
                }
                body(s, dirty, product)
            }
        }
    }

    /// The output columns `lo...hi` whose input column `ox·stride − padding + kj` is inside the image.
    @inline(__always)
    private func validColumns(_ kj: Int) -> (lo: Int, hi: Int) {
        let shift = padding - kj
        let lo = max(0, shift > 0 ? (shift + stride - 1) / stride : 0)
        let last = width - 1 + shift
        let hi = last < 0 ? -1 : min(outWidth - 1, last / stride)
        return (lo, hi)
    }

    /// Writes the patch matrix of one sample: row `(c·k + ki)·k + kj`, column `oy·W' + ox` holds
    /// `x[c, oy·stride − padding + ki, ox·stride − padding + kj]`, zero outside the image.
    /// - Complexity: O(C·k²·H'·W').
    func im2col(_ x: UnsafePointer<Float>, into cols: UnsafeMutablePointer<Float>) {
        var row = cols
        for c in 0..<channels {
            for ki in 0..<kernel {
                for kj in 0..<kernel {
                    let (lo, hi) = validColumns(kj)
                    for oy in 0..<outHeight {
                        let d = row + oy * outWidth
                        let iy = oy * stride - padding + ki
                        guard iy >= 0, iy < height, lo <= hi else {
                            d.update(repeating: 0, count: outWidth)
                            continue
                        }
                        // Plain loops: rows are short (8 to 64 values), too short for memcpy to pay.
                        for ox in 0..<lo { d[ox] = 0 }
                        for ox in (hi + 1)..<outWidth { d[ox] = 0 }
                        let src = x + (c * height + iy) * width - padding + kj
                        if stride == 1 {
                            for ox in lo...hi { d[ox] = src[ox] }
                        } else {
                            for ox in lo...hi { d[ox] = src[ox * stride] }
                        }
                    }
                    row += outHeight * outWidth
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds each patch-matrix entry to the input position it came from.
    func col2im(_ cols: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>) {
        var row = cols
        for c in 0..<channels {
            for ki in 0..<kernel {
                for kj in 0..<kernel {
                    let (lo, hi) = validColumns(kj)
                    for oy in 0..<outHeight {
                        let iy = oy * stride - padding + ki
                        guard iy >= 0, iy < height, lo <= hi else { continue }
                        let d = row + oy * outWidth
                        let dst = x + (c * height + iy) * width - padding + kj
                        if stride == 1 {
                            for ox in lo...hi { dst[ox] += d[ox] }
                        } else {
                            for ox in lo...hi { dst[ox * stride] += d[ox] }
                        }
                    }
                    row += outHeight * outWidth
                }
            }
        }
    }
}
