/// The dimensions of a tensor, outermost first. A batch of images is `N × C × H × W` (NCHW).
public struct Shape: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public var dimensions: [Int]

    public init(_ dimensions: [Int]) { self.dimensions = dimensions }
    public init(arrayLiteral dimensions: Int...) { self.dimensions = dimensions }

    public var rank: Int { dimensions.count }
    /// Number of scalars.
    public var count: Int { dimensions.reduce(1, *) }
    /// Number of scalars, or nil when a dimension is negative or the product overflows `Int`: for
    /// shapes read from a file, before anything of that size is allocated.
    public var checkedCount: Int? {
        var product = 1
        for d in dimensions {
            guard d >= 0 else { return nil }
            let (p, overflow) = product.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            product = p
        }
        return product
    }
    public subscript(index: Int) -> Int { dimensions[index] }

    /// The shape with a batch dimension in front.
    public func batched(_ n: Int) -> Shape { Shape([n] + dimensions) }
    /// The shape without its first (batch) dimension.
    public var sample: Shape { Shape(Array(dimensions.dropFirst())) }

    /// `3×64×32`; a batch of unknown size prints as `N×3×64×32` with `batchDescription`.
    public var description: String {
        dimensions.isEmpty ? "scalar" : dimensions.map(String.init).joined(separator: "×")
    }
    public var batchDescription: String { "N×" + description }
}

extension Shape: Codable {
    public init(from decoder: any Decoder) throws {
        let dimensions = try decoder.singleValueContainer().decode([Int].self)
        guard dimensions.allSatisfy({ $0 >= 0 }) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "negative dimension in \(dimensions)"))
        }
        self.dimensions = dimensions
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(dimensions)
    }
}

/// A dense Float32 tensor in row-major order (the last dimension varies fastest).
public struct Tensor: Sendable, Equatable {
    public var shape: Shape
    public var scalars: ContiguousArray<Float>

    public init(zeros shape: Shape) {
        self.shape = shape
        scalars = ContiguousArray(repeating: 0, count: shape.count)
    }

    public init(shape: Shape, repeating value: Float) {
        self.shape = shape
        scalars = ContiguousArray(repeating: value, count: shape.count)
    }

    /// - Precondition: `scalars.count == shape.count`.
    public init(shape: Shape, scalars: some Sequence<Float>) {
        self.shape = shape
        self.scalars = ContiguousArray(scalars)
        precondition(self.scalars.count == shape.count, "\(self.scalars.count) scalars for shape \(shape)")
    }

    public var count: Int { scalars.count }

    /// The same scalars seen with another shape of the same size.
    public func reshaped(_ newShape: Shape) -> Tensor {
        precondition(newShape.count == shape.count, "cannot reshape \(shape) to \(newShape)")
        var copy = self
        copy.shape = newShape
        return copy
    }

    /// Sets every scalar to zero, keeping the storage.
    public mutating func zero() {
        scalars.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}

/// Why a model, a batch or a label set does not fit: names the layer (or loss) and both shapes.
public struct ShapeError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
