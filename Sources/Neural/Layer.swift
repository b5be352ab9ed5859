import Randomness

/// A learned tensor and the gradient of the loss with respect to it, accumulated by `backward`.
public final class Parameter {
    /// `<layer index>.<layer type>.<weight|bias>`, the tensor's name in model files.
    public let name: String
    public var value: Tensor
    public var gradient: Tensor

    public init(name: String, value: Tensor) {
        self.name = name
        self.value = value
        gradient = Tensor(zeros: value.shape)
    }
}

/// One layer instance: its weights and what `forward` must remember for `backward`.
///
/// `forward` takes and returns whole batches (`N × sample shape`). With `training` it keeps what the
/// backward pass needs; `backward` takes the gradient of the loss with respect to the last output,
/// adds the weight gradients to `parameters`, and returns the gradient with respect to the input
/// (or an empty tensor when `inputGradient` is false, which saves the work for the first layer).
public protocol Layer: AnyObject {
    var spec: LayerSpec { get }
    var parameters: [Parameter] { get }
    func forward(_ input: Tensor, training: Bool) -> Tensor
    func backward(_ outputGradient: Tensor, inputGradient: Bool) -> Tensor
    /// An independent copy with the same weights, for another thread; `replica` seeds its randomness.
    func copy(replica: Int) -> any Layer
}

extension Layer {
    public var parameters: [Parameter] { [] }
}

/// How a layer's weights start. He (Kaiming) normal suits layers followed by ReLU; Glorot (Xavier)
/// uniform suits the output layer. Biases start at zero.
public enum Initializer: Sendable {
    /// Normal with deviation `√(2 / fan_in)` (He et al. 2015).
    case heNormal
    /// Uniform in `±√(6 / (fan_in + fan_out))` (Glorot & Bengio 2010).
    case glorotUniform

    func fill(_ tensor: inout Tensor, fanIn: Int, fanOut: Int, rng: inout SplitMix64) {
        switch self {
        case .heNormal:
            let deviation = (2.0 / Double(fanIn)).squareRoot()
            for i in tensor.scalars.indices { tensor.scalars[i] = Float(rng.normal() * deviation) }
        case .glorotUniform:
            let limit = (6.0 / Double(fanIn + fanOut)).squareRoot()
            for i in tensor.scalars.indices { tensor.scalars[i] = Float(rng.uniform(-limit...limit)) }
        }
    }
}
