import Autograd
import TensorCore

/// A stack of Linear layers with an activation between them, named `layers.0`, `layers.1`, …
///
/// The classifier and the regressor of the small-scale experiments are this module with
/// ``Losses/crossEntropy(logits:labels:reduction:ignoreIndex:)`` or
/// ``Losses/meanSquaredError(_:_:reduction:)`` on its output.
public final class MultilayerPerceptron<Scalar: TensorScalar>: Module<Scalar>, UnaryLayer {
    /// The Linear layers in order, `layers.i` with weight `[sizes[i + 1], sizes[i]]` and a bias.
    public let layers: ModuleList<Scalar, Linear<Scalar>>
    /// The nonlinearity applied after every layer but the last.
    public let activation: Activation

    /// - Parameter sizes: input size, hidden sizes, output size (at least two entries).
    public init(sizes: [Int], activation: Activation = .relu, seed: UInt64 = 0) {
        precondition(sizes.count >= 2 && sizes.allSatisfy { $0 > 0 }, "MLP sizes must be at least [input, output], all positive: \(sizes)")
        var generator = SeededGenerator(seed: seed)
        layers = ModuleList(
            zip(sizes, sizes.dropFirst()).map {
                Linear(inputCount: $0, outputCount: $1, using: &generator)
            })
        self.activation = activation
        super.init()
        register(module: layers, "layers")
    }

    /// `mlp` is every layer (`layers.*`), as is `all`.
    override public var moduleGroups: [String: [String]] { ["mlp": ["layers.*"], "all": []] }

    /// The number of input features, the first layer's `in`.
    public var inputCount: Int { layers.elements[0].inputCount }
    /// The number of outputs, the last layer's `out`.
    public var outputCount: Int { layers.elements[layers.elements.count - 1].outputCount }

    /// `[batch, input]` → `[batch, output]`; no activation after the last layer.
    public func callAsFunction(_ x: Variable<Scalar>) -> Variable<Scalar> {
        var h = x
        for (i, layer) in layers.elements.enumerated() {
            h = layer(h)
            if i < layers.elements.count - 1 { h = activation(h) }
        }
        return h
    }
}
