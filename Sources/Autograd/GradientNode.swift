import Synchronization
import TensorCore

/// What a backward rule receives: the cotangent of the operation's output, which inputs need a
/// cotangent, and the output itself when the rule asked to keep it.
public struct BackwardContext<Scalar: TensorScalar> {
    /// ∂L/∂(output), of the output's shape.
    public let cotangent: Variable<Scalar>
    /// `needs[i]` is true when input i needs its cotangent; rules skip the work for the others.
    public let needs: [Bool]
    let keptOutput: Variable<Scalar>?

    /// The operation's output as a differentiable value (only for rules recorded with `keepingOutput`).
    public var output: Variable<Scalar> {
        guard let keptOutput else { preconditionFailure("this backward rule did not keep its output") }
        return keptOutput
    }
}

/// A backward rule: maps the output cotangent to one cotangent per input (nil where not needed).
///
/// Rules are written with differentiable ``Variable`` operations, so that when the backward pass
/// itself is recorded (`createGraph`), gradients of gradients come out right.
public typealias BackwardRule<Scalar: TensorScalar> = (BackwardContext<Scalar>) -> [Variable<Scalar>?]

private let nodeCounter = Atomic<Int>(0)

/// One recorded operation (or a leaf that requires a gradient) in the graph of a computation.
///
/// Node identifiers increase in creation order, and an operation is always created after its
/// inputs, so visiting nodes by decreasing identifier is a valid reverse topological order: the
/// identifiers are the tape.
public final class GradientNode<Scalar: TensorScalar> {
    let id: Int
    let name: String
    let inputs: [GradientNode?]
    let rule: BackwardRule<Scalar>?
    /// The output value, kept only for rules that use it (a reference, never a copy).
    let keptValue: Tensor<Scalar>?
    var hooks: [(id: Int, body: (Tensor<Scalar>) -> Void)] = []

    init(name: String, inputs: [GradientNode?], keptValue: Tensor<Scalar>?, rule: BackwardRule<Scalar>?) {
        self.id = nodeCounter.add(1, ordering: .relaxed).newValue
        self.name = name
        self.inputs = inputs
        self.keptValue = keptValue
        self.rule = rule
    }

    var isLeaf: Bool { rule == nil }
}

/// A registered hook; call ``remove()`` to unregister it.
public struct HookHandle {
    let remover: () -> Void
    /// A handle whose ``remove()`` runs `remover`.
    public init(remover: @escaping () -> Void) { self.remover = remover }
    /// Unregisters the hook.
    public func remove() { remover() }
}

private let hookCounter = Atomic<Int>(0)

extension Variable {
    /// Registers `body` to receive ∂L/∂(this value) during every backward pass that reaches it.
    ///
    /// The hook sees the total cotangent (after accumulation over every use of the value), before
    /// it is propagated to the inputs. Gradient capture for K-FAC is built on this. Nodes without
    /// hooks pay nothing: the backward pass only checks an empty array.
    /// - Precondition: the value is recorded (it depends on something that requires a gradient).
    @discardableResult
    public func registerHook(_ body: @escaping (Tensor<Scalar>) -> Void) -> HookHandle {
        guard let node else { preconditionFailure("registerHook needs a recorded value; this one is a constant (shape \(shape))") }
        let id = hookCounter.add(1, ordering: .relaxed).newValue
        node.hooks.append((id, body))
        return HookHandle { [weak node] in node?.hooks.removeAll { $0.id == id } }
    }
}
