import Autograd
import Datasets
import NeuralNetworks
import TensorCore

/// Where the labels of a loss come from.
public enum LabelSource: String, Sendable, Codable {
    /// The data's own labels (empirical Fisher; always used for scores).
    case data = "empirical"
    /// Labels drawn from the model's predictive distribution (true Fisher, the default for fitting).
    case sampled
}

/// The losses of a batch, as the influence engine needs them.
public struct TaskLoss<Scalar: TensorScalar> {
    /// The loss summed over the examples of the batch and their tokens (recorded).
    public var loss: Variable<Scalar>
    /// Rows (tokens) per example in the tracked layers' inputs: `time` for a sequence model, 1 otherwise.
    public var rowsPerExample: Int
    /// Per row, whether it is a real token (false for padding), or nil when every row is real.
    public var rowMask: [Bool]?
    /// The examples of the batch: the task has `exampleCount × rowsPerExample` rows (a tracked
    /// convolution sees a multiple of them, one per output position).
    public var exampleCount: Int
}

/// A model with its training and query data: what influence needs to know about a problem.
///
/// The engine never sees a concrete model type: it tracks the ``Linear`` layers that
/// ``trackedLayers`` returns and asks for losses of batches of example indices.
public protocol InfluenceTask<Scalar>: AnyObject {
    /// The floating-point type of the model's parameters and of every tensor the task returns.
    associatedtype Scalar: TensorScalar
    /// The network whose Linear (and convolution) layers the engine tracks; their parameters are the θ of the influence formula.
    var model: Module<Scalar> { get }
    /// The number of training examples; valid training indices are `0..<trainingExampleCount`.
    var trainingExampleCount: Int { get }
    /// The number of queries; valid query indices are `0..<queryCount`.
    var queryCount: Int { get }
    /// The training loss of training examples, summed over examples and tokens.
    func trainingLoss(indices: [Int], labels: LabelSource, generator: inout SeededGenerator) -> TaskLoss<Scalar>
    /// The query measurement f(z_q), summed over the queries; by default their loss with data labels.
    func queryMeasurement(indices: [Int]) -> TaskLoss<Scalar>
    /// The tokens of a training example (for per-token reports), or nil for non-sequence data.
    func trainingTokens(_ index: Int) -> [Int]?
    /// A fingerprint of the training data, so that partial sums of a fit are never resumed on other data.
    var trainingDataFingerprint: String { get }
    /// A fingerprint of the queries, for the same reason when scoring.
    var queryDataFingerprint: String { get }
    /// The network's outputs on training examples and the training loss (data labels, summed) as
    /// a function of those outputs: what Gauss–Newton products need (H_GN = Jᵀ ∇²_z L J).
    func trainingOutputs(indices: [Int]) -> (outputs: Variable<Scalar>, loss: (Variable<Scalar>) -> Variable<Scalar>)
}

/// FNV-1a over integers, for data fingerprints.
func fingerprint(_ sequences: [[Int]]) -> String {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for s in sequences {
        for value in s + [-1] { hash = (hash ^ UInt64(bitPattern: Int64(value))) &* 0x0000_0100_0000_01B3 }
    }
    return String(hash, radix: 16)
}

func fingerprint<Scalar: TensorScalar>(_ tensor: Tensor<Scalar>, _ labels: [Int]) -> String {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    tensor.withUnsafeBufferPointer { p in
        for b in UnsafeRawBufferPointer(p) { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    }
    for l in labels { hash = (hash ^ UInt64(bitPattern: Int64(l))) &* 0x0000_0100_0000_01B3 }
    return String(hash, radix: 16)
}

/// Next-token prediction with any ``CausalLanguageModel`` (GPT-2, Llama-family, GPT-NeoX) over
/// token sequences.
///
/// Training loss: Σ over examples and positions t ≥ 1 of −log p(x_t | x_<t) (padding excluded).
/// Query measurement: the same sum over the query's *completion* tokens only, when the query has
/// a prompt (``queryPromptLengths``): −log p(completion | prompt). A positive score therefore means
/// the training example makes the completion more likely.
public final class LanguageModelingTask<Model: CausalLanguageModel>: InfluenceTask {
    /// The language model's scalar type.
    public typealias Scalar = Model.Scalar
    /// The causal language model whose next-token loss is differentiated (put in evaluation mode by the initialiser).
    public let languageModel: Model
    /// The language model's module tree, whose layers the engine tracks.
    public var model: Module<Scalar> { languageModel.module }
    /// The training sequences as token IDs, each truncated to the model's context length.
    public let training: [[Int]]
    /// The query sequences (prompt followed by completion) as token IDs, each truncated to the model's context length.
    public let queries: [[Int]]
    /// Tokens of each query that form its prompt (not measured); 0 measures the whole sequence.
    public let queryPromptLengths: [Int]
    /// The model's padding token ID, used to pad sequences of a batch to a common length (padded positions are masked out).
    public let padToken: Int

    /// Sequences longer than the model's context are truncated to it.
    public init(model: Model, training: [[Int]], queries: [[Int]], queryPromptLengths: [Int]? = nil) {
        self.languageModel = model
        model.module.evaluate()
        let context = model.contextLength
        self.training = training.map { Array($0.prefix(context)) }
        self.queries = queries.map { Array($0.prefix(context)) }
        self.queryPromptLengths = queryPromptLengths ?? Array(repeating: 0, count: queries.count)
        self.padToken = model.specialTokens.paddingID
    }

    /// The number of training sequences.
    public var trainingExampleCount: Int { training.count }
    /// The number of query sequences.
    public var queryCount: Int { queries.count }
    /// The (truncated) token IDs of training sequence `index`.
    public func trainingTokens(_ index: Int) -> [Int]? { training[index] }
    /// An FNV-1a hash (hexadecimal) of the truncated training token sequences.
    public var trainingDataFingerprint: String { fingerprint(training) }
    /// An FNV-1a hash (hexadecimal) of the truncated query sequences and their prompt lengths.
    public var queryDataFingerprint: String { fingerprint(queries + [queryPromptLengths]) }

    func forward(_ sequences: [[Int]]) -> (logits: Variable<Scalar>, batch: TokenBatch) {
        let batch = Batching.pad(sequences, padToken: padToken)
        let logits = languageModel.logits(
            tokens: batch.tokens, batchSize: batch.batchSize,
            attentionMask: batch.mask.contains(0) ? batch.attentionMask(Scalar.self) : nil)
        return (logits, batch)
    }

    /// Which rows are real tokens; nil when none is padding, so that nothing is masked for nothing.
    func rowMask(_ batch: TokenBatch) -> [Bool]? { batch.mask.contains(0) ? batch.mask.map { $0 != 0 } : nil }

    /// The next-token loss Σ_b Σ_{t ≥ 1} −log p(y_t | x_<t) of the given training sequences, padding excluded.
    ///
    /// With `.sampled` labels each target y_t is drawn from the model's own next-token distribution at position t − 1;
    /// with `.data` labels y_t = x_t. Rows per example are the padded batch length.
    ///
    /// - Parameters:
    ///   - indices: training sequence indices forming the batch.
    ///   - labels: where the targets come from.
    ///   - generator: the random source for sampled labels (untouched for `.data`).
    /// - Returns: the summed loss with one row per token position of the padded batch.
    public func trainingLoss(indices: [Int], labels: LabelSource, generator: inout SeededGenerator) -> TaskLoss<Scalar> {
        let (logits, batch) = forward(indices.map { training[$0] })
        var targets = batch.tokens
        if labels == .sampled && batch.length > 1 {
            // One draw per position from the model's own next-token distribution; the draw at
            // position t − 1 becomes the label of position t.
            let drawn = LabelSampling.categorical(logits: logits.value, using: &generator)
            for b in 0..<batch.batchSize { for t in 1..<batch.length { targets[b * batch.length + t] = drawn[b * batch.length + t - 1] } }
        }
        let loss = batch.length > 1 ? Losses.nextTokenLosses(logits: logits, tokens: targets, mask: batch.mask).sum() : (logits * 0).sum()
        return TaskLoss(loss: loss, rowsPerExample: batch.length, rowMask: rowMask(batch), exampleCount: batch.batchSize)
    }

    /// The logits `[batch, time, vocabulary]` of the given training sequences and their summed next-token loss (data labels,
    /// padding masked) as a function of logits.
    public func trainingOutputs(indices: [Int]) -> (outputs: Variable<Scalar>, loss: (Variable<Scalar>) -> Variable<Scalar>) {
        let (logits, batch) = forward(indices.map { training[$0] })
        return (logits, { z in batch.length > 1 ? Losses.nextTokenLosses(logits: z, tokens: batch.tokens, mask: batch.mask).sum() : (z * 0).sum() })
    }

    /// The query measurement −log p(completion | prompt), summed over the given queries.
    ///
    /// Positions inside each query's prompt (the first ``queryPromptLengths`` tokens) and padding are masked out; a query
    /// with prompt length 0 is measured over its whole sequence.
    public func queryMeasurement(indices: [Int]) -> TaskLoss<Scalar> {
        let (logits, batch) = forward(indices.map { queries[$0] })
        var mask = batch.mask
        for (row, q) in indices.enumerated() {
            // Positions up to the prompt's last token are not measured (position t predicts token t).
            for t in 0..<Swift.min(queryPromptLengths[q], batch.length) { mask[row * batch.length + t] = 0 }
        }
        let loss = batch.length > 1 ? Losses.nextTokenLosses(logits: logits, tokens: batch.tokens, mask: mask).sum() : (logits * 0).sum()
        return TaskLoss(loss: loss, rowsPerExample: batch.length, rowMask: rowMask(batch), exampleCount: batch.batchSize)
    }
}

/// Classification with softmax cross-entropy, or regression with squared error, over feature rows.
public final class ClassificationTask<Scalar: TensorScalar>: InfluenceTask {
    /// The classifier, in evaluation mode.
    public let network: Module<Scalar>
    /// The classifier, whose layers the engine tracks.
    public var model: Module<Scalar> { network }
    let forwardPass: (Variable<Scalar>) -> Variable<Scalar>
    /// Training inputs, `[trainingExampleCount, ...]` as the forward pass takes them (rows are selected along axis 0).
    public let trainingFeatures: Tensor<Scalar>
    /// The class index of each training example.
    public let trainingLabels: [Int]
    /// Query inputs, `[queryCount, ...]` as the forward pass takes them.
    public let queryFeatures: Tensor<Scalar>
    /// The class index of each query, used by the query measurement.
    public let queryLabels: [Int]

    /// - Parameters:
    ///   - model: any network from feature rows to logits (an MLP, a ``SequentialNetwork`` CNN).
    ///   - trainingFeatures, queryFeatures: `[count, features]`, as the network takes them.
    public convenience init<Network: Module<Scalar> & UnaryLayer>(
        model: Network, trainingFeatures: Tensor<Scalar>, trainingLabels: [Int],
        queryFeatures: Tensor<Scalar>, queryLabels: [Int]
    ) where Network.Scalar == Scalar {
        self.init(
            network: model, forward: { model($0) }, trainingFeatures: trainingFeatures, trainingLabels: trainingLabels,
            queryFeatures: queryFeatures, queryLabels: queryLabels)
    }

    /// A classifier given as its module and its forward pass `[batch, features]` → `[batch, classes]`.
    public init(
        network: Module<Scalar>, forward: @escaping (Variable<Scalar>) -> Variable<Scalar>, trainingFeatures: Tensor<Scalar>,
        trainingLabels: [Int], queryFeatures: Tensor<Scalar>, queryLabels: [Int]
    ) {
        self.network = network
        network.evaluate()
        forwardPass = forward
        self.trainingFeatures = trainingFeatures
        self.trainingLabels = trainingLabels
        self.queryFeatures = queryFeatures
        self.queryLabels = queryLabels
    }

    /// The number of training labels.
    public var trainingExampleCount: Int { trainingLabels.count }
    /// The number of query labels.
    public var queryCount: Int { queryLabels.count }
    /// Always nil: feature rows have no tokens.
    public func trainingTokens(_ index: Int) -> [Int]? { nil }
    /// An FNV-1a hash (hexadecimal) of the training features' bytes and the training labels.
    public var trainingDataFingerprint: String { fingerprint(trainingFeatures, trainingLabels) }
    /// An FNV-1a hash (hexadecimal) of the query features' bytes and the query labels.
    public var queryDataFingerprint: String { fingerprint(queryFeatures, queryLabels) }

    /// The softmax cross-entropy of the given training examples, summed over them (one row per example).
    ///
    /// With `.sampled` labels, each example's class is drawn from `softmax(logits)`; with `.data`, ``trainingLabels`` are used.
    public func trainingLoss(indices: [Int], labels: LabelSource, generator: inout SeededGenerator) -> TaskLoss<Scalar> {
        let logits = forwardPass(Variable(trainingFeatures.indexSelect(along: 0, indices: indices)))
        let targets = labels == .sampled ? LabelSampling.categorical(logits: logits.value, using: &generator) : indices.map { trainingLabels[$0] }
        return TaskLoss(
            loss: Losses.crossEntropy(logits: logits, labels: targets, reduction: .sum), rowsPerExample: 1, rowMask: nil, exampleCount: indices.count)
    }

    /// The logits `[batch, classes]` of the given training examples and their summed cross-entropy with the data labels,
    /// as a function of the logits.
    public func trainingOutputs(indices: [Int]) -> (outputs: Variable<Scalar>, loss: (Variable<Scalar>) -> Variable<Scalar>) {
        let logits = forwardPass(Variable(trainingFeatures.indexSelect(along: 0, indices: indices)))
        let labels = indices.map { trainingLabels[$0] }
        return (logits, { Losses.crossEntropy(logits: $0, labels: labels, reduction: .sum) })
    }

    /// The summed cross-entropy of the given queries with their ``queryLabels`` (one row per query).
    public func queryMeasurement(indices: [Int]) -> TaskLoss<Scalar> {
        let logits = forwardPass(Variable(queryFeatures.indexSelect(along: 0, indices: indices)))
        return TaskLoss(
            loss: Losses.crossEntropy(logits: logits, labels: indices.map { queryLabels[$0] }, reduction: .sum),
            rowsPerExample: 1, rowMask: nil, exampleCount: indices.count)
    }
}

/// Regression with the squared error Σ_j (f(x)_j − y_j)² per example.
///
/// Sampled labels (true Fisher) are y = f(x) + ε, ε ~ N(0, ½): the Gaussian whose negative log-likelihood is this loss,
/// so that the Fisher is the loss's Gauss–Newton matrix.
public final class RegressionTask<Scalar: TensorScalar>: InfluenceTask {
    /// The regression network, in evaluation mode.
    public let network: MultilayerPerceptron<Scalar>
    /// The regression network, whose layers the engine tracks.
    public var model: Module<Scalar> { network }
    /// Training inputs `[trainingExampleCount, inputs]` and targets `[trainingExampleCount, outputs]`.
    public let trainingFeatures: Tensor<Scalar>, trainingTargets: Tensor<Scalar>
    /// Query inputs `[queryCount, inputs]` and targets `[queryCount, outputs]`.
    public let queryFeatures: Tensor<Scalar>, queryTargets: Tensor<Scalar>

    /// - Parameters: features `[count, inputs]` and targets `[count, outputs]` of each set.
    public init(
        model: MultilayerPerceptron<Scalar>, trainingFeatures: Tensor<Scalar>, trainingTargets: Tensor<Scalar>,
        queryFeatures: Tensor<Scalar>, queryTargets: Tensor<Scalar>
    ) {
        network = model
        model.evaluate()
        self.trainingFeatures = trainingFeatures
        self.trainingTargets = trainingTargets
        self.queryFeatures = queryFeatures
        self.queryTargets = queryTargets
    }

    /// The number of training rows (the first dimension of ``trainingFeatures``).
    public var trainingExampleCount: Int { trainingFeatures.shape[0] }
    /// The number of query rows (the first dimension of ``queryFeatures``).
    public var queryCount: Int { queryFeatures.shape[0] }
    /// Always nil: feature rows have no tokens.
    public func trainingTokens(_ index: Int) -> [Int]? { nil }
    /// An FNV-1a hash (hexadecimal) of the training features and targets.
    public var trainingDataFingerprint: String { fingerprint(trainingFeatures, [trainingTargets.scalarCount]) + fingerprint(trainingTargets, []) }
    /// An FNV-1a hash (hexadecimal) of the query features and targets.
    public var queryDataFingerprint: String { fingerprint(queryFeatures, [queryTargets.scalarCount]) + fingerprint(queryTargets, []) }

    /// The squared error Σ_j (f(x)_j − y_j)² summed over the given training examples (one row per example).
    ///
    /// With `.sampled` labels, y = f(x) + ε with ε ~ N(0, ½), whose Fisher is this loss's Gauss–Newton
    /// matrix; with `.data`, ``trainingTargets`` are used.
    public func trainingLoss(indices: [Int], labels: LabelSource, generator: inout SeededGenerator) -> TaskLoss<Scalar> {
        let prediction = network(Variable(trainingFeatures.indexSelect(along: 0, indices: indices)))
        let targets =
            labels == .sampled
            ? LabelSampling.gaussian(prediction: prediction.value, using: &generator)
            : trainingTargets.indexSelect(along: 0, indices: indices)
        return TaskLoss(loss: Losses.meanSquaredError(prediction, targets, reduction: .sum), rowsPerExample: 1, rowMask: nil, exampleCount: indices.count)
    }

    /// The predictions `[batch, outputs]` of the given training examples and their summed squared error against the data
    /// targets, as a function of the predictions.
    public func trainingOutputs(indices: [Int]) -> (outputs: Variable<Scalar>, loss: (Variable<Scalar>) -> Variable<Scalar>) {
        let prediction = network(Variable(trainingFeatures.indexSelect(along: 0, indices: indices)))
        let targets = trainingTargets.indexSelect(along: 0, indices: indices)
        return (prediction, { Losses.meanSquaredError($0, targets, reduction: .sum) })
    }

    /// The squared error of the given queries against their ``queryTargets``, summed over them.
    public func queryMeasurement(indices: [Int]) -> TaskLoss<Scalar> {
        let prediction = network(Variable(queryFeatures.indexSelect(along: 0, indices: indices)))
        return TaskLoss(
            loss: Losses.meanSquaredError(prediction, queryTargets.indexSelect(along: 0, indices: indices), reduction: .sum),
            rowsPerExample: 1, rowMask: nil, exampleCount: indices.count)
    }
}
