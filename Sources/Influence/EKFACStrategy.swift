import TensorCore

/// EK-FAC (George et al. 2018), the strategy with which Grosse et al. (2023) scaled influence
/// functions to language models: K-FAC's eigenbases, with the eigenvalues refitted as
/// Λ = E_examples[(Q_Sᵀ G Q_A)²]:
///
/// ```
/// (H + λI)⁻¹ G = Q_S [(Q_Sᵀ G Q_A) / (Λ + λ)] Q_Aᵀ
/// ```
public struct EKFACStrategy: FactorCurvatureStrategy {
    public static let name = "ekfac"
    public static let abstract = "eigenvalue-corrected K-FAC (George et al. 2018; Grosse et al. 2023)"
    public static let needs = FactorNeeds(covariances: true, lambda: .kroneckerEigenbasis)
    public init() {}
    public static func eigenvalues(of factors: LayerFactors) -> Tensor<Double>? { factors.lambda }
}

extension FactorCurvatureStrategy where Self == EKFACStrategy {
    public static var ekfac: EKFACStrategy { EKFACStrategy() }
}
