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
    public enum Residual: Sendable { case sequential, parallel }

    public let inputNorm: AnyUnaryLayer<Scalar>
    public let attention: AnyAttentionLayer<Scalar>
    public let postAttentionNorm: AnyUnaryLayer<Scalar>
    public let mlp: AnyUnaryLayer<Scalar>
    public let residual: Residual

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
