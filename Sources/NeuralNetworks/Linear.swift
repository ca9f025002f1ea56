import Autograd
import TensorCore

/// A fully connected layer, `y = x Wᵀ + b`, with the weight stored as `[out, in]` (PyTorch's layout).
///
/// Forward hooks see each call's input and output; the influence engine captures activations
/// and (through a backward hook on the output) output gradients with them.
public final class Linear<Scalar: TensorScalar>: Module<Scalar> {
    /// The weight `W`, `[out, in]`.
    public let weight: Parameter<Scalar>
    /// The bias `b`, `[out]`, or nil for a bias-free layer.
    public let bias: Parameter<Scalar>?
    /// The number of input features `in`, the weight's second dimension.
    public var inputCount: Int { weight.shape[1] }
    /// The number of output features `out`, the weight's first dimension.
    public var outputCount: Int { weight.shape[0] }

    /// Receives the layer, its input `[..., in]` and its output `[..., out]` on every call.
    public typealias ForwardHook = (_ layer: Linear, _ input: Variable<Scalar>, _ output: Variable<Scalar>) -> Void
    private var forwardHooks: [(id: Int, body: ForwardHook)] = []
    private var nextHookID = 0

    /// A layer with the given weight (`[out, in]`) and optional bias (`[out]`).
    public init(weight: Parameter<Scalar>, bias: Parameter<Scalar>?) {
        precondition(weight.value.rank == 2, "Linear weight must be [out, in], got \(weight.shape)")
        if let bias { precondition(bias.shape == [weight.shape[0]], "Linear bias \(bias.shape) does not match weight \(weight.shape)") }
        self.weight = weight
        self.bias = bias
        super.init()
        register(parameter: weight, "weight")
        if let bias { register(parameter: bias, "bias") }
    }

    /// PyTorch's default initialisation: weight and bias uniform in ±1/√in.
    public convenience init(inputCount: Int, outputCount: Int, hasBias: Bool = true, using generator: inout SeededGenerator) {
        let bound = Scalar(1 / Double(inputCount).squareRoot())
        let w = Tensor<Scalar>.randomUniform(shape: [outputCount, inputCount], lower: -bound, upper: bound, using: &generator)
        let b = hasBias ? Tensor<Scalar>.randomUniform(shape: [outputCount], lower: -bound, upper: bound, using: &generator) : nil
        self.init(weight: Parameter(w), bias: b.map { Parameter($0) })
    }

    /// Weight from a normal distribution of the given standard deviation, zero bias (GPT-2's initialisation).
    public convenience init(
        inputCount: Int, outputCount: Int, hasBias: Bool = true, standardDeviation: Scalar,
        using generator: inout SeededGenerator
    ) {
        let w = Tensor<Scalar>.randomNormal(shape: [outputCount, inputCount], standardDeviation: standardDeviation, using: &generator)
        self.init(weight: Parameter(w), bias: hasBias ? Parameter(Tensor.zeros(shape: [outputCount])) : nil)
    }

    /// A language model's bias-free head `[vocabulary, width]`: the embedding's own weight when
    /// tied (one parameter reachable from both modules), else a new weight from N(0, σ²).
    public static func head(
        tiedTo embedding: Embedding<Scalar>, tied: Bool, standardDeviation: Scalar,
        using generator: inout SeededGenerator
    ) -> Linear {
        if tied { return Linear(weight: embedding.weight, bias: nil) }
        return Linear(
            inputCount: embedding.dimension, outputCount: embedding.count, hasBias: false, standardDeviation: standardDeviation,
            using: &generator)
    }

    /// `x Wᵀ + b` for `x` of shape `[..., in]`.
    public func callAsFunction(_ x: Variable<Scalar>) -> Variable<Scalar> {
        let y = Variable.linear(x, weight: weight.variable, bias: bias?.variable)
        for hook in forwardHooks { hook.body(self, x, y) }
        return y
    }

    /// Registers a hook called after every forward call.
    @discardableResult
    public func registerForwardHook(_ body: @escaping ForwardHook) -> HookHandle {
        let id = nextHookID
        nextHookID += 1
        forwardHooks.append((id, body))
        return HookHandle { [weak self] in self?.forwardHooks.removeAll { $0.id == id } }
    }
}
