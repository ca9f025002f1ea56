import Autograd
import Datasets
import Foundation
import ModelIO
import NeuralNetworks
import TensorCore
import Tokenizers

/// `influence loss`: the summed next-token loss of each row of a dataset.
struct LossCommand: Subcommand {
    static let name = "loss"
    static let abstract = "Print each row's loss as JSON lines (language-model or classification loss)."
    static let options: [OptionSpecification] = [
        .value("model", "DIR", required: true, "Model directory: a GPT-2 or an MLP classifier."),
        .value("data", "FILE", required: true, "GPT-2: JSON Lines rows {\"text\": ...} or {\"input_ids\": [...]}; MLP: a CSV file, fashion-mnist:train or fashion-mnist:test."),
        .value("label-column", "NAME", default: "label", "MLP with a CSV file: the label column."),
        .value("max-examples", "N", "MLP: only the first N rows."),
        .value("batch-size", "N", default: "16", "Rows per forward pass."),
    ]
    static let discussion = """
    Output: one line per row, in order: {"index": i, "loss": L, "tokens": n}, where
    L = Σ_{t≥1} −log p(x_t | x_<t) (a sum, not a mean) and n is the number of predicted positions.
    Rows longer than the model's context are truncated to it. For an MLP classifier:
    {"index": i, "loss": L, "label": y} with L the cross-entropy −log softmax(f(x))_y.
    """

    let model: URL
    let data: URL
    let batchSize: Int
    let arguments: ParsedArguments

    init(_ arguments: ParsedArguments) throws {
        model = arguments.path("model")!
        data = arguments.path("data")!
        batchSize = try arguments.integer("batch-size", minimum: 1)!
        self.arguments = arguments
        _ = try arguments.integer("max-examples", minimum: 1)
    }

    func run() throws {
        let gpt2: GPT2LanguageModel<Float>, tokenizer: BytePairTokenizer?
        switch try ModelDirectory.load(from: model, as: Float.self) {
        case let .gpt2(m, t): (gpt2, tokenizer) = (m, t)
        case let .mlp(network, configuration): return try classificationLosses(network, configuration)
        }
        let c = gpt2.configuration
        let dataset = try TextDataset.load(jsonLines: data, tokenizer: tokenizer, maximumLength: c.contextLength,
                                           vocabularySize: c.vocabularySize)
        let pad = c.eosTokenID ?? 0
        for start in stride(from: 0, to: dataset.count, by: batchSize) {
            let indices = Array(start..<Swift.min(dataset.count, start + batchSize))
            let batch = Batching.pad(indices.map { dataset.sequences[$0] }, indices: indices, padToken: pad)
            let losses: Tensor<Float> = withoutGradients {
                guard batch.length >= 2 else { return Tensor.zeros(shape: [batch.batchSize, 1]) }
                let logits = gpt2(tokens: batch.tokens, batchSize: batch.batchSize, attentionMask: batch.attentionMask(Float.self))
                return Losses.nextTokenLosses(logits: logits, tokens: batch.tokens, mask: batch.mask).value
            }
            let perRow = batch.length >= 2 ? losses.sum(alongAxes: [1]).scalars : Array(repeating: 0, count: batch.batchSize)
            for (row, index) in indices.enumerated() {
                let n = Swift.max(0, dataset.sequences[index].count - 1)
                print("{\"index\": \(index), \"loss\": \(Double(perRow[row])), \"tokens\": \(n)}")
            }
        }
    }

    /// Per-row cross-entropy of an MLP classifier.
    func classificationLosses(_ network: MultilayerPerceptron<Float>, _ configuration: MLPConfiguration) throws {
        guard configuration.task == "classification" else { throw CommandFailure("\(model.path) is an MLP for \(configuration.task); loss takes classifiers") }
        network.evaluate()
        let (rows, _) = try labeledRows(arguments.string("data")!, labelColumn: arguments.string("label-column")!,
                                        limit: try arguments.integer("max-examples", minimum: 1),
                                        inputCount: configuration.sizes.first ?? 0, classCount: configuration.sizes.last ?? 0)
        for start in stride(from: 0, to: rows.count, by: batchSize) {
            let indices = Array(start..<Swift.min(rows.count, start + batchSize))
            let (x, y) = rows.batch(indices)
            let losses = withoutGradients { Losses.crossEntropy(logits: network(Variable(x)), labels: y, reduction: .none).value }
            for (row, index) in indices.enumerated() {
                print("{\"index\": \(index), \"loss\": \(Double(losses[row])), \"label\": \(y[row])}")
            }
        }
    }
}
