import Foundation
import TensorCore

/// The exact solve: the dense curvature matrix H (Hessian, Gauss–Newton or empirical Fisher) of
/// the tracked parameters, and the Cholesky factor of H + λI, computed once and used for every
/// query and for self-influence. For models of up to about ten thousand tracked parameters.
public struct ExactStrategy: OperatorCurvatureStrategy {
    /// `exact`.
    public static let name = "exact"
    /// True: the Cholesky factor is kept, so gᵀ (H + λI)⁻¹ g needs only triangular solves.
    public static let offersSelfInfluence = true
    /// One line for the command line's help.
    public static let abstract = "the dense H + λI and its Cholesky factor (small models)"
    /// The largest dimension whose dense matrix is built (20,000 parameters: a 3.2 GB matrix).
    public static let dimensionLimit = 20_000

    /// The exact strategy has no options.
    public init() {}
    /// Ignores the options: the exact strategy declares none.
    public init(options: StrategyOptions) throws {}

    /// Builds the dense, symmetrised curvature matrix once; each inverse factors it plus λI by Cholesky.
    ///
    /// - Throws: ``InfluenceError/notOffered(_:)`` when the dimension exceeds ``dimensionLimit``; the inverse throws
    ///   ``InfluenceError/notPositiveDefinite(dimension:damping:lowestEigenvalue:)`` when H + λI is not positive definite.
    public func fit(operator op: CurvatureOperator<AnyInfluenceTask>) throws -> any FittedCurvature {
        guard op.dimension <= Self.dimensionLimit else {
            throw InfluenceError.notOffered("the exact strategy builds a \(op.dimension)×\(op.dimension) matrix; choose fewer --modules or --strategy cg")
        }
        let h = op.denseMatrix()
        let symmetric = (h + h.transposed()) * 0.5
        let blocks = op.blockNames.count
        return OperatorFit(Self.name, op) { damping in
            let inverse = try CurvatureSolver.ExactInverse<Float>(symmetric: symmetric, damping: damping)
            return JointInverse(
                description: Self.name, damping: damping, blocks: blocks, solve: { try inverse.solve($0) },
                quadraticForms: { try inverse.quadraticForms($0) })
        }
    }
}
