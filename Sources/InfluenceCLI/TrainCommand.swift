import Foundation
import Influence
import ModelIO
import NeuralNetworks
import Workflows

/// `influence train`: trains a language model of any family, an MLP classifier or regressor, or a
/// CNN image classifier, and writes a model directory.
struct TrainCommand: Subcommand {
    static let name = "train"
    static let abstract = "Train a language model (GPT-2, Llama, GPT-NeoX), an MLP or a CNN classifier and write a Hugging Face-style directory."
    /// The registry's language-model families, and the MLP classifier.
    static let architectures = ModelRegistry.languageModelFamilies.map { $0.architecture } + ["mlp", "cnn"]
    static let options: [OptionSpecification] = [
        .value("out", "DIR", required: true, "Output directory (config.json, model.safetensors, tokenizer.json, training_log.jsonl)."),
        .value(
            "architecture", architectures.joined(separator: "|"), default: "gpt2",
            "What to train: a language model of a family, an MLP classifier or a CNN image classifier."),
        .value("model-type", architectures.joined(separator: "|"), "The same as --architecture (its earlier name)."),
        .value("corpus", "fortunes", "Language model: train on Debian's fortune corpora."),
        .value("languages", "LIST", default: "en,de,es", "Language model with --corpus fortunes: languages to include."),
        .value("data", "FILE", "Language model: a JSON Lines file of {\"text\"} or {\"input_ids\"} rows; MLP: a CSV file."),
        .value("config", "CONFIG.json", "Language model: a Hugging Face config.json of any supported model_type (else the size options below)."),
        .value("tokenizer", "tokenizer.json", "Language model: a tokenizer (else one is trained on the training texts)."),
        .value("vocab-size", "N", default: "2048", "Language model: vocabulary size of a trained tokenizer."),
        .value("layers", "N", default: "2", "Language model: layers."),
        .value("width", "N", default: "128", "Language model: embedding size."),
        .value("heads", "N", default: "4", "Language model: attention heads."),
        .value("kv-heads", "N", "Llama: key/value heads of grouped-query attention (default one per head)."),
        .value("context", "N", default: "64", "Language model: context length (training sequences are chunks of this length)."),
        .value("dropout", "P", default: "0.1", "Language model: dropout probability."),
        .value("dataset", "fashion-mnist", "MLP and CNN: train on FashionMNIST."),
        .value("label-column", "NAME", default: "label", "MLP with a CSV file: the label column."),
        .value("target-column", "NAME[,NAME...]", "MLP with a CSV file: train a regressor (squared error) on these columns instead of a classifier."),
        .value("hidden", "LIST", "MLP: hidden layer sizes (default 256,128); CNN: hidden linear layers after the convolutions (default none)."),
        .value("activation", "NAME", default: "relu", "MLP and CNN: activation (relu, gelu, tanh, sigmoid, silu)."),
        .value("channels", "LIST", default: "8,16", "CNN: output channels of each convolution block (convolution, activation, 2×2 pooling)."),
        .value("kernel-size", "K", default: "3", "CNN: square convolution kernel (padding K/2)."),
        .value("pool", "max|avg", default: "max", "CNN: pooling after each convolution."),
        .value("input-shape", "C,H,W", "CNN with a CSV file: the image shape of each row's values (FashionMNIST: 1,28,28)."),
        .value("steps", "N", default: "500", "Optimizer steps."),
        .value("epochs", "N", "Train for N passes over the training examples instead of --steps."),
        .value("batch-size", "N", default: "32", "Examples per step."),
        .value("optimizer", "adamw|sgd", default: "adamw", "Optimizer."),
        .value("learning-rate", "X", default: "0.001", "Peak learning rate."),
        .value("warmup", "N", default: "20", "Linear warm-up steps (then cosine decay to a tenth of the peak)."),
        .value("weight-decay", "X", default: "0.01", "Weight decay (decoupled for AdamW)."),
        .value("momentum", "X", default: "0.9", "SGD momentum."),
        .value("clip", "X", default: "1.0", "Clip gradients to this global norm (0: no clipping)."),
        .value("validation-fraction", "X", default: "0.1", "Fraction held out for the validation loss (MLP on FashionMNIST uses the test split)."),
        .value("validation-interval", "N", default: "50", "Steps between validation losses."),
        .value("checkpoint-interval", "N", default: "100", "Steps between checkpoints (OUT/checkpoint.safetensors)."),
        .value("max-examples", "N", "Use at most this many training examples."),
        .value("seed", "S", default: "0", "Seed for initialisation, shuffling and dropout."),
        .value("save-every", "N", "Also keep the model every N steps in OUT/checkpoints (with each step's learning rate, for TracIn)."),
        .flag("restart", "Ignore an existing checkpoint in OUT and start over."),
    ]
    static let discussion = """
        Training resumes from OUT/checkpoint.safetensors when it exists and was made with the same
        options: an interrupted run continues with exactly the losses it would have had. Giving more steps or
        epochs extends a finished run; the learning-rate schedule then follows the new total. The validation
        loss is logged to stderr and to OUT/training_log.jsonl. Language models are saved as transformers
        writes their family (GPT2LMHeadModel, LlamaForCausalLM, GPTNeoXForCausalLM).
        """

    let arguments: ParsedArguments
    let architecture: String
    let training: TrainingOptions

    init(_ arguments: ParsedArguments) throws {
        self.arguments = arguments
        let architectures = Self.architectures
        if arguments.string("model-type") != nil && arguments.string("architecture") != "gpt2" {
            throw UsageError("give --architecture or its earlier name --model-type, not both")
        }
        architecture = try arguments.choice("model-type", from: architectures) ?? arguments.choice("architecture", from: architectures)!
        if architecture == "mlp" || architecture == "cnn" {
            if (arguments.string("dataset") == nil) == (arguments.string("data") == nil) {
                throw UsageError("\(architecture.uppercased()) training needs exactly one of --dataset fashion-mnist and --data FILE.csv")
            }
            if let d = arguments.string("dataset"), d != "fashion-mnist" { throw UsageError("unknown dataset '\(d)' (available: fashion-mnist)") }
        } else {
            if (arguments.string("corpus") == nil) == (arguments.string("data") == nil) {
                throw UsageError("language-model training needs exactly one of --corpus fortunes and --data FILE.jsonl")
            }
            if let corpus = arguments.string("corpus"), corpus != "fortunes" { throw UsageError("unknown corpus '\(corpus)' (available: fortunes)") }
        }
        _ = try arguments.choice("optimizer", from: ["adamw", "sgd"])
        for name in ["learning-rate", "weight-decay", "momentum", "clip", "validation-fraction", "dropout"] {
            if let v = try arguments.number(name), v < 0 { throw UsageError("option '--\(name)' must not be negative, got \(v)") }
        }
        if try arguments.number("validation-fraction")! >= 1 { throw UsageError("option '--validation-fraction' must be below 1") }
        if try arguments.number("dropout")! >= 1 { throw UsageError("option '--dropout' must be below 1") }
        // The options that make a run: a checkpoint made with others is not resumed.
        var recorded: [String: String] = [:]
        for o in Self.options
        where o.takesValue
            && ![
                "out", "steps", "epochs", "validation-interval", "checkpoint-interval", "save-every",
                "model-type", "architecture",
            ].contains(o.name)
        {
            if let v = arguments.string(o.name) { recorded[o.name] = v }
        }
        if architecture != "gpt2" { recorded["architecture"] = architecture }
        training = TrainingOptions(
            steps: try arguments.integer("steps", minimum: 1)!, epochs: try arguments.integer("epochs", minimum: 1),
            batchSize: try arguments.integer("batch-size", minimum: 1)!, optimizer: arguments.string("optimizer")!,
            learningRate: try arguments.number("learning-rate")!, warmup: try arguments.integer("warmup", minimum: 0)!,
            weightDecay: try arguments.number("weight-decay")!, momentum: try arguments.number("momentum")!, clip: try arguments.number("clip")!,
            validationFraction: try arguments.number("validation-fraction")!,
            validationInterval: try arguments.integer("validation-interval", minimum: 0)!,
            checkpointInterval: try arguments.integer("checkpoint-interval", minimum: 0)!,
            maximumExamples: try arguments.integer("max-examples", minimum: 1), seed: UInt64(try arguments.integer("seed", minimum: 0, maximum: Int.max)!),
            saveEvery: try arguments.integer("save-every", minimum: 1), restart: arguments.flag("restart"), recorded: recorded)
        for name in ["vocab-size", "layers", "width", "heads", "kv-heads", "context"] { _ = try arguments.integer(name, minimum: 1) }
    }

    func run() throws {
        let out = arguments.path("out")!
        if architecture == "mlp" || architecture == "cnn" {
            func sizes(_ name: String, _ text: String, example: String, maximum: Int = Int(Int32.max)) throws -> [Int] {
                try text.split(separator: ",", omittingEmptySubsequences: false).map { part -> Int in
                    guard let n = Int(part.trimmingCharacters(in: .whitespaces)), n > 0, n <= maximum else {
                        throw UsageError("option '--\(name)' needs positive sizes like \(example) (each at most \(maximum)), got '\(part)'")
                    }
                    return n
                }
            }
            let hidden = try arguments.string("hidden").map { try sizes("hidden", $0, example: "256,128") } ?? (architecture == "mlp" ? [256, 128] : [])
            var convolution: ConvolutionalShape? = nil
            if architecture == "cnn" {
                if arguments.string("target-column") != nil { throw UsageError("option '--target-column' is for MLP regressors; a CNN is a classifier") }
                guard let pool = PoolingKind(rawValue: arguments.string("pool") == "avg" ? "average" : arguments.string("pool")!) else {
                    throw UsageError("option '--pool' must be max or avg, got '\(arguments.string("pool")!)'")
                }
                let shape = try arguments.string("input-shape").map { try sizes("input-shape", $0, example: "1,28,28", maximum: 1 << 16) }
                if let shape, shape.count != 3 { throw UsageError("option '--input-shape' needs CHANNELS,HEIGHT,WIDTH, got \(shape.count) sizes") }
                if shape != nil && arguments.path("data") == nil { throw UsageError("option '--input-shape' is for --data FILE.csv (FashionMNIST is 1,28,28)") }
                convolution = ConvolutionalShape(
                    channels: try sizes("channels", arguments.string("channels")!, example: "8,16", maximum: 1 << 16),
                    kernelSize: try arguments.integer("kernel-size", minimum: 1, maximum: 1 << 10)!, pooling: pool,
                    inputShape: shape)
            }
            guard let activation = Activation(huggingFaceName: arguments.string("activation")!) else {
                throw UsageError("unknown activation '\(arguments.string("activation")!)'")
            }
            let targets = arguments.string("target-column").map { $0.split(separator: ",").map(String.init) }
            if targets != nil && arguments.path("data") == nil { throw UsageError("option '--target-column' needs --data FILE.csv") }
            try Workflows.train(
                ClassifierTrainingRequest(
                    output: out, data: arguments.path("data"), labelColumn: arguments.string("label-column")!,
                    targetColumns: targets, hidden: hidden, activation: activation,
                    convolution: convolution, training: training),
                log: printError)
        } else {
            let languages =
                arguments.string("corpus") == nil
                ? nil
                : arguments.string("languages")!.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            let request = LanguageModelTrainingRequest(
                output: out, architecture: architecture, corpusLanguages: languages, data: arguments.string("corpus") == nil ? arguments.path("data") : nil,
                configuration: arguments.path("config"), tokenizer: arguments.path("tokenizer"),
                vocabularySize: try arguments.integer("vocab-size", minimum: 1)!, layers: try arguments.integer("layers", minimum: 1)!,
                width: try arguments.integer("width", minimum: 1)!, heads: try arguments.integer("heads", minimum: 1)!,
                keyValueHeads: try arguments.integer("kv-heads", minimum: 1), context: try arguments.integer("context", minimum: 2)!,
                dropout: try arguments.number("dropout")!, training: training)
            if request.tokenizer == nil && request.configuration == nil && request.vocabularySize < 258 {
                throw UsageError("option '--vocab-size' must be at least 258 for a trained byte-level tokenizer, got \(request.vocabularySize)")
            }
            try Workflows.train(request, log: printError)
        }
        print("wrote \(out.path)")
    }
}
