import Foundation
import TensorCore

/// TracIn (Pruthi et al. 2020): influence as a sum over checkpoints saved during training of
/// learning-rate-weighted gradient dot products,
///
/// ```
/// score(q, m) = Σ_k η_k ∇L_k(z_q) · ∇L_k(z_m)
/// ```
/// where L_k is the loss at checkpoint k and η_k the learning rate of its step. It needs no
/// inverse: it scores the context's ``CurvatureContext/checkpoints`` with the identity strategy.
/// Positive means z_m supports the query, as for the other strategies.
public struct TracInStrategy: CurvatureStrategy {
    /// `tracin`.
    public static let name = "tracin"
    /// One line for the command line's help.
    public static let abstract = "learning-rate-weighted gradient dot products over training checkpoints (Pruthi et al. 2020)"

    /// TracIn has no options.
    public init() {}
    /// Ignores the options: TracIn declares none.
    public init(options: StrategyOptions) throws {}

    /// Refuses: TracIn fits nothing; call ``scores(_:configuration:partialDirectory:)``.
    ///
    /// - Throws: ``InfluenceError/notOffered(_:)`` always.
    public func fit(_ context: StrategyContext) throws -> any FittedCurvature {
        throw InfluenceError.notOffered("TracIn fits nothing: it scores gradient dot products at each checkpoint")
    }

    /// Sums the learning-rate-weighted identity scores of every checkpoint of the context (see ``TracIn/scores(checkpoints:modules:configuration:)``).
    ///
    /// Keeps no partial results: `partialDirectory` is not used.
    ///
    /// - Returns: dense scores named `tracin/<checkpoints>`, with damping 0 for every tracked layer.
    /// - Throws: ``InfluenceError/notOffered(_:)`` without checkpoints, with `--modules all`, or with a selection other than
    ///   every pair or low-rank queries; what fitting and scoring each checkpoint throws.
    public func scores(_ context: StrategyContext, configuration: ScoreConfiguration, partialDirectory: URL?) throws -> ScoringRun {
        guard !context.checkpoints.isEmpty else { throw InfluenceError.notOffered("TracIn needs checkpoints saved during training") }
        guard !context.allParameters else {
            throw InfluenceError.notOffered("TracIn tracks Linear layers; --modules all is offered with exact, cg, lissa and arnoldi")
        }
        guard configuration.selection == .all, configuration.queryRank == .full else {
            throw InfluenceError.notOffered(
                "TracIn keeps every pair at full rank; --top-k, --candidates and --query-rank are offered with the other strategies")
        }
        let scores = try TracIn.scores(checkpoints: context.checkpoints, modules: context.modules, configuration: configuration)
        let names = context.task.model.trackableLayers(matching: context.modules).map(\.name)
        return ScoringRun(
            output: .dense(scores), strategy: "tracin/\(context.checkpoints.count)", moduleNames: names,
            dampings: Array(repeating: 0, count: names.count), warnings: [])
    }
}

/// TracIn's sum, for tasks built by the caller.
public enum TracIn {
    /// Sums the identity-strategy scores of each checkpoint's task, weighted by its learning rate.
    ///
    /// - Parameters:
    ///   - checkpoints: one task per checkpoint (the same data, each with its checkpoint's model),
    ///     with the learning rate of its step.
    ///   - modules: the tracked Linear layers (name patterns; every Linear when empty).
    public static func scores<Task: InfluenceTask>(
        checkpoints: [(task: Task, learningRate: Double)], modules: [String],
        configuration: ScoreConfiguration
    ) throws -> InfluenceScores where Task.Scalar == Float {
        precondition(!checkpoints.isEmpty, "TracIn needs at least one checkpoint")
        var total: InfluenceScores? = nil
        for (task, rate) in checkpoints {
            let factors = try FactorFitter(task: task, modules: modules, configuration: FitConfiguration(strategy: .identity)).fit()
            var identity = configuration
            identity.damping = .value(0)
            let s = try ScoreComputer(task: task, factors: factors, factorsPath: "checkpoint", configuration: identity).compute()
            let eta = Float(rate)
            let weighted = InfluenceScores(
                pairwise: s.pairwise * eta, perModule: s.perModule.map { ($0.name, $0.scores * eta) },
                perToken: s.perToken.map { $0 * eta }, selfScores: s.selfScores.map { $0 * eta })
            total =
                total.map { t in
                    InfluenceScores(
                        pairwise: t.pairwise + weighted.pairwise,
                        perModule: zip(t.perModule, weighted.perModule).map { ($0.name, $0.scores + $1.scores) },
                        perToken: t.perToken.map { $0 + weighted.perToken! }, selfScores: t.selfScores.map { $0 + weighted.selfScores! })
                } ?? weighted
        }
        return total!
    }
}
