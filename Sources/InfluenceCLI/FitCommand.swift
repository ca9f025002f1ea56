import Foundation
import Influence
import Workflows

/// `influence fit`: fits the curvature factors of a strategy on training data.
struct FitCommand: PartitionedCommand {
    static let name = "fit"
    static let abstract = "Fit influence factors (identity, diagonal, K-FAC, EK-FAC) on a model's training data."
    static let savedStrategies = CurvatureStrategies.all.filter { $0.savesFit }.map { $0.name }
    static let options: [OptionSpecification] = [
        .value("model", "DIR", required: true, "Model directory: a language model (gpt2, llama, mistral, qwen2, gpt_neox) or an MLP classifier."),
        .value(
            "data", "TRAIN", required: true,
            "Training rows. Language model: JSON Lines {\"text\"} or {\"input_ids\"}; MLP or CNN classifier: a CSV file or fashion-mnist:train."),
        .value("label-column", "NAME", default: "label", "MLP with a CSV file: the label column."),
        .value("strategy", savedStrategies.joined(separator: "|"), required: true, "How the curvature is approximated."),
        .value(
            "modules", "GROUP|PATTERN[,...]",
            "Layers to track (Linear and Conv2d): the model's groups (mlp, attention, all; a CNN's conv, linear; see inspect) or name patterns with * wildcards; default every one."
        ),
        .value("fisher", "sampled|empirical", default: "sampled", "Labels sampled from the model (true Fisher) or the data's own."),
        .value("batch-size", "N", default: "8", "Examples per batch."),
        .value("max-examples", "N", "Fit on the first N training rows only."),
        .value("seed", "S", default: "0", "Seed of the sampled labels."),
        .value("accumulate", "float32|float64", default: "float32", "Precision of the covariance and Λ sums."),
        .value("out", "FACTORS_DIR", required: true, "Where factors.safetensors is written."),
        .value(
            "memory-limit", "SIZE",
            "Refuse the run when its memory plan (printed before it starts) needs more than SIZE (e.g. 8G); default: the memory available."
        ),
        .value(
            "partition", "I/N",
            "Run part I of N (0 ≤ I < N) of a job array: the rows rank I of N would take, left in FACTORS_DIR for `influence merge`."
        ),
        .flag("restart", "Discard the partial sums of an interrupted fit in FACTORS_DIR and start over."),
        .value(
            "reduction-blocks", "N", default: String(FitConfiguration.defaultReductionBlocks),
            "Blocks of batches whose sums are added pairwise: up to N ranks share the work (mpirun), with the same bits for any number; a process holds about log2(N) + 1 partial sums."
        ),
    ]
    static let discussion = """
        An interrupted fit resumes from the partial sums it saves in FACTORS_DIR when run again with the
        same options. Factors record the model's fingerprint and modules; scores refuses them for another model.
        Under `mpirun -np N` each rank fits a contiguous share of the batches and rank 0 writes the factors,
        bit for bit those of one process.
        """

    var request: FitRequest
    let restart: Bool

    init(_ arguments: ParsedArguments) throws {
        let name = try arguments.choice("strategy", from: Self.savedStrategies)!
        let fisher = try arguments.choice("fisher", from: ["sampled", "empirical"])!
        let inputs = TaskInputs(
            model: arguments.path("model")!, train: arguments.string("data")!, labelColumn: arguments.string("label-column")!,
            maximumExamples: try arguments.integer("max-examples", minimum: 1))
        request = FitRequest(
            inputs: inputs, strategy: try CurvatureStrategies.make(name, options: StrategyOptions()),
            modules: arguments.string("modules"), labels: fisher == "sampled" ? .sampled : .data,
            batchSize: try arguments.integer("batch-size", minimum: 1)!, seed: UInt64(try arguments.integer("seed", minimum: 0, maximum: Int.max)!),
            accumulatesInDouble: try arguments.choice("accumulate", from: ["float32", "float64"]) == "float64",
            output: arguments.path("out")!)
        request.reductionBlocks = try arguments.integer("reduction-blocks", minimum: 1, maximum: 1 << 20)!
        restart = arguments.flag("restart")
        if let p = try Self.partition(arguments) { request.mode = .partition(p) }
        request.memoryLimit = try memoryLimit(arguments)
    }

    init(_ arguments: ParsedArguments, merging parts: Int) throws {
        try self.init(arguments)
        request.mode = .merge(parts: parts)
    }

    func run() throws {
        if restart {
            if world.isRoot { try PartialResults.discard(in: request.output) }
            try world.barrier()
        }
        var request = request
        request.communicator = world
        if case let .partition(p) = request.mode { try Self.recordPlan(p, folder: request.output) }
        if world.isRoot { request.showPlan = { printError($0.description) } }
        let progress = StageProgress()
        let report = try Workflows.fit(request) { progress.update($0, $1, $2) }
        if let stage = report.stage {
            print(stage + String(format: " (%.1f s)", report.seconds))
            return
        }
        if case .merge = request.mode { try? FileManager.default.removeItem(at: request.output.appendingPathComponent(PartitionPlan.fileName)) }
        print(
            "fitted \(report.strategy) factors for \(report.moduleNames.count) modules on \(report.exampleCount) examples"
                + (report.tokenCount > 0 ? " (\(report.tokenCount) tokens)" : "") + String(format: " in %.1f s", report.seconds))
        print("modules: \(report.moduleNames.joined(separator: ", "))")
        if let plan = report.plan { print(memorySummary(plan: plan, peak: report.peakResident)) }
        for r in report.reductions {
            print(String(format: "reduced the %@ sums of %d ranks: %.1f MB received in %.3f s", r.pass, world.size, Double(r.bytes) / 1e6, r.seconds))
        }
        print("wrote \(report.file.path)")
    }
}
