import Autograd
import TensorCore

/// The token ids a model family gives a meaning to, from its configuration.
public struct SpecialTokens: Sendable, Equatable {
    /// The beginning-of-sequence id (`bos_token_id`), if the family has one.
    public var beginning: Int?
    /// The end-of-text id (`eos_token_id`), if the family has one.
    public var end: Int?
    /// The padding id (`pad_token_id`), if the family has one.
    public var padding: Int?

    /// Special tokens with the given ids; each is nil when the configuration does not name it.
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
        precondition(
            batchSize > 0 && tokens.count % batchSize == 0,
            "\(tokens.count) tokens do not split into \(batchSize) sequences of equal length")
        let time = tokens.count / batchSize
        precondition(time <= contextLength, "sequence length \(time) exceeds the context length \(contextLength)")
        return time
    }
}

/// Any ``CausalLanguageModel`` behind one concrete type, so that code generic over the model
/// (an influence task, a trainer's loss) is compiled once for it.
///
/// The forward pass is captured where the wrapped model's type is known: built from a concrete
/// `LlamaForCausalLM<Float>`, say, it runs the forward pass compiled — specialised — for that
/// type, while one built from an existential runs it unspecialised (every tensor operation then
/// looks up generic metadata, which costs a third of the time of a small model). Model families
/// build theirs from the concrete type (`ModelRegistry.erased(_:)`).
public final class AnyCausalLanguageModel<Scalar: TensorScalar>: CausalLanguageModel {
    /// The wrapped model (never itself an ``AnyCausalLanguageModel``: wrapping one unwraps it).
    public let base: any CausalLanguageModel<Scalar>
    private let forward: ([Int], Int, Tensor<Scalar>?) -> Variable<Scalar>

    /// Wraps `model`, capturing its forward pass specialised for `Model`; wrapping an ``AnyCausalLanguageModel`` reuses its base and forward pass.
    public init<Model: CausalLanguageModel>(_ model: Model) where Model.Scalar == Scalar {
        if let erased = model as? AnyCausalLanguageModel<Scalar> {
            base = erased.base
            forward = erased.forward
        } else {
            base = model
            forward = { model.logits(tokens: $0, batchSize: $1, attentionMask: $2) }
        }
    }

    /// The wrapped model's module tree.
    public var module: Module<Scalar> { base.module }
    /// The wrapped model's context length.
    public var contextLength: Int { base.contextLength }
    /// The wrapped model's vocabulary size.
    public var vocabularySize: Int { base.vocabularySize }
    /// The wrapped model's special tokens.
    public var specialTokens: SpecialTokens { base.specialTokens }

    /// The wrapped model's logits `[batch, time, vocabularySize]`, through the forward pass captured at construction.
    ///
    /// - Parameters:
    ///   - tokens: `batch × time` ids, row-major.
    ///   - batchSize: The number of sequences in `tokens`.
    ///   - attentionMask: `[batch, time]`, 1 for tokens and 0 for (right) padding; nil for none.
    public func logits(tokens: [Int], batchSize: Int, attentionMask: Tensor<Scalar>?) -> Variable<Scalar> {
        forward(tokens, batchSize, attentionMask)
    }
}
