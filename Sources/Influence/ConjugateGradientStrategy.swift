import Foundation
import TensorCore

/// Conjugate gradient on (H + λI) x = ∇f with operator products only: every query is solved at
/// once, each with its own recurrence, sharing one pass over the training data per iteration.
/// A solve that does not reach the tolerance is reported, with its cause, or is an error.
public struct ConjugateGradientStrategy: OperatorCurvatureStrategy {
    /// `cg`.
    public static let name = "cg"
    /// One line for the command line's help.
    public static let abstract = "conjugate gradient on H + λI"
    /// `cg-tolerance`, `cg-iterations` and the flag `cg-fail`.
    public static let options: [StrategyOption] = [
        .value("cg-tolerance", "X", default: "1e-6", "With --strategy cg: relative residual to reach."),
        .value("cg-iterations", "N", "With --strategy cg: iteration limit (default twice the dimension)."),
        .flag("cg-fail", "With --strategy cg: stop with an error when a solve does not converge (default: warn)."),
    ]

    /// The relative residual ‖b − (H + λI)x‖ / ‖b‖ each query column must reach.
    public var tolerance: Double
    /// The iteration limit per column; nil for twice the operator's dimension.
    public var maximumIterations: Int?
    /// Throw when a solve does not converge, instead of recording a warning.
    public var failsWhenNotConverged: Bool

    /// A CG strategy with the given stopping rule.
    ///
    /// - Parameters:
    ///   - tolerance: the relative residual to reach.
    ///   - maximumIterations: the iteration limit per column; nil for twice the dimension.
    ///   - failsWhenNotConverged: throw ``InfluenceError/notConverged(_:)`` rather than warn.
    public init(tolerance: Double = 1e-6, maximumIterations: Int? = nil, failsWhenNotConverged: Bool = false) {
        self.tolerance = tolerance
        self.maximumIterations = maximumIterations
        self.failsWhenNotConverged = failsWhenNotConverged
    }

    /// Reads `cg-tolerance` (default 1e-6), `cg-iterations` and `cg-fail`.
    ///
    /// - Throws: ``StrategyOptionError`` when the tolerance is not a positive number or the limit not a positive integer.
    public init(options: StrategyOptions) throws {
        self.init(
            tolerance: try options.positiveNumber("cg-tolerance") ?? 1e-6, maximumIterations: try options.integer("cg-iterations"),
            failsWhenNotConverged: options.flag("cg-fail"))
    }

    /// `cg/<tolerance>`, as resume keys and files name the strategy.
    public var description: String { "cg/\(tolerance)" }

    /// Keeps the operator: each inverse runs CG on H + λI for every query of a group jointly, one pass over the training
    /// data per iteration; it offers no self-influence.
    ///
    /// - Returns: a fit whose inverse needs a numeric damping; a solve that does not converge throws
    ///   ``InfluenceError/notConverged(_:)`` (with ``failsWhenNotConverged``) or is recorded in the inverse's warnings.
    public func fit(operator op: CurvatureOperator<AnyInfluenceTask>) throws -> any FittedCurvature {
        let blocks = op.blockNames.count
        return OperatorFit(description, op) { damping in
            var warn: (String) -> Void = { _ in }
            let inverse = JointInverse(
                description: description, damping: damping, blocks: blocks,
                solve: { b in
                    let (x, iterations) = CurvatureSolver.conjugateGradient(
                        op, damping: damping, rightHandSides: b, tolerance: tolerance,
                        maximumIterations: maximumIterations)
                    if let message = Self.failure(iterations, tolerance: tolerance) {
                        if failsWhenNotConverged { throw InfluenceError.notConverged(message) }
                        warn(message)
                    }
                    return x
                }, solvesJointly: true)
            warn = { [weak inverse] in inverse?.warn($0) }
            return inverse
        }
    }

    /// What went wrong with the columns that did not converge, or nil when every one did.
    static func failure(_ iterations: [CurvatureSolver.Iterations], tolerance: Double) -> String? {
        let failed = iterations.indices.filter { !iterations[$0].converged }
        guard !failed.isEmpty else { return nil }
        let worst = failed.max { iterations[$0].relativeResidual < iterations[$1].relativeResidual }!
        let negative = failed.contains { iterations[$0].foundNegativeCurvature }
        let columns = failed.count == 1 ? "query column \(failed[0])" : "\(failed.count) of \(iterations.count) query columns"
        return "conjugate gradient did not converge for \(columns): worst relative residual \(iterations[worst].relativeResidual) "
            + "after \(iterations[worst].count) iterations (tolerance \(tolerance)); "
            + (negative
                ? "it met negative curvature, so H + λI is not positive definite: raise the damping above minus the lowest eigenvalue, or use the Gauss–Newton curvature"
                : failed.allSatisfy { iterations[$0].limitedByPrecision }
                    ? "the recurrence reached the tolerance but single-precision products cannot: loosen the tolerance, or raise the damping"
                    : "raise the damping or the iteration limit")
    }
}
