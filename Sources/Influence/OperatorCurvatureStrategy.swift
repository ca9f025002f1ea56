import Foundation
import TensorCore

/// A strategy that works on a ``CurvatureOperator`` — Hessian, Gauss–Newton or empirical-Fisher
/// products of the mean training loss — rather than on captured factors: exact, CG, LiSSA,
/// Arnoldi. Its fit is whatever it keeps of the operator (a dense matrix, eigenpairs, or the
/// operator itself); its inverse acts jointly on every block, with a numeric damping.
public protocol OperatorCurvatureStrategy: CurvatureStrategy {
    /// Keeps what the strategy needs of `op` (a dense factor, eigenpairs, or the operator itself) and says how to invert it.
    ///
    /// - Throws: ``InfluenceError`` (or ``LinearAlgebraError``) when the fit cannot be formed.
    func fit(operator op: CurvatureOperator<AnyInfluenceTask>) throws -> any FittedCurvature
}

extension OperatorCurvatureStrategy {
    /// True: operator products can cover every trainable parameter, not only Linear layers.
    public static var coversEveryParameter: Bool { true }

    /// Fits on the context's curvature operator (see ``CurvatureContext/curvatureOperator()``).
    ///
    /// - Throws: ``InfluenceError/noTrackedModules(patterns:available:)`` when no layer matches the context's patterns, or
    ///   what ``fit(operator:)`` throws.
    public func fit(_ context: StrategyContext) throws -> any FittedCurvature {
        try fit(operator: context.curvatureOperator())
    }
}

/// The fit of an operator strategy: the operator's blocks and how to make the inverse for a damping.
struct OperatorFit: FittedCurvature {
    let strategyDescription: String
    let linearLayerNames: [String]
    let blockNames: [String]
    let makeInverse: (Double) throws -> any InverseCurvature

    init<Task: InfluenceTask>(_ description: String, _ op: CurvatureOperator<Task>, inverse: @escaping (Double) throws -> any InverseCurvature) {
        strategyDescription = description
        linearLayerNames = op.names
        blockNames = op.blockNames
        makeInverse = inverse
    }

    func inverse(damping: Damping) throws -> any InverseCurvature {
        guard case let .value(lambda) = damping else {
            throw InfluenceError.notOffered("\(strategyDescription) needs a numeric damping: 'auto' is defined by fitted factors (0.1 × mean Λ)")
        }
        return try makeInverse(lambda)
    }
}
