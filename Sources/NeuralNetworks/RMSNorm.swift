import Autograd
import TensorCore

/// Root-mean-square normalisation over the last axis (Zhang & Sennrich 2019), as in Llama:
///
/// ```
/// y = x / √(mean(x²) + ε) · γ
/// ```
/// No centring and no bias. Hugging Face names the scale `weight`.
public final class RMSNorm<Scalar: TensorScalar>: Module<Scalar>, UnaryLayer {
    /// The scale γ, `[dimension]`, initially ones.
    public let weight: Parameter<Scalar>
    /// The ε added to the mean square before the square root.
    public let epsilon: Scalar

    /// An RMS norm over `dimension` features with γ = 1.
    public init(dimension: Int, epsilon: Scalar = 1e-6) {
        weight = Parameter(Tensor.ones(shape: [dimension]))
        self.epsilon = epsilon
        super.init()
        register(parameter: weight, "weight")
    }

    /// Normalises `x` of shape `[..., dimension]`.
    public func callAsFunction(_ x: Variable<Scalar>) -> Variable<Scalar> {
        let meanSquare = x.squared().mean(alongAxes: [x.rank - 1], keepingDimensions: true)
        return x * (meanSquare + epsilon).squareRoot().reciprocal() * weight.variable
    }
}
