/// A network's first three layers — a stride-1 convolution, ReLU, and a max-pool whose windows do not
/// overlap — computed together from the input's non-zero values alone.
///
/// Activity images are sparse (a median of 15 of 2,048 pixels are set), and where the input is zero a
/// convolution only adds its bias. So each non-zero input value is scattered onto the outputs its
/// kernel reaches (`F·k²` multiply-adds), every other output is the bias, and the pool takes the
/// maximum of the touched outputs and, when its window holds an untouched one, the bias. The result
/// equals the three layers run one after the other; the backward pass likewise touches only the
/// outputs that depend on non-zero inputs. Dense batches (over a quarter non-zero) take the ordinary
/// path through the three layers.
///
/// Weights stay in the convolution layer, so model files do not know this path exists.
final class SparseFront {
    let conv: Conv2D
    let size: Int
    let (channels, height, width, filters, kernel, padding): (Int, Int, Int, Int, Int, Int)
    let (outHeight, outWidth, poolHeight, poolWidth): (Int, Int, Int, Int)
    /// Batches denser than this go through the ordinary layers.
    static let maximumDensity = 0.25

    // What the last training pass remembers, for all samples of the batch one after another.
    private var trainingInput = SparseBatch()
    private var slotStart: [Int] = []  // into slotPosition, per sample (+1)
    private var slotPosition: [Int32] = []
    private var slotValues: [Float] = []  // F per slot: the convolution output before ReLU
    private var argmax: [Int32] = []  // per (sample, filter, window): global slot, or −1 for the bias
    private var output = Tensor(zeros: [0])
    // Scratch reused between samples.
    private var slotOf: [Int32]
    private var windowCount: [Int32]
    /// The pooling window of each convolution output (`py · W'' + px`), or -1 for an output the pool
    /// leaves out (past its last whole window): no division on the hot path.
    private let windowOf: [Int32]
    private var transposed: [Float] = []  // weights as (c, ki, kj) × F

    /// The fused path for `layers`, or nil when they do not have its shape.
    init?(_ layers: [any Layer]) {
        guard layers.count >= 3, let conv = layers[0] as? Conv2D, conv.stride == 1, layers[1] is ReLU,
            let pool = layers[2] as? MaxPool2D, pool.size == pool.stride
        else { return nil }
        self.conv = conv
        size = pool.size
        (channels, height, width, filters, kernel, padding) = (conv.channels, conv.height, conv.width, conv.filters, conv.kernel, conv.padding)
        (outHeight, outWidth, poolHeight, poolWidth) = (conv.outHeight, conv.outWidth, pool.outHeight, pool.outWidth)
        slotOf = [Int32](repeating: -1, count: conv.outHeight * conv.outWidth)
        windowCount = [Int32](repeating: 0, count: pool.outHeight * pool.outWidth)
        windowOf = (0..<(conv.outHeight * conv.outWidth)).map { position in
            let py = position / conv.outWidth / pool.size, px = position % conv.outWidth / pool.size
            return py < pool.outHeight && px < pool.outWidth ? Int32(py * pool.outWidth + px) : -1
        }
    }

    /// A batch's non-zero input values, sample by sample: sample `s`'s are at
    /// `start[s] ..< start[s + 1]` of `index` (into the sample's `C·H·W` values) and `value`.
    struct SparseBatch {
        var start: [Int] = [0]
        var index: [Int32] = []
        var value: [Float] = []
        var count: Int { start.count - 1 }
    }

    /// The non-zero values of `n` samples that follow each other from `x`, read in one pass; nil when
    /// the batch is too dense for this path (over `maximumDensity` of its values are non-zero).
    func sparse(_ x: UnsafePointer<Float>, samples n: Int) -> SparseBatch? {
        let plane = channels * height * width
        let limit = SparseFront.maximumDensity * Double(max(n * plane, 1))
        var batch = SparseBatch()
        batch.start.reserveCapacity(n + 1)
        for s in 0..<n {
            let sample = x + s * plane
            forEachNonzero(sample, count: plane) { i in
                batch.index.append(Int32(i))
                batch.value.append(sample[i])
            }
            if Double(batch.index.count) > limit { return nil }
            batch.start.append(batch.index.count)
        }
        return batch
    }

    /// Whether a batch is sparse enough for this path.
    func accepts(_ input: Tensor) -> Bool {
        input.scalars.withUnsafeBufferPointer { sparse($0.baseAddress!, samples: input.shape[0]) } != nil
    }

    /// Calls `body(index)` for every non-zero value, skipping zeros eight at a time.
    @inline(__always)
    private func forEachNonzero(_ x: UnsafePointer<Float>, count: Int, _ body: (Int) -> Void) {
        let raw = UnsafeRawPointer(x)
        var i = 0
        while i + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            if any(v .!= 0) {
                for j in i..<(i + 8) where x[j] != 0 { body(j) }
            }
            i += 8
        }
        while i < count {
            if x[i] != 0 { body(i) }
            i += 1
        }
    }

    /// `a[j] += v · w[j]` for `j < count`, sixteen at a time (a multiply, then an add: the same bits
    /// as the scalar loop, which the compiler could not vectorise without checking for overlap).
    @inline(__always)
    private func multiplyAdd(_ v: Float, _ w: UnsafePointer<Float>, into a: UnsafeMutablePointer<Float>, count: Int) {
        var j = 0
        let (wr, ar) = (UnsafeRawPointer(w), UnsafeMutableRawPointer(a))
        while j &+ 16 <= count {
            let sum = ar.loadUnaligned(fromByteOffset: j &* 4, as: SIMD16<Float>.self) + v * wr.loadUnaligned(fromByteOffset: j &* 4, as: SIMD16<Float>.self)
            ar.storeBytes(of: sum, toByteOffset: j &* 4, as: SIMD16<Float>.self)
            j &+= 16
        }
        while j < count {
            a[j] += v * w[j]
            j &+= 1
        }
    }

    /// Calls `body(oy, ox)` for every output position the kernel reaches from input row `y`, column `x`.
    @inline(__always)
    private func forEachReach(_ y: Int, _ x: Int, _ body: (_ tap: Int, _ position: Int) -> Void) {
        for ki in 0..<kernel {
            let oy = y + padding - ki
            guard oy >= 0, oy < outHeight else { continue }
            for kj in 0..<kernel {
                let ox = x + padding - kj
                guard ox >= 0, ox < outWidth else { continue }
                body(ki * kernel + kj, oy * outWidth + ox)
            }
        }
    }

    /// - Parameter changed: when given, receives per sample the pooled positions (`py · W'' + px`) that
    ///   may differ from the background: every other pooled output is `ReLU(bias)` of its channel.
    /// - Complexity: O(N · (non-zeros · F·k² + F·H'·W' / size²)), after `sparse`'s O(N · C·H·W).
    func forward(_ input: SparseBatch, training: Bool, changed: UnsafeMutablePointer<[[Int32]]>? = nil) -> Tensor {
        let n = input.count
        let (f, taps, pooled) = (filters, kernel * kernel, poolHeight * poolWidth)
        let area = height * width
        refreshTransposedWeights()
        var result = Tensor(zeros: [n, f, poolHeight, poolWidth])
        if training {
            slotStart = [0]
            slotPosition.removeAll(keepingCapacity: true)
            argmax = [Int32](repeating: -1, count: n * f * pooled)
        }
        var values = slotValues  // moved out of the object so that the loops below touch plain memory
        slotValues = []
        values.removeAll(keepingCapacity: true)
        var slotOf = self.slotOf, windowCount = self.windowCount, argmax = self.argmax
        self.argmax = []
        var positions: [Int32] = [], touched: [Int32] = []
        var coordinates: [(channel: Int, y: Int, x: Int)] = []  // of the sample's non-zero values
        positions.reserveCapacity(outHeight * outWidth)
        let bias = Array(conv.bias.value.scalars)
        input.index.withUnsafeBufferPointer { inputIndex in
            input.value.withUnsafeBufferPointer { inputValue in
                for s in 0..<n {
                    // 1. The outputs the sample's non-zero values reach (each output once).
                    let nonzeros = input.start[s]..<input.start[s + 1]
                    positions.removeAll(keepingCapacity: true)
                    coordinates.removeAll(keepingCapacity: true)
                    for z in nonzeros {
                        let i = Int(inputIndex[z])
                        let c = i / area, y = (i - c * area) / width
                        coordinates.append((c, y, i - c * area - y * width))
                    }
                    slotOf.withUnsafeMutableBufferPointer { slotOf in
                        for (_, y, x) in coordinates {
                            forEachReach(y, x) { _, position in
                                if slotOf[position] < 0 {
                                    slotOf[position] = Int32(positions.count)
                                    positions.append(Int32(position))
                                }
                            }
                        }
                    }
                    // 2. Each reached output starts at the bias and gathers every non-zero input's share.
                    let base = training ? values.count / f : 0
                    if !training { values.removeAll(keepingCapacity: true) }
                    for _ in positions { values.append(contentsOf: bias) }
                    values.withUnsafeMutableBufferPointer { sv in
                        transposed.withUnsafeBufferPointer { wt in
                            slotOf.withUnsafeBufferPointer { slotOf in
                                for (z, (c, y, x)) in zip(nonzeros, coordinates) {
                                    let v = inputValue[z]
                                    forEachReach(y, x) { tap, position in
                                        let a = sv.baseAddress! + (base &+ Int(slotOf[position])) &* f
                                        let w = wt.baseAddress! + (c &* taps &+ tap) &* f
                                        multiplyAdd(v, w, into: a, count: f)
                                    }
                                }
                            }
                        }
                        // 3. Pool: the largest reached output of each window, or the bias where the window
                        //    holds an output no input reached; then ReLU, which commutes with the maximum.
                        result.scalars.withUnsafeMutableBufferPointer { out in
                            argmax.withUnsafeMutableBufferPointer { am in
                                let o = out.baseAddress! + s * f * pooled
                                let where_ = training ? am.baseAddress.map { $0 + s * f * pooled } : nil
                                // Windows no input reached hold ReLU(bias); the others start empty.
                                for j in 0..<f { (o + j * pooled).update(repeating: max(bias[j], 0), count: pooled) }
                                touched.removeAll(keepingCapacity: true)
                                for (slot, position) in positions.enumerated() {
                                    let window = Int(windowOf[Int(position)])
                                    guard window >= 0 else { continue }
                                    if windowCount[window] == 0 {
                                        touched.append(Int32(window))
                                        for j in 0..<f { o[j * pooled + window] = -.infinity }
                                    }
                                    windowCount[window] += 1
                                    let a = sv.baseAddress! + (base + slot) * f
                                    if let where_ {
                                        for j in 0..<f where a[j] > o[j * pooled + window] {
                                            o[j * pooled + window] = a[j]
                                            where_[j * pooled + window] = Int32(base + slot)
                                        }
                                    } else {
                                        for j in 0..<f { o[j * pooled + window] = max(o[j * pooled + window], a[j]) }
                                    }
                                }
                                for w in touched {
                                    let window = Int(w)
                                    let partial = Int(windowCount[window]) < size * size
                                    windowCount[window] = 0
                                    for j in 0..<f {
                                        let i = j * pooled + window
                                        if partial && bias[j] >= o[i] {
                                            o[i] = bias[j]
                                            where_?[i] = -1
                                        }
                                        o[i] = max(o[i], 0)  // ReLU, which commutes with the maximum
                                    }
                                }
                            }
                        }
                    }
                    for position in positions { slotOf[Int(position)] = -1 }
                    changed?.pointee.append(touched)
                    if training {
                        slotPosition.append(contentsOf: positions)
                        slotStart.append(slotPosition.count)
                    }
                }
            }
        }
        if training { trainingInput = input }
        slotValues = values
        self.slotOf = slotOf
        self.windowCount = windowCount
        self.argmax = argmax
        if training { output = result }
        return result
    }

    /// Adds the weight and bias gradients of the last training batch; the input needs none.
    func backward(_ outputGradient: Tensor) {
        let input = trainingInput
        let n = input.count
        let (f, taps, pooled, area) = (filters, kernel * kernel, poolHeight * poolWidth, height * width)
        precondition(outputGradient.shape == [n, f, poolHeight, poolWidth], "sparse front backward without a matching forward")
        var slotGradient = [Float](repeating: 0, count: slotPosition.count * f)
        var weightGradient = [Float](repeating: 0, count: channels * taps * f)
        var slotOf = self.slotOf
        conv.bias.gradient.scalars.withUnsafeMutableBufferPointer { db in
            outputGradient.scalars.withUnsafeBufferPointer { g in
                output.scalars.withUnsafeBufferPointer { y in
                    argmax.withUnsafeBufferPointer { am in
                        for i in 0..<(n * f * pooled) where g[i] != 0 && y[i] > 0 {
                            let j = (i / pooled) % f
                            db[j] += g[i]
                            let slot = Int(am[i])
                            if slot >= 0 { slotGradient[slot * f + j] += g[i] }
                        }
                    }
                }
            }
        }
        slotGradient.withUnsafeBufferPointer { sg in
            weightGradient.withUnsafeMutableBufferPointer { wg in
                for s in 0..<n {
                    for slot in slotStart[s]..<slotStart[s + 1] { slotOf[Int(slotPosition[slot])] = Int32(slot) }
                    for z in input.start[s]..<input.start[s + 1] {
                        let i = Int(input.index[z]), v = input.value[z], c = i / area
                        forEachReach((i % area) / width, i % width) { tap, position in
                            let a = sg.baseAddress! + Int(slotOf[position]) * f
                            let w = wg.baseAddress! + (c * taps + tap) * f
                            for j in 0..<f { w[j] += v * a[j] }
                        }
                    }
                    for slot in slotStart[s]..<slotStart[s + 1] { slotOf[Int(slotPosition[slot])] = -1 }
                }
            }
        }
        self.slotOf = slotOf
        // Back to the layer's F × C × k × k order.
        let all = channels * taps
        conv.weight.gradient.scalars.withUnsafeMutableBufferPointer { dw in
            for t in 0..<all { for j in 0..<f { dw[j * all + t] += weightGradient[t * f + j] } }
        }
    }

    /// The output for an all-zero input: `ReLU(bias)` of each channel everywhere.
    func backgroundOutput() -> Tensor {
        var t = Tensor(zeros: [1, filters, poolHeight, poolWidth])
        let plane = poolHeight * poolWidth
        for j in 0..<filters {
            let v = max(conv.bias.value.scalars[j], 0)
            for i in 0..<plane { t.scalars[j * plane + i] = v }
        }
        return t
    }

    private func refreshTransposedWeights() {
        let taps = channels * kernel * kernel
        if transposed.count != taps * filters { transposed = [Float](repeating: 0, count: taps * filters) }
        conv.weight.value.scalars.withUnsafeBufferPointer { w in
            for j in 0..<filters { for t in 0..<taps { transposed[t * filters + j] = w[j * taps + t] } }
        }
    }
}
