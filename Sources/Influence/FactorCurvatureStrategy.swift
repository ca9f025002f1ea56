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

    /// Needs with the given passes.
    ///
    /// - Parameters:
    ///   - covariances: accumulate and eigendecompose A and S in a first pass.
    ///   - lambda: the basis Λ is accumulated in, or nil for no Λ pass.
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
    /// The strategy; factor strategies take no options.
    init()
    /// Which passes its fit runs: the covariances and their eigendecomposition, Λ, both, or neither.
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
    /// Ignores the options (factor strategies declare none) and creates the strategy.
    public init(options: StrategyOptions) throws { self.init() }
    /// True: fitted factors keep the inverse, so self-influence comes layer by layer.
    public static var offersSelfInfluence: Bool { true }
    /// True: `auto` is 0.1 × the mean of each layer's eigenvalue-like tensor E.
    public static var definesAutomaticDamping: Bool { true }
    /// True: the factors are saved by `influence fit` and loaded when scoring.
    public static var savesFit: Bool { true }
    /// By default, whether the fit has eigenbases to rotate into: whenever it fits the covariances.
    public static var rotates: Bool { needs.covariances }

    /// The eigenvectors Q_A `[inputs, inputs]` and Q_S `[out, out]` when the strategy rotates, and Λ `[out, inputs]` when it fits Λ.
    public static func requiredFactors(out: Int, inputs: Int) -> [(key: String, shape: [Int])] {
        var needed: [(key: String, shape: [Int])] = []
        if rotates { needed += [("activation_eigenvectors", [inputs, inputs]), ("gradient_eigenvectors", [out, out])] }
        if needs.lambda != nil { needed.append(("lambda", [out, inputs])) }
        return needed
    }

    /// Runs the whole factor fit over the context's training data (shared across its communicator's ranks).
    ///
    /// - Returns: the fitted ``InfluenceFactors``.
    /// - Throws: ``InfluenceError`` when no layer matches the context's patterns, a partial sum does not belong to this fit,
    ///   or a gradient is not finite; file errors while saving partial sums.
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

    /// Reads ``InfluenceFactors`` saved in `directory`.
    ///
    /// - Throws: ``InfluenceError/malformedFactors(path:reason:)`` when the file is missing, its metadata is unusable, or a tensor
    ///   its strategy reads is absent or misshapen.
    public static func loadFit(from directory: URL) throws -> any FittedCurvature { try InfluenceFactors.load(from: directory) }
}

extension InfluenceFactors: FittedCurvature {
    /// The name of the strategy the factors were fitted for (`kfac`, `ekfac`).
    public var strategyDescription: String { type(of: strategy).name }
    /// The tracked Linear layers the factors cover, in order.
    public var linearLayerNames: [String] { moduleNames }
    /// A layer-by-layer inverse of these factors, (H + λI)⁻¹ per layer with the given damping.
    ///
    /// - Throws: ``InfluenceError/nonFinite(what:)`` when E + λ has a non-positive entry in some layer (raise the damping).
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
