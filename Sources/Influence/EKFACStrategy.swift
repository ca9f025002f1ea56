import TensorCore

/// EK-FAC (George et al. 2018), the strategy with which Grosse et al. (2023) scaled influence
/// functions to language models: K-FAC's eigenbases, with the eigenvalues refitted as
/// Λ = E_examples[(Q_Sᵀ G Q_A)²]:
///
/// ```
/// (H + λI)⁻¹ G = Q_S [(Q_Sᵀ G Q_A) / (Λ + λ)] Q_Aᵀ
/// ```
public struct EKFACStrategy: FactorCurvatureStrategy {
    /// `ekfac`.
    public static let name = "ekfac"
    /// One line for the command line's help.
    public static let abstract = "eigenvalue-corrected K-FAC (George et al. 2018; Grosse et al. 2023)"
    /// A covariance pass (eigendecomposed), then a Λ pass in the Kronecker eigenbasis.
    public static let needs = FactorNeeds(covariances: true, lambda: .kroneckerEigenbasis)
    /// EK-FAC has no options.
    public init() {}
    /// Λ `[out, in (+1)]`, the mean squared per-example gradient in the eigenbasis.
    public static func eigenvalues(of factors: LayerFactors) -> Tensor<Double>? { factors.lambda }
}

extension FactorCurvatureStrategy where Self == EKFACStrategy {
    /// EK-FAC, for `strategy: .ekfac`.
    public static var ekfac: EKFACStrategy { EKFACStrategy() }
}
