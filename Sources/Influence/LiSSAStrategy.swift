import Foundation
import TensorCore

/// LiSSA (Agarwal et al. 2017): the stochastic Neumann recursion on mini-batch curvature products,
/// every query following the same mini-batches (see ``CurvatureSolver/lissa(_:damping:rightHandSides:scale:depth:repeats:batchSize:seed:)``).
public struct LiSSAStrategy: OperatorCurvatureStrategy {
    /// `lissa`.
    public static let name = "lissa"
    /// One line for the command line's help.
    public static let abstract = "LiSSA's stochastic Neumann recursion"
    /// `lissa-scale` (10), `lissa-depth` (1000), `lissa-repeats` (1) and `lissa-batch` (8).
    public static let options: [StrategyOption] = [
        .value("lissa-scale", "S", default: "10", "With --strategy lissa: scale above the largest eigenvalue of H + λI."),
        .value("lissa-depth", "N", default: "1000", "With --strategy lissa: recursion steps."),
        .value("lissa-repeats", "N", default: "1", "With --strategy lissa: independent runs averaged."),
        .value("lissa-batch", "N", default: "8", "With --strategy lissa: examples per curvature estimate."),
    ]

    /// The scale s (above the largest eigenvalue of H + λI), the recursion steps, the independent runs averaged, and the
    /// examples per mini-batch curvature estimate; all positive.
    public var scale: Double, depth: Int, repeats: Int, batchSize: Int

    /// A LiSSA strategy; every argument must be positive (checked by a precondition).
    public init(scale: Double = 10, depth: Int = 1000, repeats: Int = 1, batchSize: Int = 8) {
        precondition(scale > 0 && depth > 0 && repeats > 0 && batchSize > 0, "LiSSA needs positive scale, depth, repeats and batch size")
        (self.scale, self.depth, self.repeats, self.batchSize) = (scale, depth, repeats, batchSize)
    }

    /// Reads `lissa-scale`, `lissa-depth`, `lissa-repeats` and `lissa-batch`.
    ///
    /// - Throws: ``StrategyOptionError`` when the scale is not a positive number or a count not a positive integer.
    public init(options: StrategyOptions) throws {
        self.init(
            scale: try options.positiveNumber("lissa-scale") ?? 10, depth: try options.integer("lissa-depth") ?? 1000,
            repeats: try options.integer("lissa-repeats") ?? 1, batchSize: try options.integer("lissa-batch") ?? 8)
    }

    /// `lissa/<scale>/<depth>/<repeats>/<batch>`, as resume keys and files name the strategy.
    public var description: String { "lissa/\(scale)/\(depth)/\(repeats)/\(batchSize)" }

    /// Keeps the operator: each inverse runs the recursion (seed 0) for every query of a group jointly; no self-influence.
    ///
    /// - Returns: a fit whose inverse needs a numeric damping and throws ``InfluenceError/diverged(_:)`` when the recursion diverges.
    public func fit(operator op: CurvatureOperator<AnyInfluenceTask>) throws -> any FittedCurvature {
        let blocks = op.blockNames.count
        return OperatorFit(description, op) { damping in
            JointInverse(
                description: description, damping: damping, blocks: blocks,
                solve: { b in
                    try CurvatureSolver.lissa(op, damping: damping, rightHandSides: b, scale: scale, depth: depth, repeats: repeats, batchSize: batchSize)
                }, solvesJointly: true)
        }
    }
}
