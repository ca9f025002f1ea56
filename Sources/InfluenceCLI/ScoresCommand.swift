import Formats
import Foundation
import Influence
import TensorCore
import Workflows

/// `influence scores`: influence of every training row on every query.
struct ScoresCommand: PartitionedCommand {
    static let name = "scores"
    static let abstract = "Compute pairwise influence scores of training rows on queries with fitted factors or a strategy."
    static let strategyNames = CurvatureStrategies.names.joined(separator: "|")
    static let options: [OptionSpecification] =
        [
            .value(
                "model", "DIR", required: true,
                "Model directory: a language model (gpt2, llama, mistral, qwen2, gpt_neox) or an MLP classifier (the one the factors were fitted on)."),
            .value("factors", "FACTORS_DIR", "Output of `influence fit` (or use --strategy)."),
            .value(
                "strategy", strategyNames,
                "Instead of factors: fit here — factors (identity, diagonal, kfac, ekfac), or solve (H + λI)x = ∇f exactly (small models), by conjugate gradient, LiSSA or Arnoldi; or TracIn over --checkpoints."
            ),
            .value("checkpoints", "DIR", "With --strategy tracin: the checkpoints directory of `influence train --save-every`."),
            .value(
                "curvature", "hessian|ggn|fisher", default: "ggn",
                "With a solver strategy: the Hessian, the Gauss–Newton matrix or the empirical Fisher of the mean training loss."),
            .value(
                "modules", "GROUP|PATTERN[,...]|all",
                "With --strategy: the layers tracked, Linear and Conv2d (the model's groups such as mlp, attention or conv, or name patterns; default every one); 'all' takes every parameter with a solver strategy (LayerNorm, embeddings too; one backward pass per example)."
            ),
            .flag("layerwise", "With --strategy: the block-diagonal variant, one curvature and one solve per tracked layer."),
        ]
        + CurvatureStrategies.options.map { o in
            o.valueName.map { OptionSpecification.value(o.name, $0, default: o.defaultValue, o.help) } ?? .flag(o.name, o.help)
        } + [
            .value(
                "train", "TRAIN", required: true,
                "Training rows. Language model: JSON Lines {\"text\"} or {\"input_ids\"}; MLP or CNN classifier: a CSV file or fashion-mnist:train."),
            .value(
                "queries", "QUERIES", required: true,
                "Query rows. Language model: JSON Lines {\"text\"}, {\"input_ids\"} or {\"prompt\", \"completion\"}; MLP or CNN classifier: a CSV file or fashion-mnist:test."
            ),
            .value("label-column", "NAME", default: "label", "MLP with CSV files: the label column."),
            .value("damping", "auto|X", default: "auto", "λ: a number, or 0.1 × mean(Λ) per module (fitted factors only)."),
            .flag("per-module", "Also write one [queries, train] tensor per module."),
            .flag("per-token", "Also write per_token [queries, train, tokens]."),
            .flag("self", "Also write self_scores.safetensors (strategies that keep their inverse: factors, exact, arnoldi)."),
            .value("batch-size", "N", default: "8", "Training rows per batch."),
            .value(
                "curvature-batch", "N",
                "With a solver strategy: training rows per curvature-product batch; larger is faster and takes more memory (default 1024 for an MLP, 16 for a language model)."
            ),
            .value("max-examples", "N", "Score only the first N training rows."),
            .value("max-queries", "N", "Use only the first N query rows."),
            .value("query-chunk", "N", default: "64", "Queries held in memory at once; the training rows are read once per chunk."),
            .value(
                "query-rank", "full|R|auto", default: "full",
                "Keep each preconditioned query gradient whole, as a rank-R truncated SVD per tracked layer, or with the smallest rank keeping --query-energy of its squared norm."
            ),
            .value("query-energy", "E", default: "0.99", "With --query-rank auto: the fraction of ‖P_q‖²_F kept per layer, in (0, 1]."),
            .value("query-svd", "exact|randomized", default: "exact", "The truncated SVD: LAPACK's, or a randomized range finder (with a fixed --query-rank)."),
            .value("svd-oversampling", "P", default: "10", "With --query-svd randomized: extra columns sampled."),
            .value("svd-power-iterations", "Q", default: "2", "With --query-svd randomized: power iterations."),
            .value(
                "memory-budget", "SIZE",
                "Memory the queries of a chunk may hold (e.g. 512M, 4G): as many queries share a pass over the training rows as fit; default --query-chunk queries."
            ),
            .value(
                "top-k", "K",
                "Keep only each query's K highest and K lowest training rows (top_scores.safetensors): memory O(queries × K) whatever the training set."),
            .value(
                "candidates", "FILE.jsonl",
                "Score only each query's candidate rows, from `influence candidates` (candidate_scores.safetensors); each row is read once for all the queries that chose it."
            ),
            .value("out", "SCORES_DIR", required: true, "Where the scores are written."),
            .value(
                "partition", "I/N",
                "Run part I of N (0 ≤ I < N) of a job array: the rows rank I of N would take, left in SCORES_DIR for `influence merge`."
            ),
            .flag("restart", "Discard the partial results of an interrupted run in SCORES_DIR and start over."),
        ]
    static let discussion = """
        score(q, m) = ∇f(z_q)ᵀ (H + λI)⁻¹ ∇L(z_m): positive when training row m supports query q (up-weighting
        it lowers the query's loss). f is the query's summed next-token loss, or with prompt and completion
        −log p(completion | prompt); for an MLP classifier, f and L are the cross-entropy of a row's label. Outputs: pairwise_scores.safetensors (all_modules [queries, train] and,
        when asked, one tensor per module and per_token), self_scores.safetensors, and summary.json with the
        ten highest and ten lowest training rows per query. An interrupted run resumes from the partial
        results it keeps in SCORES_DIR when run again with the same factors, options and data.
        Under `mpirun -np N` each rank scores a contiguous share of the training batches (every rank
        preconditions the queries) and rank 0 joins the columns and writes, bit for bit one process's output.
        """

    var request: ScoresRequest
    let restart: Bool

    init(_ arguments: ParsedArguments) throws {
        guard let damping = Damping(arguments.string("damping")!) else {
            throw UsageError(
                "option '--damping' needs 'auto' or a number from 0 to 1e15 (beyond it every score is 0 in float precision), got '\(arguments.string("damping")!)'"
            )
        }
        let name = try arguments.choice("strategy", from: CurvatureStrategies.names)
        if (name == "tracin") != (arguments.string("checkpoints") != nil) {
            throw UsageError("--strategy tracin and --checkpoints DIR go together")
        }
        if (arguments.string("factors") == nil) == (name == nil) {
            throw UsageError("give either --factors FACTORS_DIR or --strategy \(Self.strategyNames)")
        }
        let kind = CurvatureKind(rawValue: try arguments.choice("curvature", from: CurvatureKind.allCases.map(\.rawValue))!)!
        let allParameters = arguments.string("modules")?.split(separator: ",").contains("all") == true
        let source: ScoresRequest.Source
        if let name {
            let type = CurvatureStrategies.named(name)!
            var values: [String: String] = [:], flags = Set<String>()
            for o in type.options {
                if o.valueName == nil { if arguments.flag(o.name) { flags.insert(o.name) } } else if let v = arguments.string(o.name) { values[o.name] = v }
            }
            let strategy = try type.init(options: StrategyOptions(values: values, flags: flags))
            if damping == .automatic && !type.definesAutomaticDamping && type.coversEveryParameter {
                throw UsageError("--strategy \(name) needs a numeric --damping (auto is defined by fitted factors)")
            }
            if arguments.flag("self") && !type.offersSelfInfluence {
                let offering = CurvatureStrategies.all.filter { $0.offersSelfInfluence && !$0.definesAutomaticDamping }.map { $0.name }
                throw UsageError("--self needs fitted factors or --strategy \(offering.joined(separator: "|")); it is not offered with --strategy \(name)")
            }
            if allParameters && !type.coversEveryParameter {
                let covering = CurvatureStrategies.all.filter { $0.coversEveryParameter }.map { $0.name }
                throw UsageError("--strategy \(name) tracks Linear layers; --modules all is offered with \(covering.joined(separator: ", "))")
            }
            if allParameters && (arguments.flag("layerwise") || arguments.flag("per-token")) {
                throw UsageError("--modules all is offered without --layerwise and --per-token")
            }
            source = .strategy(strategy, layerwise: arguments.flag("layerwise"))
        } else {
            if arguments.string("modules") != nil || arguments.flag("layerwise") {
                throw UsageError("--modules and --layerwise go with --strategy; fitted factors already name their modules")
            }
            source = .fit(arguments.path("factors")!)
        }
        var rank = QueryRank.full
        switch arguments.string("query-rank")! {
        case "full": break
        case "auto":
            guard let e = try arguments.number("query-energy"), e > 0 && e <= 1 else {
                throw UsageError("option '--query-energy' must be in (0, 1], got '\(arguments.string("query-energy")!)'")
            }
            rank = .energy(e)
        case let text:
            guard let r = Int(text), r >= 1 else { throw UsageError("option '--query-rank' needs full, auto or a positive rank, got '\(text)'") }
            rank = .fixed(r)
        }
        var svd = TruncatedSVD.exact
        if try arguments.choice("query-svd", from: ["exact", "randomized"]) == "randomized" {
            guard case .fixed = rank else { throw UsageError("--query-svd randomized needs a fixed --query-rank R") }
            svd = .randomized(
                oversampling: try arguments.integer("svd-oversampling", minimum: 0)!,
                powerIterations: try arguments.integer("svd-power-iterations", minimum: 0)!)
        }
        let budget = try arguments.string("memory-budget").map { text -> Int in
            guard let bytes = Self.bytes(text) else { throw UsageError("option '--memory-budget' needs a size such as 512M or 4G, got '\(text)'") }
            return bytes
        }
        var selection = ScoreSelection.all
        if let k = try arguments.integer("top-k", minimum: 1) {
            if arguments.flag("per-module") || arguments.flag("per-token") {
                throw UsageError("--top-k keeps totals only; score its rows again with --candidates for --per-module or --per-token")
            }
            selection = .top(k)
        }
        if arguments.string("candidates") != nil && selection != .all {
            throw UsageError("--candidates and --top-k each choose the rows kept; give one")
        }
        let configuration = ScoreConfiguration(
            damping: damping, perModule: arguments.flag("per-module"), perToken: arguments.flag("per-token"),
            selfInfluence: arguments.flag("self"), batchSize: try arguments.integer("batch-size", minimum: 1)!,
            queryChunkSize: try arguments.integer("query-chunk", minimum: 1)!, queryRank: rank, svd: svd,
            memoryBudget: budget, selection: selection)
        let inputs = TaskInputs(
            model: arguments.path("model")!, train: arguments.string("train")!, queries: arguments.string("queries")!,
            labelColumn: arguments.string("label-column")!, maximumExamples: try arguments.integer("max-examples", minimum: 1),
            maximumQueries: try arguments.integer("max-queries", minimum: 1))
        request = ScoresRequest(
            inputs: inputs, source: source, modules: arguments.string("modules"), curvature: kind,
            curvatureBatchSize: try arguments.integer("curvature-batch", minimum: 1), checkpoints: arguments.path("checkpoints"),
            configuration: configuration, candidates: arguments.path("candidates"), output: arguments.path("out")!)
        restart = arguments.flag("restart")
        request.configuration.partition = try Self.partition(arguments)
        request.memoryLimit = try memoryLimit(arguments)
    }

    init(_ arguments: ParsedArguments, merging parts: Int) throws {
        try self.init(arguments)
        request.configuration.mergedParts = parts
    }

    /// Bytes of a size such as `4096`, `512K`, `512M`, `1.5G` (powers of 1024; a trailing `B` allowed).
    static func bytes(_ text: String) -> Int? {
        var body = text.trimmingCharacters(in: .whitespaces).uppercased()
        if body.hasSuffix("B") { body.removeLast() }
        var scale = 1.0
        if let unit = body.last, let power = ["K": 1.0, "M": 2.0, "G": 3.0, "T": 4.0][String(unit)] {
            scale = Foundation.pow(1024, power)
            body.removeLast()
        }
        guard let value = Double(body), value > 0, value.isFinite, value * scale < Double(Int.max) else { return nil }
        return Int(value * scale)
    }

    func run() throws {
        if restart {
            if world.isRoot { try PartialResults.discard(in: request.output) }
            try world.barrier()
        }
        var request = request
        request.configuration.communicator = world
        if let p = request.configuration.partition { try Self.recordPlan(p, folder: request.output) }
        if world.isRoot { request.showPlan = { printError($0.description) } }
        let progress = StageProgress()
        let report = try Workflows.scores(request) { if world.isRoot { progress.update($0, $1, $2) } }  // only rank 0 shows progress
        if let p = request.configuration.partition {
            print(
                "part \(p) scored its rows in \(request.output.path)" + String(format: " (%.1f s)", report.seconds)
                    + "; when all \(p.count) parts have, run `influence merge --out \(request.output.path)`")
            return
        }
        if request.configuration.mergedParts != nil {
            try? FileManager.default.removeItem(at: request.output.appendingPathComponent(PartitionPlan.fileName))
        }
        for warning in report.run.warnings { printError("warning: \(warning)") }
        print(
            "scored \(report.queryCount) queries against \(report.trainingCount) training rows"
                + String(format: " in %.1f s (%@, damping %@)", report.seconds, report.label, request.configuration.damping.description))
        if let statistics = report.queryStatistics, statistics.passes > 0 { print("queries: " + statistics.summary) }
        if let plan = report.plan { print(memorySummary(plan: plan, peak: report.peakResident)) }
        print("wrote \(request.output.path)")
    }
}

/// `--memory-limit SIZE` in bytes, when given.
func memoryLimit(_ arguments: ParsedArguments) throws -> Int? {
    try arguments.string("memory-limit").map { text in
        guard let bytes = ScoresCommand.bytes(text) else { throw UsageError("option '--memory-limit' needs a size such as 512M or 8G, got '\(text)'") }
        return bytes
    }
}

/// One line: the measured peak resident memory beside the plan's.
func memorySummary(plan: MemoryPlan, peak: Int) -> String {
    let error = plan.peak > 0 ? 100 * (Double(plan.peak) - Double(peak)) / Double(peak) : 0
    return "memory: peak resident \(MemoryPlan.format(peak)), planned \(MemoryPlan.format(plan.peak))" + String(format: " (%+.0f %%)", error)
}
