import Autograd
import Datasets
import Foundation
import ModelIO
import NeuralNetworks
import TensorCore

/// `influence loss`: the summed next-token loss of each row of a dataset.
struct LossCommand: Subcommand {
    static let name = "loss"
    static let abstract = "Print each row's language-model loss as JSON lines."
    static let options: [OptionSpecification] = [
        .value("model", "DIR", required: true, "GPT-2 model directory."),
        .value("data", "FILE.jsonl", required: true, "Rows {\"text\": ...} or {\"input_ids\": [...]}."),
        .value("batch-size", "N", default: "16", "Rows per forward pass."),
    ]
    static let discussion = """
    Output: one line per row, in order: {"index": i, "loss": L, "tokens": n}, where
    L = Σ_{t≥1} −log p(x_t | x_<t) (a sum, not a mean) and n is the number of predicted positions.
    Rows longer than the model's context are truncated to it.
    """

    let model: URL
    let data: URL
    let batchSize: Int

    init(_ arguments: ParsedArguments) throws {
        model = arguments.path("model")!
        data = arguments.path("data")!
        batchSize = try arguments.integer("batch-size", minimum: 1)!
    }

    func run() throws {
        guard case let .gpt2(gpt2, tokenizer) = try ModelDirectory.load(from: model, as: Float.self) else {
            throw CommandFailure("\(model.path) is not a language model; loss needs a GPT-2 directory")
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
}
