import Autograd
import TensorCore

/// The two-layer MLP of a transformer block: `down(activation(up(x)))`, then dropout.
///
/// GPT-2 names its layers `c_fc` and `c_proj`, GPT-NeoX `dense_h_to_4h` and `dense_4h_to_h`; the
/// names are given at construction so that parameters map to Hugging Face checkpoints by path.
/// The paper's influence analyses track these Linear layers.
public final class FeedForward<Scalar: TensorScalar>: Module<Scalar>, UnaryLayer {
    /// `[inner, channels]`.
    public let up: Linear<Scalar>
    /// `[channels, inner]`.
    public let down: Linear<Scalar>
    public let activation: Activation
    public let dropout: Dropout<Scalar>

    public init(up: Linear<Scalar>, down: Linear<Scalar>, activation: Activation, dropout: Double, names: (up: String, down: String)) {
        precondition(
            up.outputCount == down.inputCount && up.inputCount == down.outputCount,
            "MLP layers \(up.weight.shape) and \(down.weight.shape) do not compose")
        self.up = up
        self.down = down
        self.activation = activation
        self.dropout = Dropout(probability: dropout)
        super.init()
        register(module: up, names.up)
        register(module: down, names.down)
        register(module: self.dropout, "dropout")
    }

    /// GPT-2's MLP (`c_fc`, `c_proj`) with its initialisation.
    public convenience init(
        embeddingSize: Int, innerSize: Int, activation: Activation, dropout: Double,
        initializerRange: Scalar, projectionStandardDeviation: Scalar, using generator: inout SeededGenerator
    ) {
        let up = Linear(inputCount: embeddingSize, outputCount: innerSize, standardDeviation: initializerRange, using: &generator)
        let down = Linear(inputCount: innerSize, outputCount: embeddingSize, standardDeviation: projectionStandardDeviation, using: &generator)
        self.init(up: up, down: down, activation: activation, dropout: dropout, names: ("c_fc", "c_proj"))
    }

    public func callAsFunction(_ x: Variable<Scalar>) -> Variable<Scalar> {
        dropout(down(activation(up(x))))
    }
}

/// The gated MLP of Llama-family blocks (SwiGLU with `silu`; Shazeer 2020):
///
/// ```
/// down_proj(activation(gate_proj(x)) ⊙ up_proj(x))
/// ```
public final class GatedFeedForward<Scalar: TensorScalar>: Module<Scalar>, UnaryLayer {
    public let gate_proj: Linear<Scalar>
    public let up_proj: Linear<Scalar>
    public let down_proj: Linear<Scalar>
    public let activation: Activation

    public init(
        embeddingSize: Int, innerSize: Int, activation: Activation, hasBias: Bool, initializerRange: Scalar,
        using generator: inout SeededGenerator
    ) {
        gate_proj = Linear(inputCount: embeddingSize, outputCount: innerSize, hasBias: hasBias, standardDeviation: initializerRange, using: &generator)
        up_proj = Linear(inputCount: embeddingSize, outputCount: innerSize, hasBias: hasBias, standardDeviation: initializerRange, using: &generator)
        down_proj = Linear(inputCount: innerSize, outputCount: embeddingSize, hasBias: hasBias, standardDeviation: initializerRange, using: &generator)
        self.activation = activation
        super.init()
        register(module: gate_proj, "gate_proj")
        register(module: up_proj, "up_proj")
        register(module: down_proj, "down_proj")
    }

    public func callAsFunction(_ x: Variable<Scalar>) -> Variable<Scalar> {
        down_proj(activation(gate_proj(x)) * up_proj(x))
    }
}
