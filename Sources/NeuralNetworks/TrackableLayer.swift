import Autograd
import TensorCore

/// A layer whose weight multiplies rows of its input, `y_t = W ā_t` with ā_t = [a_t; 1] when it
/// has a bias: the extension point through which influence tracks a layer.
///
/// For ``Linear`` a row is one input vector; for ``Conv2d`` it is one unfolded window
/// (`in × kh × kw` values) and every output position is a row (Grosse & Martens 2016, KFC). The
/// per-example weight gradient is then G = Σ_t g_t ā_tᵀ `[outputCount, inputCount (+1)]`
/// whatever the layer, and the weight parameter holds the same numbers in row-major order
/// (a convolution's `[out, in, kh, kw]` is `[out, in·kh·kw]`).
public protocol TrackableLayer<Scalar>: AnyObject {
    associatedtype Scalar: TensorScalar
    var weight: Parameter<Scalar> { get }
    var bias: Parameter<Scalar>? { get }
    /// The length of an input row: `in` for Linear, `in × kh × kw` for Conv2d.
    var inputCount: Int { get }
    /// The length of an output row (output features or channels).
    var outputCount: Int { get }
    /// Registers a hook called after every forward call with the rows the weight multiplied,
    /// `[..., inputCount]` (without the bias column), and the rows it produced, `[..., outputCount]`,
    /// before any reshaping, so that a backward pass can reach ∂L/∂(output rows).
    @discardableResult
    func registerRowHook(_ body: @escaping (_ inputRows: Variable<Scalar>, _ outputRows: Variable<Scalar>) -> Void) -> HookHandle
}

extension Linear: TrackableLayer {
    /// Forwards to ``Linear/registerForwardHook(_:)``: a row is the layer's input `[..., in]` and its output `[..., out]`, as called.
    @discardableResult
    public func registerRowHook(_ body: @escaping (_ inputRows: Variable<Scalar>, _ outputRows: Variable<Scalar>) -> Void) -> HookHandle {
        registerForwardHook { _, input, output in body(input, output) }
    }
}

extension Module {
    /// Every ``TrackableLayer`` (Linear, Conv2d) whose dotted path matches one of `patterns`
    /// (shell-style, as ``linearLayers(matching:)``), or every one when `patterns` is empty.
    public func trackableLayers(matching patterns: [String] = []) -> [(name: String, layer: any TrackableLayer<Scalar>)] {
        namedModules().compactMap { name, module in
            guard let layer = module as? any TrackableLayer<Scalar> else { return nil }
            if patterns.isEmpty || patterns.contains(where: { NamePattern.matches($0, name) }) { return (name, layer) }
            return nil
        }
    }
}
