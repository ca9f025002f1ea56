import Autograd
import TensorCore

/// The MLP block of a transformer layer with GPT-2's names: `c_fc` (C → inner), activation,
/// `c_proj` (inner → C), dropout. The paper's influence analyses track these two Linear layers.
public final class FeedForward<Scalar: TensorScalar>: Module<Scalar> {
    public let c_fc: Linear<Scalar>
    public let c_proj: Linear<Scalar>
    public let activation: Activation
    public let dropout: Dropout<Scalar>

    public init(embeddingSize: Int, innerSize: Int, activation: Activation, dropout: Double,
                initializerRange: Scalar, projectionStandardDeviation: Scalar, using generator: inout SeededGenerator) {
        c_fc = Linear(inputCount: embeddingSize, outputCount: innerSize, standardDeviation: initializerRange, using: &generator)
        c_proj = Linear(inputCount: innerSize, outputCount: embeddingSize, standardDeviation: projectionStandardDeviation, using: &generator)
        self.activation = activation
        self.dropout = Dropout(probability: dropout)
        super.init()
        register(module: c_fc, "c_fc")
        register(module: c_proj, "c_proj")
        register(module: self.dropout, "dropout")
    }

    public func callAsFunction(_ x: Variable<Scalar>) -> Variable<Scalar> {
        dropout(c_proj(activation(c_fc(x))))
    }
}

/// A pre-LayerNorm transformer layer: x + attn(ln_1(x)), then + mlp(ln_2(·)).
public final class GPT2Block<Scalar: TensorScalar>: Module<Scalar> {
    public let ln_1: LayerNorm<Scalar>
    public let attn: CausalSelfAttention<Scalar>
    public let ln_2: LayerNorm<Scalar>
    public let mlp: FeedForward<Scalar>

    public init(configuration c: GPT2Configuration, using generator: inout SeededGenerator) {
        let std = Scalar(c.initializerRange)
        // GPT-2 scales the residual projections by 1/√(2 × layers).
        let projectionStd = Scalar(c.initializerRange / (2 * Double(c.layerCount)).squareRoot())
        ln_1 = LayerNorm(dimension: c.embeddingSize, epsilon: Scalar(c.layerNormEpsilon))
        attn = CausalSelfAttention(embeddingSize: c.embeddingSize, headCount: c.headCount, attentionDropout: c.attentionDropout,
                                   residualDropout: c.residualDropout, initializerRange: std,
                                   projectionStandardDeviation: projectionStd, using: &generator)
        ln_2 = LayerNorm(dimension: c.embeddingSize, epsilon: Scalar(c.layerNormEpsilon))
        mlp = FeedForward(embeddingSize: c.embeddingSize, innerSize: c.feedForwardSize,
                          activation: Activation(huggingFaceName: c.activation) ?? .geluNew, dropout: c.residualDropout,
                          initializerRange: std, projectionStandardDeviation: projectionStd, using: &generator)
        super.init()
        register(module: ln_1, "ln_1")
        register(module: attn, "attn")
        register(module: ln_2, "ln_2")
        register(module: mlp, "mlp")
    }

    public func callAsFunction(_ x: Variable<Scalar>, mask: Tensor<Scalar>) -> Variable<Scalar> {
        let h = x + attn(ln_1(x), mask: mask)
        return h + mlp(ln_2(h))
    }
}
