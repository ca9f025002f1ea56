import TensorCore

/// H treated as the identity: the score is the gradient dot product ∇f(z_q) · ∇L(z_m). Fits
/// nothing; the baseline, and TracIn's term at one checkpoint.
public struct IdentityStrategy: FactorCurvatureStrategy {
    /// `identity`.
    public static let name = "identity"
    /// One line for the command line's help.
    public static let abstract = "gradient dot products (H = I)"
    /// No pass: the fit only records the tracked layers and their shapes.
    public static let needs = FactorNeeds(covariances: false, lambda: nil)
    /// The identity strategy has no options.
    public init() {}
    /// Always nil: gradients pass through unchanged, whatever the damping.
    public static func eigenvalues(of factors: LayerFactors) -> Tensor<Double>? { nil }
}

extension FactorCurvatureStrategy where Self == IdentityStrategy {
    /// The identity strategy, for `strategy: .identity`.
    public static var identity: IdentityStrategy { IdentityStrategy() }
}
