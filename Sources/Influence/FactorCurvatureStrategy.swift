import Foundation
import TensorCore

/// The passes of a factor fit over the tracked layers' captured activations ā and output
/// gradients g.
public struct FactorNeeds: Sendable, Equatable {
    /// The basis in which Λ, the mean of the squared per-example gradients, is taken.
    public enum LambdaBasis: Sendable, Equatable {
        /// The parameters' own basis: Λ = E_examples[G ⊙ G] (the diagonal strategy).
        case parameters
        /// K-FAC's eigenbasis: Λ = E_examples[(Q_Sᵀ G Q_A)²] (EK-FAC). Needs the covariances.
        case kroneckerEigenbasis
    }

    /// Whether the first pass accumulates A = E_tokens[ā āᵀ] and S = E_tokens[g gᵀ] and
    /// eigendecomposes them.
    public var covariances: Bool
    /// Whether (and in which basis) a pass accumulates Λ.
    public var lambda: LambdaBasis?

    public init(covariances: Bool, lambda: LambdaBasis?) {
        self.covariances = covariances
        self.lambda = lambda
    }
}

/// A strategy fitted as per-layer factors by ``FactorFitter`` and applied layer by layer by
/// ``Preconditioner``: identity, diagonal, K-FAC, EK-FAC. A conformer states which passes it needs,
/// which fitted tensors its preconditioner reads, and how those give the layer's inverse:
///
/// ```
/// (H + λI)⁻¹ G = Q_S [(Q_Sᵀ G Q_A) / (E + λ)] Q_Aᵀ     (no rotation: G / (E + λ); no E: G)
/// ```
/// with E the strategy's eigenvalue-like tensor `[out, in (+1)]`.
public protocol FactorCurvatureStrategy: CurvatureStrategy {
    init()
    static var needs: FactorNeeds { get }
    /// Whether the preconditioner works in the Kronecker eigenbasis (Q_S, Q_A).
    static var rotates: Bool { get }
    /// The tensors of ``LayerFactors`` the preconditioner reads, by their file keys, with the
    /// shapes they must have for a layer whose gradient is `[out, inputs]`.
    static func requiredFactors(out: Int, inputs: Int) -> [(key: String, shape: [Int])]
    /// E of the layer, or nil when the strategy applies no curvature (identity).
    static func eigenvalues(of factors: LayerFactors) -> Tensor<Double>?
}

extension FactorCurvatureStrategy {
    public init(options: StrategyOptions) throws { self.init() }
    public static var offersSelfInfluence: Bool { true }
    public static var definesAutomaticDamping: Bool { true }
    public static var savesFit: Bool { true }
    public static var rotates: Bool { needs.covariances }

    public static func requiredFactors(out: Int, inputs: Int) -> [(key: String, shape: [Int])] {
        var needed: [(key: String, shape: [Int])] = []
        if rotates { needed += [("activation_eigenvectors", [inputs, inputs]), ("gradient_eigenvectors", [out, out])] }
        if needs.lambda != nil { needed.append(("lambda", [out, inputs])) }
        return needed
    }

    public func fit(_ context: StrategyContext) throws -> any FittedCurvature {
        guard case let .factors(factors) = try fit(context, mode: .whole) else { preconditionFailure("unreachable") }
        return factors
    }

    /// Fits, or does the part of a job array's fit that `mode` names (see ``FactorFitter/fit(partialDirectory:mode:)``).
    public func fit(_ context: StrategyContext, mode: FitMode) throws -> FitOutcome {
        let fitter = try fitter(context)
        defer { context.reductions?(fitter.reductions) }
        return try fitter.fit(partialDirectory: context.partialDirectory, mode: mode)
    }

    /// The memory plan of ``fit(_:mode:)`` (see ``FactorFitter/memoryPlan(mode:)``).
    public func memoryPlan(_ context: StrategyContext, mode: FitMode) throws -> MemoryPlan {
        try fitter(context).memoryPlan(mode: mode)
    }

    func fitter(_ context: StrategyContext) throws -> FactorFitter<AnyInfluenceTask> {
        let configuration = FitConfiguration(
            strategy: self, labels: context.labels, batchSize: context.batchSize,
            maximumExamples: context.maximumExamples, seed: context.seed,
            accumulatesInDouble: context.accumulatesInDouble, checkpointInterval: context.checkpointInterval,
            reductionBlocks: context.reductionBlocks, communicator: context.communicator)
        let fitter = try FactorFitter(task: context.task, modules: context.modules, configuration: configuration)
        fitter.progress = context.progress
        return fitter
    }

    public static func loadFit(from directory: URL) throws -> any FittedCurvature { try InfluenceFactors.load(from: directory) }
}

extension InfluenceFactors: FittedCurvature {
    public var strategyDescription: String { type(of: strategy).name }
    public var linearLayerNames: [String] { moduleNames }
    public func inverse(damping: Damping) throws -> any InverseCurvature {
        FactorInverse(try Preconditioner<Float>(factors: self, damping: damping))
    }
}

/// The layer-by-layer inverse of fitted factors.
final class FactorInverse: InverseCurvature {
    let preconditioner: Preconditioner<Float>
    init(_ preconditioner: Preconditioner<Float>) { self.preconditioner = preconditioner }

    var description: String { type(of: preconditioner.strategy).name }
    var dampings: [Double] { preconditioner.dampings }
    var offersSelfInfluence: Bool { true }

    func apply(_ gradients: [Tensor<Float>]) throws -> [Tensor<Float>] {
        gradients.enumerated().map { preconditioner.apply($1, layer: $0) }
    }

    func selfScores(_ gradients: [Tensor<Float>]) throws -> Tensor<Float> {
        var total = preconditioner.selfScores(gradients[0], layer: 0)
        for (i, g) in gradients.enumerated().dropFirst() { total += preconditioner.selfScores(g, layer: i) }
        return total
    }
}
