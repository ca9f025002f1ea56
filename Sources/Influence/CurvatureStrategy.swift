/// How the curvature H in score(q, m) = ∇L(z_q)ᵀ (H + λI)⁻¹ ∇L(z_m) is treated, per tracked layer.
///
/// | strategy | fit | applies (H + λI)⁻¹ as |
/// |---|---|---|
/// | identity | nothing | G (a gradient dot product) |
/// | diagonal | D = E_examples[G ⊙ G] | G / (D + λ) |
/// | kfac | A = E_tokens[ā āᵀ], S = E_tokens[g gᵀ], eigendecomposed | Q_S[(Q_Sᵀ G Q_A) / (λ_S λ_Aᵀ + λ)]Q_Aᵀ |
/// | ekfac | K-FAC's eigenbases and Λ = E_examples[(Q_Sᵀ G Q_A)²] | Q_S[(Q_Sᵀ G Q_A) / (Λ + λ)]Q_Aᵀ |
public enum CurvatureStrategy: String, Sendable, Codable, CaseIterable {
    case identity, diagonal, kfac, ekfac

    var needsCovariances: Bool { self == .kfac || self == .ekfac }
    var needsLambda: Bool { self == .diagonal || self == .ekfac }
}

/// The damping λ added to the eigenvalues (or to the diagonal).
public enum Damping: Sendable, Equatable, CustomStringConvertible {
    /// 0.1 × the mean of the layer's Λ (or of λ_S λ_Aᵀ for K-FAC), per layer: the paper's heuristic.
    case automatic
    case value(Double)

    public init?(_ text: String) {
        if text == "auto" { self = .automatic } else if let v = Double(text), v >= 0, v.isFinite { self = .value(v) } else { return nil }
    }

    public var description: String {
        switch self { case .automatic: return "auto"; case let .value(v): return String(v) }
    }
}
