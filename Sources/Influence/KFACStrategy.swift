import TensorCore

/// K-FAC (Martens & Grosse 2015): each layer's Fisher as S ⊗ A with A = E_tokens[ā āᵀ] and
/// S = E_tokens[g gᵀ]; in their eigenbases the eigenvalues are λ_S λ_Aᵀ:
///
/// ```
/// (H + λI)⁻¹ G = Q_S [(Q_Sᵀ G Q_A) / (λ_S λ_Aᵀ + λ)] Q_Aᵀ
/// ```
public struct KFACStrategy: FactorCurvatureStrategy {
    public static let name = "kfac"
    public static let abstract = "Kronecker-factored curvature (Martens & Grosse 2015)"
    public static let needs = FactorNeeds(covariances: true, lambda: nil)
    public init() {}

    public static func requiredFactors(out: Int, inputs: Int) -> [(key: String, shape: [Int])] {
        [
            ("activation_eigenvectors", [inputs, inputs]), ("gradient_eigenvectors", [out, out]),
            ("activation_eigenvalues", [inputs]), ("gradient_eigenvalues", [out]),
        ]
    }

    public static func eigenvalues(of factors: LayerFactors) -> Tensor<Double>? {
        Tensor.outer(factors.gradientEigenvalues!, factors.activationEigenvalues!)
    }
}

extension FactorCurvatureStrategy where Self == KFACStrategy {
    public static var kfac: KFACStrategy { KFACStrategy() }
}
