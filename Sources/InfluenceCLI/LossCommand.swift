import Foundation
import Workflows

/// `influence loss`: the loss of every row under a model.
struct LossCommand: Subcommand {
    static let name = "loss"
    static let abstract = "Print each row's summed next-token loss (or a classifier's cross-entropy) as JSON Lines."
    static let options: [OptionSpecification] = [
        .value("model", "DIR", required: true, "Model directory: a language model (gpt2, llama, mistral, qwen2, gpt_neox) or an MLP classifier."),
        .value(
            "data", "FILE", required: true,
            "Language model: JSON Lines of {\"text\"} or {\"input_ids\"}; MLP or CNN classifier: a CSV file or fashion-mnist:train|test."),
        .value("label-column", "NAME", default: "label", "MLP with a CSV file: the label column."),
        .value("max-examples", "N", "Only the first N rows."),
        .value("batch-size", "N", default: "16", "Rows per forward pass."),
    ]
    static let discussion = """
        Output: one line per row, in order: {"index": i, "loss": L, "tokens": n}, where
        L = Σ_{t≥1} −log p(x_t | x_<t) (a sum, not a mean) and n is the number of predicted positions.
        Rows longer than the model's context are truncated to it. For an MLP classifier:
        {"index": i, "loss": L, "label": y} with L the cross-entropy −log softmax(f(x))_y.
        """

    let inputs: TaskInputs
    let batchSize: Int

    init(_ arguments: ParsedArguments) throws {
        batchSize = try arguments.integer("batch-size", minimum: 1)!
        inputs = TaskInputs(
            model: arguments.path("model")!, train: arguments.string("data")!, labelColumn: arguments.string("label-column")!,
            maximumExamples: try arguments.integer("max-examples", minimum: 1))
    }

    func run() throws {
        try Workflows.losses(inputs, batchSize: batchSize) { row in
            // JSON has no NaN or infinity: a row whose loss is not finite stops the output, named.
            guard row.loss.isFinite else {
                throw CommandFailure(
                    "row \(row.index) of \(inputs.train) has loss \(row.loss) under \(inputs.model.path): "
                        + (row.loss.isNaN ? "the model's outputs are not finite for it" : "the model gives one of its tokens probability 0"))
            }
            if let label = row.label {
                print("{\"index\": \(row.index), \"loss\": \(row.loss), \"label\": \(label)}")
            } else {
                print("{\"index\": \(row.index), \"loss\": \(row.loss), \"tokens\": \(row.tokens ?? 0)}")
            }
        }
    }
}
