import Autograd
import Datasets
import Foundation
import Formats
import ModelIO
import NeuralNetworks
import TensorCore
import Tokenizers
import Training

/// `influence train`: trains a GPT-2-family model or an MLP classifier and writes a model directory.
struct TrainCommand: Subcommand {
    static let name = "train"
    static let abstract = "Train a GPT-2 language model or an MLP classifier and write a Hugging Face-style directory."
    static let options: [OptionSpecification] = [
        .value("out", "DIR", required: true, "Output directory (config.json, model.safetensors, tokenizer.json, training_log.jsonl)."),
        .value("model-type", "gpt2|mlp", default: "gpt2", "What to train."),
        .value("corpus", "fortunes", "GPT-2: train on Debian's fortune corpora."),
        .value("languages", "LIST", default: "en,de,es", "GPT-2 with --corpus fortunes: languages to include."),
        .value("data", "FILE", "GPT-2: a JSON Lines file of {\"text\"} or {\"input_ids\"} rows; MLP: a CSV file."),
        .value("config", "CONFIG.json", "GPT-2: a Hugging Face config.json (else the size options below)."),
        .value("tokenizer", "tokenizer.json", "GPT-2: a tokenizer (else one is trained on the training texts)."),
        .value("vocab-size", "N", default: "2048", "GPT-2: vocabulary size of a trained tokenizer."),
        .value("layers", "N", default: "2", "GPT-2: layers."),
        .value("width", "N", default: "128", "GPT-2: embedding size."),
        .value("heads", "N", default: "4", "GPT-2: attention heads."),
        .value("context", "N", default: "64", "GPT-2: context length (training sequences are chunks of this length)."),
        .value("dropout", "P", default: "0.1", "GPT-2: dropout probability."),
        .value("dataset", "fashion-mnist", "MLP: train on FashionMNIST."),
        .value("label-column", "NAME", default: "label", "MLP with a CSV file: the label column."),
        .value("hidden", "LIST", default: "256,128", "MLP: hidden layer sizes."),
        .value("activation", "NAME", default: "relu", "MLP: activation (relu, gelu, tanh, sigmoid, silu)."),
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
    epochs extends a finished run; the learning-rate schedule then follows the new total. The validation loss is logged to stderr and to OUT/training_log.jsonl.
    """

    let arguments: ParsedArguments
    let out: URL
    let modelType: String
    let requestedSteps: Int, epochs: Int?, batchSize: Int, seed: UInt64

    init(_ arguments: ParsedArguments) throws {
        self.arguments = arguments
        out = arguments.path("out")!
        modelType = try arguments.choice("model-type", from: ["gpt2", "mlp"])!
        requestedSteps = try arguments.integer("steps", minimum: 1)!
        epochs = try arguments.integer("epochs", minimum: 1)
        batchSize = try arguments.integer("batch-size", minimum: 1)!
        seed = UInt64(try arguments.integer("seed", minimum: 0)!)
        if modelType == "gpt2" {
            if (arguments.string("corpus") == nil) == (arguments.string("data") == nil) {
                throw UsageError("GPT-2 training needs exactly one of --corpus fortunes and --data FILE.jsonl")
            }
            if let corpus = arguments.string("corpus"), corpus != "fortunes" { throw UsageError("unknown corpus '\(corpus)' (available: fortunes)") }
        } else {
            if (arguments.string("dataset") == nil) == (arguments.string("data") == nil) {
                throw UsageError("MLP training needs exactly one of --dataset fashion-mnist and --data FILE.csv")
            }
            if let d = arguments.string("dataset"), d != "fashion-mnist" { throw UsageError("unknown dataset '\(d)' (available: fashion-mnist)") }
        }
        _ = try arguments.choice("optimizer", from: ["adamw", "sgd"])
        for name in ["learning-rate", "weight-decay", "momentum", "clip", "validation-fraction", "dropout"] {
            if let v = try arguments.number(name), v < 0 { throw UsageError("option '--\(name)' must not be negative, got \(v)") }
        }
        if try arguments.number("validation-fraction")! >= 1 { throw UsageError("option '--validation-fraction' must be below 1") }
        if try arguments.number("dropout")! >= 1 { throw UsageError("option '--dropout' must be below 1") }
    }

    /// The steps of this run: `--steps`, or `--epochs` passes over `exampleCount` examples.
    func steps(exampleCount: Int) -> Int {
        guard let epochs else { return requestedSteps }
        return epochs * ((exampleCount + batchSize - 1) / batchSize)
    }

    func schedule(steps: Int) throws -> LearningRateSchedule {
        let peak = try arguments.number("learning-rate")!
        let warmup = try arguments.integer("warmup", minimum: 0)!
        return .warmupCosine(peak: peak, warmupSteps: Swift.min(warmup, steps), totalSteps: steps, minimum: peak / 10)
    }

    func configuration(steps: Int) throws -> TrainingConfiguration {
        let clip = try arguments.number("clip")!
        return TrainingConfiguration(steps: steps, batchSize: batchSize, schedule: try schedule(steps: steps),
                                     maximumGradientNorm: clip > 0 ? clip : nil,
                                     validationInterval: try arguments.integer("validation-interval", minimum: 0)!,
                                     checkpointInterval: try arguments.integer("checkpoint-interval", minimum: 0)!, seed: seed)
    }

    func makeOptimizer(_ parameters: [Parameter<Float>]) throws -> any Optimizer<Float> {
        let rate = try arguments.number("learning-rate")!, decay = try arguments.number("weight-decay")!
        if arguments.string("optimizer") == "sgd" {
            return SGD(parameters: parameters, learningRate: rate, momentum: try arguments.number("momentum")!, weightDecay: decay)
        }
        return AdamW(parameters: parameters, learningRate: rate, weightDecay: decay)
    }

    func run() throws {
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try checkRunOptions()
        if modelType == "gpt2" { try trainLanguageModel() } else { try trainClassifier() }
    }

    /// Refuses to resume a checkpoint made with other options; records the options of this run.
    func checkRunOptions() throws {
        let runURL = out.appendingPathComponent("training_run.json")
        let checkpointURL = out.appendingPathComponent("checkpoint.safetensors")
        var options: [String: JSONValue] = [:]
        for o in Self.options where o.takesValue && !["out", "steps", "epochs", "validation-interval", "checkpoint-interval", "save-every"].contains(o.name) {
            if let v = arguments.string(o.name) { options[o.name] = .string(v) }
        }
        let current = JSONValue.object(options)
        if arguments.flag("restart") {
            try? FileManager.default.removeItem(at: checkpointURL)
        } else if FileManager.default.fileExists(atPath: checkpointURL.path),
                  let data = FileManager.default.contents(atPath: runURL.path),
                  let previous = try? JSONDecoder().decode(JSONValue.self, from: data), previous != current {
            throw CommandFailure("\(checkpointURL.path) was made with other options; run again with the same options to resume, or add --restart")
        }
        try AtomicFile.write(Data(try current.serialized().utf8), to: runURL)
    }

    func writeLog(_ history: [TrainingRecord]) throws {
        let rows: [[String: JSONValue]] = history.map { r in
            var row: [String: JSONValue] = ["step": .number(Double(r.step)), "loss": .number(r.loss), "learning_rate": .number(r.learningRate)]
            if let v = r.validationLoss { row["validation_loss"] = .number(v) }
            return row
        }
        try JSONLines.write(rows, to: out.appendingPathComponent("training_log.jsonl"))
    }

    // MARK: GPT-2

    func trainLanguageModel() throws {
        // Texts, or token ids given directly.
        var texts: [String] = []
        var presetSequences: [[Int]]? = nil
        if arguments.string("corpus") != nil {
            let languages = arguments.string("languages")!.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            texts = try FortuneCorpus.load(languages: languages).map(\.text)
            printError("corpus: \(texts.count) fortunes (\(languages.joined(separator: ", ")))")
        } else if let data = arguments.path("data") {
            let rows = try TextDataset.load(jsonLines: data, tokenizer: nil, encodesText: false)
            let textRows = rows.texts.filter { !$0.isEmpty }.count
            if textRows == 0 {
                presetSequences = rows.sequences
            } else if textRows == rows.count {
                texts = rows.texts
            } else {
                throw CommandFailure("\(data.path) mixes text rows and input_ids rows; use one kind")
            }
        }
        // Tokenizer: given, kept from the run being resumed, or trained on the texts.
        var tokenizer: BytePairTokenizer? = nil
        let savedTokenizer = out.appendingPathComponent("tokenizer.json")
        let resuming = !arguments.flag("restart") && FileManager.default.fileExists(atPath: out.appendingPathComponent("checkpoint.safetensors").path)
        if let path = arguments.path("tokenizer") {
            tokenizer = try BytePairTokenizer(contentsOf: path)
        } else if presetSequences == nil {
            if resuming, let saved = try? BytePairTokenizer(contentsOf: savedTokenizer) {
                tokenizer = saved
            } else {
                let vocabulary = try arguments.integer("vocab-size", minimum: 258)!
                printError("training a byte-level BPE tokenizer (\(vocabulary) tokens) on \(texts.count) texts")
                let trained = BytePairTrainer(vocabularySize: vocabulary, specialTokens: ["<|endoftext|>"]).train(on: texts)
                try trained.save(to: savedTokenizer)
                tokenizer = trained
            }
        }
        let endOfText = tokenizer?.id(of: "<|endoftext|>")
        let vocabularySize = try tokenizer?.vocabularySize ?? arguments.integer("vocab-size", minimum: 1)!

        // Model.
        var configuration: GPT2Configuration
        if let configURL = arguments.path("config") {
            configuration = try GPT2Checkpoint.configuration(in: configURL.deletingLastPathComponent(), file: configURL.lastPathComponent)
        } else {
            let dropout = try arguments.number("dropout")!
            configuration = GPT2Configuration(
                vocabularySize: vocabularySize, contextLength: try arguments.integer("context", minimum: 2)!,
                embeddingSize: try arguments.integer("width", minimum: 1)!, layerCount: try arguments.integer("layers", minimum: 1)!,
                headCount: try arguments.integer("heads", minimum: 1)!, residualDropout: dropout, embeddingDropout: dropout,
                attentionDropout: dropout, bosTokenID: endOfText, eosTokenID: endOfText)
            do { try configuration.validate() } catch { throw UsageError("\(error)") }
        }
        if let tokenizer, tokenizer.vocabularySize > configuration.vocabularySize {
            throw CommandFailure("the tokenizer has \(tokenizer.vocabularySize) tokens but the model's vocab_size is \(configuration.vocabularySize)")
        }

        // Sequences: full chunks of the context length.
        let length = configuration.contextLength
        var sequences = presetSequences.map { $0.flatMap { $0 } }.map { Batching.chunks($0, length: length, dropLast: true) }
            ?? LanguageModelingData.chunkedStream(documents: texts, tokenizer: tokenizer!, endOfText: endOfText, length: length)
        if let bad = sequences.joined().first(where: { $0 >= configuration.vocabularySize }) {
            throw CommandFailure("token id \(bad) is not below the model's vocab_size \(configuration.vocabularySize)")
        }
        var (train, validation) = LanguageModelingData.split(sequences, validationFraction: try arguments.number("validation-fraction")!)
        if let limit = try arguments.integer("max-examples", minimum: 1) { train = Array(train.prefix(limit)) }
        sequences = []
        guard !train.isEmpty else { throw CommandFailure("no training sequence of \(length) tokens: the corpus is too small for the context") }
        printError("sequences: \(train.count) for training, \(validation.count) for validation, \(length) tokens each")

        let model = GPT2LanguageModel<Float>(configuration: configuration, seed: seed)
        printError("model: GPT-2, \(configuration.layerCount) layers, width \(configuration.embeddingSize), \(model.parameterCount.formatted()) parameters")
        let optimizer = try makeOptimizer(model.trainableParameters)
        let predicted = Float(length - 1)
        func meanLoss(_ rows: [[Int]]) -> Variable<Float> {
            let tokens = rows.flatMap { $0 }
            let logits = model(tokens: tokens, batchSize: rows.count)
            return Losses.nextTokenLosses(logits: logits, tokens: tokens).sum() * (1 / (predicted * Float(rows.count)))
        }
        let validationSet = Array(validation.prefix(256))
        try runTrainer(model: model, optimizer: optimizer, exampleCount: train.count,
                       save: { try GPT2Checkpoint.save(model, tokenizer: tokenizer, to: $0) },
                       batchLoss: { indices in meanLoss(indices.map { train[$0] }) },
                       validationLoss: validationSet.isEmpty ? nil : {
                           var total = 0.0
                           for start in stride(from: 0, to: validationSet.count, by: 32) {
                               let rows = Array(validationSet[start..<Swift.min(validationSet.count, start + 32)])
                               total += Double(meanLoss(rows).value.scalar) * Double(rows.count)
                           }
                           return total / Double(validationSet.count)
                       })
        try GPT2Checkpoint.save(model, tokenizer: tokenizer, to: out)
        print("wrote \(out.path)")
    }

    // MARK: MLP

    func trainClassifier() throws {
        var train: LabeledDataset, validation: LabeledDataset?
        if arguments.string("dataset") != nil {
            train = try FashionMNIST.load(.train, limit: try arguments.integer("max-examples", minimum: 1))
            validation = try FashionMNIST.load(.test, limit: 2000)
        } else {
            let all = try LabeledDataset.load(csv: arguments.path("data")!, labelColumn: arguments.string("label-column")!)
            let fraction = try arguments.number("validation-fraction")!
            let (t, v) = LanguageModelingData.split(Array(0..<all.count), validationFraction: fraction)
            train = LabeledDataset(features: all.features.indexSelect(along: 0, indices: t), labels: t.map { all.labels[$0] }, classCount: all.classCount)
            validation = v.isEmpty ? nil : LabeledDataset(features: all.features.indexSelect(along: 0, indices: v), labels: v.map { all.labels[$0] }, classCount: all.classCount)
            if let limit = try arguments.integer("max-examples", minimum: 1) { train = train.prefix(limit) }
        }
        let hidden = try arguments.string("hidden")!.split(separator: ",").map { part -> Int in
            guard let n = Int(part), n > 0 else { throw UsageError("option '--hidden' needs positive sizes like 256,128, got '\(part)'") }
            return n
        }
        guard let activation = Activation(huggingFaceName: arguments.string("activation")!) else {
            throw UsageError("unknown activation '\(arguments.string("activation")!)'")
        }
        let sizes = [train.featureCount] + hidden + [train.classCount]
        let model = MultilayerPerceptron<Float>(sizes: sizes, activation: activation, seed: seed)
        printError("model: MLP \(sizes.map(String.init).joined(separator: "-")), \(model.parameterCount.formatted()) parameters; \(train.count) training examples")
        let optimizer = try makeOptimizer(model.trainableParameters)
        let mlpConfiguration = MLPConfiguration(sizes: sizes, activation: activation, task: "classification")
        try runTrainer(model: model, optimizer: optimizer, exampleCount: train.count,
                       save: { try ModelDirectory.save(model, configuration: mlpConfiguration, to: $0) },
                       batchLoss: { indices in
                           let (x, y) = train.batch(indices)
                           return Losses.crossEntropy(logits: model(Variable(x)), labels: y)
                       },
                       validationLoss: validation.map { v in {
                           Double(Losses.crossEntropy(logits: model(Variable(v.features)), labels: v.labels).value.scalar)
                       } })
        if let validation {
            let predictions = withoutGradients { model(Variable(validation.features)).value.argmax(alongAxis: 1) }
            let accuracy = Double(zip(predictions, validation.labels).filter { $0 == $1 }.count) / Double(validation.count)
            printError(String(format: "validation accuracy: %.3f", accuracy))
        }
        try ModelDirectory.save(model, configuration: MLPConfiguration(sizes: sizes, activation: activation, task: "classification"), to: out)
        print("wrote \(out.path)")
    }

    func runTrainer(model: Module<Float>, optimizer: any Optimizer<Float>, exampleCount: Int, save: @escaping (URL) throws -> Void,
                    batchLoss: @escaping ([Int]) throws -> Variable<Float>, validationLoss: (() throws -> Double)?) throws {
        let saveEvery = try arguments.integer("save-every", minimum: 1)
        let checkpoints = out.appendingPathComponent("checkpoints")
        var saveError: Error? = nil
        func run<O: Optimizer>(_ optimizer: O) throws where O.Scalar == Float {
            let trainer = Trainer(model: model, optimizer: optimizer, configuration: try configuration(steps: steps(exampleCount: exampleCount)),
                                  exampleCount: exampleCount,
                                  checkpoint: TrainingCheckpoint(url: out.appendingPathComponent("checkpoint.safetensors")),
                                  batchLoss: batchLoss, validationLoss: validationLoss)
            if let saveEvery {
                // Keep the model of every N-th step with the learning rate that step used (TracIn's η_k).
                trainer.onRecord = { record in
                    guard record.step % saveEvery == 0, saveError == nil else { return }
                    do {
                        let name = String(format: "step-%06d", record.step)
                        try save(checkpoints.appendingPathComponent(name))
                        let index = checkpoints.appendingPathComponent("checkpoints.json")
                        var entries = (try? JSONDecoder().decode([JSONValue].self, from: Data(contentsOf: index))) ?? []
                        entries.removeAll { $0["path"]?.stringValue == name }
                        entries.append(.object(["step": .number(Double(record.step)), "learning_rate": .number(record.learningRate), "path": .string(name)]))
                        try AtomicFile.write(Data(try JSONValue.array(entries).serialized().utf8), to: index)
                    } catch { saveError = error }
                }
            }
            let resumed = try trainer.resumeIfPossible()
            if resumed > 0 { printError("resuming from step \(resumed) (\(out.appendingPathComponent("checkpoint.safetensors").path))") }
            try trainer.run()
            if let saveError { throw saveError }
            try writeLog(trainer.history)
            if let last = trainer.history.last(where: { $0.validationLoss != nil }), let first = trainer.history.first(where: { $0.validationLoss != nil }) {
                printError(String(format: "validation loss: %.4f at step %d → %.4f at step %d", first.validationLoss!, first.step, last.validationLoss!, last.step))
            }
        }
        try run(optimizer)
    }
}
