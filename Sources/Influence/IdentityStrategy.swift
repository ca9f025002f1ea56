import TensorCore

/// H treated as the identity: the score is the gradient dot product ∇f(z_q) · ∇L(z_m). Fits
/// nothing; the baseline, and TracIn's term at one checkpoint.
public struct IdentityStrategy: FactorCurvatureStrategy {
    public static let name = "identity"
    public static let abstract = "gradient dot products (H = I)"
    public static let needs = FactorNeeds(covariances: false, lambda: nil)
    public init() {}
    public static func eigenvalues(of factors: LayerFactors) -> Tensor<Double>? { nil }
}

extension FactorCurvatureStrategy where Self == IdentityStrategy {
    public static var identity: IdentityStrategy { IdentityStrategy() }
}
