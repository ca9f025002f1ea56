import Autograd
import TensorCore

/// One pre-normalisation decoder layer, whatever its parts: a normalisation (``LayerNorm`` or
/// ``RMSNorm``) before an ``AttentionLayer`` and another before an MLP (``FeedForward`` or
/// ``GatedFeedForward``), with residual connections either in sequence (GPT-2, Llama)
///
/// ```
/// h = x + attention(norm₁(x)),   y = h + mlp(norm₂(h))
/// ```
/// or in parallel (GPT-NeoX's `use_parallel_residual`, Pythia):
///
/// ```
/// y = x + attention(norm₁(x)) + mlp(norm₂(x))
/// ```
/// The parts are registered under the names a family's checkpoints use (GPT-2: `ln_1`, `attn`,
/// `ln_2`, `mlp`; Llama: `input_layernorm`, `self_attn`, `post_attention_layernorm`, `mlp`).
public final class TransformerBlock<Scalar: TensorScalar>: Module<Scalar> {
    /// How the two residual branches combine: `sequential` feeds the attention's sum to the MLP, `parallel` gives both branches the block's input.
    public enum Residual: Sendable { case sequential, parallel }

    /// The normalisation before attention (GPT-2's `ln_1`, Llama's `input_layernorm`).
    public let inputNorm: AnyUnaryLayer<Scalar>
    /// The self-attention layer (GPT-2's `attn`, Llama's `self_attn`, GPT-NeoX's `attention`).
    public let attention: AnyAttentionLayer<Scalar>
    /// The normalisation before the MLP (GPT-2's `ln_2`, Llama's `post_attention_layernorm`); in a parallel block it reads the block's input.
    public let postAttentionNorm: AnyUnaryLayer<Scalar>
    /// The MLP (`mlp`): a ``FeedForward`` or a ``GatedFeedForward``.
    public let mlp: AnyUnaryLayer<Scalar>
    /// Whether the residual branches are sequential or parallel.
    public let residual: Residual

    /// A block from its parts, registered under a family's checkpoint names.
    ///
    /// - Parameters:
    ///   - inputNorm: The normalisation before attention.
    ///   - attention: The self-attention layer.
    ///   - postAttentionNorm: The normalisation before the MLP.
    ///   - mlp: The MLP.
    ///   - residual: How the residual branches combine (sequential by default).
    ///   - names: The local names of the four parts, as the family's checkpoints spell them.
    public init(
        inputNorm: AnyUnaryLayer<Scalar>, attention: AnyAttentionLayer<Scalar>, postAttentionNorm: AnyUnaryLayer<Scalar>,
        mlp: AnyUnaryLayer<Scalar>, residual: Residual = .sequential,
        names: (inputNorm: String, attention: String, postAttentionNorm: String, mlp: String)
    ) {
        self.inputNorm = inputNorm
        self.attention = attention
        self.postAttentionNorm = postAttentionNorm
        self.mlp = mlp
        self.residual = residual
        super.init()
        register(module: inputNorm, names.inputNorm)
        register(module: attention, names.attention)
        register(module: postAttentionNorm, names.postAttentionNorm)
        register(module: mlp, names.mlp)
    }

    /// - Parameters:
    ///   - x: `[batch, time, channels]`.
    ///   - mask: from ``causalAttentionMask(batch:time:attentionMask:slidingWindow:)``.
    public func callAsFunction(_ x: Variable<Scalar>, mask: Tensor<Scalar>) -> Variable<Scalar> {
        switch residual {
        case .sequential:
            let h = x + attention(inputNorm(x), mask: mask)
            return h + mlp(postAttentionNorm(h))
        case .parallel:
            return x + attention(inputNorm(x), mask: mask) + mlp(postAttentionNorm(x))
        }
    }
}
