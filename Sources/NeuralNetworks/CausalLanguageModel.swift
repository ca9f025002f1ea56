import Autograd
import TensorCore

/// The token ids a model family gives a meaning to, from its configuration.
public struct SpecialTokens: Sendable, Equatable {
    public var beginning: Int?
    public var end: Int?
    public var padding: Int?

    public init(beginning: Int? = nil, end: Int? = nil, padding: Int? = nil) {
        self.beginning = beginning
        self.end = end
        self.padding = padding
    }

    /// The id put in padded positions (they are masked out, so any valid id would do): the padding
    /// token, else the end-of-text token, else 0.
    public var paddingID: Int { padding ?? end ?? 0 }
}

/// A decoder-only language model: token ids and an attention mask in, next-token logits out.
///
/// The extension point for model families: the influence engine, the trainer and the command line
/// reach GPT-2, Llama-family and GPT-NeoX models only through this protocol and the ``Module`` tree
/// (whose Linear layers, named as in Hugging Face checkpoints, are the layers influence tracks).
/// A conformer is a ``Module`` subclass whose ``module`` is the model itself.
public protocol CausalLanguageModel<Scalar>: AnyObject {
    associatedtype Scalar: TensorScalar
    /// The model as a module tree.
    var module: Module<Scalar> { get }
    /// The longest sequence the model takes (`max_position_embeddings`, `n_positions`).
    var contextLength: Int { get }
    /// The number of logits per position.
    var vocabularySize: Int { get }
    var specialTokens: SpecialTokens { get }
    /// Logits `[batch, time, vocabularySize]`.
    ///
    /// - Parameters:
    ///   - tokens: `batch × time` ids, row-major.
    ///   - attentionMask: `[batch, time]`, 1 for tokens and 0 for (right) padding; nil for none.
    func logits(tokens: [Int], batchSize: Int, attentionMask: Tensor<Scalar>?) -> Variable<Scalar>
}

extension CausalLanguageModel {
    /// The checks every family's forward pass starts with: whole sequences, within the context.
    public func sequenceLength(tokens: [Int], batchSize: Int) -> Int {
        precondition(batchSize > 0 && tokens.count % batchSize == 0,
                     "\(tokens.count) tokens do not split into \(batchSize) sequences of equal length")
        let time = tokens.count / batchSize
        precondition(time <= contextLength, "sequence length \(time) exceeds the context length \(contextLength)")
        return time
    }
}
