import Foundation
import Influence

/// `influence fit`: fits the curvature factors of a strategy on training data.
struct FitCommand: Subcommand {
    static let name = "fit"
    static let abstract = "Fit influence factors (identity, diagonal, K-FAC, EK-FAC) on a model's training data."
    static let options: [OptionSpecification] = [
        .value("model", "DIR", required: true, "Model directory: a GPT-2 or an MLP classifier."),
        .value("data", "TRAIN", required: true, "Training rows. GPT-2: JSON Lines {\"text\"} or {\"input_ids\"}; MLP: a CSV file or fashion-mnist:train."),
        .value("label-column", "NAME", default: "label", "MLP with a CSV file: the label column."),
        .value("strategy", "identity|diagonal|kfac|ekfac", required: true, "How the curvature is approximated."),
        .value("modules", "PATTERN[,PATTERN]", "Linear layers to track by name (* wildcards; 'mlp' = every MLP Linear); default every Linear."),
        .value("fisher", "sampled|empirical", default: "sampled", "Labels sampled from the model (true Fisher) or the data's own."),
        .value("batch-size", "N", default: "8", "Examples per batch."),
        .value("max-examples", "N", "Fit on the first N training rows only."),
        .value("seed", "S", default: "0", "Seed of the sampled labels."),
        .value("accumulate", "float32|float64", default: "float32", "Precision of the covariance and Λ sums."),
        .value("out", "FACTORS_DIR", required: true, "Where factors.safetensors is written."),
    ]
    static let discussion = """
    An interrupted fit resumes from the partial sums it saves in FACTORS_DIR when run again with the
    same options. Factors record the model's fingerprint and modules; scores refuses them for another model.
    """

    let arguments: ParsedArguments
    let configuration: FitConfiguration

    init(_ arguments: ParsedArguments) throws {
        self.arguments = arguments
        let strategy = CurvatureStrategy(rawValue: try arguments.choice("strategy", from: CurvatureStrategy.allCases.map(\.rawValue))!)!
        let fisher = try arguments.choice("fisher", from: ["sampled", "empirical"])!
        configuration = FitConfiguration(strategy: strategy, labels: fisher == "sampled" ? .sampled : .data,
                                         batchSize: try arguments.integer("batch-size", minimum: 1)!,
                                         maximumExamples: try arguments.integer("max-examples", minimum: 1),
                                         seed: UInt64(try arguments.integer("seed", minimum: 0)!),
                                         accumulatesInDouble: try arguments.choice("accumulate", from: ["float32", "float64"]) == "float64")
    }

    func run() throws {
        let out = arguments.path("out")!
        switch try loadTask(model: arguments.path("model")!, train: arguments.string("data")!, queries: nil,
                            labelColumn: arguments.string("label-column")!, maximumExamples: configuration.maximumExamples).task {
        case let .language(task): try fit(task, out: out)
        case let .classification(task): try fit(task, out: out)
        }
    }

    func fit<T: InfluenceTask>(_ task: T, out: URL) throws {
        let fitter = try FactorFitter(task: task, modules: expandModulePatterns(arguments.string("modules")), configuration: configuration)
        let progress = StageProgress()
        fitter.progress = { progress.update($0, $1, $2) }
        let started = Date()
        let factors = try fitter.fit(partialDirectory: out)
        try factors.save(to: out)
        print("fitted \(configuration.strategy.rawValue) factors for \(factors.moduleNames.count) modules on \(factors.exampleCount) examples"
            + (factors.tokenCount > 0 ? " (\(factors.tokenCount) tokens)" : "") + String(format: " in %.1f s", Date().timeIntervalSince(started)))
        print("modules: \(factors.moduleNames.joined(separator: ", "))")
        print("wrote \(out.appendingPathComponent(InfluenceFactors.fileName).path)")
    }
}
