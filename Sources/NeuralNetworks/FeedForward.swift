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
    /// The nonlinearity between `up` and `down` (GPT-2's `activation_function`, GPT-NeoX's `hidden_act`).
    public let activation: Activation
    /// Dropout on the MLP's output (`dropout`: GPT-2's `resid_pdrop`, GPT-NeoX's `hidden_dropout`).
    public let dropout: Dropout<Scalar>

    /// An MLP over existing layers, registered under the checkpoint's names.
    ///
    /// - Parameters:
    ///   - up: The expansion `[inner, channels]`.
    ///   - down: The projection back `[channels, inner]`; the two must compose.
    ///   - activation: The nonlinearity between them.
    ///   - dropout: The drop probability of the output.
    ///   - names: The local names of `up` and `down` (`c_fc`/`c_proj` for GPT-2, `dense_h_to_4h`/`dense_4h_to_h` for GPT-NeoX).
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

    /// `dropout(down(activation(up(x))))` for `x` of shape `[..., channels]`; the result has the same shape.
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
    /// The gate projection (`gate_proj`), weight `[inner, channels]` (`[out, in]`), whose output goes through the activation.
    public let gate_proj: Linear<Scalar>
    /// The up projection (`up_proj`), weight `[inner, channels]` (`[out, in]`), multiplied elementwise with the activated gate.
    public let up_proj: Linear<Scalar>
    /// The down projection (`down_proj`), weight `[channels, inner]` (`[out, in]`), back to the residual stream.
    public let down_proj: Linear<Scalar>
    /// The gate's nonlinearity (`hidden_act`, `silu` for SwiGLU).
    public let activation: Activation

    /// A gated MLP with weights drawn from N(0, σ²), σ = `initializerRange`, and zero biases when it has them.
    ///
    /// - Parameters:
    ///   - embeddingSize: The width `channels` of the residual stream.
    ///   - innerSize: The hidden width `inner` (`intermediate_size`).
    ///   - activation: The gate's nonlinearity.
    ///   - hasBias: Whether the three projections have biases (`mlp_bias`).
    ///   - initializerRange: The standard deviation of every weight.
    ///   - generator: The source of the initial weights.
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

    /// `down_proj(activation(gate_proj(x)) ⊙ up_proj(x))` for `x` of shape `[..., channels]`; the result has the same shape.
    public func callAsFunction(_ x: Variable<Scalar>) -> Variable<Scalar> {
        down_proj(activation(gate_proj(x)) * up_proj(x))
    }
}
