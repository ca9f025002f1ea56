import Autograd
import Datasets
import Distributed
import Foundation
import Formats
import Influence
import ModelIO
import NeuralNetworks
import Reports
import TensorCore
import Training
import Validation

/// What `influence validate` does: the influence strategies measured against a ground truth on the
/// user's own model and data.
public struct ValidationRequest {
    /// The ground truth measured against.
    public enum Kind: String, CaseIterable, Sendable {
        /// The proximal Bregman response function of training points (any model we load).
        case pbrf
        /// The linear datamodeling score over retrained subsets (MLPs and language models `influence train` made).
        case lds
        /// Flipped labels found by self-influence (MLP classifiers `influence train` made).
        case mislabels
    }

    /// The ground truth measured against.
    public var kind: Kind
    /// The model directory, its training rows and the queries.
    public var inputs: TaskInputs
    /// Module groups and patterns, as `fit` takes them.
    public var modules: String?
    /// Strategies as `name` or `name:option=value[:option=value]` (`lissa:depth=100`).
    public var strategies: [String]
    /// λ of every strategy and of the PBRF's proximity term.
    public var damping: Double
    /// PBRF: training points (spread evenly over the rows); LDS: ignored.
    public var points: Int
    /// PBRF solver settings; its damping is replaced by ``damping``.
    public var pbrf: ProximalBregmanConfiguration
    /// LDS: subsets, their fraction of the rows, and retraining seeds per subset.
    public var subsets: Int
    /// LDS: the fraction of the training rows in each subset.
    public var subsetFraction: Double
    /// LDS: retraining seeds per subset, whose measurements are averaged.
    public var seeds: Int
    /// Mislabels: the fraction of labels flipped.
    public var flipFraction: Double
    /// Seeds the LDS subsets and the flipped labels.
    public var seed: UInt64
    /// The directory for `<kind>.json` and the partial results an interrupted run resumes from.
    public var output: URL
    /// The ranks that share the ground truth (PBRF points, LDS retrainings), each taking its turn
    /// of the units not yet done; rank 0 keeps the journal, scores the strategies and writes the
    /// report. One process by default.
    public var communicator: any Communicator = SingleProcess()

    /// Creates a request.
    ///
    /// - Parameters:
    ///   - kind: the ground truth.
    ///   - inputs: the model directory, its training rows and the queries.
    ///   - modules: module groups and name patterns; nil for every Linear layer.
    ///   - strategies: the strategies compared, with their options.
    ///   - damping: λ of every strategy and of the PBRF's proximity term (positive).
    ///   - points: PBRF: training points solved for.
    ///   - pbrf: PBRF solver settings; nil for the defaults.
    ///   - subsets: LDS: retrained subsets.
    ///   - subsetFraction: LDS: each subset's fraction of the rows.
    ///   - seeds: LDS: retraining seeds per subset.
    ///   - flipFraction: mislabels: the fraction of labels flipped (between 0 and 1).
    ///   - seed: seeds subsets and flips.
    ///   - output: the output directory.
    public init(
        kind: Kind, inputs: TaskInputs, modules: String? = nil, strategies: [String] = ["ekfac", "kfac", "identity"], damping: Double = 0.01,
        points: Int = 100, pbrf: ProximalBregmanConfiguration? = nil, subsets: Int = 100, subsetFraction: Double = 0.5, seeds: Int = 1,
        flipFraction: Double = 0.1, seed: UInt64 = 0, output: URL
    ) {
        self.kind = kind
        self.inputs = inputs
        self.modules = modules
        self.strategies = strategies
        self.damping = damping
        self.points = points
        self.pbrf = pbrf ?? ProximalBregmanConfiguration(damping: damping)
        self.subsets = subsets
        self.subsetFraction = subsetFraction
        self.seeds = seeds
        self.flipFraction = flipFraction
        self.seed = seed
        self.output = output
    }
}

/// One strategy's agreement with the ground truth.
public struct ValidationRow: Sendable {
    /// The strategy as given (`name` or `name:option=value`); `loss` and `random` for the mislabels baselines.
    public var strategy: String
    /// The strategy as a person reads it (with its solver and parameter count).
    public var label: String
    /// Fit and scores, in seconds (as first computed, when resumed).
    public var seconds: Double
    /// Named figures: `pearson`, `spearman`, `mean_query_pearson` (PBRF); `lds` (LDS);
    /// `found_5%` … `found_30%`, `auc` (mislabels).
    public var figures: [(name: String, value: Double?)]
    /// Why the strategy gave no figures, when it did not.
    public var skipped: String?
}

/// What a validation computed.
public struct ValidationReport: Sendable {
    /// The ground truth measured against.
    public var kind: ValidationRequest.Kind
    /// One row per strategy, in the order given (mislabels: the training-loss and chance baselines first).
    public var rows: [ValidationRow]
    /// What the ground truth took and how good it is, as lines for a person.
    public var groundTruth: [String]
    /// Wall-clock seconds the ground truth took.
    public var groundTruthSeconds: Double
    /// The table printed on standard output.
    public var table: String
}

extension Workflows {
    /// Runs a validation, writes `OUT/<kind>.json` and returns its table. Interrupted runs resume:
    /// ground-truth solves and retrainings are kept as they finish (`OUT/<kind>-truth.jsonl`), and
    /// each strategy's scores in `OUT/<kind>-scores/<strategy>`.
    public static func validate(
        _ request: ValidationRequest, step: (String) -> Void = { _ in },
        progress: ((String, Int, Int) -> Void)? = nil
    ) throws -> ValidationReport {
        guard request.damping > 0, request.damping.isFinite else {
            throw WorkflowError(
                "--damping must be a positive number for validation (PBRF's proximity term and every strategy share it), got \(request.damping)")
        }
        let specifications = try request.strategies.map(StrategySpecification.init)
        try FileManager.default.createDirectory(at: request.output, withIntermediateDirectories: true)
        let loaded = try TaskLoader.load(request.inputs)
        switch (request.kind, loaded.task) {
        case let (.pbrf, task as LoadedTask.LanguageTask): return try validatePBRF(task, loaded, request, specifications, step, progress)
        case let (.pbrf, task as ClassificationTask<Float>): return try validatePBRF(task, loaded, request, specifications, step, progress)
        case (.pbrf, _): return try validatePBRF(loaded.task, loaded, request, specifications, step, progress)
        case let (_, task as ClassificationTask<Float>):
            let retraining = try MLPRetraining(modelDirectory: request.inputs.model)
            guard request.kind == .lds else { return try validateMislabels(task, retraining, request, specifications, step, progress) }
            return try validateLDS(task, retraining.description, retraining.options.seed, request, specifications, step, progress) { rows, seed in
                let model = try retraining.trainClassifier(features: task.trainingFeatures, labels: task.trainingLabels, rows: rows, seed: seed)
                return ProximalBregmanResponse<ClassificationTask<Float>>.measurements(
                    ClassificationTask(
                        network: model.network, forward: model.forward, trainingFeatures: task.trainingFeatures,
                        trainingLabels: task.trainingLabels, queryFeatures: task.queryFeatures, queryLabels: task.queryLabels))
            }
        case let (.lds, task as RegressionTask<Float>):
            let retraining = try MLPRetraining(modelDirectory: request.inputs.model)
            return try validateLDS(task, retraining.description, retraining.options.seed, request, specifications, step, progress) { rows, seed in
                let model = try retraining.train(features: task.trainingFeatures, targets: task.trainingTargets, rows: rows, seed: seed)
                return ProximalBregmanResponse<RegressionTask<Float>>.measurements(
                    RegressionTask(
                        model: model, trainingFeatures: task.trainingFeatures, trainingTargets: task.trainingTargets,
                        queryFeatures: task.queryFeatures, queryTargets: task.queryTargets))
            }
        case let (.lds, task as LoadedTask.LanguageTask):
            let retraining = try LanguageModelRetraining(modelDirectory: request.inputs.model)
            return try validateLDS(task, retraining.description, retraining.options.seed, request, specifications, step, progress) { rows, seed in
                let model = try retraining.train(sequences: task.training, rows: rows, seed: seed)
                return ProximalBregmanResponse<LoadedTask.LanguageTask>.measurements(
                    LanguageModelingTask(model: model, training: task.training, queries: task.queries, queryPromptLengths: task.queryPromptLengths))
            }
        case (.mislabels, _ as LoadedTask.LanguageTask):
            throw WorkflowError("validate mislabels flips class labels; \(request.inputs.model.path) is a language model (validate pbrf and lds work on it)")
        case (.mislabels, _ as RegressionTask<Float>):
            throw WorkflowError("validate mislabels flips class labels; \(request.inputs.model.path) is a regressor")
        default:
            throw WorkflowError(
                "validate \(request.kind.rawValue) retrains the model, which it does for MLP and CNN classifiers (and, for lds, MLP regressors) made by `influence train`; \(request.inputs.model.path) is a \(loaded.model.modelType) model (validate pbrf works on it)"
            )
        }
    }

    // MARK: PBRF

    static func validatePBRF<Task: InfluenceTask>(
        _ task: Task, _ loaded: LoadedTask, _ request: ValidationRequest, _ specifications: [StrategySpecification],
        _ step: (String) -> Void, _ progress: ((String, Int, Int) -> Void)?
    ) throws -> ValidationReport
    where Task.Scalar == Float {
        guard task.queryCount > 0 else { throw WorkflowError("validate pbrf needs queries (--queries)") }
        let n = task.trainingExampleCount
        let points = evenlySpread(Swift.min(request.points, n), of: n)
        var configuration = request.pbrf
        configuration.damping = request.damping
        // Sequences are long and feature rows short: 16 sequences or 1,024 rows per forward pass, as
        // for curvature products (a batch of hundreds of sequences makes logits of hundreds of MB).
        if task.trainingExampleCount > 0 && task.trainingTokens(0) != nil { configuration.batchSize = Swift.min(configuration.batchSize, 16) }
        let patterns = task.model.linearLayerPatterns(for: request.modules)
        let solver = try ProximalBregmanResponse(task: task, modules: patterns, configuration: configuration)
        let header: [String: JSONValue] = [
            "kind": "pbrf", "data": .string(candidateDataFingerprint(task)), "model": .string(ModelFingerprint.of(task.model)),
            "damping": .number(request.damping), "epsilon": .number(solver.epsilon), "tolerance": .number(configuration.tolerance),
            "steps": .number(Double(configuration.maximumSteps)), "learning_rate": configuration.learningRate.map { .number($0) } ?? .null,
            "betas": [.number(configuration.beta1), .number(configuration.beta2)],
            "modules": .array(solver.moduleNames.map { .string($0) }), "points": .array(points.map { .number(Double($0)) }),
        ]
        let world = request.communicator
        let journal = world.isRoot ? try ValidationJournal(url: request.output.appendingPathComponent("pbrf-truth.jsonl"), header: header) : nil
        step(
            String(
                format: "PBRF of %d training points on %d queries: ε = %.3g, λ = %g, Adam to ‖∇J‖ ≤ %g·‖∇J(θˢ)‖ (≤ %d steps)",
                points.count, task.queryCount, solver.epsilon, request.damping, configuration.tolerance, configuration.maximumSteps)
                + (world.size > 1 ? ", points shared by \(world.size) ranks" : ""))
        var truth: [Int: (scores: [Double], solves: [ProximalBregmanSolve], seconds: Double)] = [:]
        func absorb(_ record: [String: JSONValue]) throws {
            guard case let .number(p)? = record["point"], case let .array(s)? = record["scores"], case let .array(solves)? = record["solves"] else { return }
            let decoded = try solves.map { try JSONDecoder().decode(ProximalBregmanSolve.self, from: Data($0.serialized().utf8)) }
            truth[Int(p)] = (s.compactMap(\.doubleValue), decoded, record["seconds"]?.doubleValue ?? 0)
        }
        let first = Array(points.prefix(3))
        try shareUnits(
            done: journal?.records ?? [], units: points, isDone: { record in record["point"]?.intValue }, world: world,
            absorb: absorb, commit: { try journal?.append($0) },
            work: { k, point in
                progress?("pbrf", k, points.count)
                let started = Date()
                let (scores, solves) = try solver.scores(of: point)
                let encoded = try solves.map { try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode($0)) }
                return [
                    "point": .number(Double(point)), "scores": .array(scores.map { .number($0) }), "solves": .array(encoded),
                    "seconds": .number(Date().timeIntervalSince(started)),
                ]
            },
            afterRound: { round in
                // An ε too small for the model shows in the first points: refuse it, naming one that works
                // (every rank decides alike, from the same records).
                guard round.contains(where: first.contains), first.allSatisfy({ truth[$0] != nil }),
                    first.allSatisfy({ truth[$0]!.solves.allSatisfy { !$0.resolved } })
                else { return }
                let workable = try first.map { try solver.smallestWorkableEpsilon(of: $0) }.min()!
                throw WorkflowError(
                    String(
                        format:
                            "ε = %.3g moves the parameters by less than float32 resolves (%.1g of their norm) for the first %d points; use --epsilon %.2g or more",
                        solver.epsilon, ProximalBregmanResponse<Task>.smallestRelativeDisplacement, first.count, workable))
            })
        guard world.isRoot else { return ValidationReport(kind: .pbrf, rows: [], groundTruth: [], groundTruthSeconds: 0, table: "") }
        progress?("pbrf", points.count, points.count)
        let solves = points.flatMap { truth[$0]!.solves }
        let truthSeconds = points.reduce(0) { $0 + truth[$1]!.seconds }
        let converged = solves.filter(\.converged).count
        let worst = solves.map(\.relativeGradientNorm).max() ?? 0
        let medianSteps = solves.map(\.steps).sorted()[solves.count / 2]
        let unresolved = points.filter { truth[$0]!.solves.contains { !$0.resolved } }.count
        var truthLines = [
            String(
                format: "%d of %d solves converged (worst ‖∇J‖/‖∇J(θˢ)‖ %.2g, median %d Adam steps), %.1f s", converged, solves.count,
                worst, medianSteps, truthSeconds)
        ]
        if unresolved > 0 {
            truthLines.append(
                "\(unresolved) of \(points.count) points move the parameters less than float32 resolves (tiny gradients): their PBRF is rounding noise near zero"
            )
        }
        if converged < solves.count {
            truthLines.append("solves that did not converge make the ground truth approximate: raise --pbrf-steps or lower --pbrf-learning-rate")
        }
        // [queries][points]
        let reference = (0..<task.queryCount).map { q in points.map { truth[$0]!.scores[q] } }
        var rows: [ValidationRow] = []
        for specification in specifications {
            progress?(specification.text, 0, 1)
            let result = strategyScoresOrReason(task, specification, request, selfInfluence: false, step: step, progress: progress)
            guard let pairwise = result.pairwise else {
                rows.append(ValidationRow(strategy: specification.text, label: result.label, seconds: 0, figures: [], skipped: result.skipped))
                continue
            }
            let estimate = (0..<task.queryCount).map { q in points.map { Double(pairwise[q][$0]) } }
            rows.append(
                ValidationRow(
                    strategy: specification.text, label: result.label, seconds: result.seconds,
                    figures: correlations(estimate, reference), skipped: nil))
        }
        return try finish(
            .pbrf, request, header: header, truthLines: truthLines, truthSeconds: truthSeconds, rows: rows,
            extra: [
                "ground_truth": .object([
                    "solves": .number(Double(solves.count)), "converged": .number(Double(converged)),
                    "worst_relative_gradient_norm": .number(worst), "median_steps": .number(Double(medianSteps)),
                    "unresolved_points": .number(Double(unresolved)),
                    "seconds": .number(truthSeconds),
                ])
            ])
    }

    /// Pearson over every (query, point) pair, Spearman likewise, and the mean over queries of the per-query Pearson.
    /// Computes the records of the `units` not in `done`, the ranks of `world` taking turns: in
    /// each round, rank r works on the round's r-th unit. Rank 0 gathers a round's records and
    /// commits them in unit order (its journal, so that a killed job resumes with the rounds it
    /// finished); every rank absorbs them, and `afterRound` sees the round's units first (a round it
    /// refuses is not committed). Rank 0's `done` records reach every rank first, so all agree on
    /// what is left.
    ///
    /// - Parameters:
    ///   - isDone: the unit a record belongs to, or nil for a record of no unit.
    ///   - work: the record of a unit, given its position in `units` and the unit.
    static func shareUnits(
        done: [[String: JSONValue]], units: [Int], isDone: ([String: JSONValue]) -> Int?, world: any Communicator,
        absorb: ([String: JSONValue]) throws -> Void, commit: ([String: JSONValue]) throws -> Void,
        work: (Int, Int) throws -> [String: JSONValue], afterRound: ([Int]) throws -> Void
    ) throws {
        func encode(_ records: [[String: JSONValue]]) throws -> [UInt8] { Array(try JSONValue.array(records.map { .object($0) }).serialized().utf8) }
        func decode(_ bytes: [UInt8]) throws -> [[String: JSONValue]] {
            guard case let .array(list) = try JSONValue(parsing: Data(bytes)) else { throw CommunicatorError("a rank sent records that are not a list") }
            return list.compactMap(\.objectValue)
        }
        let known = try decode(try world.broadcast(world.isRoot ? try encode(done) : [], root: 0))
        for record in known { try absorb(record) }
        let finished = Set(known.compactMap(isDone))
        let todo = units.enumerated().filter { !finished.contains($0.element) }
        for start in stride(from: 0, to: todo.count, by: world.size) {
            let round = Array(todo[start..<Swift.min(todo.count, start + world.size)])
            let mine = world.rank < round.count ? [try work(round[world.rank].offset, round[world.rank].element)] : []
            let gathered = try world.gather(try encode(mine), root: 0).map { try $0.flatMap(decode) } ?? []
            let records = try decode(try world.broadcast(world.isRoot ? try encode(gathered) : [], root: 0))
            for record in records { try absorb(record) }
            // A round that fails its check is not committed: a rerun with other settings starts clean.
            try afterRound(round.map(\.element))
            if world.isRoot { for record in records { try commit(record) } }
        }
    }

    static func correlations(_ estimate: [[Double]], _ reference: [[Double]]) -> [(name: String, value: Double?)] {
        let perQuery = zip(estimate, reference).compactMap { Correlation.pearson($0, $1) }
        return [
            ("pearson", Correlation.pearson(estimate.flatMap { $0 }, reference.flatMap { $0 })),
            ("spearman", Correlation.spearman(estimate.flatMap { $0 }, reference.flatMap { $0 })),
            ("mean_query_pearson", perQuery.isEmpty ? nil : perQuery.reduce(0, +) / Double(perQuery.count)),
        ]
    }

    /// `count` indices spread evenly over `0..<n` (all of them when count = n).
    static func evenlySpread(_ count: Int, of n: Int) -> [Int] {
        guard count > 0 else { return [] }
        return (0..<count).map { $0 * n / count }
    }

    // MARK: LDS

    /// - Parameter retrained: f_q of every query for a model retrained on `rows` with `seed`.
    static func validateLDS<Task: InfluenceTask>(
        _ task: Task, _ training: String, _ baseSeed: UInt64, _ request: ValidationRequest,
        _ specifications: [StrategySpecification], _ step: (String) -> Void,
        _ progress: ((String, Int, Int) -> Void)?,
        retrained: ([Int], UInt64) throws -> [Double]
    ) throws -> ValidationReport where Task.Scalar == Float {
        guard task.queryCount > 0 else { throw WorkflowError("validate lds needs queries (--queries)") }
        guard request.subsetFraction > 0 && request.subsetFraction < 1 else {
            throw WorkflowError("--subset-fraction must be between 0 and 1, got \(request.subsetFraction)")
        }
        let n = task.trainingExampleCount
        guard Int(request.subsetFraction * Double(n)) >= 1 else { throw WorkflowError("a subset of \(request.subsetFraction) of \(n) rows is empty") }
        let subsets = LinearDatamodeling.subsets(count: request.subsets, fraction: request.subsetFraction, of: n, seed: request.seed)
        let header: [String: JSONValue] = [
            "kind": "lds", "data": .string(candidateDataFingerprint(task)), "training": .string(training),
            "subsets": .number(Double(request.subsets)), "fraction": .number(request.subsetFraction), "seeds": .number(Double(request.seeds)),
            "seed": .number(Double(request.seed)),
        ]
        let world = request.communicator
        let journal = world.isRoot ? try ValidationJournal(url: request.output.appendingPathComponent("lds-truth.jsonl"), header: header) : nil
        step(
            "LDS: \(subsets.count) subsets of \(subsets[0].count) of \(n) rows, each retrained with \(request.seeds) seed(s): \(training)"
                + (world.size > 1 ? "; subsets shared by \(world.size) ranks" : ""))
        var measured: [Int: (values: [Double], seconds: Double)] = [:]
        try shareUnits(
            done: journal?.records ?? [], units: Array(subsets.indices), isDone: { record in record["subset"]?.intValue }, world: world,
            absorb: { record in
                guard case let .number(j)? = record["subset"], case let .array(v)? = record["measurements"] else { return }
                measured[Int(j)] = (v.compactMap(\.doubleValue), record["seconds"]?.doubleValue ?? 0)
            },
            commit: { try journal?.append($0) },
            work: { _, j in
                progress?("retraining", j, subsets.count)
                let started = Date()
                var sums = [Double](repeating: 0, count: task.queryCount)
                for s in 0..<request.seeds {
                    let values = try retrained(subsets[j], baseSeed &+ UInt64(1 + j * request.seeds + s))
                    for (q, v) in values.enumerated() { sums[q] += v / Double(request.seeds) }
                }
                return ["subset": .number(Double(j)), "measurements": .array(sums.map { .number($0) }), "seconds": .number(Date().timeIntervalSince(started))]
            },
            afterRound: { _ in })
        guard world.isRoot else { return ValidationReport(kind: .lds, rows: [], groundTruth: [], groundTruthSeconds: 0, table: "") }
        progress?("retraining", subsets.count, subsets.count)
        let measurements = subsets.indices.map { measured[$0]!.values }
        let truthSeconds = subsets.indices.reduce(0) { $0 + measured[$1]!.seconds }
        let spread = (0..<task.queryCount).map { q in
            let v = measurements.map { $0[q] }
            return (v.max() ?? 0) - (v.min() ?? 0)
        }
        let truthLines = [
            String(
                format: "%d retrainings in %.1f s; the query loss varies over subsets by %.3g on average (max − min)",
                subsets.count * request.seeds, truthSeconds, spread.reduce(0, +) / Double(spread.count))
        ]
        var rows: [ValidationRow] = []
        for specification in specifications {
            let result = strategyScoresOrReason(task, specification, request, selfInfluence: false, step: step, progress: progress)
            guard let pairwise = result.pairwise else {
                rows.append(ValidationRow(strategy: specification.text, label: result.label, seconds: 0, figures: [], skipped: result.skipped))
                continue
            }
            let scores = pairwise.map { $0.map(Double.init) }
            let lds = LinearDatamodeling.score(scores: scores, subsets: subsets, measurements: measurements)
            rows.append(ValidationRow(strategy: specification.text, label: result.label, seconds: result.seconds, figures: [("lds", lds)], skipped: nil))
        }
        return try finish(
            .lds, request, header: header, truthLines: truthLines, truthSeconds: truthSeconds, rows: rows,
            extra: ["ground_truth": .object(["retrainings": .number(Double(subsets.count * request.seeds)), "seconds": .number(truthSeconds)])])
    }

    // MARK: Mislabels

    static let inspectedFractions = [0.05, 0.10, 0.20, 0.30]

    static func validateMislabels(
        _ task: ClassificationTask<Float>, _ retraining: MLPRetraining, _ request: ValidationRequest,
        _ specifications: [StrategySpecification], _ step: (String) -> Void,
        _ progress: ((String, Int, Int) -> Void)?
    ) throws -> ValidationReport {
        guard request.flipFraction > 0 && request.flipFraction < 1 else {
            throw WorkflowError("--flip-fraction must be between 0 and 1, got \(request.flipFraction)")
        }
        let n = task.trainingExampleCount
        let classes = task.network.trackableLayers().last?.layer.outputCount ?? 0
        let (labels, flipped) = MislabelDetection.flip(labels: task.trainingLabels, classCount: classes, fraction: request.flipFraction, seed: request.seed)
        guard !flipped.isEmpty else {
            throw WorkflowError("flipping \(request.flipFraction) of \(n) labels flips none; give more rows or a larger --flip-fraction")
        }
        step("mislabels: \(flipped.count) of \(n) labels flipped; retraining: \(retraining.description)")
        let started = Date()
        let model = try retraining.trainClassifier(features: task.trainingFeatures, labels: labels, rows: Array(0..<n), seed: retraining.options.seed)
        let truthSeconds = Date().timeIntervalSince(started)
        // The retrained model with its flipped labels; the first query keeps the engine's query side non-empty.
        let noisy = ClassificationTask(
            network: model.network, forward: model.forward, trainingFeatures: task.trainingFeatures, trainingLabels: labels,
            queryFeatures: task.trainingFeatures.indexSelect(along: 0, indices: [0]), queryLabels: [labels[0]])
        let header: [String: JSONValue] = [
            "kind": "mislabels", "data": .string(candidateDataFingerprint(task)), "training": .string(retraining.description),
            "flip_fraction": .number(request.flipFraction), "flipped": .number(Double(flipped.count)), "seed": .number(Double(request.seed)),
        ]
        func figures(_ selfInfluence: [Double]) -> [(name: String, value: Double?)] {
            zip(inspectedFractions, MislabelDetection.foundFractions(selfInfluence: selfInfluence, flipped: flipped, inspected: inspectedFractions))
                .map { ("found_\(Int(($0 * 100).rounded()))%", $1) } + [
                    ("auc", MislabelDetection.areaUnderCurve(selfInfluence: selfInfluence, flipped: flipped))
                ]
        }
        // Baselines: the training loss of each row, and chance.
        let losses = withoutGradients {
            (0..<n).map { i -> Double in
                var generator = SeededGenerator(seed: 0)
                return Double(noisy.trainingLoss(indices: [i], labels: .data, generator: &generator).loss.value.scalar)
            }
        }
        var rows = [
            ValidationRow(strategy: "loss", label: "training loss (baseline)", seconds: 0, figures: figures(losses), skipped: nil),
            ValidationRow(
                strategy: "random", label: "chance", seconds: 0,
                figures: inspectedFractions.map { ("found_\(Int(($0 * 100).rounded()))%", $0) } + [("auc", 0.5)], skipped: nil),
        ]
        for specification in specifications {
            let result = strategyScoresOrReason(noisy, specification, request, selfInfluence: true, step: step, progress: progress)
            guard let selfScores = result.selfScores else {
                rows.append(ValidationRow(strategy: specification.text, label: result.label, seconds: 0, figures: [], skipped: result.skipped))
                continue
            }
            rows.append(
                ValidationRow(
                    strategy: specification.text, label: result.label, seconds: result.seconds, figures: figures(selfScores.map(Double.init)),
                    skipped: nil))
        }
        return try finish(
            .mislabels, request, header: header,
            truthLines: [String(format: "retrained on the flipped labels in %.1f s", truthSeconds)], truthSeconds: truthSeconds, rows: rows,
            extra: ["flipped_rows": .array(flipped.map { .number(Double($0)) })])
    }

    // MARK: Shared

    static func scoresDirectory(_ request: ValidationRequest, _ specification: StrategySpecification) -> URL {
        request.output.appendingPathComponent("\(request.kind.rawValue)-scores").appendingPathComponent(specification.directoryName)
    }

    /// ``strategyScores(_:_:_:directory:selfInfluence:step:progress:)``, with a strategy that fails
    /// (a diverging LiSSA, an indefinite matrix) reported as skipped with its error rather than
    /// ending the validation: the ground truth and the other strategies stand.
    static func strategyScoresOrReason<Task: InfluenceTask>(
        _ task: Task, _ specification: StrategySpecification, _ request: ValidationRequest,
        selfInfluence: Bool, step: (String) -> Void, progress: ((String, Int, Int) -> Void)?
    )
        -> (pairwise: [[Float]]?, selfScores: [Float]?, seconds: Double, label: String, skipped: String?) where Task.Scalar == Float
    {
        do {
            return try strategyScores(
                task, specification, request, directory: scoresDirectory(request, specification), selfInfluence: selfInfluence,
                step: step, progress: progress)
        } catch {
            step("\(specification.text) failed: \(error)")
            return (nil, nil, 0, specification.text, "failed: \(error)")
        }
    }

    /// A strategy's scores on `task` with the request's damping, fitted here: `[queries][rows]`
    /// (and self-influence), cached in `directory` with the seconds they took.
    static func strategyScores<Task: InfluenceTask>(
        _ task: Task, _ specification: StrategySpecification, _ request: ValidationRequest, directory: URL,
        selfInfluence: Bool, step: (String) -> Void, progress: ((String, Int, Int) -> Void)?
    ) throws
        -> (pairwise: [[Float]]?, selfScores: [Float]?, seconds: Double, label: String, skipped: String?) where Task.Scalar == Float
    {
        let type = specification.type
        if selfInfluence && !type.offersSelfInfluence {
            return (nil, nil, 0, type.name, "\(type.name) offers no self-influence")
        }
        var context = CurvatureContext(
            task: task, modules: task.model.linearLayerPatterns(for: request.modules), labels: .sampled, batchSize: 64,
            progress: progress)
        context.curvature = .ggn
        context.curvatureBatchSize = 1024
        if type == TracInStrategy.self {
            let index = try CheckpointIndex(directory: request.inputs.model.appendingPathComponent("checkpoints"))
            guard request.kind != .mislabels else { return (nil, nil, 0, "tracin", "the model retrained on flipped labels keeps no checkpoints") }
            guard !index.entries.isEmpty else { return (nil, nil, 0, "tracin", "the model has no checkpoints; train with --save-every N") }
            context.checkpoints = try index.entries.map { entry in
                var inputs = request.inputs
                inputs.model = index.url(of: entry)
                return (try TaskLoader.load(Task.self, inputs), entry.learningRate)
            }
        }
        // Cached scores are reused only for the same weights, rows, queries, damping and modules;
        // anything else starts the directory over (partial results included).
        let key = [
            ModelFingerprint.of(task.model), candidateDataFingerprint(task), String(request.damping), request.modules ?? "",
            selfInfluence ? "self" : "",
        ].joined(separator: "|")
        let cached = directory.appendingPathComponent("validation_scores.safetensors")
        if FileManager.default.fileExists(atPath: cached.path) {
            let file = try SafeTensorsFile(contentsOf: cached)
            if file.metadata["key"] == key {
                let pairwise = try file.tensor(named: "pairwise", as: Float.self)
                let selfScores = file.tensorNames.contains("self") ? try file.tensor(named: "self", as: Float.self).scalars : nil
                return (rows(pairwise), selfScores, Double(file.metadata["seconds"] ?? "0") ?? 0, file.metadata["label"] ?? type.name, nil)
            }
            try FileManager.default.removeItem(at: directory)
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        step("scoring with \(specification.text)")
        let base = try CurvatureStrategies.make(type.name, options: specification.options)
        let strategy: any CurvatureStrategy = specification.layerwise ? LayerwiseStrategy(base: base) : base
        let configuration = ScoreConfiguration(damping: .value(request.damping), selfInfluence: selfInfluence, batchSize: 64)
        let started = Date()
        let run = try strategy.scores(context.erased(), configuration: configuration, partialDirectory: directory)
        let seconds = Date().timeIntervalSince(started)
        guard let scores = run.scores else { throw WorkflowError("\(specification.text) gave no dense scores") }
        var label = specification.text
        if type.coversEveryParameter { label += " (ggn, \(try context.curvatureOperator().dimension) parameters)" }
        if !context.checkpoints.isEmpty { label = "TracIn over \(context.checkpoints.count) checkpoints" }
        for warning in run.warnings { step("warning: \(warning)") }
        var tensors: [(name: String, payload: SafeTensorsPayload)] = [("pairwise", .float32(scores.pairwise))]
        if let s = scores.selfScores { tensors.append(("self", .float32(s))) }
        try SafeTensorsFile.write(
            tensors, metadata: ["seconds": String(seconds), "label": label, "strategy": specification.text, "key": key],
            to: cached)
        return (rows(scores.pairwise), scores.selfScores?.scalars, seconds, label, nil)
    }

    static func rows(_ t: Tensor<Float>) -> [[Float]] {
        let columns = t.shape[1]
        let all = t.scalars
        return (0..<t.shape[0]).map { Array(all[($0 * columns)..<(($0 + 1) * columns)]) }
    }

    /// Writes `OUT/<kind>.json` and formats the table.
    static func finish(
        _ kind: ValidationRequest.Kind, _ request: ValidationRequest, header: [String: JSONValue], truthLines: [String],
        truthSeconds: Double, rows: [ValidationRow], extra: [String: JSONValue]
    ) throws -> ValidationReport {
        var record = header
        for (k, v) in extra { record[k] = v }
        record["model_path"] = .string(request.inputs.model.standardizedFileURL.path)
        record["train"] = .string(request.inputs.train)
        if let q = request.inputs.queries { record["queries"] = .string(q) }
        record["strategies"] = .array(
            rows.map { row in
                var o: [String: JSONValue] = ["strategy": .string(row.strategy), "label": .string(row.label), "seconds": .number(row.seconds)]
                for f in row.figures { o[f.name] = f.value.map { $0.isFinite ? .number($0) : .null } ?? .null }
                if let s = row.skipped { o["skipped"] = .string(s) }
                return .object(o)
            })
        record["finished"] = .string(ISO8601DateFormatter().string(from: Date()))
        try AtomicFile.write(Data(try JSONValue.object(record).serialized().utf8), to: request.output.appendingPathComponent("\(kind.rawValue).json"))
        let names = rows.first { $0.skipped == nil }?.figures.map(\.name) ?? []
        let width = Swift.max(10, (rows.map { $0.label.count }.max() ?? 0) + 2)
        var table = truthLines.joined(separator: "\n") + "\n\n"
        table +=
            "strategy".padding(toLength: width, withPad: " ", startingAt: 0)
            + names.map { $0.replacingOccurrences(of: "_", with: " ").leftPadded(to: 10) }.joined() + "seconds".leftPadded(to: 10) + "\n"
        for row in rows {
            table += row.label.padding(toLength: width, withPad: " ", startingAt: 0)
            if let skipped = row.skipped {
                table += "  (\(skipped))\n"
                continue
            }
            table +=
                row.figures.map { ($0.value.map { String(format: "%.3f", $0) } ?? "—").leftPadded(to: 10) }.joined()
                + String(format: "%.1f", row.seconds).leftPadded(to: 10) + "\n"
        }
        return ValidationReport(kind: kind, rows: rows, groundTruth: truthLines, groundTruthSeconds: truthSeconds, table: table)
    }
}

extension String {
    func leftPadded(to width: Int) -> String { count >= width ? " " + self : String(repeating: " ", count: width - count) + self }
}

/// A strategy as `validate --strategies` takes it: `name` or `name:option=value[:option=value]`,
/// an option named as the strategy's own (`depth` for `lissa-depth`) or in full, and `:layerwise`
/// for the block-diagonal variant (`exact:layerwise`).
struct StrategySpecification {
    let text: String
    let type: any CurvatureStrategy.Type
    let options: StrategyOptions
    /// `:layerwise`: the block-diagonal variant (each tracked layer on its own), as `scores --layerwise`.
    let layerwise: Bool

    init(_ text: String) throws {
        let parts = text.split(separator: ":").map(String.init)
        guard let name = parts.first, let type = CurvatureStrategies.named(name) else {
            throw WorkflowError("unknown strategy '\(text)' in --strategies (available: \(CurvatureStrategies.names.joined(separator: ", ")))")
        }
        var values: [String: String] = [:], flags = Set<String>()
        let known = Set(type.options.map(\.name))
        var layerwise = false
        for part in parts.dropFirst() {
            if part == "layerwise" {
                layerwise = true
                continue
            }
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            let key = known.contains("\(name)-\(pair[0])") ? "\(name)-\(pair[0])" : pair[0]
            guard known.contains(key) else {
                throw WorkflowError("strategy '\(name)' has no option '\(pair[0])' (options: \(type.options.map(\.name).joined(separator: ", ")))")
            }
            if pair.count == 2 { values[key] = pair[1] } else { flags.insert(key) }
        }
        for o in type.options { if let d = o.defaultValue, values[o.name] == nil { values[o.name] = d } }
        self.text = text
        self.type = type
        self.options = StrategyOptions(values: values, flags: flags)
        self.layerwise = layerwise
    }

    var directoryName: String { text.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" }.reduce(into: "") { $0.append($1) } }
}

/// Retraining an MLP classifier or regressor, or a CNN classifier, as `influence train` trained it
/// (its config.json and `training_options.json`).
public struct MLPRetraining: CustomStringConvertible {
    /// The MLP's layer sizes (empty for a CNN).
    public let sizes: [Int]
    /// The activation between the MLP's layers (ReLU for a CNN, whose steps name their own).
    public let activation: Activation
    /// "classification" or "regression".
    public let task: String
    /// The network of a CNN classifier, or nil for an MLP.
    public let convolution: CNNConfiguration?
    /// The options of the original training, from `training_options.json`; each retraining replaces the seed.
    public let options: TrainingOptions

    /// The name of the training record `influence train` writes beside a model.
    public static let fileName = "training_options.json"

    /// - Throws: ``WorkflowError`` when the directory lacks the record of its training.
    public init(modelDirectory: URL) throws {
        let config = modelDirectory.appendingPathComponent("config.json")
        let configData = FileManager.default.contents(atPath: config.path)
        if let configData, let configuration = try? JSONDecoder().decode(MLPConfiguration.self, from: configData),
            let activation = Activation(rawValue: configuration.activation)
        {
            sizes = configuration.sizes
            self.activation = activation
            task = configuration.task
            convolution = nil
        } else if let hf = try? HuggingFaceConfiguration(directory: modelDirectory), hf.modelType == "cnn" {
            convolution = try CNNConfiguration(hf)
            sizes = []
            activation = .relu
            task = "classification"
        } else {
            throw WorkflowError("\(config.path) is not the config.json of an MLP or a CNN")
        }
        options = try Self.recordedOptions(modelDirectory)
    }

    /// The options `influence train` recorded in `training_options.json` beside a model.
    static func recordedOptions(_ modelDirectory: URL) throws -> TrainingOptions {
        let url = modelDirectory.appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw WorkflowError(
                "\(modelDirectory.path) cannot be retrained: \(fileName) is missing (`influence train` writes it; train the model again with it)")
        }
        guard let record = try? JSONDecoder().decode(JSONValue.self, from: data), case let .object(o) = record,
            let steps = o["steps"]?.doubleValue, let batch = o["batch_size"]?.doubleValue, let rate = o["learning_rate"]?.doubleValue,
            case let .string(optimizer)? = o["optimizer"], ["adamw", "sgd"].contains(optimizer), steps >= 1, steps <= 1e9, batch >= 1, batch <= 1e7,
            rate.isFinite, rate > 0,
            (o["seed"]?.doubleValue ?? 0) >= 0, (o["seed"]?.doubleValue ?? 0) < 9e18,
            (0...1e9).contains(o["warmup"]?.doubleValue ?? 0)
        else {
            throw WorkflowError(
                "\(url.path) is not a training record of `influence train`: it needs steps (1 to 10⁹), batch_size (1 to 10⁷), a positive learning_rate and an optimizer (adamw or sgd), and a seed and warmup it has must be non-negative"
            )
        }
        return TrainingOptions(
            steps: Int(steps), batchSize: Int(batch), optimizer: optimizer, learningRate: rate,
            warmup: Int(o["warmup"]?.doubleValue ?? 20), weightDecay: o["weight_decay"]?.doubleValue ?? 0.01,
            momentum: o["momentum"]?.doubleValue ?? 0.9, clip: o["clip"]?.doubleValue ?? 1,
            seed: UInt64(o["seed"]?.doubleValue ?? 0))
    }

    /// A retraining of an MLP from its parts, without a model directory.
    ///
    /// - Parameters:
    ///   - sizes: input size, hidden sizes, output size.
    ///   - activation: the activation between layers.
    ///   - task: `classification` or `regression`.
    ///   - options: how to train.
    public init(sizes: [Int], activation: Activation, task: String = "classification", options: TrainingOptions) {
        self.sizes = sizes
        self.activation = activation
        self.task = task
        convolution = nil
        self.options = options
    }

    /// Writes the record `influence train` leaves beside a model, `training_options.json`.
    static func writeRecord(_ options: TrainingOptions, steps: Int, to directory: URL) throws {
        try AtomicFile.write(Data(try record(options, steps: steps).serialized().utf8), to: directory.appendingPathComponent(fileName))
    }

    static func record(_ options: TrainingOptions, steps: Int) -> JSONValue {
        .object([
            "steps": .number(Double(steps)), "batch_size": .number(Double(options.batchSize)), "optimizer": .string(options.optimizer),
            "learning_rate": .number(options.learningRate), "warmup": .number(Double(options.warmup)),
            "weight_decay": .number(options.weightDecay), "momentum": .number(options.momentum), "clip": .number(options.clip),
            "seed": .number(Double(options.seed)),
        ])
    }

    /// One line for a person: the network, its steps, batch size, optimizer and learning rate.
    public var description: String {
        if let convolution {
            return String(
                format: "CNN classifier %@ on %@, %d steps of %d, %@ at %g", convolution.steps.map(\.typeName).joined(separator: "-"),
                convolution.inputShape.map(String.init).joined(separator: "×"), options.steps, options.batchSize, options.optimizer,
                options.learningRate)
        }
        return String(
            format: "MLP %@ %@ (%@), %d steps of %d, %@ at %g", task == "regression" ? "regressor" : "classifier",
            sizes.map(String.init).joined(separator: "-"), activation.rawValue, options.steps, options.batchSize, options.optimizer,
            options.learningRate)
    }

    /// A new classifier (the MLP or the CNN of the directory) trained on `rows` of the data with
    /// these options and `seed` (initialisation and order), as its module and forward pass.
    public func trainClassifier(
        features: Tensor<Float>, labels: [Int], rows: [Int],
        seed: UInt64
    ) throws -> (network: Module<Float>, forward: (Variable<Float>) -> Variable<Float>) {
        let x = features.indexSelect(along: 0, indices: rows)
        let y = rows.map { labels[$0] }
        func fit<M: Module<Float> & UnaryLayer>(_ model: M) throws -> (network: Module<Float>, forward: (Variable<Float>) -> Variable<Float>)
        where M.Scalar == Float {
            try train(model, rows: rows.count, seed: seed) { batch in
                Losses.crossEntropy(logits: model(Variable(x.indexSelect(along: 0, indices: batch))), labels: batch.map { y[$0] })
            }
            return (model, { model($0) })
        }
        if let convolution { return try fit(SequentialNetwork<Float>(steps: convolution.steps, inputShape: convolution.inputShape, seed: seed)) }
        return try fit(MultilayerPerceptron<Float>(sizes: sizes, activation: activation, seed: seed))
    }

    /// A new regressor trained on `rows` (squared error summed over outputs, averaged over the batch, as `influence train`).
    public func train(features: Tensor<Float>, targets: Tensor<Float>, rows: [Int], seed: UInt64) throws -> MultilayerPerceptron<Float> {
        let x = features.indexSelect(along: 0, indices: rows), y = targets.indexSelect(along: 0, indices: rows)
        let model = MultilayerPerceptron<Float>(sizes: sizes, activation: activation, seed: seed)
        try train(model, rows: rows.count, seed: seed) { batch in
            Losses.meanSquaredError(model(Variable(x.indexSelect(along: 0, indices: batch))), y.indexSelect(along: 0, indices: batch), reduction: .sum)
                * (1 / Float(batch.count))
        }
        return model
    }

    /// Trains `model` in place with these options and `seed` (the order of the batches).
    func train(_ model: Module<Float>, rows: Int, seed: UInt64, loss: @escaping ([Int]) -> Variable<Float>) throws {
        var o = options
        o.seed = seed
        let configuration = o.configuration(steps: o.steps)
        func run<O: Optimizer>(_ optimizer: O) throws where O.Scalar == Float {
            let trainer = Trainer(
                model: model, optimizer: optimizer, configuration: configuration, exampleCount: rows,
                batchLoss: { loss($0) })
            trainer.showsProgress = false
            try trainer.run()
        }
        let parameters = model.trainableParameters
        if o.optimizer == "sgd" {
            try run(SGD(parameters: parameters, learningRate: o.learningRate, momentum: o.momentum, weightDecay: o.weightDecay))
        } else {
            try run(AdamW(parameters: parameters, learningRate: o.learningRate, weightDecay: o.weightDecay))
        }
    }
}

/// Retraining a language model as `influence train` trained it: its config.json, a fresh
/// initialisation, the options of its `training_options.json`, on a subset of the rows.
public struct LanguageModelRetraining: CustomStringConvertible {
    /// The model's config.json, from which every retrained model is built afresh.
    public let configuration: HuggingFaceConfiguration
    /// The family that builds the model from ``configuration``.
    public let family: any LanguageModelFamily.Type
    /// The options of the original training, from `training_options.json`; each retraining replaces the seed.
    public let options: TrainingOptions

    /// - Throws: ``WorkflowError`` when the directory lacks the record of its training or its family is not one `influence train` makes.
    public init(modelDirectory: URL) throws {
        configuration = try HuggingFaceConfiguration(directory: modelDirectory, file: "config.json")
        let type = configuration.modelType ?? "gpt2"
        guard let family = ModelRegistry.family(modelType: type) as? any LanguageModelFamily.Type else {
            throw ModelIOError.unsupportedModelType(
                path: configuration.path, modelType: type,
                supported: ModelRegistry.languageModelFamilies.flatMap { $0.modelTypes })
        }
        self.family = family
        options = try MLPRetraining.recordedOptions(modelDirectory)
    }

    /// One line for a person: the family, steps, batch size, optimizer and learning rate.
    public var description: String {
        String(
            format: "%@ language model from config.json, %d steps of %d, %@ at %g", family.architecture, options.steps, options.batchSize,
            options.optimizer, options.learningRate)
    }

    /// A new model trained on `rows` of `sequences` with these options and `seed` (initialisation
    /// and order): the mean next-token loss over each batch's predicted tokens, as `influence train`.
    public func train(sequences: [[Int]], rows: [Int], seed: UInt64) throws -> AnyCausalLanguageModel<Float> {
        let model = ModelRegistry.erased(try family.makeModel(configuration: configuration, seed: seed, as: Float.self))
        let subset = rows.map { sequences[$0] }
        let task = LanguageModelingTask(model: model, training: subset, queries: [])
        let context = model.contextLength
        var o = options
        o.seed = seed
        let configuration = o.configuration(steps: o.steps)
        func run<O: Optimizer>(_ optimizer: O) throws where O.Scalar == Float {
            var generator = SeededGenerator(seed: seed)
            let trainer = Trainer(
                model: model.module, optimizer: optimizer, configuration: configuration, exampleCount: subset.count,
                batchLoss: { batch in
                    let predicted = batch.reduce(0) { $0 + Swift.max(0, Swift.min(context, subset[$1].count) - 1) }
                    return task.trainingLoss(indices: batch, labels: .data, generator: &generator).loss
                        * (1 / Float(Swift.max(1, predicted)))
                })
            trainer.showsProgress = false
            try trainer.run()
        }
        let parameters = model.module.trainableParameters
        if o.optimizer == "sgd" {
            try run(SGD(parameters: parameters, learningRate: o.learningRate, momentum: o.momentum, weightDecay: o.weightDecay))
        } else {
            try run(AdamW(parameters: parameters, learningRate: o.learningRate, weightDecay: o.weightDecay))
        }
        model.module.evaluate()
        return model
    }
}

/// A JSON Lines file of finished pieces of a long computation: a header naming its settings, then
/// one record per piece, appended as each finishes (a torn last line is dropped on reading).
struct ValidationJournal {
    let url: URL
    let records: [[String: JSONValue]]

    init(url: URL, header: [String: JSONValue]) throws {
        self.url = url
        let headerLine = try JSONValue.object(["header": .object(header)]).serialized()
        if let data = FileManager.default.contents(atPath: url.path), let text = String(data: data, encoding: .utf8),
            case var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init),
            text.hasSuffix("\n") || lines.count > 1
        {
            if !text.hasSuffix("\n") { lines.removeLast() }
            let first = lines.first.flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
            if first == (try? JSONDecoder().decode(JSONValue.self, from: Data(headerLine.utf8))) {
                records = lines.dropFirst().compactMap { line in
                    guard case let .object(o)? = try? JSONDecoder().decode(JSONValue.self, from: Data(line.utf8)) else { return nil }
                    return o
                }
                // Rewrite without a torn line, so that appends start on a fresh line.
                try AtomicFile.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: url)
                return
            }
            throw WorkflowError("\(url.path) holds results made with other settings or data; remove it (or give another --out) to start over")
        }
        records = []
        try AtomicFile.write(Data((headerLine + "\n").utf8), to: url)
    }

    func append(_ record: [String: JSONValue]) throws {
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((try JSONValue.object(record).serialized() + "\n").utf8))
        try handle.synchronize()
    }
}
