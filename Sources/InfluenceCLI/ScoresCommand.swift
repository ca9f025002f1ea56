import Formats
import Foundation
import Influence
import TensorCore

/// `influence scores`: influence of every training row on every query.
struct ScoresCommand: Subcommand {
    static let name = "scores"
    static let abstract = "Compute pairwise influence scores of training rows on queries with fitted factors."
    static let options: [OptionSpecification] = [
        .value("model", "DIR", required: true, "Model directory, GPT-2 or MLP classifier (the one the factors were fitted on)."),
        .value("factors", "FACTORS_DIR", "Output of `influence fit` (or use --strategy exact|cg)."),
        .value("strategy", "exact|cg|lissa|arnoldi|tracin", "Instead of factors: solve (H + λI)x = ∇f exactly (small models), by conjugate gradient, LiSSA or Arnoldi; or TracIn over --checkpoints."),
        .value("checkpoints", "DIR", "With --strategy tracin: the checkpoints directory of `influence train --save-every`."),
        .value("curvature", "hessian|ggn|fisher", default: "ggn", "With --strategy: the Hessian, the Gauss–Newton matrix or the empirical Fisher of the mean training loss."),
        .value("modules", "PATTERN[,PATTERN]|all", "With --strategy: Linear layers over which H is taken (default every Linear); 'all' takes every parameter (LayerNorm, embeddings too; one backward pass per example)."),
        .value("cg-tolerance", "X", default: "1e-6", "With --strategy cg: relative residual to reach."),
        .value("cg-iterations", "N", "With --strategy cg: iteration limit (default twice the dimension)."),
        .flag("cg-fail", "With --strategy cg: stop with an error when a solve does not converge (default: warn)."),
        .flag("layerwise", "With --strategy: the block-diagonal variant, one curvature and one solve per tracked layer."),
        .value("lissa-scale", "S", default: "10", "With --strategy lissa: scale above the largest eigenvalue of H + λI."),
        .value("lissa-depth", "N", default: "1000", "With --strategy lissa: recursion steps."),
        .value("lissa-repeats", "N", default: "1", "With --strategy lissa: independent runs averaged."),
        .value("lissa-batch", "N", default: "8", "With --strategy lissa: examples per curvature estimate."),
        .value("arnoldi-rank", "K", default: "20", "With --strategy arnoldi: top eigenpairs kept."),
        .value("arnoldi-krylov", "M", default: "40", "With --strategy arnoldi: Krylov space dimension (≥ rank)."),
        .value("arnoldi-order", "largest|magnitude", default: "largest", "With --strategy arnoldi: keep the largest eigenvalues, or the largest in absolute value (pyDVL's choice)."),
        .value("train", "TRAIN", required: true, "Training rows. GPT-2: JSON Lines {\"text\"} or {\"input_ids\"}; MLP: a CSV file or fashion-mnist:train."),
        .value("queries", "QUERIES", required: true, "Query rows. GPT-2: JSON Lines {\"text\"}, {\"input_ids\"} or {\"prompt\", \"completion\"}; MLP: a CSV file or fashion-mnist:test."),
        .value("label-column", "NAME", default: "label", "MLP with CSV files: the label column."),
        .value("damping", "auto|X", default: "auto", "λ: a number, or 0.1 × mean(Λ) per module."),
        .flag("per-module", "Also write one [queries, train] tensor per module."),
        .flag("per-token", "Also write per_token [queries, train, tokens]."),
        .flag("self", "Also write self_scores.safetensors (with fitted factors, or --strategy exact|arnoldi)."),
        .value("batch-size", "N", default: "8", "Training rows per batch."),
        .value("curvature-batch", "N", "With --strategy: training rows per curvature-product batch; larger is faster and takes more memory (default 1024 for an MLP, 16 for GPT-2)."),
        .value("max-examples", "N", "Score only the first N training rows."),
        .value("max-queries", "N", "Use only the first N query rows."),
        .value("query-chunk", "N", default: "64", "Queries held in memory at once; the training rows are read once per chunk."),
        .value("out", "SCORES_DIR", required: true, "Where the scores are written."),
    ]
    static let discussion = """
    score(q, m) = ∇f(z_q)ᵀ (H + λI)⁻¹ ∇L(z_m): positive when training row m supports query q (up-weighting
    it lowers the query's loss). f is the query's summed next-token loss, or with prompt and completion
    −log p(completion | prompt); for an MLP classifier, f and L are the cross-entropy of a row's label. Outputs: pairwise_scores.safetensors (all_modules [queries, train] and,
    when asked, one tensor per module and per_token), self_scores.safetensors, and summary.json with the
    ten highest and ten lowest training rows per query. An interrupted run resumes from the partial
    results it keeps in SCORES_DIR when run again with the same factors, options and data.
    """

    let arguments: ParsedArguments
    let damping: Damping
    let strategy: String?

    init(_ arguments: ParsedArguments) throws {
        self.arguments = arguments
        guard let d = Damping(arguments.string("damping")!) else {
            throw UsageError("option '--damping' needs 'auto' or a non-negative number, got '\(arguments.string("damping")!)'")
        }
        damping = d
        strategy = try arguments.choice("strategy", from: ["exact", "cg", "lissa", "arnoldi", "tracin"])
        if (strategy == "tracin") != (arguments.string("checkpoints") != nil) {
            throw UsageError("--strategy tracin and --checkpoints DIR go together")
        }
        for name in ["lissa-depth", "lissa-repeats", "lissa-batch", "arnoldi-rank", "arnoldi-krylov"] { _ = try arguments.integer(name, minimum: 1) }
        if let scale = try arguments.number("lissa-scale"), !(scale > 0) { throw UsageError("option '--lissa-scale' must be positive, got \(scale)") }
        _ = try arguments.choice("curvature", from: CurvatureKind.allCases.map(\.rawValue))
        _ = try arguments.choice("arnoldi-order", from: ["largest", "magnitude"])
        _ = try arguments.integer("batch-size", minimum: 1)
        _ = try arguments.integer("curvature-batch", minimum: 1)
        _ = try arguments.integer("max-queries", minimum: 1)
        _ = try arguments.integer("cg-iterations", minimum: 1)
        if let t = try arguments.number("cg-tolerance"), !(t > 0) { throw UsageError("option '--cg-tolerance' must be positive, got \(t)") }
        if (arguments.string("factors") == nil) == (strategy == nil) {
            throw UsageError("give either --factors FACTORS_DIR or --strategy exact|cg|lissa|arnoldi|tracin")
        }
        if strategy != nil && strategy != "tracin" {
            if damping == .automatic { throw UsageError("--strategy \(strategy!) needs a numeric --damping (auto is defined by fitted factors)") }
            if arguments.flag("self") && !["exact", "arnoldi"].contains(strategy!) {
                throw UsageError("--self needs fitted factors or --strategy exact|arnoldi; it is not offered with --strategy \(strategy!)")
            }
            if arguments.string("modules") == "all" && (arguments.flag("layerwise") || arguments.flag("per-token")) {
                throw UsageError("--modules all is offered without --layerwise and --per-token")
            }
        } else if strategy == "tracin" && arguments.string("modules") == "all" {
            throw UsageError("--strategy tracin tracks Linear layers; --modules all is offered with exact, cg, lissa and arnoldi")
        } else if strategy == nil && (arguments.string("modules") != nil || arguments.flag("layerwise")) {
            throw UsageError("--modules and --layerwise go with --strategy; fitted factors already name their modules")
        }
    }

    func run() throws {
        let loaded = try loadTask(model: arguments.path("model")!, train: arguments.string("train")!, queries: arguments.string("queries")!,
                                  labelColumn: arguments.string("label-column")!, maximumExamples: try arguments.integer("max-examples", minimum: 1),
                                  maximumQueries: try arguments.integer("max-queries", minimum: 1))
        switch loaded.task {
        case let .language(task): try score(task, trainTexts: loaded.trainTexts, queryTexts: loaded.queryTexts)
        case let .classification(task): try score(task, trainTexts: loaded.trainTexts, queryTexts: loaded.queryTexts)
        }
    }

    func score<T: InfluenceTask>(_ task: T, trainTexts: [String], queryTexts: [String]) throws where T.Scalar == Float {
        let out = arguments.path("out")!
        let configuration = ScoreConfiguration(damping: damping, perModule: arguments.flag("per-module"), perToken: arguments.flag("per-token"),
                                               selfInfluence: arguments.flag("self"), batchSize: try arguments.integer("batch-size", minimum: 1)!,
                                               queryChunkSize: try arguments.integer("query-chunk", minimum: 1)!)
        let computer: ScoreComputer<T>
        var strategyName = strategy ?? ""
        var moduleNames: [String] = []
        if strategy == "tracin" {
            let directory = arguments.path("checkpoints")!
            let index = directory.appendingPathComponent("checkpoints.json")
            guard let data = FileManager.default.contents(atPath: index.path),
                  let entries = try? JSONDecoder().decode([JSONValue].self, from: data), !entries.isEmpty else {
                throw CommandFailure("\(index.path) is missing or lists no checkpoint; train with --save-every N")
            }
            var checkpoints: [(task: T, learningRate: Double)] = []
            for entry in entries {
                guard let path = entry["path"]?.stringValue, let rate = entry["learning_rate"]?.doubleValue else {
                    throw CommandFailure("\(index.path): an entry lacks path or learning_rate")
                }
                let t = try loadTask(T.self, model: directory.appendingPathComponent(path), train: arguments.string("train")!,
                                     queries: arguments.string("queries")!, labelColumn: arguments.string("label-column")!,
                                     maximumExamples: try arguments.integer("max-examples", minimum: 1),
                                     maximumQueries: try arguments.integer("max-queries", minimum: 1))
                checkpoints.append((t, rate))
            }
            let started = Date()
            let scores = try TracIn.scores(checkpoints: checkpoints, modules: expandModulePatterns(arguments.string("modules")), configuration: configuration)
            try scores.save(to: out, metadata: ["strategy": "tracin", "checkpoints": String(entries.count), "sign": "positive supports the query"])
            try writeSummary(scores, trainTexts: trainTexts, queryTexts: queryTexts, dampings: [], moduleNames: [], to: out.appendingPathComponent("summary.json"))
            print("scored \(task.queryCount) queries against \(task.trainingExampleCount) training rows"
                + String(format: " in %.1f s (TracIn over %d checkpoints)", Date().timeIntervalSince(started), entries.count))
            print("wrote \(out.path)")
            return
        }
        if let strategy, case let .value(lambda) = damping {
            let curvatureBatch = try arguments.integer("curvature-batch", minimum: 1) ?? (task is LanguageModelingTask<Float> ? 16 : 1024)
            let kind = CurvatureKind(rawValue: arguments.string("curvature")!)!
            let allParameters = arguments.string("modules") == "all"
            let curvature = try CurvatureOperator(task: task, modules: allParameters ? [] : expandModulePatterns(arguments.string("modules")), kind: kind,
                                                  batchSize: curvatureBatch, allParameters: allParameters)
            if strategy == "exact" && curvature.dimension > 20_000 {
                throw CommandFailure("the exact strategy builds a \(curvature.dimension)×\(curvature.dimension) matrix; choose fewer --modules or --strategy cg")
            }
            let solver: InverseSolver
            switch strategy {
            case "exact": solver = .exact
            case "lissa":
                solver = .lissa(scale: try arguments.number("lissa-scale")!, depth: try arguments.integer("lissa-depth", minimum: 1)!,
                                repeats: try arguments.integer("lissa-repeats", minimum: 1)!, batchSize: try arguments.integer("lissa-batch", minimum: 1)!)
            case "arnoldi":
                let rank = try arguments.integer("arnoldi-rank", minimum: 1)!, krylov = try arguments.integer("arnoldi-krylov", minimum: 1)!
                guard rank <= Swift.min(krylov, curvature.dimension) else {
                    throw CommandFailure("--arnoldi-rank \(rank) must not exceed --arnoldi-krylov \(krylov) or the dimension \(curvature.dimension)")
                }
                solver = .arnoldi(rank: rank, krylovDimension: krylov, byMagnitude: try arguments.choice("arnoldi-order", from: ["largest", "magnitude"]) == "magnitude")
            default:
                solver = .conjugateGradient(tolerance: try arguments.number("cg-tolerance")!, maximumIterations: try arguments.integer("cg-iterations", minimum: 1),
                                            failsWhenNotConverged: arguments.flag("cg-fail"))
            }
            if arguments.flag("layerwise") {
                computer = try ScoreComputer(task: task, modules: expandModulePatterns(arguments.string("modules")), kind: kind, layerwise: solver,
                                             damping: lambda, batchSize: curvatureBatch,
                                             configuration: configuration)
                strategyName = "layer-wise " + strategyName
            } else {
                computer = try ScoreComputer(task: task, curvature: curvature, solver: solver, damping: lambda, configuration: configuration)
            }
            strategyName += " (\(kind.rawValue), \(curvature.dimension) parameters)"
            moduleNames = curvature.names
        } else {
            let factorsDirectory = arguments.path("factors")!
            let factors = try InfluenceFactors.load(from: factorsDirectory)
            computer = try ScoreComputer(task: task, factors: factors, factorsPath: factorsDirectory.path, configuration: configuration)
            strategyName = factors.strategy.rawValue
            moduleNames = factors.moduleNames
        }
        let progress = StageProgress()
        computer.progress = { progress.update($0, $1, $2) }
        let started = Date()
        let scores = try computer.compute(partialDirectory: out)
        for warning in computer.warnings { printError("warning: \(warning)") }
        let metadata = ["strategy": strategyName, "damping": damping.description,
                        "modules": moduleNames.joined(separator: ","), "sign": "positive supports the query"]
        try scores.save(to: out, metadata: metadata)
        try writeSummary(scores, trainTexts: trainTexts, queryTexts: queryTexts, dampings: computer.dampings,
                         moduleNames: computer.moduleNames, to: out.appendingPathComponent("summary.json"))
        print("scored \(task.queryCount) queries against \(task.trainingExampleCount) training rows"
            + String(format: " in %.1f s (%@, damping %@)", Date().timeIntervalSince(started), strategyName, damping.description))
        print("wrote \(out.path)")
    }

    func writeSummary(_ scores: InfluenceScores, trainTexts: [String], queryTexts: [String], dampings: [Double],
                      moduleNames: [String], to url: URL) throws {
        let (q, n) = (scores.pairwise.shape[0], scores.pairwise.shape[1])
        var queries: [JSONValue] = []
        for query in 0..<q {
            let row = (0..<n).map { scores.pairwise[query, $0] }
            let order = row.indices.sorted { row[$0] > row[$1] }
            func entries(_ indices: ArraySlice<Int>) -> JSONValue {
                .array(indices.map { i in
                    var e: [String: JSONValue] = ["train_index": .number(Double(i)), "score": .number(Double(row[i]))]
                    if i < trainTexts.count && !trainTexts[i].isEmpty { e["text"] = .string(String(trainTexts[i].prefix(200))) }
                    return .object(e)
                })
            }
            var entry: [String: JSONValue] = ["query_index": .number(Double(query)), "highest": entries(order.prefix(10)),
                                              "lowest": entries(order.reversed().prefix(10))]
            if query < queryTexts.count && !queryTexts[query].isEmpty { entry["query"] = .string(queryTexts[query]) }
            queries.append(.object(entry))
        }
        let summary: JSONValue = .object([
            "queries": .array(queries),
            "damping_per_module": .object(Dictionary(uniqueKeysWithValues: zip(moduleNames, dampings.map { JSONValue.number($0) }))),
        ])
        try AtomicFile.write(Data(try summary.serialized().utf8), to: url)
    }
}
