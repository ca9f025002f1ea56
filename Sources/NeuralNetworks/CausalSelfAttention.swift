import Autograd
import TensorCore

/// Multi-head causal self-attention with GPT-2's module names: `c_attn` projects to queries, keys
/// and values at once (`[3·C, C]`, queries first), `c_proj` projects back.
///
/// ```
/// A = softmax(Q Kᵀ / √d + M),  M from causalAttentionMask(batch:time:attentionMask:slidingWindow:)
/// ```
public final class CausalSelfAttention<Scalar: TensorScalar>: Module<Scalar>, AttentionLayer {
    /// The fused query, key and value projection (`c_attn`): weight `[3·C, C]` and bias `[3·C]`, output rows queries, then keys, then values.
    ///
    /// The weight is in ``Linear``'s `[out, in]` layout; Hugging Face's `Conv1D` checkpoint stores its transpose `[C, 3·C]`.
    public let c_attn: Linear<Scalar>
    /// The output projection (`c_proj`) from the concatenated heads back to the residual stream: weight `[C, C]` (`[out, in]`), bias `[C]`.
    public let c_proj: Linear<Scalar>
    /// Dropout on the attention weights (`attn_dropout`, GPT-2's `attn_pdrop`).
    public let attentionDropout: Dropout<Scalar>
    /// Dropout on the output projection (`resid_dropout`, GPT-2's `resid_pdrop`).
    public let residualDropout: Dropout<Scalar>
    /// The number of heads H; each has `C / H` channels.
    public let headCount: Int

    /// A GPT-2 attention layer with normally initialised projections and zero biases.
    ///
    /// - Parameters:
    ///   - embeddingSize: The width C of the residual stream; `headCount` must divide it.
    ///   - headCount: The number of heads H.
    ///   - attentionDropout: The drop probability of the attention weights.
    ///   - residualDropout: The drop probability of the projected output.
    ///   - initializerRange: The standard deviation of `c_attn`'s weight.
    ///   - projectionStandardDeviation: The standard deviation of `c_proj`'s weight (GPT-2 scales it down with depth).
    ///   - generator: The source of the initial weights.
    public init(
        embeddingSize: Int, headCount: Int, attentionDropout: Double, residualDropout: Double,
        initializerRange: Scalar, projectionStandardDeviation: Scalar, using generator: inout SeededGenerator
    ) {
        precondition(embeddingSize % headCount == 0, "\(headCount) heads do not divide the embedding size \(embeddingSize)")
        c_attn = Linear(inputCount: embeddingSize, outputCount: 3 * embeddingSize, standardDeviation: initializerRange, using: &generator)
        c_proj = Linear(inputCount: embeddingSize, outputCount: embeddingSize, standardDeviation: projectionStandardDeviation, using: &generator)
        self.attentionDropout = Dropout(probability: attentionDropout)
        self.residualDropout = Dropout(probability: residualDropout)
        self.headCount = headCount
        super.init()
        register(module: c_attn, "c_attn")
        register(module: c_proj, "c_proj")
        register(module: self.attentionDropout, "attn_dropout")
        register(module: self.residualDropout, "resid_dropout")
    }

    /// - Parameters:
    ///   - x: `[batch, time, channels]`.
    ///   - mask: from ``causalAttentionMask(batch:time:attentionMask:slidingWindow:)``.
    /// - Returns: `[batch, time, channels]`.
    public func callAsFunction(_ x: Variable<Scalar>, mask: Tensor<Scalar>) -> Variable<Scalar> {
        let channels = x.shape[2]
        let qkv = c_attn(x)  // [B, T, 3C]
        func heads(_ index: Int) -> Variable<Scalar> {
            qkv.sliced(along: 2, (index * channels)..<((index + 1) * channels)).splittingHeads(headCount)  // [B, H, T, D]
        }
        let scale = Scalar(1 / Double(channels / headCount).squareRoot())
        let context = scaledDotProductAttention(
            queries: heads(0), keys: heads(1), values: heads(2), mask: mask, scale: scale,
            dropout: attentionDropout)
        return residualDropout(c_proj(context))
    }
}
