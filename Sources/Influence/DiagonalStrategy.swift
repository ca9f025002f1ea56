import TensorCore

/// The diagonal of the empirical (or sampled) Fisher, D = E_examples[G ⊙ G], per parameter:
/// (H + λI)⁻¹ G = G / (D + λ).
public struct DiagonalStrategy: FactorCurvatureStrategy {
    public static let name = "diagonal"
    public static let abstract = "the Fisher's diagonal"
    public static let needs = FactorNeeds(covariances: false, lambda: .parameters)
    public init() {}
    public static func eigenvalues(of factors: LayerFactors) -> Tensor<Double>? { factors.lambda }
}

extension FactorCurvatureStrategy where Self == DiagonalStrategy {
    public static var diagonal: DiagonalStrategy { DiagonalStrategy() }
}
