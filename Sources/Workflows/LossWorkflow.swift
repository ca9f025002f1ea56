import Autograd
import Datasets
import Foundation
import ModelIO
import NeuralNetworks
import TensorCore

/// The loss of one row, as `influence loss` prints it.
public struct RowLoss: Sendable, Equatable {
    /// The row's index in the training file (0-based).
    public var index: Int
    /// Σ_{t≥1} −log p(x_t | x_<t) for a sequence (a sum, not a mean); the cross-entropy of the
    /// label for an MLP classifier.
    public var loss: Double
    /// Predicted positions of a sequence; nil for a classifier.
    public var tokens: Int?
    /// The label of a classifier's row; nil for a sequence.
    public var label: Int?
}

extension Workflows {
    /// The loss of every row of `inputs.train` under its model, in order, `batchSize` rows per
    /// forward pass; `body` receives each row as soon as its batch is done.
    public static func losses(_ inputs: TaskInputs, batchSize: Int, _ body: (RowLoss) throws -> Void) throws {
        let loaded = try ModelDirectory.load(from: inputs.model, as: Float.self)
        switch loaded.kind {
        case let .languageModel(model):
            try sequenceLosses(ModelRegistry.erased(model), loaded, inputs, batchSize: batchSize, body)
        case .multilayerPerceptron, .imageClassifier:
            guard let classifier = loaded.classifier else {
                throw WorkflowError("\(inputs.model.path) is an MLP regressor; loss takes classifiers and language models")
            }
            let network = classifier.forward
            let (rows, _) = try TaskLoader.labeledRows(
                inputs.train, labelColumn: inputs.labelColumn, limit: inputs.maximumExamples,
                inputShape: classifier.inputShape, classCount: classifier.classCount,
                classNames: classifier.classNames)
            for start in stride(from: 0, to: rows.count, by: batchSize) {
                let indices = Array(start..<Swift.min(rows.count, start + batchSize))
                let (x, y) = rows.batch(indices)
                let losses = withoutGradients { Losses.crossEntropy(logits: network(Variable(x)), labels: y, reduction: .none).value }
                for (row, index) in indices.enumerated() { try body(RowLoss(index: index, loss: Double(losses[row]), tokens: nil, label: y[row])) }
            }
        }
    }

    static func sequenceLosses(
        _ model: AnyCausalLanguageModel<Float>, _ loaded: LoadedModel<Float>, _ inputs: TaskInputs, batchSize: Int,
        _ body: (RowLoss) throws -> Void
    ) throws {
        var dataset = try TextDataset.load(jsonLines: URL(fileURLWithPath: inputs.train), tokenizer: loaded.tokenizer, vocabularySize: model.vocabularySize)
        if let limit = inputs.maximumExamples, dataset.count > limit { dataset = TextDataset(sequences: Array(dataset.sequences.prefix(limit))) }
        // A document longer than the context is cut into chunks, each target predicted once; its
        // loss is the sum over its chunks.
        let documents = DocumentChunks(dataset.sequences, ids: dataset.sequences.indices.map(String.init), length: Swift.max(2, model.contextLength))
        var rowLosses: [Double] = []
        var next = 0
        for start in stride(from: 0, to: documents.sequences.count, by: batchSize) {
            let indices = Array(start..<Swift.min(documents.sequences.count, start + batchSize))
            let batch = Batching.pad(indices.map { documents.sequences[$0] }, indices: indices, padToken: model.specialTokens.paddingID)
            let losses: Tensor<Float> = withoutGradients {
                guard batch.length >= 2 else { return Tensor.zeros(shape: [batch.batchSize, 1]) }
                let logits = model.logits(tokens: batch.tokens, batchSize: batch.batchSize, attentionMask: batch.attentionMask(Float.self))
                return Losses.nextTokenLosses(logits: logits, tokens: batch.tokens, mask: batch.mask).value
            }
            rowLosses += batch.length >= 2 ? losses.sum(alongAxes: [1]).scalars.map(Double.init) : Array(repeating: 0, count: batch.batchSize)
            // Report every document whose rows are all scored.
            while next < documents.documentCount && documents.rowRanges[next].upperBound <= rowLosses.count {
                let loss = documents.rowRanges[next].reduce(0) { $0 + rowLosses[$1] }
                try body(RowLoss(index: next, loss: loss, tokens: Swift.max(0, dataset.sequences[next].count - 1), label: nil))
                next += 1
            }
        }
    }
}
