import TensorCore

/// K-FAC (Martens & Grosse 2015): each layer's Fisher as S ⊗ A with A = E_tokens[ā āᵀ] and
/// S = E_tokens[g gᵀ]; in their eigenbases the eigenvalues are λ_S λ_Aᵀ:
///
/// ```
/// (H + λI)⁻¹ G = Q_S [(Q_Sᵀ G Q_A) / (λ_S λ_Aᵀ + λ)] Q_Aᵀ
/// ```
public struct KFACStrategy: FactorCurvatureStrategy {
    /// `kfac`.
    public static let name = "kfac"
    /// One line for the command line's help.
    public static let abstract = "Kronecker-factored curvature (Martens & Grosse 2015)"
    /// A covariance pass, eigendecomposed; no Λ pass.
    public static let needs = FactorNeeds(covariances: true, lambda: nil)
    /// K-FAC has no options.
    public init() {}

    /// Q_A `[inputs, inputs]`, Q_S `[out, out]` and their eigenvalues λ_A `[inputs]`, λ_S `[out]` (no Λ).
    public static func requiredFactors(out: Int, inputs: Int) -> [(key: String, shape: [Int])] {
        [
            ("activation_eigenvectors", [inputs, inputs]), ("gradient_eigenvectors", [out, out]),
            ("activation_eigenvalues", [inputs]), ("gradient_eigenvalues", [out]),
        ]
    }

    /// λ_S λ_Aᵀ `[out, in (+1)]`, the outer product of the two factors' eigenvalues.
    public static func eigenvalues(of factors: LayerFactors) -> Tensor<Double>? {
        Tensor.outer(factors.gradientEigenvalues!, factors.activationEigenvalues!)
    }
}

extension FactorCurvatureStrategy where Self == KFACStrategy {
    /// K-FAC, for `strategy: .kfac`.
    public static var kfac: KFACStrategy { KFACStrategy() }
}
