import Distributed
import Foundation
import Influence
import ModelIO
import TensorCore

/// What `influence fit` does: a strategy's fit over a model's training rows, saved to a directory.
public struct FitRequest {
    /// The model directory and its training rows (``TaskInputs/queries`` is not used).
    public var inputs: TaskInputs
    /// A strategy whose fit is saved (``CurvatureStrategy/savesFit``).
    public var strategy: any CurvatureStrategy
    /// A comma-separated selection of the model's module groups (`mlp`, `attention`, `all`) and
    /// name patterns; nil tracks every Linear layer.
    public var modules: String?
    /// The labels of the Fisher: sampled from the model (true Fisher, the default) or the data's own (empirical).
    public var labels: LabelSource
    /// Training rows per forward and backward pass.
    public var batchSize: Int
    /// Seeds the fit's random draws (the sampled labels of the true Fisher).
    public var seed: UInt64
    /// Whether covariances accumulate in Float64 rather than Float32.
    public var accumulatesInDouble: Bool
    /// The directory the fit is saved to; it also keeps the partial sums an interrupted fit resumes from.
    public var output: URL
    /// The ranks that share the training rows; rank 0 writes the factors.
    public var communicator: any Communicator = SingleProcess()
    /// Blocks the batches are cut into (see ``FitConfiguration/reductionBlocks``).
    public var reductionBlocks = FitConfiguration.defaultReductionBlocks
    /// The whole fit, one part of a job array, or the merge of its parts (factor strategies).
    public var mode: FitMode = .whole
    /// Bytes the run may use in all (its ``MemoryPlan``'s peak); nil for the memory available.
    public var memoryLimit: Int? = nil
    /// Receives the memory plan before the passes start.
    public var showPlan: ((MemoryPlan) -> Void)? = nil

    /// Creates a request for a whole fit by one process.
    ///
    /// - Parameters:
    ///   - inputs: the model directory and training rows.
    ///   - strategy: a strategy whose fit is saved.
    ///   - modules: module groups and name patterns; nil for every Linear layer.
    ///   - labels: the Fisher's labels.
    ///   - batchSize: rows per pass.
    ///   - seed: seeds the fit's random draws.
    ///   - accumulatesInDouble: whether to accumulate covariances in Float64.
    ///   - output: the directory to save the fit to.
    public init(
        inputs: TaskInputs, strategy: any CurvatureStrategy, modules: String? = nil, labels: LabelSource = .sampled, batchSize: Int = 8,
        seed: UInt64 = 0, accumulatesInDouble: Bool = false, output: URL
    ) {
        self.inputs = inputs
        self.strategy = strategy
        self.modules = modules
        self.labels = labels
        self.batchSize = batchSize
        self.seed = seed
        self.accumulatesInDouble = accumulatesInDouble
        self.output = output
    }
}

/// What a fit wrote.
public struct FitReport: Sendable {
    /// The strategy with its options, as the fit describes itself (the strategy's name for a part or a merge).
    public var strategy: String
    /// The tracked blocks, in the network's order; empty for a part or a merge that wrote no factors.
    public var moduleNames: [String]
    /// The training rows the fit covered.
    public var exampleCount: Int
    /// The tokens the factors summed over (as the factors count them); 0 for a fit without factors.
    public var tokenCount: Int
    /// Wall-clock seconds of the fit, loading excluded.
    public var seconds: Double
    /// The factors file in the output directory.
    public var file: URL
    /// When a part of a job array or a merge wrote no factors yet: what it did and what comes next.
    public var stage: String? = nil
    /// The plan made before the passes (factor strategies), and the peak resident memory measured after.
    public var plan: MemoryPlan? = nil
    /// The process's peak resident memory in bytes, read when the report is made.
    public var peakResident = TensorMemory.peakResidentBytes
    /// Across ranks: per pass, the bytes rank 0 received and the seconds the reduction took.
    public var reductions: [(pass: String, bytes: Int, seconds: Double)] = []
}

extension Workflows {
    /// Fits and saves; an interrupted fit resumes from the partial sums kept in the output directory.
    ///
    /// - Throws: ``WorkflowError`` for a strategy whose fit is not saved, or the errors of loading
    ///   the model and data and of fitting (``InfluenceError``), naming what is wrong.
    public static func fit(_ request: FitRequest, progress: ((String, Int, Int) -> Void)? = nil) throws -> FitReport {
        guard type(of: request.strategy).savesFit else {
            throw WorkflowError(
                "the \(type(of: request.strategy).name) strategy saves no fit; run `influence scores --strategy \(type(of: request.strategy).name)`")
        }
        let loaded = try TaskLoader.load(request.inputs)
        switch loaded.task {
        case let task as LoadedTask.LanguageTask: return try fit(task, request, progress: progress)
        case let task as ClassificationTask<Float>: return try fit(task, request, progress: progress)
        default: return try fit(loaded.task, request, progress: progress)
        }
    }

    static func fit<Task: InfluenceTask>(_ task: Task, _ request: FitRequest, progress: ((String, Int, Int) -> Void)?) throws -> FitReport
    where Task.Scalar == Float {
        let rows = min(task.trainingExampleCount, request.inputs.maximumExamples ?? Int.max)
        guard rows > 0 else { throw WorkflowError("\(request.inputs.train) gives no training rows to fit on") }
        if task.trainingTokens(0) != nil, !(0..<rows).contains(where: { (task.trainingTokens($0)?.count ?? 0) >= 2 }) {
            // Each row predicts every token after its first: with none, every sum is zero and the factors are empty.
            throw WorkflowError(
                "none of the \(rows) training rows of \(request.inputs.train) has a token to predict (a row needs at least 2 tokens); the fit would be empty")
        }
        var context = CurvatureContext(
            task: task, modules: task.model.linearLayerPatterns(for: request.modules), labels: request.labels,
            batchSize: request.batchSize, maximumExamples: request.inputs.maximumExamples, seed: request.seed,
            accumulatesInDouble: request.accumulatesInDouble, partialDirectory: request.output, progress: progress)
        context.communicator = request.communicator
        context.reductionBlocks = request.reductionBlocks
        nonisolated(unsafe) var reductions: [(pass: String, bytes: Int, seconds: Double)] = []
        context.reductions = { reductions = $0 }
        let started = Date()
        var plan: MemoryPlan? = nil
        if let factorStrategy = request.strategy as? any FactorCurvatureStrategy, !(request.mode.isMerge) {
            plan = try factorStrategy.memoryPlan(context.erased(), mode: request.mode)
            request.showPlan?(plan!)
            try plan!.check(limit: request.memoryLimit ?? Int(ModelFootprint.availableBytes))
        }
        let fitted: any FittedCurvature
        if request.mode != .whole {
            guard let factorStrategy = request.strategy as? any FactorCurvatureStrategy else {
                throw WorkflowError(
                    "--partition is offered for the factor strategies (\(CurvatureStrategies.all.filter { $0.savesFit }.map { $0.name }.joined(separator: ", ")))"
                )
            }
            let file = request.output.appendingPathComponent(InfluenceFactors.fileName)
            func stage(_ text: String) -> FitReport {
                FitReport(
                    strategy: type(of: factorStrategy).name, moduleNames: [], exampleCount: rows, tokenCount: 0,
                    seconds: Date().timeIntervalSince(started), file: file, stage: text, plan: plan)
            }
            switch try factorStrategy.fit(context.erased(), mode: request.mode) {
            case let .factors(factors): fitted = factors
            case let .partWritten(pass):
                guard case let .partition(p) = request.mode else { preconditionFailure("only a part writes a part") }
                return stage(
                    "part \(p) wrote its \(pass) sums in \(request.output.path); when all \(p.count) parts have, run `influence merge --out \(request.output.path)`"
                )
            case .eigenbasesMerged:
                return stage(
                    "merged the parts' covariances and wrote the eigenbases in \(request.output.path); run every part again for Λ, then `influence merge --out \(request.output.path)`"
                )
            }
        } else {
            fitted = try request.strategy.fit(context.erased())
        }
        if request.communicator.isRoot { try fitted.save(to: request.output) }
        let factors = fitted as? InfluenceFactors
        return FitReport(
            strategy: fitted.strategyDescription, moduleNames: fitted.blockNames, exampleCount: factors?.exampleCount ?? task.trainingExampleCount,
            tokenCount: factors?.tokenCount ?? 0, seconds: Date().timeIntervalSince(started),
            file: request.output.appendingPathComponent(InfluenceFactors.fileName), plan: plan, reductions: reductions)
    }
}

/// The library's workflows: what each `influence` subcommand does, callable in-process.
public enum Workflows {}
