import TensorCore

/// The diagonal of the empirical (or sampled) Fisher, D = E_examples[G ⊙ G], per parameter:
/// (H + λI)⁻¹ G = G / (D + λ).
public struct DiagonalStrategy: FactorCurvatureStrategy {
    /// `diagonal`.
    public static let name = "diagonal"
    /// One line for the command line's help.
    public static let abstract = "the Fisher's diagonal"
    /// One Λ pass in the parameters' own basis; no covariances.
    public static let needs = FactorNeeds(covariances: false, lambda: .parameters)
    /// The diagonal strategy has no options.
    public init() {}
    /// D = Λ `[out, in (+1)]`, the mean squared per-example gradient of each parameter.
    public static func eigenvalues(of factors: LayerFactors) -> Tensor<Double>? { factors.lambda }
}

extension FactorCurvatureStrategy where Self == DiagonalStrategy {
    /// The diagonal strategy, for `strategy: .diagonal`.
    public static var diagonal: DiagonalStrategy { DiagonalStrategy() }
}
