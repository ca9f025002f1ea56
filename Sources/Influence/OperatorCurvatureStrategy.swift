import Foundation
import TensorCore

/// A strategy that works on a ``CurvatureOperator`` — Hessian, Gauss–Newton or empirical-Fisher
/// products of the mean training loss — rather than on captured factors: exact, CG, LiSSA,
/// Arnoldi. Its fit is whatever it keeps of the operator (a dense matrix, eigenpairs, or the
/// operator itself); its inverse acts jointly on every block, with a numeric damping.
public protocol OperatorCurvatureStrategy: CurvatureStrategy {
    func fit<Task: InfluenceTask>(operator op: CurvatureOperator<Task>) throws -> any FittedCurvature where Task.Scalar == Float
}

extension OperatorCurvatureStrategy {
    public static var coversEveryParameter: Bool { true }

    public func fit<Task: InfluenceTask>(_ context: CurvatureContext<Task>) throws -> any FittedCurvature where Task.Scalar == Float {
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
