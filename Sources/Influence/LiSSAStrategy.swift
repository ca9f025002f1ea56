import Foundation
import TensorCore

/// LiSSA (Agarwal et al. 2017): the stochastic Neumann recursion on mini-batch curvature products,
/// every query following the same mini-batches (see ``CurvatureSolver/lissa(_:damping:rightHandSides:scale:depth:repeats:batchSize:seed:)``).
public struct LiSSAStrategy: OperatorCurvatureStrategy {
    public static let name = "lissa"
    public static let abstract = "LiSSA's stochastic Neumann recursion"
    public static let options: [StrategyOption] = [
        .value("lissa-scale", "S", default: "10", "With --strategy lissa: scale above the largest eigenvalue of H + λI."),
        .value("lissa-depth", "N", default: "1000", "With --strategy lissa: recursion steps."),
        .value("lissa-repeats", "N", default: "1", "With --strategy lissa: independent runs averaged."),
        .value("lissa-batch", "N", default: "8", "With --strategy lissa: examples per curvature estimate."),
    ]

    public var scale: Double, depth: Int, repeats: Int, batchSize: Int

    public init(scale: Double = 10, depth: Int = 1000, repeats: Int = 1, batchSize: Int = 8) {
        precondition(scale > 0 && depth > 0 && repeats > 0 && batchSize > 0, "LiSSA needs positive scale, depth, repeats and batch size")
        (self.scale, self.depth, self.repeats, self.batchSize) = (scale, depth, repeats, batchSize)
    }

    public init(options: StrategyOptions) throws {
        self.init(
            scale: try options.positiveNumber("lissa-scale") ?? 10, depth: try options.integer("lissa-depth") ?? 1000,
            repeats: try options.integer("lissa-repeats") ?? 1, batchSize: try options.integer("lissa-batch") ?? 8)
    }

    public var description: String { "lissa/\(scale)/\(depth)/\(repeats)/\(batchSize)" }

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
