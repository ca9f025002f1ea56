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
    associatedtype Scalar: TensorScalar
    var model: Module<Scalar> { get }
    var trainingExampleCount: Int { get }
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
    public typealias Scalar = Model.Scalar
    public let languageModel: Model
    public var model: Module<Scalar> { languageModel.module }
    public let training: [[Int]]
    public let queries: [[Int]]
    /// Tokens of each query that form its prompt (not measured); 0 measures the whole sequence.
    public let queryPromptLengths: [Int]
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

    public var trainingExampleCount: Int { training.count }
    public var queryCount: Int { queries.count }
    public func trainingTokens(_ index: Int) -> [Int]? { training[index] }
    public var trainingDataFingerprint: String { fingerprint(training) }
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

    public func trainingOutputs(indices: [Int]) -> (outputs: Variable<Scalar>, loss: (Variable<Scalar>) -> Variable<Scalar>) {
        let (logits, batch) = forward(indices.map { training[$0] })
        return (logits, { z in batch.length > 1 ? Losses.nextTokenLosses(logits: z, tokens: batch.tokens, mask: batch.mask).sum() : (z * 0).sum() })
    }

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
    public let network: Module<Scalar>
    public var model: Module<Scalar> { network }
    let forwardPass: (Variable<Scalar>) -> Variable<Scalar>
    public let trainingFeatures: Tensor<Scalar>
    public let trainingLabels: [Int]
    public let queryFeatures: Tensor<Scalar>
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

    public var trainingExampleCount: Int { trainingLabels.count }
    public var queryCount: Int { queryLabels.count }
    public func trainingTokens(_ index: Int) -> [Int]? { nil }
    public var trainingDataFingerprint: String { fingerprint(trainingFeatures, trainingLabels) }
    public var queryDataFingerprint: String { fingerprint(queryFeatures, queryLabels) }

    public func trainingLoss(indices: [Int], labels: LabelSource, generator: inout SeededGenerator) -> TaskLoss<Scalar> {
        let logits = forwardPass(Variable(trainingFeatures.indexSelect(along: 0, indices: indices)))
        let targets = labels == .sampled ? LabelSampling.categorical(logits: logits.value, using: &generator) : indices.map { trainingLabels[$0] }
        return TaskLoss(
            loss: Losses.crossEntropy(logits: logits, labels: targets, reduction: .sum), rowsPerExample: 1, rowMask: nil, exampleCount: indices.count)
    }

    public func trainingOutputs(indices: [Int]) -> (outputs: Variable<Scalar>, loss: (Variable<Scalar>) -> Variable<Scalar>) {
        let logits = forwardPass(Variable(trainingFeatures.indexSelect(along: 0, indices: indices)))
        let labels = indices.map { trainingLabels[$0] }
        return (logits, { Losses.crossEntropy(logits: $0, labels: labels, reduction: .sum) })
    }

    public func queryMeasurement(indices: [Int]) -> TaskLoss<Scalar> {
        let logits = forwardPass(Variable(queryFeatures.indexSelect(along: 0, indices: indices)))
        return TaskLoss(
            loss: Losses.crossEntropy(logits: logits, labels: indices.map { queryLabels[$0] }, reduction: .sum),
            rowsPerExample: 1, rowMask: nil, exampleCount: indices.count)
    }
}

/// Regression with the squared error Σ_j (f(x)_j − y_j)² per example.
///
/// Sampled labels (true Fisher) are y = f(x) + ε, ε ~ N(0, 1).
public final class RegressionTask<Scalar: TensorScalar>: InfluenceTask {
    public let network: MultilayerPerceptron<Scalar>
    public var model: Module<Scalar> { network }
    public let trainingFeatures: Tensor<Scalar>, trainingTargets: Tensor<Scalar>
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

    public var trainingExampleCount: Int { trainingFeatures.shape[0] }
    public var queryCount: Int { queryFeatures.shape[0] }
    public func trainingTokens(_ index: Int) -> [Int]? { nil }
    public var trainingDataFingerprint: String { fingerprint(trainingFeatures, [trainingTargets.scalarCount]) + fingerprint(trainingTargets, []) }
    public var queryDataFingerprint: String { fingerprint(queryFeatures, [queryTargets.scalarCount]) + fingerprint(queryTargets, []) }

    public func trainingLoss(indices: [Int], labels: LabelSource, generator: inout SeededGenerator) -> TaskLoss<Scalar> {
        let prediction = network(Variable(trainingFeatures.indexSelect(along: 0, indices: indices)))
        let targets =
            labels == .sampled
            ? LabelSampling.gaussian(prediction: prediction.value, using: &generator)
            : trainingTargets.indexSelect(along: 0, indices: indices)
        return TaskLoss(loss: Losses.meanSquaredError(prediction, targets, reduction: .sum), rowsPerExample: 1, rowMask: nil, exampleCount: indices.count)
    }

    public func trainingOutputs(indices: [Int]) -> (outputs: Variable<Scalar>, loss: (Variable<Scalar>) -> Variable<Scalar>) {
        let prediction = network(Variable(trainingFeatures.indexSelect(along: 0, indices: indices)))
        let targets = trainingTargets.indexSelect(along: 0, indices: indices)
        return (prediction, { Losses.meanSquaredError($0, targets, reduction: .sum) })
    }

    public func queryMeasurement(indices: [Int]) -> TaskLoss<Scalar> {
        let prediction = network(Variable(queryFeatures.indexSelect(along: 0, indices: indices)))
        return TaskLoss(
            loss: Losses.meanSquaredError(prediction, queryTargets.indexSelect(along: 0, indices: indices), reduction: .sum),
            rowsPerExample: 1, rowMask: nil, exampleCount: indices.count)
    }
}
