import Autograd
import Datasets
import Formats
import Foundation
import ModelIO
import NeuralNetworks
import TensorCore
import Tokenizers
import Training

/// How a model is trained, whatever it is: steps, optimizer, schedule, validation, checkpoints.
public struct TrainingOptions: Sendable {
    /// Optimizer steps to train for (unless ``epochs`` is given).
    public var steps: Int
    /// Passes over the training examples instead of `steps`.
    public var epochs: Int?
    /// Examples (sequences or rows) per step.
    public var batchSize: Int
    /// `adamw` or `sgd`.
    public var optimizer: String
    /// The peak learning rate; the schedule warms up to it and decays by cosine to a tenth of it.
    public var learningRate: Double
    /// Steps of linear warm-up (at most ``steps``).
    public var warmup: Int
    /// Weight decay: decoupled for AdamW, added to the gradient for SGD.
    public var weightDecay: Double
    /// SGD's momentum; AdamW ignores it.
    public var momentum: Double
    /// Clip gradients to this global norm; 0 for none.
    public var clip: Double
    /// The fraction of the examples held out for the validation loss (FashionMNIST uses 2,000 test images instead).
    public var validationFraction: Double
    /// Steps between validation losses; 0 for never.
    public var validationInterval: Int
    /// Steps between resumable checkpoints (`checkpoint.safetensors`); 0 for only at the end.
    public var checkpointInterval: Int
    /// Keep the first this many training examples (after the validation split); nil for all.
    public var maximumExamples: Int?
    /// Seeds the initialisation, the order of the batches and dropout.
    public var seed: UInt64
    /// Keep the model every this many steps for TracIn.
    public var saveEvery: Int?
    /// Ignore an existing checkpoint and start over.
    public var restart: Bool
    /// The options that make the run, as given (recorded in `training_run.json`): a checkpoint made
    /// with other options is not resumed.
    public var recorded: [String: String]

    /// Creates options; the defaults are AdamW at 0.001 for 500 steps of 32, with 20 warm-up steps, clipping at 1 and 10 % held out.
    ///
    /// - Parameters:
    ///   - steps: optimizer steps.
    ///   - epochs: passes over the training examples instead of `steps`.
    ///   - batchSize: examples per step.
    ///   - optimizer: `adamw` or `sgd`.
    ///   - learningRate: the peak learning rate.
    ///   - warmup: steps of linear warm-up.
    ///   - weightDecay: the weight decay.
    ///   - momentum: SGD's momentum.
    ///   - clip: the global gradient norm clipped to; 0 for none.
    ///   - validationFraction: the fraction held out for validation.
    ///   - validationInterval: steps between validation losses.
    ///   - checkpointInterval: steps between checkpoints.
    ///   - maximumExamples: the training-example limit.
    ///   - seed: seeds initialisation, order and dropout.
    ///   - saveEvery: keep the model every this many steps for TracIn.
    ///   - restart: whether to ignore an existing checkpoint.
    ///   - recorded: the options as given, compared when resuming.
    public init(
        steps: Int = 500, epochs: Int? = nil, batchSize: Int = 32, optimizer: String = "adamw", learningRate: Double = 0.001,
        warmup: Int = 20, weightDecay: Double = 0.01, momentum: Double = 0.9, clip: Double = 1, validationFraction: Double = 0.1,
        validationInterval: Int = 50, checkpointInterval: Int = 100, maximumExamples: Int? = nil, seed: UInt64 = 0,
        saveEvery: Int? = nil, restart: Bool = false, recorded: [String: String] = [:]
    ) {
        self.steps = steps
        self.epochs = epochs
        self.batchSize = batchSize
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.warmup = warmup
        self.weightDecay = weightDecay
        self.momentum = momentum
        self.clip = clip
        self.validationFraction = validationFraction
        self.validationInterval = validationInterval
        self.checkpointInterval = checkpointInterval
        self.maximumExamples = maximumExamples
        self.seed = seed
        self.saveEvery = saveEvery
        self.restart = restart
        self.recorded = recorded
    }

    /// The steps of this run: `steps`, or `epochs` passes over `exampleCount` examples.
    func steps(exampleCount: Int) -> Int {
        guard let epochs else { return steps }
        return epochs * ((exampleCount + batchSize - 1) / batchSize)
    }

    func configuration(steps: Int) -> TrainingConfiguration {
        let schedule = LearningRateSchedule.warmupCosine(
            peak: learningRate, warmupSteps: Swift.min(warmup, steps), totalSteps: steps,
            minimum: learningRate / 10)
        return TrainingConfiguration(
            steps: steps, batchSize: batchSize, schedule: schedule, maximumGradientNorm: clip > 0 ? clip : nil,
            validationInterval: validationInterval, checkpointInterval: checkpointInterval, seed: seed)
    }
}

/// What `influence train` does for a language model.
public struct LanguageModelTrainingRequest: Sendable {
    /// The model directory written: config.json, model.safetensors, tokenizer.json, the training log and the resumable checkpoint.
    public var output: URL
    /// `gpt2`, `llama` or `gpt_neox` (a registered ``LanguageModelFamily``).
    public var architecture: String
    /// Train on these languages of the fortune corpora, or on `data`.
    public var corpusLanguages: [String]?
    /// JSON Lines of `{"text"}` or `{"input_ids"}` rows.
    public var data: URL?
    /// A config.json to build the model from, instead of the sizes below.
    public var configuration: URL?
    /// A tokenizer.json, instead of one trained on the texts.
    public var tokenizer: URL?
    /// The size of the tokenizer trained on the texts, and of the model when ids are given without a tokenizer.
    public var vocabularySize: Int
    /// The decoder's blocks, hidden size and attention heads (unused with ``configuration``).
    public var layers: Int, width: Int, heads: Int
    /// Key/value heads (Llama's grouped-query attention); nil for one per head.
    public var keyValueHeads: Int?
    /// The context length in tokens: training sequences are full chunks of this length.
    public var context: Int
    /// The dropout probability of the model's dropout layers.
    public var dropout: Double
    /// Steps, optimizer, schedule, validation and checkpoints.
    public var training: TrainingOptions

    /// Creates a request; the defaults train a 2-block GPT-2 of width 128 with 4 heads, context 64 and a 2,048-token vocabulary.
    ///
    /// - Parameters:
    ///   - output: the model directory to write.
    ///   - architecture: a registered language-model family.
    ///   - corpusLanguages: languages of the fortune corpora to train on.
    ///   - data: JSON Lines of texts or ids to train on instead.
    ///   - configuration: a config.json to build the model from.
    ///   - tokenizer: a tokenizer.json to use instead of training one.
    ///   - vocabularySize: the size of the tokenizer trained.
    ///   - layers: the decoder's blocks.
    ///   - width: its hidden size.
    ///   - heads: its attention heads.
    ///   - keyValueHeads: key/value heads for grouped-query attention.
    ///   - context: the context length in tokens.
    ///   - dropout: the dropout probability.
    ///   - training: how to train.
    public init(
        output: URL, architecture: String = "gpt2", corpusLanguages: [String]? = nil, data: URL? = nil, configuration: URL? = nil,
        tokenizer: URL? = nil, vocabularySize: Int = 2048, layers: Int = 2, width: Int = 128, heads: Int = 4, keyValueHeads: Int? = nil,
        context: Int = 64, dropout: Double = 0.1, training: TrainingOptions
    ) {
        self.output = output
        self.architecture = architecture
        self.corpusLanguages = corpusLanguages
        self.data = data
        self.configuration = configuration
        self.tokenizer = tokenizer
        self.vocabularySize = vocabularySize
        self.layers = layers
        self.width = width
        self.heads = heads
        self.keyValueHeads = keyValueHeads
        self.context = context
        self.dropout = dropout
        self.training = training
    }
}

/// What `influence train` does for an MLP classifier.
public struct ClassifierTrainingRequest: Sendable {
    /// The model directory written: config.json, model.safetensors, the training log and the resumable checkpoint.
    public var output: URL
    /// A CSV file with a label column; nil for FashionMNIST.
    public var data: URL?
    /// The CSV column holding the labels.
    public var labelColumn: String
    /// Target columns of `data`: a regressor (squared error) instead of a classifier.
    public var targetColumns: [String]?
    /// The sizes of the hidden linear layers, in order.
    public var hidden: [Int]
    /// The activation after every hidden layer (and convolution).
    public var activation: Activation
    /// A convolutional network instead of an MLP: its convolutions come before the `hidden` layers.
    public var convolution: ConvolutionalShape?
    /// Steps, optimizer, schedule, validation and checkpoints.
    public var training: TrainingOptions

    /// Creates a request; the defaults train an MLP with hidden layers of 256 and 128 and ReLU on FashionMNIST.
    ///
    /// - Parameters:
    ///   - output: the model directory to write.
    ///   - data: a CSV file with a label column; nil for FashionMNIST.
    ///   - labelColumn: the label column.
    ///   - targetColumns: target columns, for a regressor.
    ///   - hidden: the hidden layers' sizes.
    ///   - activation: the activation.
    ///   - convolution: convolutional blocks before the hidden layers, for a CNN.
    ///   - training: how to train.
    public init(
        output: URL, data: URL? = nil, labelColumn: String = "label", targetColumns: [String]? = nil, hidden: [Int] = [256, 128],
        activation: Activation = .relu, convolution: ConvolutionalShape? = nil, training: TrainingOptions
    ) {
        self.convolution = convolution
        self.output = output
        self.data = data
        self.labelColumn = labelColumn
        self.targetColumns = targetColumns
        self.hidden = hidden
        self.activation = activation
        self.training = training
    }
}

/// The convolutional part of a CNN classifier to train: per block, a convolution (`channels`
/// outputs, `kernelSize` square, padding keeping the size for odd kernels), the activation and a
/// 2 × 2 pooling; then flatten, the hidden linear layers and the output layer.
public struct ConvolutionalShape: Sendable, Equatable {
    /// The output channels of each convolution block, in order.
    public var channels: [Int]
    /// The side of every square kernel; odd sizes keep the image size.
    public var kernelSize: Int
    /// The 2 × 2 pooling after each block: maximum or average.
    public var pooling: PoolingKind
    /// `[channels, height, width]` of the data's rows; nil for FashionMNIST's 1 × 28 × 28.
    public var inputShape: [Int]?

    /// Creates a shape; the defaults are two blocks of 8 and 16 channels with 3 × 3 kernels and max pooling.
    ///
    /// - Parameters:
    ///   - channels: output channels per block.
    ///   - kernelSize: the kernels' side.
    ///   - pooling: the pooling of each block.
    ///   - inputShape: `[channels, height, width]` of the data's rows; nil for FashionMNIST's.
    public init(channels: [Int] = [8, 16], kernelSize: Int = 3, pooling: PoolingKind = .max, inputShape: [Int]? = nil) {
        self.channels = channels
        self.kernelSize = kernelSize
        self.pooling = pooling
        self.inputShape = inputShape
    }

    /// The network's steps for `classCount` classes.
    public func steps(hidden: [Int], activation: Activation, classCount: Int) -> [NetworkStep] {
        var steps: [NetworkStep] = []
        for c in channels {
            steps.append(
                .conv2d(
                    outChannels: c, kernelSize: (kernelSize, kernelSize), stride: (1, 1), padding: (kernelSize / 2, kernelSize / 2),
                    dilation: (1, 1), bias: true))
            steps.append(.activation(activation))
            steps.append(.pool(pooling, kernelSize: (2, 2), stride: (2, 2), padding: (0, 0)))
        }
        steps.append(.flatten)
        for h in hidden { steps += [.linear(outFeatures: h, bias: true), .activation(activation)] }
        steps.append(.linear(outFeatures: classCount, bias: true))
        return steps
    }
}

extension Workflows {
    /// Trains a language model of any registered family on texts or ids and writes its directory
    /// (config.json, model.safetensors, tokenizer.json, training_log.jsonl); resumes from the
    /// directory's checkpoint when it was made with the same options.
    ///
    /// - Parameter log: receives progress messages for a person.
    public static func train(_ request: LanguageModelTrainingRequest, log: (String) -> Void = { _ in }) throws {
        let out = request.output
        try prepare(out, request.training)
        guard let family = ModelRegistry.languageModelFamily(architecture: request.architecture) else {
            throw WorkflowError(
                "unknown architecture '\(request.architecture)' (available: \(ModelRegistry.languageModelFamilies.map { $0.architecture }.joined(separator: ", ")))"
            )
        }
        // Texts, or token ids given directly.
        var texts: [String] = []
        var presetSequences: [[Int]]? = nil
        if let languages = request.corpusLanguages {
            texts = try FortuneCorpus.load(languages: languages).map(\.text)
            log("corpus: \(texts.count) fortunes (\(languages.joined(separator: ", ")))")
        } else if let data = request.data {
            let rows = try TextDataset.load(jsonLines: data, tokenizer: nil, encodesText: false)
            let textRows = rows.texts.filter { !$0.isEmpty }.count
            if textRows == 0 {
                presetSequences = rows.sequences
            } else if textRows == rows.count {
                texts = rows.texts
            } else {
                throw WorkflowError("\(data.path) mixes text rows and input_ids rows; use one kind")
            }
        }
        // Tokenizer: given, kept from the run being resumed, or trained on the texts.
        var tokenizer: BytePairTokenizer? = nil
        let savedTokenizer = out.appendingPathComponent("tokenizer.json")
        let resuming = !request.training.restart && FileManager.default.fileExists(atPath: out.appendingPathComponent("checkpoint.safetensors").path)
        if let path = request.tokenizer {
            tokenizer = try BytePairTokenizer(contentsOf: path)
        } else if presetSequences == nil {
            if resuming, let saved = try? BytePairTokenizer(contentsOf: savedTokenizer) {
                tokenizer = saved
            } else {
                log("training a byte-level BPE tokenizer (\(request.vocabularySize) tokens) on \(texts.count) texts")
                let trained = BytePairTrainer(vocabularySize: request.vocabularySize, specialTokens: ["<|endoftext|>"]).train(on: texts)
                try trained.save(to: savedTokenizer)
                tokenizer = trained
            }
        }
        let endOfText = tokenizer?.id(of: "<|endoftext|>")
        let vocabularySize = tokenizer?.vocabularySize ?? request.vocabularySize

        // Model.
        let built: any CausalLanguageModel<Float>
        if let configURL = request.configuration {
            let configuration = try HuggingFaceConfiguration(directory: configURL.deletingLastPathComponent(), file: configURL.lastPathComponent)
            let type = configuration.modelType ?? family.architecture
            guard let configured = ModelRegistry.family(modelType: type) as? any LanguageModelFamily.Type else {
                throw ModelIOError.unsupportedModelType(
                    path: configuration.path, modelType: type,
                    supported: ModelRegistry.languageModelFamilies.flatMap { $0.modelTypes })
            }
            built = try configured.makeModel(configuration: configuration, seed: request.training.seed, as: Float.self)
        } else {
            let shape = DecoderShape(
                vocabularySize: vocabularySize, contextLength: request.context, width: request.width, layerCount: request.layers,
                headCount: request.heads, keyValueHeadCount: request.keyValueHeads, dropout: request.dropout,
                specialTokens: SpecialTokens(beginning: endOfText, end: endOfText))
            built = try family.makeModel(shape, seed: request.training.seed, as: Float.self)
        }
        // The family's specialised forward pass (see AnyCausalLanguageModel).
        let model = ModelRegistry.erased(built)
        if let tokenizer, tokenizer.vocabularySize > model.vocabularySize {
            throw WorkflowError("the tokenizer has \(tokenizer.vocabularySize) tokens but the model's vocab_size is \(model.vocabularySize)")
        }

        // Sequences: full chunks of the context length.
        let length = model.contextLength
        var sequences =
            presetSequences.map { $0.flatMap { $0 } }.map { Batching.chunks($0, length: length, dropLast: true) }
            ?? LanguageModelingData.chunkedStream(documents: texts, tokenizer: tokenizer!, endOfText: endOfText, length: length)
        if let bad = sequences.joined().first(where: { $0 >= model.vocabularySize }) {
            throw WorkflowError("token id \(bad) is not below the model's vocab_size \(model.vocabularySize)")
        }
        var (train, validation) = LanguageModelingData.split(sequences, validationFraction: request.training.validationFraction)
        if let limit = request.training.maximumExamples { train = Array(train.prefix(limit)) }
        sequences = []
        guard !train.isEmpty else { throw WorkflowError("no training sequence of \(length) tokens: the corpus is too small for the context") }
        log("sequences: \(train.count) for training, \(validation.count) for validation, \(length) tokens each")
        log(
            "model: \(request.configuration == nil ? family.architecture : "from \(request.configuration!.lastPathComponent)"), "
                + "\(model.module.parameterCount.formatted()) parameters")
        let predicted = Float(length - 1)
        func meanLoss(_ rows: [[Int]]) -> Variable<Float> {
            let tokens = rows.flatMap { $0 }
            let logits = model.logits(tokens: tokens, batchSize: rows.count, attentionMask: nil)
            return Losses.nextTokenLosses(logits: logits, tokens: tokens).sum() * (1 / (predicted * Float(rows.count)))
        }
        let validationSet = Array(validation.prefix(256))
        try runTrainer(
            model: model.module, options: request.training, output: out, exampleCount: train.count, log: log,
            save: { try ModelDirectory.save(model, tokenizer: tokenizer, to: $0) },
            batchLoss: { indices in meanLoss(indices.map { train[$0] }) },
            validationLoss: validationSet.isEmpty
                ? nil
                : {
                    var total = 0.0
                    for start in stride(from: 0, to: validationSet.count, by: 32) {
                        let rows = Array(validationSet[start..<Swift.min(validationSet.count, start + 32)])
                        total += Double(meanLoss(rows).value.scalar) * Double(rows.count)
                    }
                    return total / Double(validationSet.count)
                })
        try ModelDirectory.save(model, tokenizer: tokenizer, to: out)
        try MLPRetraining.writeRecord(request.training, steps: request.training.steps(exampleCount: train.count), to: out)
    }

    /// Trains an MLP classifier on FashionMNIST or a CSV file and writes its directory.
    public static func train(_ request: ClassifierTrainingRequest, log: (String) -> Void = { _ in }) throws {
        let out = request.output
        try prepare(out, request.training)
        if let targets = request.targetColumns { return try trainRegressor(request, targets: targets, log: log) }
        var train: LabeledDataset, validation: LabeledDataset?
        if let data = request.data {
            let all = try LabeledDataset.load(csv: data, labelColumn: request.labelColumn, discoversClassNames: true)
            let (t, v) = LanguageModelingData.split(Array(0..<all.count), validationFraction: request.training.validationFraction)
            train = all.subset(t)
            validation = v.isEmpty ? nil : all.subset(v)
            if let limit = request.training.maximumExamples { train = train.prefix(limit) }
        } else {
            train = try FashionMNIST.load(.train, limit: request.training.maximumExamples)
            validation = try FashionMNIST.load(.test, limit: 2000)
        }
        let built = try classifierNetwork(request, featureCount: train.featureCount, classCount: train.classCount, classNames: train.classNames, log: log)
        log("\(train.count) training examples")
        let forward = built.forward
        try runTrainer(
            model: built.module, options: request.training, output: out, exampleCount: train.count, log: log,
            save: built.save,
            batchLoss: { indices in
                let (x, y) = train.batch(indices)
                return Losses.crossEntropy(logits: forward(Variable(x)), labels: y)
            },
            validationLoss: validation.map { v in
                {
                    // In batches, so that a convolution's unfolded windows stay small.
                    var total = 0.0
                    for start in stride(from: 0, to: v.count, by: 256) {
                        let (x, y) = v.batch(Array(start..<Swift.min(v.count, start + 256)))
                        total += Double(withoutGradients { Losses.crossEntropy(logits: forward(Variable(x)), labels: y, reduction: .sum) }.value.scalar)
                    }
                    return total / Double(v.count)
                }
            })
        if let validation {
            var correct = 0
            for start in stride(from: 0, to: validation.count, by: 256) {
                let indices = Array(start..<Swift.min(validation.count, start + 256))
                let (x, y) = validation.batch(indices)
                let predictions = withoutGradients { forward(Variable(x)).value.argmax(alongAxis: 1) }
                correct += zip(predictions, y).filter { $0 == $1 }.count
            }
            log(String(format: "validation accuracy: %.3f", Double(correct) / Double(validation.count)))
        }
        try built.save(out)
        // What `validate lds|mislabels` needs to train the same model again on other rows.
        try MLPRetraining.writeRecord(request.training, steps: request.training.steps(exampleCount: train.count), to: out)
    }

    /// The network a classifier request asks for (an MLP, or a CNN with ``ClassifierTrainingRequest/convolution``),
    /// freshly initialised, with its forward pass and how to save it.
    static func classifierNetwork(
        _ request: ClassifierTrainingRequest, featureCount: Int, classCount: Int, classNames: [String]?,
        log: (String) -> Void
    ) throws
        -> (module: Module<Float>, forward: (Variable<Float>) -> Variable<Float>, save: (URL) throws -> Void)
    {
        guard let convolution = request.convolution else {
            let sizes = [featureCount] + request.hidden + [classCount]
            try ModelFootprint.check(
                parameters: ModelFootprint.multilayerPerceptronParameters(sizes: sizes), copies: 4,
                what: "sizes \(sizes.map(String.init).joined(separator: "-"))", path: "--hidden")
            let model = MultilayerPerceptron<Float>(sizes: sizes, activation: request.activation, seed: request.training.seed)
            log("model: MLP \(sizes.map(String.init).joined(separator: "-")), \(model.parameterCount.formatted()) parameters")
            var configuration = MLPConfiguration(sizes: sizes, activation: request.activation, task: "classification")
            configuration.classNames = classNames
            return (model, { model($0) }, { try ModelDirectory.save(model, configuration: configuration, to: $0) })
        }
        let shape = convolution.inputShape ?? (request.data == nil ? [1, 28, 28] : [])
        guard shape.count == 3, shape.reduce(1, *) == featureCount else {
            let given = convolution.inputShape.map { $0.map(String.init).joined(separator: ",") } ?? "none"
            throw WorkflowError(
                "the data has \(featureCount) values per row, which are not images of the input shape \(given); "
                    + "give --input-shape CHANNELS,HEIGHT,WIDTH with that many values")
        }
        let steps = convolution.steps(hidden: request.hidden, activation: request.activation, classCount: classCount)
        var configuration = CNNConfiguration(inputShape: shape, steps: steps, classNames: classNames)
        do { _ = try SequentialNetwork<Float>.shapes(of: steps, input: shape) } catch let error as NetworkShapeError {
            throw WorkflowError(
                "the network does not fit images of \(shape.map(String.init).joined(separator: "×")): \(error); "
                    + "use fewer or smaller convolutions (--channels, --kernel-size)")
        }
        try ModelFootprint.check(parameters: configuration.parameterCount, copies: 4, what: "the CNN", path: "--channels")
        let model = SequentialNetwork<Float>(steps: steps, inputShape: shape, seed: request.training.seed)
        configuration.classNames = classNames
        log("model: CNN \(steps.map(\.typeName).joined(separator: " → ")), \(model.parameterCount.formatted()) parameters")
        return (model, { model($0) }, { try ModelDirectory.save(model, configuration: configuration, to: $0) })
    }

    /// An MLP regressor on a CSV file's target columns (squared error, summed over outputs and
    /// averaged over the batch); the rows a validation fraction leaves are the training rows.
    static func trainRegressor(_ request: ClassifierTrainingRequest, targets: [String], log: (String) -> Void) throws {
        guard let data = request.data else { throw WorkflowError("a regressor trains on a CSV file (--data) with its --target-column") }
        let out = request.output
        let all = try RegressionDataset.load(csv: data, targetColumns: targets)
        let (t, v) = LanguageModelingData.split(Array(0..<all.count), validationFraction: request.training.validationFraction)
        var train = all.rows(t)
        let validation = v.isEmpty ? nil : all.rows(v)
        if let limit = request.training.maximumExamples { train = train.prefix(limit) }
        let sizes = [train.features.shape[1]] + request.hidden + [targets.count]
        try ModelFootprint.check(
            parameters: ModelFootprint.multilayerPerceptronParameters(sizes: sizes), copies: 4,
            what: "sizes \(sizes.map(String.init).joined(separator: "-"))", path: "--hidden")
        let model = MultilayerPerceptron<Float>(sizes: sizes, activation: request.activation, seed: request.training.seed)
        log(
            "model: MLP regressor \(sizes.map(String.init).joined(separator: "-")), \(model.parameterCount.formatted()) parameters; \(train.count) training rows"
        )
        let configuration = MLPConfiguration(sizes: sizes, activation: request.activation, task: "regression", targetColumns: targets)
        try runTrainer(
            model: model, options: request.training, output: out, exampleCount: train.count, log: log,
            save: { try ModelDirectory.save(model, configuration: configuration, to: $0) },
            batchLoss: { indices in
                let batch = train.rows(indices)
                return Losses.meanSquaredError(model(Variable(batch.features)), batch.targets, reduction: .sum) * (1 / Float(indices.count))
            },
            validationLoss: validation.map { v in
                {
                    Double(Losses.meanSquaredError(model(Variable(v.features)), v.targets, reduction: .sum).value.scalar) / Double(v.count)
                }
            })
        try ModelDirectory.save(model, configuration: configuration, to: out)
        try MLPRetraining.writeRecord(request.training, steps: request.training.steps(exampleCount: train.count), to: out)
    }

    /// Creates the output directory and refuses to resume a checkpoint made with other options;
    /// records the options of this run.
    static func prepare(_ out: URL, _ options: TrainingOptions) throws {
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let runURL = out.appendingPathComponent("training_run.json")
        let checkpointURL = out.appendingPathComponent("checkpoint.safetensors")
        let current = JSONValue.object(options.recorded.mapValues { .string($0) })
        if options.restart {
            try? FileManager.default.removeItem(at: checkpointURL)
        } else if FileManager.default.fileExists(atPath: checkpointURL.path),
            let data = FileManager.default.contents(atPath: runURL.path),
            let previous = try? JSONDecoder().decode(JSONValue.self, from: data), previous != current
        {
            throw WorkflowError("\(checkpointURL.path) was made with other options; run again with the same options to resume, or add --restart")
        }
        try AtomicFile.write(Data(try current.serialized().utf8), to: runURL)
    }

    static func runTrainer(
        model: Module<Float>, options: TrainingOptions, output out: URL, exampleCount: Int, log: (String) -> Void,
        save: @escaping (URL) throws -> Void, batchLoss: @escaping ([Int]) throws -> Variable<Float>,
        validationLoss: (() throws -> Double)?
    ) throws {
        var index = try CheckpointIndex(directory: out.appendingPathComponent("checkpoints"))
        var saveError: Error? = nil
        func run<O: Optimizer>(_ optimizer: O) throws where O.Scalar == Float {
            let trainer = Trainer(
                model: model, optimizer: optimizer, configuration: options.configuration(steps: options.steps(exampleCount: exampleCount)),
                exampleCount: exampleCount, checkpoint: TrainingCheckpoint(url: out.appendingPathComponent("checkpoint.safetensors")),
                batchLoss: batchLoss, validationLoss: validationLoss)
            if let every = options.saveEvery {
                // Keep the model of every N-th step with the learning rate that step used (TracIn's η_k).
                trainer.onRecord = { record in
                    guard record.step % every == 0, saveError == nil else { return }
                    do {
                        let name = CheckpointIndex.name(step: record.step)
                        try save(index.directory.appendingPathComponent(name))
                        try index.record(CheckpointIndex.Entry(path: name, step: record.step, learningRate: record.learningRate))
                    } catch { saveError = error }
                }
            }
            let resumed: Int
            do {
                resumed = try trainer.resumeIfPossible()
            } catch {
                let path = out.appendingPathComponent("checkpoint.safetensors").path
                throw WorkflowError("\(path) cannot be resumed (\(error)); add --restart to discard it and train from the start")
            }
            if resumed > 0 { log("resuming from step \(resumed) (\(out.appendingPathComponent("checkpoint.safetensors").path))") }
            try trainer.run()
            if let saveError { throw saveError }
            try writeLog(trainer.history, to: out.appendingPathComponent("training_log.jsonl"))
            if let last = trainer.history.last(where: { $0.validationLoss != nil }), let first = trainer.history.first(where: { $0.validationLoss != nil }) {
                log(String(format: "validation loss: %.4f at step %d → %.4f at step %d", first.validationLoss!, first.step, last.validationLoss!, last.step))
            }
        }
        let parameters = model.trainableParameters
        if options.optimizer == "sgd" {
            try run(SGD(parameters: parameters, learningRate: options.learningRate, momentum: options.momentum, weightDecay: options.weightDecay))
        } else {
            try run(AdamW(parameters: parameters, learningRate: options.learningRate, weightDecay: options.weightDecay))
        }
    }

    static func writeLog(_ history: [TrainingRecord], to url: URL) throws {
        let rows: [[String: JSONValue]] = history.map { r in
            var row: [String: JSONValue] = ["step": .number(Double(r.step)), "loss": .number(r.loss), "learning_rate": .number(r.learningRate)]
            if let v = r.validationLoss { row["validation_loss"] = .number(v) }
            return row
        }
        try JSONLines.write(rows, to: url)
    }
}
