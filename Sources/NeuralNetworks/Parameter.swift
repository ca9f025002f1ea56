import Autograd
import TensorCore

/// A trainable tensor of a module, shared by reference (a tied weight is one parameter).
///
/// Its ``variable`` is the leaf that forward passes read; it is rebuilt whenever the value
/// changes or the parameter is frozen or unfrozen, so gradients always refer to the current value.
public final class Parameter<Scalar: TensorScalar> {
    /// The current value.
    public var value: Tensor<Scalar> { didSet { cachedVariable = nil } }
    /// False for a frozen parameter: it is read as a constant and never receives a gradient.
    public var requiresGradient: Bool { didSet { cachedVariable = nil } }
    private var cachedVariable: Variable<Scalar>?

    /// A parameter holding `value`, trainable unless `requiresGradient` is false.
    public init(_ value: Tensor<Scalar>, requiresGradient: Bool = true) {
        self.value = value
        self.requiresGradient = requiresGradient
    }

    /// The leaf variable holding the current value.
    public var variable: Variable<Scalar> {
        if let cachedVariable { return cachedVariable }
        let v = Variable(value, requiresGradient: requiresGradient)
        cachedVariable = v
        return v
    }

    /// The shape of ``value``.
    public var shape: [Int] { value.shape }
}
