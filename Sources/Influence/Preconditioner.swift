import TensorCore

/// Applies (H + λI)⁻¹ of a strategy to per-example gradients, layer by layer, in the model's precision.
public struct Preconditioner<Scalar: TensorScalar> {
    /// The factor strategy of the factors, which decides whether gradients are rotated into the Kronecker eigenbasis.
    public let strategy: any FactorCurvatureStrategy
    /// Per layer: Q_S, Q_A (K-FAC, EK-FAC).
    let rotations: [(gradient: Tensor<Scalar>, activation: Tensor<Scalar>)?]
    /// Per layer: 1 / (Λ + λ) in the layer's basis, `[out, in+1]` (nil for identity).
    let inverse: [Tensor<Scalar>?]
    /// The damping used per layer.
    public let dampings: [Double]

    /// Resolves the damping per layer and precomputes 1 / (E + λ) in the model's precision.
    ///
    /// - Parameters:
    ///   - factors: the fitted factors; the tensors their strategy reads must be present.
    ///   - damping: λ, or `auto` for 0.1 × mean(E) per layer; ignored for a layer without E (identity).
    /// - Throws: ``InfluenceError/nonFinite(what:)`` when E + λ has a non-positive entry in some layer.
    public init(factors: InfluenceFactors, damping: Damping) throws {
        strategy = factors.strategy
        var rotations: [(Tensor<Scalar>, Tensor<Scalar>)?] = [], inverse: [Tensor<Scalar>?] = [], dampings: [Double] = []
        for (i, f) in factors.layers.enumerated() {
            let kind = type(of: factors.strategy)
            let lambda = kind.eigenvalues(of: f)
            if let l = lambda {
                let d: Double
                switch damping {
                case .automatic: d = 0.1 * l.mean().scalar
                case let .value(v): d = v
                }
                let shifted = l + d
                if !(shifted.min().scalar > 0) {
                    throw InfluenceError.nonFinite(what: "Λ + λ of \(factors.moduleNames[i]) (it has a non-positive entry; raise the damping)")
                }
                inverse.append(Tensor<Scalar>(shifted.reciprocal()))
                dampings.append(d)
            } else {
                inverse.append(nil)
                dampings.append(0)
            }
            if kind.rotates {
                rotations.append((Tensor<Scalar>(f.gradientEigenvectors!), Tensor<Scalar>(f.activationEigenvectors!)))
            } else {
                rotations.append(nil)
            }
        }
        self.rotations = rotations
        self.inverse = inverse
        self.dampings = dampings
    }

    /// Rotates `[n, out, in]` gradients into layer `i`'s eigenbasis: Q_Sᵀ G Q_A.
    func rotated(_ g: Tensor<Scalar>, layer i: Int) -> Tensor<Scalar> {
        guard let (qs, qa) = rotations[i] else { return g }
        let (n, out, inp) = (g.shape[0], g.shape[1], g.shape[2])
        // G Q_A for every example in one gemm, then Q_Sᵀ from the left per example.
        let right = Tensor.matmul(g.reshaped(to: [n * out, inp]), qa).reshaped(to: [n, out, inp])
        return Tensor.matmul(qs, right, transposeA: true)
    }

    /// (H + λI)⁻¹ G for `[n, out, in]` gradients of layer `i`.
    public func apply(_ g: Tensor<Scalar>, layer i: Int) -> Tensor<Scalar> {
        guard let inv = inverse[i] else { return g }
        guard let (qs, qa) = rotations[i] else { return g * inv }
        let scaled = rotated(g, layer: i) * inv
        let (n, out, inp) = (g.shape[0], g.shape[1], g.shape[2])
        let back = Tensor.matmul(scaled.reshaped(to: [n * out, inp]), qa, transposeB: true).reshaped(to: [n, out, inp])
        return Tensor.matmul(qs, back)
    }

    /// Gᵀ(H + λI)⁻¹G per example of `[n, out, in]` gradients of layer `i`: `[n]`.
    public func selfScores(_ g: Tensor<Scalar>, layer i: Int) -> Tensor<Scalar> {
        let n = g.shape[0]
        let r = rotated(g, layer: i)
        let weighted = inverse[i].map { r.squared() * $0 } ?? r.squared()
        return weighted.reshaped(to: [n, -1]).sum(alongAxes: [1])
    }
}
