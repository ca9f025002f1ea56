import Autograd
import TensorCore

/// Multi-head causal self-attention with GPT-2's module names: `c_attn` projects to queries, keys
/// and values at once (`[3·C, C]`), `c_proj` projects back.
///
/// ```
/// A = softmax(Q Kᵀ / √d + M),  M = 0 where key j ≤ query i and key j is not padding, else −10⁹
/// ```
/// A finite mask (rather than −∞) keeps a fully masked row, a padding query, finite.
public final class CausalSelfAttention<Scalar: TensorScalar>: Module<Scalar> {
    public let c_attn: Linear<Scalar>
    public let c_proj: Linear<Scalar>
    public let attentionDropout: Dropout<Scalar>
    public let residualDropout: Dropout<Scalar>
    public let headCount: Int

    public init(embeddingSize: Int, headCount: Int, attentionDropout: Double, residualDropout: Double,
                initializerRange: Scalar, projectionStandardDeviation: Scalar, using generator: inout SeededGenerator) {
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

    /// The additive mask `[batch, 1, time, time]` for causal attention over the non-padding keys.
    ///
    /// - Parameter attentionMask: `[batch, time]`, 1 for tokens and 0 for padding; nil for none.
    public static func additiveMask(batch: Int, time: Int, attentionMask: Tensor<Scalar>?) -> Tensor<Scalar> {
        let blocked: Scalar = -1e9
        if let attentionMask {
            precondition(attentionMask.shape == [batch, time], "attention mask \(attentionMask.shape) should be [\(batch), \(time)]")
        }
        return Tensor(shape: [attentionMask == nil ? 1 : batch, 1, time, time]) { p in
            let maskBatches = attentionMask == nil ? 1 : batch
            let keep = attentionMask?.scalars
            for b in 0..<maskBatches {
                for i in 0..<time {
                    for j in 0..<time {
                        let visible = j <= i && (keep.map { $0[b * time + j] != 0 } ?? true)
                        p[(b * time + i) * time + j] = visible ? 0 : blocked
                    }
                }
            }
        }
    }

    /// - Parameters:
    ///   - x: `[batch, time, channels]`.
    ///   - mask: from ``additiveMask(batch:time:attentionMask:)``.
    /// - Returns: `[batch, time, channels]`.
    public func callAsFunction(_ x: Variable<Scalar>, mask: Tensor<Scalar>) -> Variable<Scalar> {
        let (batch, time, channels) = (x.shape[0], x.shape[1], x.shape[2])
        let headSize = channels / headCount
        let qkv = c_attn(x)                                            // [B, T, 3C]
        func heads(_ index: Int) -> Variable<Scalar> {
            qkv.sliced(along: 2, (index * channels)..<((index + 1) * channels))
                .reshaped(to: [batch, time, headCount, headSize])
                .permuted([0, 2, 1, 3])                                // [B, H, T, D]
        }
        let (q, k, v) = (heads(0), heads(1), heads(2))
        let scale = Scalar(1 / Double(headSize).squareRoot())
        let scores = Variable.matmul(q, k, transposeB: true) * scale + Variable(mask)   // [B, H, T, T]
        let weights = attentionDropout(scores.softmax(alongAxis: -1))
        let context = Variable.matmul(weights, v)                      // [B, H, T, D]
            .permuted([0, 2, 1, 3])
            .reshaped(to: [batch, time, channels])
        return residualDropout(c_proj(context))
    }
}
