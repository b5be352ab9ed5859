/// Maximum over `size×size` windows moved by `stride`, per channel. Remembers where each maximum
/// came from (the first one on ties) so that the gradient flows back to that input alone.
public final class MaxPool2D: Layer {
    public let spec: LayerSpec
    let channels, height, width, size, stride, outHeight, outWidth: Int
    /// For each output of the last training batch, the offset of its maximum within its input plane.
    private var argmax = ContiguousArray<Int32>()
    private var cachedBatch = 0

    init(spec: LayerSpec, position: Int, input: Shape) throws(ShapeError) {
        guard case let .maxPool2d(size, stride) = spec else { preconditionFailure() }
        let output = try spec.outputShape(for: input, position: position)
        self.spec = spec
        (channels, height, width, self.size, self.stride) = (input[0], input[1], input[2], size, stride)
        (outHeight, outWidth) = (output[1], output[2])
    }

    private init(copying o: MaxPool2D) {
        spec = o.spec
        (channels, height, width, size, stride, outHeight, outWidth) =
            (o.channels, o.height, o.width, o.size, o.stride, o.outHeight, o.outWidth)
    }

    public func copy(replica: Int) -> any Layer { MaxPool2D(copying: self) }

    /// - Complexity: O(N · C · H'·W' · size²).
    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        let n = input.shape[0]
        let planes = n * channels
        var output = Tensor(zeros: [n, channels, outHeight, outWidth])
        if training {
            if argmax.count < output.count { argmax = ContiguousArray(repeating: 0, count: output.count) }
            cachedBatch = n
        }
        let (inPlane, outPlane) = (height * width, outHeight * outWidth)
        input.scalars.withUnsafeBufferPointer { x in
            output.scalars.withUnsafeMutableBufferPointer { y in
                argmax.withUnsafeMutableBufferPointer { where_ in
                    for plane in 0..<planes {
                        let src = x.baseAddress! + plane * inPlane
                        for oy in 0..<outHeight {
                            for ox in 0..<outWidth {
                                var best = oy * stride * width + ox * stride
                                var value = src[best]
                                for dy in 0..<size {
                                    let rowStart = (oy * stride + dy) * width + ox * stride
                                    for dx in 0..<size where src[rowStart + dx] > value {
                                        value = src[rowStart + dx]
                                        best = rowStart + dx
                                    }
                                }
                                let o = plane * outPlane + oy * outWidth + ox
                                y[o] = value
                                if training { where_[o] = Int32(best) }
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor, inputGradient: Bool) -> Tensor {
        let n = cachedBatch
        precondition(outputGradient.shape == [n, channels, outHeight, outWidth], "maxpool2d backward without a matching forward")
        guard inputGradient else { return Tensor(zeros: [0]) }
        var result = Tensor(zeros: [n, channels, height, width])
        let (inPlane, outPlane) = (height * width, outHeight * outWidth)
        outputGradient.scalars.withUnsafeBufferPointer { dy in
            argmax.withUnsafeBufferPointer { where_ in
                result.scalars.withUnsafeMutableBufferPointer { dx in
                    for plane in 0..<(n * channels) {
                        for o in 0..<outPlane {
                            dx[plane * inPlane + Int(where_[plane * outPlane + o])] += dy[plane * outPlane + o]
                        }
                    }
                }
            }
        }
        return result
    }
}
