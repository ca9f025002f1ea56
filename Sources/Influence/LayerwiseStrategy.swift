import Foundation
import TensorCore

/// The block-diagonal (layer-wise) variant of any strategy: one fit and one inverse per tracked
/// Linear layer, ignoring the curvature between layers, as K-FAC and EK-FAC do by construction:
///
/// ```
/// score(q, m) = Σ_l ∇_l f(z_q)ᵀ (H_l + λI)⁻¹ ∇_l L(z_m)
/// ```
public struct LayerwiseStrategy: CurvatureStrategy {
    /// `layerwise`, the prefix of the combined strategy's description.
    public static let name = "layerwise"
    /// One line for the command line's help.
    public static let abstract = "the block-diagonal variant of another strategy"
    /// The strategy fitted and inverted on each tracked layer alone.
    public let base: any CurvatureStrategy

    /// The block-diagonal variant of `base`.
    public init(base: any CurvatureStrategy) { self.base = base }

    /// A combinator has no options of its own: build it with ``init(base:)``.
    public init(options: StrategyOptions) throws {
        throw StrategyOptionError("the layer-wise variant wraps another strategy: use --layerwise with --strategy NAME")
    }

    /// `layerwise-` followed by the base strategy's description (`layerwise-exact`, `layerwise-cg/1e-06`).
    public var description: String { "layerwise-" + base.description }

    /// Fits the base strategy once per tracked layer, each with the context narrowed to that layer.
    ///
    /// - Throws: ``InfluenceError/notOffered(_:)`` with `--modules all`; ``InfluenceError/noTrackedModules(patterns:available:)``
    ///   when no layer matches the context's patterns; whatever the base strategy's fit throws.
    public func fit(_ context: StrategyContext) throws -> any FittedCurvature {
        guard !context.allParameters else {
            throw InfluenceError.notOffered("the layer-wise variant covers Linear layers; --modules all is offered without it")
        }
        let names = context.task.model.trackableLayers(matching: context.modules).map(\.name)
        guard !names.isEmpty else {
            throw InfluenceError.noTrackedModules(patterns: context.modules, available: context.task.model.trackableLayers().map(\.name))
        }
        let parts = try names.map { name -> any FittedCurvature in
            var one = context
            one.modules = [name]
            return try base.fit(one)
        }
        return BlockDiagonalFit(strategyDescription: description, linearLayerNames: names, parts: parts)
    }
}

/// Fits of single blocks, side by side.
struct BlockDiagonalFit: FittedCurvature {
    let strategyDescription: String
    let linearLayerNames: [String]
    let parts: [any FittedCurvature]

    func inverse(damping: Damping) throws -> any InverseCurvature {
        BlockDiagonalInverse(description: strategyDescription, parts: try parts.map { try $0.inverse(damping: damping) })
    }
}

/// One inverse per block: each acts on its own block's gradients only.
final class BlockDiagonalInverse: InverseCurvature {
    let description: String
    let parts: [any InverseCurvature]

    init(description: String, parts: [any InverseCurvature]) {
        self.description = description
        self.parts = parts
    }

    var dampings: [Double] { parts.flatMap(\.dampings) }
    var offersSelfInfluence: Bool { parts.allSatisfy(\.offersSelfInfluence) }
    var selfScoreRows: Int { parts.map(\.selfScoreRows).max() ?? 1 }
    var warnings: [String] { parts.flatMap(\.warnings) }
    var solvesJointly: Bool { parts.contains { $0.solvesJointly } }

    func apply(_ gradients: [Tensor<Float>]) throws -> [Tensor<Float>] {
        precondition(gradients.count == parts.count, "\(gradients.count) blocks for \(parts.count) inverses")
        return try zip(parts, gradients).map { try $0.apply([$1])[0] }
    }

    func selfScores(_ gradients: [Tensor<Float>]) throws -> Tensor<Float> {
        var total = try parts[0].selfScores([gradients[0]])
        for i in parts.indices.dropFirst() { total += try parts[i].selfScores([gradients[i]]) }
        return total
    }
}
