import Autograd
import TensorCore

/// Multi-head causal self-attention with GPT-2's module names: `c_attn` projects to queries, keys
/// and values at once (`[3·C, C]`, queries first), `c_proj` projects back.
///
/// ```
/// A = softmax(Q Kᵀ / √d + M),  M from causalAttentionMask(batch:time:attentionMask:slidingWindow:)
/// ```
public final class CausalSelfAttention<Scalar: TensorScalar>: Module<Scalar>, AttentionLayer {
    public let c_attn: Linear<Scalar>
    public let c_proj: Linear<Scalar>
    public let attentionDropout: Dropout<Scalar>
    public let residualDropout: Dropout<Scalar>
    public let headCount: Int

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
