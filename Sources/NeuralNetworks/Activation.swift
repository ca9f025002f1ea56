import Autograd
import TensorCore

/// Elementwise nonlinearities, named as in Hugging Face configs (`activation_function`).
public enum Activation: String, Sendable, CaseIterable, Codable {
    /// max(x, 0).
    case relu
    /// GELU with the exact normal CDF.
    case gelu
    /// GELU with the tanh approximation (GPT-2's default).
    case geluNew = "gelu_new"
    /// The hyperbolic tangent.
    case tanh
    /// The logistic function 1/(1 + e^{−x}).
    case sigmoid
    /// x·σ(x), the gate of SwiGLU (Hugging Face's `silu`, alias `swish`).
    case silu
    /// No nonlinearity: x itself (Hugging Face's `linear`).
    case identity

    /// Parses a Hugging Face name, accepting the aliases `gelu_pytorch_tanh`, `gelu_fast` and `swish`.
    public init?(huggingFaceName name: String) {
        switch name {
        case "gelu_pytorch_tanh", "gelu_fast", "gelu_new": self = .geluNew
        case "swish": self = .silu
        case "linear": self = .identity
        default: self.init(rawValue: name)
        }
    }

    /// Applies the nonlinearity elementwise to `x` of any shape (`identity` returns `x` itself).
    public func callAsFunction<Scalar>(_ x: Variable<Scalar>) -> Variable<Scalar> {
        switch self {
        case .relu: return x.relu()
        case .gelu: return x.gelu()
        case .geluNew: return x.gelu(approximate: true)
        case .tanh: return x.tanh()
        case .sigmoid: return x.sigmoid()
        case .silu: return x.silu()
        case .identity: return x
        }
    }
}
