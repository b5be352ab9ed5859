/// What an architecture may declare, checked (with overflow-checked arithmetic) whenever its shapes are
/// computed: before a network is built and before a model file's network is allocated, so that a
/// damaged or hostile file is refused at once instead of exhausting memory or trapping. Far above any
/// Flowhound model: the scan CNN is 5×64×32 in, 32,768 values at its widest and 19,538 weights; the IP
/// network about 200 → 32 → 16 → 2.
public enum ArchitectureLimits {
    /// Layers in a model.
    public static let layers = 64
    /// Dimensions of the input (one sample, without the batch).
    public static let inputRank = 4
    /// Any one dimension of the input or of a layer's output, and a layer's filters, units, kernel,
    /// stride, pooling size or padding (2^20).
    public static let dimension = 1 << 20
    /// Values in one sample's input, in any layer's output, and in a convolution's patch matrix
    /// (C·k·k × H'·W'): 2^22, 16 MiB as float32.
    public static let activation = 1 << 22
    /// Weights in the whole model: 2^24, 64 MiB as float32.
    public static let parameters = 1 << 24
}

/// One layer of a model as declared: what it does and its hyper-parameters, never its input size,
/// which is inferred from the layer before it.
public enum LayerSpec: Sendable, Equatable {
    /// 2-D convolution over `C×H×W` input: `filters` kernels of `kernel×kernel`, moved by `stride`,
    /// over input padded with `padding` zeros on each side. Output `filters×H'×W'` with
    /// `H' = (H + 2·padding − kernel) / stride + 1`.
    case conv2d(filters: Int, kernel: Int, stride: Int = 1, padding: Int = 0)
    /// Maximum over `size×size` windows moved by `stride` (no padding; a partial window at the edge is dropped).
    case maxPool2d(size: Int, stride: Int)
    case relu
    /// Zeroes each value with probability `rate` while training and scales the rest by `1/(1−rate)`;
    /// passes values through unchanged when predicting.
    case dropout(rate: Double)
    /// `C×H×W` to one vector of `C·H·W` values, channel-major.
    case flatten
    /// Fully connected: `units` outputs from a flat input.
    case dense(units: Int)

    public var typeName: String {
        switch self {
        case .conv2d: "conv2d"
        case .maxPool2d: "maxpool2d"
        case .relu: "relu"
        case .dropout: "dropout"
        case .flatten: "flatten"
        case .dense: "dense"
        }
    }

    /// `conv2d 8 3×3 stride 1 pad 1`, for summaries and messages.
    public var description: String {
        switch self {
        case let .conv2d(filters, kernel, stride, padding):
            "conv2d \(filters) \(kernel)×\(kernel) stride \(stride) pad \(padding)"
        case let .maxPool2d(size, stride): "maxpool2d \(size)×\(size) stride \(stride)"
        case .relu: "relu"
        case let .dropout(rate): "dropout \(rate)"
        case .flatten: "flatten"
        case let .dense(units): "dense \(units)"
        }
    }

    /// Whether the layer has weights.
    public var hasParameters: Bool {
        switch self {
        case .conv2d, .dense: true
        default: false
        }
    }

    /// The names of the layer's weight tensors in model files when it is layer `position`:
    /// `[<position>.<type>.weight, <position>.<type>.bias]`, or none.
    public func parameterNames(position: Int) -> [String] {
        hasParameters ? ["\(position).\(typeName).weight", "\(position).\(typeName).bias"] : []
    }

    /// The shape this layer produces from one sample of `input`, or why it cannot take it.
    /// `position` is the layer's index, for the message.
    public func outputShape(for input: Shape, position: Int) throws(ShapeError) -> Shape {
        let name = "layer \(position) (\(description))"
        func fail(_ reason: String) -> ShapeError { ShapeError("\(name): \(reason)") }
        switch self {
        case let .conv2d(filters, kernel, stride, padding):
            let most = ArchitectureLimits.dimension
            guard (1...most).contains(filters), (1...most).contains(kernel), (1...most).contains(stride), (0...most).contains(padding) else {
                throw fail("filters, kernel and stride must be from 1 to \(most) and padding from 0 to \(most)")
            }
            guard input.rank == 3 else { throw fail("expects a C×H×W input, got \(input)") }
            let (h, w) = (input[1] + 2 * padding, input[2] + 2 * padding)
            guard h >= kernel, w >= kernel else {
                throw fail("input \(input) padded to \(h)×\(w) is smaller than the \(kernel)×\(kernel) kernel")
            }
            return [filters, (h - kernel) / stride + 1, (w - kernel) / stride + 1]
        case let .maxPool2d(size, stride):
            guard (1...ArchitectureLimits.dimension).contains(size), (1...ArchitectureLimits.dimension).contains(stride) else {
                throw fail("size and stride must be from 1 to \(ArchitectureLimits.dimension)")
            }
            guard input.rank == 3 else { throw fail("expects a C×H×W input, got \(input)") }
            guard input[1] >= size, input[2] >= size else {
                throw fail("input \(input) is smaller than the \(size)×\(size) window")
            }
            return [input[0], (input[1] - size) / stride + 1, (input[2] - size) / stride + 1]
        case .relu:
            return input
        case let .dropout(rate):
            guard rate.isFinite, (0..<1).contains(rate) else { throw fail("rate must be in 0..<1") }
            return input
        case .flatten:
            guard input.rank >= 1 else { throw fail("cannot flatten a scalar") }
            return [input.count]
        case let .dense(units):
            guard (1...ArchitectureLimits.dimension).contains(units) else {
                throw fail("units must be from 1 to \(ArchitectureLimits.dimension)")
            }
            guard input.rank == 1 else {
                throw fail("expects a flat input, got \(input); put a flatten layer before it")
            }
            return [units]
        }
    }
}

extension LayerSpec: Codable {
    private enum Key: String, CodingKey { case type, filters, kernel, stride, padding, size, rate, units }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "conv2d":
            self = .conv2d(
                filters: try c.decode(Int.self, forKey: .filters), kernel: try c.decode(Int.self, forKey: .kernel),
                stride: try c.decodeIfPresent(Int.self, forKey: .stride) ?? 1,
                padding: try c.decodeIfPresent(Int.self, forKey: .padding) ?? 0)
        case "maxpool2d":
            let size = try c.decode(Int.self, forKey: .size)
            self = .maxPool2d(size: size, stride: try c.decodeIfPresent(Int.self, forKey: .stride) ?? size)
        case "relu": self = .relu
        case "dropout": self = .dropout(rate: try c.decode(Double.self, forKey: .rate))
        case "flatten": self = .flatten
        case "dense": self = .dense(units: try c.decode(Int.self, forKey: .units))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: c,
                debugDescription: "unknown layer type '\(type)' (known: conv2d, maxpool2d, relu, dropout, flatten, dense)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(typeName, forKey: .type)
        switch self {
        case let .conv2d(filters, kernel, stride, padding):
            try c.encode(filters, forKey: .filters)
            try c.encode(kernel, forKey: .kernel)
            try c.encode(stride, forKey: .stride)
            try c.encode(padding, forKey: .padding)
        case let .maxPool2d(size, stride):
            try c.encode(size, forKey: .size)
            try c.encode(stride, forKey: .stride)
        case let .dropout(rate): try c.encode(rate, forKey: .rate)
        case let .dense(units): try c.encode(units, forKey: .units)
        case .relu, .flatten: break
        }
    }
}

/// A model declared from its input shape (one sample, without the batch dimension) and its layers.
/// Every intermediate shape, including the flattened size feeding the first dense layer, is computed.
public struct Architecture: Codable, Sendable, Equatable {
    public var input: Shape
    public var layers: [LayerSpec]

    public init(input: Shape, layers: [LayerSpec]) {
        self.input = input
        self.layers = layers
    }

    /// The output shape of every layer, in order (one sample each), or the first layer that cannot take
    /// its input or exceeds `ArchitectureLimits`.
    public func shapes() throws(ShapeError) -> [Shape] { try layout().shapes }

    /// Every weight tensor the architecture declares, in layer order (weight before bias), with its
    /// name in model files, after the same checks as `shapes()`. Nothing of that size is allocated:
    /// a model file's tensors are compared with these before its network is built.
    public func parameterShapes() throws(ShapeError) -> [(name: String, shape: Shape)] { try layout().parameters }

    /// Every layer's output shape and weight tensors, each size computed with overflow-checked
    /// arithmetic and held to `ArchitectureLimits`.
    func layout() throws(ShapeError) -> (shapes: [Shape], parameters: [(name: String, shape: Shape)]) {
        typealias Limits = ArchitectureLimits
        guard !layers.isEmpty else { throw ShapeError("a model needs at least one layer") }
        guard layers.count <= Limits.layers else { throw ShapeError("\(layers.count) layers; a model may have at most \(Limits.layers)") }
        guard (1...Limits.inputRank).contains(input.rank) else {
            throw ShapeError("input shape \(input) has \(input.rank) dimensions; from 1 to \(Limits.inputRank) are allowed")
        }
        guard input.dimensions.allSatisfy({ (1...Limits.dimension).contains($0) }) else {
            throw ShapeError("input shape \(input) is empty or too large: each dimension must be from 1 to \(Limits.dimension)")
        }
        /// `count` values held to `limit`, or why not.
        func check(_ count: Int?, _ limit: Int, _ what: @autoclosure () -> String) throws(ShapeError) -> Int {
            guard let count, count <= limit else {
                throw ShapeError("\(what()) holds \(count.map(String.init) ?? "more than \(Int.max)") values; at most \(limit) are allowed")
            }
            return count
        }
        _ = try check(input.checkedCount, Limits.activation, "input shape \(input)")
        var shapes: [Shape] = []
        var parameters: [(name: String, shape: Shape)] = []
        var total = 0
        var current = input
        for (position, layer) in layers.enumerated() {
            let name = "layer \(position) (\(layer.description))"
            let output = try layer.outputShape(for: current, position: position)
            guard output.dimensions.allSatisfy({ $0 <= Limits.dimension }) else {
                throw ShapeError("\(name): output \(output) has a dimension above \(Limits.dimension)")
            }
            _ = try check(output.checkedCount, Limits.activation, "\(name): output \(output)")
            if case let .conv2d(_, kernel, _, _) = layer {
                // The patch matrix the convolution multiplies: C·k·k rows, H'·W' columns.
                _ = try check(
                    Shape([current[0], kernel, kernel, output[1], output[2]]).checkedCount, Limits.activation,
                    "\(name): the patch matrix")
            }
            for (tensor, shape) in zip(layer.parameterNames(position: position), Architecture.parameterShapes(layer, input: current)) {
                let count = try check(shape.checkedCount, Limits.parameters, "\(name): weight tensor \(shape)")
                total += count
                guard total <= Limits.parameters else {
                    throw ShapeError("\(name): the weights up to here number \(total); a model may have at most \(Limits.parameters)")
                }
                parameters.append((tensor, shape))
            }
            shapes.append(output)
            current = output
        }
        return (shapes, parameters)
    }

    /// The shape of one output.
    public func outputShape() throws(ShapeError) -> Shape { try shapes().last! }

    /// A table of layers, output shapes and weight counts.
    public func summary() throws(ShapeError) -> String {
        let shapes = try shapes()
        var lines = ["input".padding(toLength: 34, withPad: " ", startingAt: 0) + input.description]
        var total = 0
        for (i, layer) in layers.enumerated() {
            let before = i == 0 ? input : shapes[i - 1]
            let weights = Architecture.parameterShapes(layer, input: before).reduce(0) { $0 + $1.count }
            total += weights
            let name = "\(i) \(layer.description)".padding(toLength: 34, withPad: " ", startingAt: 0)
            let shape = shapes[i].description.padding(toLength: 14, withPad: " ", startingAt: 0)
            lines.append(name + shape + (weights > 0 ? "\(weights) weights" : ""))
        }
        lines.append("total \(total) weights (\(total * 4) bytes as float32)")
        return lines.joined(separator: "\n")
    }

    /// The weight tensors a layer holds for a given input: `[weight, bias]` or none.
    static func parameterShapes(_ layer: LayerSpec, input: Shape) -> [Shape] {
        switch layer {
        case let .conv2d(filters, kernel, _, _): [[filters, input[0], kernel, kernel], [filters]]
        case let .dense(units): [[input.count, units], [units]]
        default: []
        }
    }
}
