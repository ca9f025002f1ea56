import Autograd
import TensorCore

/// Layer normalisation over the last axis:
///
/// ```
/// y = (x − mean(x)) / √(var(x) + ε) · γ + β      (biased variance, as PyTorch)
/// ```
public final class LayerNorm<Scalar: TensorScalar>: Module<Scalar> {
    /// The scale γ, `[dimension]`, initially ones.
    public let weight: Parameter<Scalar>
    /// The shift β, `[dimension]`, initially zeros.
    public let bias: Parameter<Scalar>
    /// The ε added to the variance before the square root.
    public let epsilon: Scalar

    /// A layer norm over `dimension` features with γ = 1, β = 0.
    public init(dimension: Int, epsilon: Scalar = 1e-5) {
        weight = Parameter(Tensor.ones(shape: [dimension]))
        bias = Parameter(Tensor.zeros(shape: [dimension]))
        self.epsilon = epsilon
        super.init()
        register(parameter: weight, "weight")
        register(parameter: bias, "bias")
    }

    /// Normalises `x` of shape `[..., dimension]`.
    public func callAsFunction(_ x: Variable<Scalar>) -> Variable<Scalar> {
        let axis = x.rank - 1
        let centered = x - x.mean(alongAxes: [axis], keepingDimensions: true)
        let variance = centered.squared().mean(alongAxes: [axis], keepingDimensions: true)
        let normalized = centered * (variance + epsilon).squareRoot().reciprocal()
        return normalized * weight.variable + bias.variable
    }
}
