import Formats
import Foundation
import Influence
import TensorCore
import Workflows

/// `influence scores`: influence of every training row on every query.
struct ScoresCommand: Subcommand {
    static let name = "scores"
    static let abstract = "Compute pairwise influence scores of training rows on queries with fitted factors or a strategy."
    static let strategyNames = CurvatureStrategies.names.joined(separator: "|")
    static let options: [OptionSpecification] = [
        .value("model", "DIR", required: true, "Model directory: a language model (gpt2, llama, mistral, qwen2, gpt_neox) or an MLP classifier (the one the factors were fitted on)."),
        .value("factors", "FACTORS_DIR", "Output of `influence fit` (or use --strategy)."),
        .value("strategy", strategyNames, "Instead of factors: fit here — factors (identity, diagonal, kfac, ekfac), or solve (H + λI)x = ∇f exactly (small models), by conjugate gradient, LiSSA or Arnoldi; or TracIn over --checkpoints."),
        .value("checkpoints", "DIR", "With --strategy tracin: the checkpoints directory of `influence train --save-every`."),
        .value("curvature", "hessian|ggn|fisher", default: "ggn", "With a solver strategy: the Hessian, the Gauss–Newton matrix or the empirical Fisher of the mean training loss."),
        .value("modules", "GROUP|PATTERN[,...]|all", "With --strategy: the Linear layers tracked (the model's groups such as mlp or attention, or name patterns; default every Linear); 'all' takes every parameter with a solver strategy (LayerNorm, embeddings too; one backward pass per example)."),
        .flag("layerwise", "With --strategy: the block-diagonal variant, one curvature and one solve per tracked layer."),
    ] + CurvatureStrategies.options.map { o in
        o.valueName.map { OptionSpecification.value(o.name, $0, default: o.defaultValue, o.help) } ?? .flag(o.name, o.help)
    } + [
        .value("train", "TRAIN", required: true, "Training rows. Language model: JSON Lines {\"text\"} or {\"input_ids\"}; MLP: a CSV file or fashion-mnist:train."),
        .value("queries", "QUERIES", required: true, "Query rows. Language model: JSON Lines {\"text\"}, {\"input_ids\"} or {\"prompt\", \"completion\"}; MLP: a CSV file or fashion-mnist:test."),
        .value("label-column", "NAME", default: "label", "MLP with CSV files: the label column."),
        .value("damping", "auto|X", default: "auto", "λ: a number, or 0.1 × mean(Λ) per module (fitted factors only)."),
        .flag("per-module", "Also write one [queries, train] tensor per module."),
        .flag("per-token", "Also write per_token [queries, train, tokens]."),
        .flag("self", "Also write self_scores.safetensors (strategies that keep their inverse: factors, exact, arnoldi)."),
        .value("batch-size", "N", default: "8", "Training rows per batch."),
        .value("curvature-batch", "N", "With a solver strategy: training rows per curvature-product batch; larger is faster and takes more memory (default 1024 for an MLP, 16 for a language model)."),
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

    let request: ScoresRequest

    init(_ arguments: ParsedArguments) throws {
        guard let damping = Damping(arguments.string("damping")!) else {
            throw UsageError("option '--damping' needs 'auto' or a non-negative number, got '\(arguments.string("damping")!)'")
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
        let configuration = ScoreConfiguration(damping: damping, perModule: arguments.flag("per-module"), perToken: arguments.flag("per-token"),
                                               selfInfluence: arguments.flag("self"), batchSize: try arguments.integer("batch-size", minimum: 1)!,
                                               queryChunkSize: try arguments.integer("query-chunk", minimum: 1)!)
        let inputs = TaskInputs(model: arguments.path("model")!, train: arguments.string("train")!, queries: arguments.string("queries")!,
                                labelColumn: arguments.string("label-column")!, maximumExamples: try arguments.integer("max-examples", minimum: 1),
                                maximumQueries: try arguments.integer("max-queries", minimum: 1))
        request = ScoresRequest(inputs: inputs, source: source, modules: arguments.string("modules"), curvature: kind,
                                curvatureBatchSize: try arguments.integer("curvature-batch", minimum: 1), checkpoints: arguments.path("checkpoints"),
                                configuration: configuration, output: arguments.path("out")!)
    }

    func run() throws {
        let progress = StageProgress()
        let report = try Workflows.scores(request) { progress.update($0, $1, $2) }
        for warning in report.run.warnings { printError("warning: \(warning)") }
        print("scored \(report.queryCount) queries against \(report.trainingCount) training rows"
            + String(format: " in %.1f s (%@, damping %@)", report.seconds, report.label, request.configuration.damping.description))
        print("wrote \(request.output.path)")
    }
}
