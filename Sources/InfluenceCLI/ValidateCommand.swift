import Foundation
import Influence
import Validation
import Workflows

/// `influence validate pbrf|lds|mislabels`: the strategies against a ground truth on the user's model.
struct ValidatePBRFCommand: ValidateCommand {
    static let kind = ValidationRequest.Kind.pbrf
    static let abstract = "The strategies against the proximal Bregman response function of training points (any model)."
    let request: ValidationRequest
}

struct ValidateLDSCommand: ValidateCommand {
    static let kind = ValidationRequest.Kind.lds
    static let abstract = "The strategies' linear datamodeling score over retrained subsets (MLPs, CNNs and language models `influence train` made)."
    let request: ValidationRequest
}

struct ValidateMislabelsCommand: ValidateCommand {
    static let kind = ValidationRequest.Kind.mislabels
    static let abstract = "Flipped labels found by the strategies' self-influence (MLP and CNN classifiers)."
    let request: ValidationRequest
}

/// What the three validations share: options, checks and the run.
protocol ValidateCommand: Subcommand {
    static var kind: ValidationRequest.Kind { get }
    var request: ValidationRequest { get }
    init(request: ValidationRequest)
}

extension ValidateCommand {
    static var name: String { "validate \(kind.rawValue)" }
    /// The options of this kind: the shared ones and its own (`--points` is PBRF's, `--subsets` LDS's, ...).
    static var options: [OptionSpecification] { validateOptions.filter { validateOptionKinds[$0.name]?.contains(kind) ?? true } }
    static var discussion: String { validateDiscussion }

    init(_ arguments: ParsedArguments) throws {
        self.init(request: try validationRequest(Self.kind, arguments.filling(defaultsOf: validateOptions)))
    }

    func run() throws {
        let progress = StageProgress()
        var request = request
        // Under mpirun the ranks share the ground truth; rank 0 alone reports and writes.
        request.communicator = world
        let report = try Workflows.validate(
            request, step: { if world.isRoot { printError("== \($0)") } }, progress: world.isRoot ? { progress.update($0, $1, $2) } : nil)
        print(report.table, terminator: "")
        print("wrote \(request.output.appendingPathComponent("\(request.kind.rawValue).json").path)")
    }
}

/// The kinds that take an option; options not listed are shared by all three.
let validateOptionKinds: [String: Set<ValidationRequest.Kind>] = [
    "points": [.pbrf], "epsilon": [.pbrf], "pbrf-steps": [.pbrf], "pbrf-tolerance": [.pbrf], "pbrf-learning-rate": [.pbrf], "pbrf-betas": [.pbrf],
    "subsets": [.lds], "subset-fraction": [.lds], "seeds": [.lds],
    "flip-fraction": [.mislabels], "seed": [.lds, .mislabels],
]

let validateOptions: [OptionSpecification] = [
    .value("model", "DIR", required: true, "The model directory (LDS: a model made by `influence train`; mislabels: an MLP or CNN classifier made by it)."),
    .value("train", "TRAIN", required: true, "Training rows, as `scores` takes them."),
    .value("queries", "QUERIES", "Queries (PBRF and LDS)."),
    .value("label-column", "NAME", default: "label", "MLP with CSV data: the label column."),
    .value("max-examples", "N", "Keep the first N training rows."),
    .value("max-queries", "N", "Keep the first N queries."),
    .value("modules", "LIST", "Tracked modules, as `fit` takes them (default: the model's MLP layers, every tracked layer of an MLP or CNN)."),
    .value(
        "strategies", "LIST", default: "ekfac,kfac,lissa,cg,exact,identity,tracin",
        "Strategies to measure, each `name` or `name:option=value` (lissa:depth=100); `:layerwise` for the block-diagonal variant (exact:layerwise)."),
    .value("damping", "X", default: "0.01", "λ of every strategy and of PBRF's proximity term."),
    .value("points", "N", default: "100", "PBRF: training points, spread evenly over the rows."),
    .value("epsilon", "X", "PBRF: the up-weighting ε (default 1/N, one more copy of the point)."),
    .value("pbrf-steps", "N", default: "3000", "PBRF: Adam steps per solve at most."),
    .value("pbrf-tolerance", "X", default: "1e-3", "PBRF: stop when ‖∇J‖ ≤ X·‖∇J(θˢ)‖."),
    .value("pbrf-learning-rate", "X", "PBRF: Adam's first learning rate (default: from the first gradient, see below)."),
    .value("pbrf-betas", "B1,B2", default: "0.99,0.999", "PBRF: Adam's moment decay rates (β1 = 0.99: the momentum these ill-conditioned objectives need)."),
    .value("subsets", "M", default: "100", "LDS: random subsets, each retrained."),
    .value("subset-fraction", "A", default: "0.5", "LDS: the fraction of training rows in each subset."),
    .value("seeds", "N", default: "1", "LDS: retrainings per subset, averaged."),
    .value("flip-fraction", "X", default: "0.1", "Mislabels: the fraction of labels flipped."),
    .value("seed", "S", default: "0", "Seed of the subsets and of the flipped labels."),
    .value("out", "DIR", required: true, "Writes DIR/<kind>.json; keeps finished work there so that a rerun resumes."),
]

let validateDiscussion = """
    pbrf: for each training point z_m, θ_ε = argmin (1/N) Σ_i D(h(θ, x_i), h(θˢ, x_i)) + ε L(z_m, θ) + (λ/2)‖θ − θˢ‖², D the Bregman
    divergence of the loss in output space, solved by Adam from θˢ at +ε and −ε over the tracked layers; the PBRF score is
    −(f(θ_+ε) − f(θ_−ε))/(2ε) (positive: z_m supports the query). Each strategy's scores (same λ, Gauss–Newton curvature for the
    solvers, sampled-label Fisher for the factors) are compared with it: Pearson and Spearman over every (query, point) pair and the
    mean per-query Pearson, with the seconds each strategy took including its fit. Adam's first learning rate is the RMS of
    ε∇L(z_m)/λ; it halves on a step that raises the objective (undone) and grows 10 % on one that lowers it. A point whose
    move float32 cannot resolve (a well-fitted point) is counted as unresolved; an ε too small for the first three points is
    refused, naming one that works.
    lds: M subsets of a fraction A of the rows, the model retrained on each as `influence train` trained it (training_options.json);
    per query Spearman's ρ over subsets between Σ_{m∈S} score(q, m) and −f_q(S), averaged over queries.
    mislabels: a fraction of labels flipped, the classifier retrained on them, rows ranked by self-influence: the fraction of flipped rows
    among the top 5, 10, 20 and 30 % and the AUC, beside ranking by training loss and chance.
    """

func validationRequest(_ kind: ValidationRequest.Kind, _ arguments: ParsedArguments) throws -> ValidationRequest {
    let inputs = TaskInputs(
        model: arguments.path("model")!, train: arguments.string("train")!, queries: arguments.string("queries"),
        labelColumn: arguments.string("label-column")!, maximumExamples: try arguments.integer("max-examples", minimum: 1),
        maximumQueries: try arguments.integer("max-queries", minimum: 1))
    if kind != .mislabels && inputs.queries == nil { throw UsageError("validate \(kind.rawValue) needs --queries") }
    let damping = try arguments.number("damping")!
    guard damping > 0, damping <= Damping.maximum else {
        throw UsageError(
            "option '--damping' must be a positive number at most \(Damping.maximum) (beyond it every score is 0 in float precision), got \(damping)")
    }
    let strategies = arguments.string("strategies")!.split(separator: ",").map { String($0) }
    for s in strategies {
        let name = String(s.split(separator: ":").first ?? "")
        guard CurvatureStrategies.named(name) != nil else {
            throw UsageError("unknown strategy '\(s)' in --strategies (available: \(CurvatureStrategies.names.joined(separator: ", ")))")
        }
    }
    if let e = try arguments.number("epsilon"), !(e > 0 && e.isFinite) { throw UsageError("option '--epsilon' must be a positive number, got \(e)") }
    let tolerance = try arguments.number("pbrf-tolerance")!
    guard tolerance > 0 && tolerance < 1 else { throw UsageError("option '--pbrf-tolerance' must be between 0 and 1, got \(tolerance)") }
    if let r = try arguments.number("pbrf-learning-rate"), !(r > 0 && r.isFinite) {
        throw UsageError("option '--pbrf-learning-rate' must be a positive number, got \(r)")
    }
    let fraction = try arguments.number("subset-fraction")!, flip = try arguments.number("flip-fraction")!
    guard fraction > 0 && fraction < 1 else { throw UsageError("option '--subset-fraction' must be between 0 and 1, got \(fraction)") }
    guard flip > 0 && flip < 1 else { throw UsageError("option '--flip-fraction' must be between 0 and 1, got \(flip)") }
    let betas = arguments.string("pbrf-betas")!.split(separator: ",").compactMap { Double($0) }
    guard betas.count == 2, betas.allSatisfy({ $0 >= 0 && $0 < 1 }) else {
        throw UsageError("option '--pbrf-betas' needs two decay rates in [0, 1) such as 0.9,0.999, got '\(arguments.string("pbrf-betas")!)'")
    }
    let pbrf = ProximalBregmanConfiguration(
        epsilon: try arguments.number("epsilon"), damping: damping,
        learningRate: try arguments.number("pbrf-learning-rate"),
        maximumSteps: try arguments.integer("pbrf-steps", minimum: 1)!, tolerance: tolerance,
        beta1: betas[0], beta2: betas[1])
    return ValidationRequest(
        kind: kind, inputs: inputs, modules: arguments.string("modules"), strategies: strategies, damping: damping,
        points: try arguments.integer("points", minimum: 1)!, pbrf: pbrf,
        subsets: try arguments.integer("subsets", minimum: 2)!, subsetFraction: fraction,
        seeds: try arguments.integer("seeds", minimum: 1)!, flipFraction: flip,
        seed: UInt64(try arguments.integer("seed", minimum: 0, maximum: Int.max)!), output: arguments.path("out")!)
}
