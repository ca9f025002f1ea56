import TensorCore

/// A tensor that takes part in differentiation.
///
/// A variable is either a constant (``requiresGradient`` false), a leaf that requires a gradient
/// (a parameter, or an input to a function being differentiated), or the recorded result of an
/// operation on such values. Operations record themselves into a graph unless they run inside
/// ``withoutGradients(_:)`` or none of their inputs requires a gradient.
public struct Variable<Scalar: TensorScalar> {
    /// The value.
    public let value: Tensor<Scalar>
    /// The graph node, nil for constants.
    public let node: GradientNode<Scalar>?

    init(value: Tensor<Scalar>, node: GradientNode<Scalar>?) {
        self.value = value
        self.node = node
    }

    /// A constant, or a new leaf when `requiresGradient` is true.
    public init(_ value: Tensor<Scalar>, requiresGradient: Bool = false) {
        self.value = value
        self.node = requiresGradient ? GradientNode(name: "leaf", inputs: [], keptValue: nil, rule: nil) : nil
    }

    /// A scalar constant.
    public init(_ scalar: Scalar) { self.init(Tensor(scalar)) }

    /// True for leaves that require a gradient and for recorded results.
    public var requiresGradient: Bool { node != nil }
    /// The shape of ``value``.
    public var shape: [Int] { value.shape }
    /// The number of dimensions of ``value``.
    public var rank: Int { value.rank }
    /// The number of elements of ``value``.
    public var scalarCount: Int { value.scalarCount }

    /// The same value as a constant: gradients do not flow through it.
    public func detached() -> Variable { Variable(value) }

    /// Records an operation.
    ///
    /// - Parameters:
    ///   - name: the operation, for messages.
    ///   - inputs: the operands whose cotangents `rule` returns, in order.
    ///   - keepingOutput: whether `rule` reads ``BackwardContext/output``.
    ///   - rule: the backward rule, written in differentiable operations.
    /// - Returns: a recorded variable, or a constant when recording is off or no input requires a gradient.
    public static func record(
        _ value: Tensor<Scalar>, name: String, inputs: [Variable], keepingOutput: Bool = false,
        rule: @escaping BackwardRule<Scalar>
    ) -> Variable {
        guard GradientRecording.isEnabled, inputs.contains(where: { $0.node != nil }) else {
            return Variable(value: value, node: nil)
        }
        let node = GradientNode(name: name, inputs: inputs.map(\.node), keptValue: keepingOutput ? value : nil, rule: rule)
        return Variable(value: value, node: node)
    }
}

extension Variable: CustomStringConvertible {
    /// `Variable(<value>)` for a constant, with `, node: <operation>#<id>` appended for a recorded value or a leaf.
    public var description: String {
        "Variable(\(value)\(node.map { ", node: \($0.name)#\($0.id)" } ?? ""))"
    }
}
