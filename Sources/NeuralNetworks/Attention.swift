import Autograd
import TensorCore

/// A self-attention layer of a transformer block: `[batch, time, channels]` in and out, given the
/// additive mask of ``causalAttentionMask(batch:time:attentionMask:slidingWindow:)``.
///
/// The extension point for the attention of a model family: GPT-2's fused `c_attn`, Llama's
/// separate projections with grouped keys and rotary positions, GPT-NeoX's per-head fused
/// `query_key_value` all conform, and ``TransformerBlock`` holds any of them.
public protocol AttentionLayer<Scalar>: AnyObject {
    associatedtype Scalar: TensorScalar
    func callAsFunction(_ x: Variable<Scalar>, mask: Tensor<Scalar>) -> Variable<Scalar>
}

/// A module that is an ``AttentionLayer``.
public typealias AnyAttentionLayer<Scalar: TensorScalar> = any Module<Scalar> & AttentionLayer<Scalar>

/// Scaled dot-product attention with grouped keys and values (multi-head attention when the group
/// count equals the head count):
///
/// ```
/// softmax(Q_h K_g(h)ᵀ · scale + M) V_g(h),   g(h) = h / (heads / groups)
/// ```
/// Consecutive query heads share a key/value head, as Hugging Face's `repeat_kv` arranges them;
/// the shared keys are never copied: the query heads of a group are stacked along time instead.
///
/// - Parameters:
///   - queries: `[batch, heads, time, headSize]`.
///   - keys, values: `[batch, groups, time, headSize]`, `groups` dividing `heads`.
///   - mask: `[batch or 1, 1, time, time]`.
///   - dropout: applied to the attention weights (identity in evaluation mode).
/// - Returns: `[batch, time, heads · headSize]`.
public func scaledDotProductAttention<Scalar>(
    queries: Variable<Scalar>, keys: Variable<Scalar>, values: Variable<Scalar>,
    mask: Tensor<Scalar>, scale: Scalar, dropout: Dropout<Scalar>? = nil
) -> Variable<Scalar> {
    let (batch, heads, time, headSize) = (queries.shape[0], queries.shape[1], queries.shape[2], queries.shape[3])
    let groups = keys.shape[1]
    precondition(
        heads % groups == 0 && keys.shape == values.shape && keys.shape == [batch, groups, time, headSize],
        "attention: queries \(queries.shape), keys \(keys.shape), values \(values.shape)")
    let repeats = heads / groups
    var weights: Variable<Scalar>
    if repeats == 1 {
        weights = (Variable.matmul(queries, keys, transposeB: true) * scale + Variable(mask)).softmax(alongAxis: -1)  // [B, H, T, T]
    } else {
        let stacked = queries.reshaped(to: [batch, groups, repeats * time, headSize])
        let scores = Variable.matmul(stacked, keys, transposeB: true).reshaped(to: [batch, groups, repeats, time, time]) * scale
        weights = (scores + Variable(mask.reshaped(to: [mask.shape[0], 1, 1, time, time]))).softmax(alongAxis: -1)
            .reshaped(to: [batch, groups, repeats * time, time])
    }
    if let dropout { weights = dropout(weights) }
    return Variable.matmul(weights, values)  // [B, G, rep·T, D] = [B, H, T, D]
        .reshaped(to: [batch, heads, time, headSize])
        .permuted([0, 2, 1, 3])
        .reshaped(to: [batch, time, heads * headSize])
}

extension Variable {
    /// `[batch, time, heads · headSize]` → `[batch, heads, time, headSize]`.
    func splittingHeads(_ heads: Int) -> Variable {
        let (batch, time, width) = (shape[0], shape[1], shape[2])
        return reshaped(to: [batch, time, heads, width / heads]).permuted([0, 2, 1, 3])
    }
}
