import Distributed
import Foundation
import TensorCore

/// One way of treating the curvature H in
///
/// ```
/// score(q, m) = ∇f(z_q)ᵀ (H + λI)⁻¹ ∇L(z_m)
/// ```
/// — the extension point for curvature strategies. A strategy says what it must fit before scoring
/// (``fit(_:)``: factors, a dense matrix, eigenpairs, or nothing but a curvature operator), how the
/// fit is saved and loaded (``FittedCurvature/save(to:)``, ``loadFit(from:)``), and, through the
/// ``InverseCurvature`` its fit gives for a damping, how it preconditions gradients and whether it
/// offers self-influence.
///
/// | strategy | fits | applies (H + λI)⁻¹ as |
/// |---|---|---|
/// | identity | nothing | G (a gradient dot product) |
/// | diagonal | D = E_examples[G ⊙ G] | G / (D + λ) |
/// | kfac | A = E_tokens[ā āᵀ], S = E_tokens[g gᵀ], eigendecomposed | Q_S[(Q_Sᵀ G Q_A) / (λ_S λ_Aᵀ + λ)]Q_Aᵀ |
/// | ekfac | K-FAC's eigenbases and Λ = E_examples[(Q_Sᵀ G Q_A)²] | Q_S[(Q_Sᵀ G Q_A) / (Λ + λ)]Q_Aᵀ |
/// | exact | the dense H (Hessian, Gauss–Newton or empirical Fisher) | a Cholesky solve |
/// | cg | a curvature operator | conjugate gradient on H + λI |
/// | lissa | a curvature operator | LiSSA's stochastic Neumann recursion |
/// | arnoldi | the top eigenpairs of H (Lanczos) | V diag(1/(μ + λ)) Vᵀ |
/// | tracin | nothing | Σ_k η_k ∇L_k(z_q) · ∇L_k(z_m) over checkpoints |
///
/// ``LayerwiseStrategy`` turns any of them into its block-diagonal variant. ``CurvatureStrategies``
/// is the registry that maps command-line names to strategies: adding one is a conformer in a file
/// of its own plus one line there.
public protocol CurvatureStrategy: Sendable, CustomStringConvertible {
    /// The name on the command line and in files: `ekfac`, `cg`.
    static var name: String { get }
    /// One line for the command line's help.
    static var abstract: String { get }
    /// The strategy's own options, spelled as on the command line (`cg-tolerance`).
    static var options: [StrategyOption] { get }
    /// Whether its inverse offers self-influence (it keeps the inverse: factors, a Cholesky
    /// factor, eigenpairs), so that a caller can refuse `--self` before any work.
    static var offersSelfInfluence: Bool { get }
    /// Whether its fit defines the `auto` damping (0.1 × mean Λ per layer).
    static var definesAutomaticDamping: Bool { get }
    /// Whether it can cover every trainable parameter rather than Linear layers only.
    static var coversEveryParameter: Bool { get }
    /// Whether its fit is saved by `influence fit` (else it is computed when scoring).
    static var savesFit: Bool { get }
    /// Reads the options of ``options`` (every value present: a default fills any the user left out).
    ///
    /// - Throws: ``StrategyOptionError`` naming an option whose value is not usable.
    init(options: StrategyOptions) throws
    /// Fits what the strategy needs over the context's training data.
    func fit(_ context: StrategyContext) throws -> any FittedCurvature
    /// Reads a fit written by ``FittedCurvature/save(to:)``.
    ///
    /// - Throws: ``InfluenceError/malformedFactors(path:reason:)`` when the file is not usable,
    ///   or when the strategy's fit is not saved (it is computed when scoring).
    static func loadFit(from directory: URL) throws -> any FittedCurvature
    /// Scores the context's queries against its training examples. The default fits, inverts with
    /// the configuration's damping and runs a ``ScoreComputer``; TracIn, which needs no inverse,
    /// overrides it.
    func scores(_ context: StrategyContext, configuration: ScoreConfiguration, partialDirectory: URL?) throws -> ScoringRun
}

extension CurvatureStrategy {
    /// The strategy's ``CurvatureStrategy/name``.
    public var description: String { Self.name }
    /// No options by default.
    public static var options: [StrategyOption] { [] }
    /// No self-influence by default.
    public static var offersSelfInfluence: Bool { false }
    /// No `auto` damping by default.
    public static var definesAutomaticDamping: Bool { false }
    /// Linear layers only by default.
    public static var coversEveryParameter: Bool { false }
    /// No saved fit by default: it is computed when scoring.
    public static var savesFit: Bool { false }

    /// Refuses: a strategy that saves no fit has nothing to load.
    ///
    /// - Throws: ``InfluenceError/malformedFactors(path:reason:)`` always.
    public static func loadFit(from directory: URL) throws -> any FittedCurvature {
        throw InfluenceError.malformedFactors(path: directory.path, reason: "the \(name) strategy saves no fit: it is computed when scoring")
    }

    /// Fits, inverts with the configuration's damping and scores with a ``ScoreComputer``.
    ///
    /// - Parameters:
    ///   - context: the task, tracked layers and fit settings.
    ///   - configuration: the damping, queries and output form of the scores.
    ///   - partialDirectory: where the computer keeps partial score sums so that an interrupted run resumes; nil keeps none.
    /// - Returns: the scores with the strategy's name, the block names, the per-block dampings and any warnings.
    /// - Throws: ``InfluenceError`` from the fit, the inverse or the configuration's checks; file errors and
    ///   ``CommunicatorError`` while keeping partial results or joining the ranks' scores.
    public func scores(_ context: StrategyContext, configuration: ScoreConfiguration, partialDirectory: URL?) throws -> ScoringRun {
        let fitted = try fit(context)
        let computer = try ScoreComputer(task: context.task, fitted: fitted, configuration: configuration)
        computer.progress = context.progress
        let output = try computer.computeResult(partialDirectory: partialDirectory)
        return ScoringRun(
            output: output, strategy: computer.strategyName, moduleNames: computer.moduleNames, dampings: computer.dampings,
            warnings: computer.warnings)
    }
}

/// What a scoring run produced, with what describes it in files and messages.
public struct ScoringRun: Sendable {
    /// The scores in the form the configuration asked for: dense, the top per query, or the selected candidates.
    public var output: ScoringResult
    /// The dense scores, when every pair was kept.
    public var scores: InfluenceScores? {
        if case let .dense(s) = output { return s }
        return nil
    }
    /// The strategy with its options (`ekfac`, `cg/1e-06`, `layerwise-exact`).
    public var strategy: String
    /// The blocks the scores are split into (tracked Linear layers, then other parameters).
    public var moduleNames: [String]
    /// The damping λ applied to each block of ``moduleNames``, in the same order (0 for a block left undamped).
    public var dampings: [Double]
    /// Messages about solves that did not converge.
    public var warnings: [String]

    /// Collects a run's scores and what describes them.
    public init(output: ScoringResult, strategy: String, moduleNames: [String], dampings: [Double], warnings: [String]) {
        self.output = output
        self.strategy = strategy
        self.moduleNames = moduleNames
        self.dampings = dampings
        self.warnings = warnings
    }
}

/// The context strategies receive: the task behind ``AnyInfluenceTask``, so that what a strategy
/// runs is compiled for one type (see there).
public typealias StrategyContext = CurvatureContext<AnyInfluenceTask>

/// Everything a strategy may need to fit: the task, the tracked layers, how factors are fitted,
/// which curvature operator the solvers use, and checkpoints for TracIn. Each strategy reads what
/// it uses and ignores the rest.
public struct CurvatureContext<Task: InfluenceTask> {
    /// The task whose training data is fitted and whose queries are scored.
    public var task: Task
    /// Name patterns of the tracked Linear layers (see ``Module/linearLayers(matching:)``); every
    /// Linear layer when empty.
    public var modules: [String]
    /// Cover every trainable parameter rather than the Linear layers only (solver strategies).
    public var allParameters: Bool

    // Fitting factors (identity, diagonal, K-FAC, EK-FAC).
    /// Sampled labels (true Fisher) or the data's own (empirical Fisher).
    public var labels: LabelSource
    /// Training examples per batch of a factor fit.
    public var batchSize: Int
    /// Fit on the first this many training examples only.
    public var maximumExamples: Int?
    /// Seeds the label draws of a factor fit (batch k of a pass draws from a generator derived from the seed, the pass and k).
    public var seed: UInt64
    /// Accumulate covariances and Λ in Float64 rather than in the model's precision.
    public var accumulatesInDouble: Bool
    /// Save partial sums every this many batches, in ``partialDirectory``.
    public var checkpointInterval: Int
    /// Where a fit keeps its partial sums, so that an interrupted fit resumes.
    public var partialDirectory: URL?
    /// The ranks that share the work (one process by default).
    public var communicator: any Communicator = SingleProcess()
    /// Blocks of batches whose sums are combined pairwise (see ``FitConfiguration/reductionBlocks``).
    public var reductionBlocks: Int = FitConfiguration.defaultReductionBlocks
    /// Receives a factor fit's reductions across ranks (``FactorFitter/reductions``).
    public var reductions: (([(pass: String, bytes: Int, seconds: Double)]) -> Void)? = nil

    // Curvature operators (exact, CG, LiSSA, Arnoldi).
    /// Which curvature the solver strategies' operator applies: Hessian, Gauss–Newton or empirical Fisher.
    public var curvature: CurvatureKind
    /// Training examples per batch of a curvature-vector product.
    public var curvatureBatchSize: Int

    /// TracIn: one task per checkpoint (the same data, each with its checkpoint's model) with the
    /// learning rate of its step.
    public var checkpoints: [(task: Task, learningRate: Double)]
    /// Receives (stage, done, total) during long work.
    public var progress: ((String, Int, Int) -> Void)?

    /// Gathers what strategies may read; the communicator, reduction blocks and reduction callback keep their defaults and are
    /// set afterwards when needed.
    public init(
        task: Task, modules: [String] = [], allParameters: Bool = false, labels: LabelSource = .sampled, batchSize: Int = 8,
        maximumExamples: Int? = nil, seed: UInt64 = 0, accumulatesInDouble: Bool = false, checkpointInterval: Int = 50,
        partialDirectory: URL? = nil, curvature: CurvatureKind = .ggn, curvatureBatchSize: Int = 16,
        checkpoints: [(task: Task, learningRate: Double)] = [], progress: ((String, Int, Int) -> Void)? = nil
    ) {
        self.task = task
        self.modules = modules
        self.allParameters = allParameters
        self.labels = labels
        self.batchSize = batchSize
        self.maximumExamples = maximumExamples
        self.seed = seed
        self.accumulatesInDouble = accumulatesInDouble
        self.checkpointInterval = checkpointInterval
        self.partialDirectory = partialDirectory
        self.curvature = curvature
        self.curvatureBatchSize = curvatureBatchSize
        self.checkpoints = checkpoints
        self.progress = progress
    }

    /// The same context over the task behind ``AnyInfluenceTask``, as strategies take it.
    public func erased() -> StrategyContext where Task.Scalar == Float {
        var context = CurvatureContext<AnyInfluenceTask>(
            task: AnyInfluenceTask(task), modules: modules, allParameters: allParameters, labels: labels,
            batchSize: batchSize, maximumExamples: maximumExamples, seed: seed,
            accumulatesInDouble: accumulatesInDouble, checkpointInterval: checkpointInterval,
            partialDirectory: partialDirectory, curvature: curvature, curvatureBatchSize: curvatureBatchSize,
            checkpoints: checkpoints.map { (AnyInfluenceTask($0.task), $0.learningRate) }, progress: progress)
        context.communicator = communicator
        context.reductionBlocks = reductionBlocks
        context.reductions = reductions
        return context
    }

    /// The curvature operator of the solver strategies over the tracked layers (or every parameter).
    public func curvatureOperator() throws -> CurvatureOperator<Task> {
        let op = try CurvatureOperator(
            task: task, modules: allParameters ? [] : modules, kind: curvature, batchSize: curvatureBatchSize,
            allParameters: allParameters)
        op.progress = progress
        op.communicator = communicator
        op.reductionBlocks = reductionBlocks
        return op
    }
}

/// An option of a strategy, as the command line shows it.
public struct StrategyOption: Sendable {
    /// The option's name without the leading dashes (`cg-tolerance`).
    public let name: String
    /// `X`, `N`; nil for a flag.
    public let valueName: String?
    /// The value used when the user gives none, as text; nil for a flag or an option without a default.
    public let defaultValue: String?
    /// One line for the command line's help.
    public let help: String

    /// An option that takes a value.
    ///
    /// - Parameters:
    ///   - name: the name without the leading dashes.
    ///   - valueName: the placeholder shown in help (`X`, `N`).
    ///   - defaultValue: the value, as text, used when the user gives none.
    ///   - help: one line for the command line's help.
    public static func value(_ name: String, _ valueName: String, default defaultValue: String? = nil, _ help: String) -> StrategyOption {
        StrategyOption(name: name, valueName: valueName, defaultValue: defaultValue, help: help)
    }

    /// An option without a value, present or absent.
    public static func flag(_ name: String, _ help: String) -> StrategyOption {
        StrategyOption(name: name, valueName: nil, defaultValue: nil, help: help)
    }
}

/// A strategy option the user got wrong.
public struct StrategyOptionError: Error, CustomStringConvertible, Equatable {
    /// The message shown to the user, naming the option.
    public let description: String
    /// An error with the given message.
    public init(_ message: String) { description = message }
}

/// The values given for strategy options (text as typed, defaults filled in), with typed readers
/// whose errors name the option.
public struct StrategyOptions: Sendable {
    var values: [String: String]
    var flags: Set<String>

    /// Options from values as typed (keyed by option name without dashes) and the names of the flags given.
    public init(values: [String: String] = [:], flags: Set<String> = []) {
        self.values = values
        self.flags = flags
    }

    /// The options of `strategy` at their defaults, with `values` and `flags` given on top.
    public init<S: CurvatureStrategy>(defaultsOf _: S.Type, values: [String: String] = [:], flags: Set<String> = []) {
        var all = values
        for o in S.options { if let d = o.defaultValue, all[o.name] == nil { all[o.name] = d } }
        self.init(values: all, flags: flags)
    }

    /// Whether the flag `name` was given.
    public func flag(_ name: String) -> Bool { flags.contains(name) }
    /// The text given for `name` (or its default), or nil when neither exists.
    public func string(_ name: String) -> String? { values[name] }

    /// The value of `name` as an integer, or nil when it has no value.
    ///
    /// - Throws: ``StrategyOptionError`` when the text is not an integer or is below `minimum`.
    public func integer(_ name: String, minimum: Int = 1) throws -> Int? {
        guard let text = values[name] else { return nil }
        guard let value = Int(text) else { throw StrategyOptionError("option '--\(name)' needs an integer, got '\(text)'") }
        guard value >= minimum else { throw StrategyOptionError("option '--\(name)' must be at least \(minimum), got \(value)") }
        return value
    }

    /// The value of `name` as a finite positive number, or nil when it has no value.
    ///
    /// - Throws: ``StrategyOptionError`` when the text is not a finite number or is not positive.
    public func positiveNumber(_ name: String) throws -> Double? {
        guard let text = values[name] else { return nil }
        guard let value = Double(text), value.isFinite else { throw StrategyOptionError("option '--\(name)' needs a number, got '\(text)'") }
        guard value > 0 else { throw StrategyOptionError("option '--\(name)' must be positive, got \(value)") }
        return value
    }

    /// The value of `name` when it is one of `allowed`, or nil when it has no value.
    ///
    /// - Throws: ``StrategyOptionError`` when the text is not among `allowed`.
    public func choice(_ name: String, from allowed: [String]) throws -> String? {
        guard let text = values[name] else { return nil }
        guard allowed.contains(text) else {
            throw StrategyOptionError("option '--\(name)' must be one of \(allowed.joined(separator: ", ")), got '\(text)'")
        }
        return text
    }

    func required<T>(_ value: T?, _ name: String) throws -> T {
        guard let value else { throw StrategyOptionError("option '--\(name)' needs a value") }
        return value
    }
}
