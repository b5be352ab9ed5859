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
    private var sampleStart: [Int] = []  // into nonzeroIndex/Value, per sample (+1)
    private var nonzeroIndex: [Int32] = []
    private var nonzeroValue: [Float] = []
    private var slotStart: [Int] = []  // into slotPosition, per sample (+1)
    private var slotPosition: [Int32] = []
    private var slotValues: [Float] = []  // F per slot: the convolution output before ReLU
    private var argmax: [Int32] = []  // per (sample, filter, window): global slot, or −1 for the bias
    private var output = Tensor(zeros: [0])
    // Scratch reused between samples.
    private var slotOf: [Int32]
    private var windowCount: [Int32]
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
    }

    /// Whether a batch is sparse enough for this path.
    func accepts(_ input: Tensor) -> Bool {
        var nonzero = 0
        input.scalars.withUnsafeBufferPointer { x in
            forEachNonzero(x.baseAddress!, count: x.count) { _ in nonzero += 1 }
        }
        return Double(nonzero) <= SparseFront.maximumDensity * Double(max(input.count, 1))
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
    /// - Complexity: O(N · (C·H·W + non-zeros · F·k² + F·H'·W' / size²)).
    func forward(_ input: Tensor, training: Bool, changed: UnsafeMutablePointer<[[Int32]]>? = nil) -> Tensor {
        let n = input.shape[0]
        let (f, taps, plane, pooled) = (filters, kernel * kernel, channels * height * width, poolHeight * poolWidth)
        let area = height * width
        refreshTransposedWeights()
        var result = Tensor(zeros: [n, f, poolHeight, poolWidth])
        if training {
            sampleStart = [0]
            slotStart = [0]
            nonzeroIndex.removeAll(keepingCapacity: true)
            nonzeroValue.removeAll(keepingCapacity: true)
            slotPosition.removeAll(keepingCapacity: true)
            argmax = [Int32](repeating: -1, count: n * f * pooled)
        }
        var values = slotValues  // moved out of the object so that the loops below touch plain memory
        slotValues = []
        values.removeAll(keepingCapacity: true)
        var slotOf = self.slotOf, windowCount = self.windowCount, argmax = self.argmax
        self.argmax = []
        var positions: [Int32] = [], nonzeros: [Int32] = [], touched: [Int32] = []
        positions.reserveCapacity(outHeight * outWidth)
        let bias = Array(conv.bias.value.scalars)
        input.scalars.withUnsafeBufferPointer { x in
            for s in 0..<n {
                // 1. The sample's non-zero values, and the outputs they reach (each output once).
                nonzeros.removeAll(keepingCapacity: true)
                positions.removeAll(keepingCapacity: true)
                let sample = x.baseAddress! + s * plane
                forEachNonzero(sample, count: plane) { nonzeros.append(Int32($0)) }
                for index in nonzeros {
                    let i = Int(index)
                    forEachReach((i % area) / width, i % width) { _, position in
                        if slotOf[position] < 0 {
                            slotOf[position] = Int32(positions.count)
                            positions.append(Int32(position))
                        }
                    }
                }
                // 2. Each reached output starts at the bias and gathers every non-zero input's share.
                let base = training ? values.count / f : 0
                if !training { values.removeAll(keepingCapacity: true) }
                for _ in positions { values.append(contentsOf: bias) }
                values.withUnsafeMutableBufferPointer { sv in
                    transposed.withUnsafeBufferPointer { wt in
                        for index in nonzeros {
                            let i = Int(index)
                            let v = sample[i], c = i / area
                            forEachReach((i % area) / width, i % width) { tap, position in
                                let a = sv.baseAddress! + (base + Int(slotOf[position])) * f
                                let w = wt.baseAddress! + (c * taps + tap) * f
                                for j in 0..<f { a[j] += v * w[j] }
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
                                let py = Int(position) / outWidth / size, px = Int(position) % outWidth / size
                                guard py < poolHeight, px < poolWidth else { continue }
                                let window = py * poolWidth + px
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
                    for index in nonzeros {
                        nonzeroIndex.append(index)
                        nonzeroValue.append(sample[Int(index)])
                    }
                    slotPosition.append(contentsOf: positions)
                    sampleStart.append(nonzeroIndex.count)
                    slotStart.append(slotPosition.count)
                }
            }
        }
        slotValues = values
        self.slotOf = slotOf
        self.windowCount = windowCount
        self.argmax = argmax
        if training { output = result }
        return result
    }

    /// Adds the weight and bias gradients of the last training batch; the input needs none.
    func backward(_ outputGradient: Tensor) {
        let n = sampleStart.count - 1
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
                    for z in sampleStart[s]..<sampleStart[s + 1] {
                        let i = Int(nonzeroIndex[z]), v = nonzeroValue[z], c = i / area
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
