import TensorCore

/// The additive mask of causal self-attention, shared by every attention layer:
///
/// ```
/// M[b, i, j] = 0 when j ≤ i, key j is not padding and (with a window w) i − j < w;  −10⁹ otherwise
/// ```
/// so that softmax(Q Kᵀ/√d + M) gives no weight to future keys, padding keys and keys outside the
/// sliding window. A finite value (rather than −∞) keeps a fully masked row finite.
///
/// - Parameters:
///   - attentionMask: `[batch, time]`, 1 for tokens and 0 for padding; nil when nothing is padded.
///   - slidingWindow: the number of most recent keys a query sees, itself included (Mistral's
///     `sliding_window`); nil for none.
/// - Returns: `[batch (1 without a padding mask), 1, time, time]`.
public func causalAttentionMask<Scalar: TensorScalar>(
    batch: Int, time: Int, attentionMask: Tensor<Scalar>?,
    slidingWindow: Int? = nil
) -> Tensor<Scalar> {
    let blocked: Scalar = -1e9
    if let attentionMask {
        precondition(attentionMask.shape == [batch, time], "attention mask \(attentionMask.shape) should be [\(batch), \(time)]")
    }
    if let slidingWindow { precondition(slidingWindow > 0, "sliding window must be positive, got \(slidingWindow)") }
    let maskBatches = attentionMask == nil ? 1 : batch
    let window = slidingWindow ?? Int.max
    return Tensor(shape: [maskBatches, 1, time, time]) { p in
        let keep = attentionMask?.scalars
        for b in 0..<maskBatches {
            for i in 0..<time {
                for j in 0..<time {
                    let visible = j <= i && i - j < window && (keep.map { $0[b * time + j] != 0 } ?? true)
                    p[(b * time + i) * time + j] = visible ? 0 : blocked
                }
            }
        }
    }
}
