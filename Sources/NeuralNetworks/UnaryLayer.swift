import Autograd
import TensorCore

/// A module with one input and one output, `[..., features]` → `[..., features′]`: the extension
/// point for the interchangeable parts of a transformer block (LayerNorm or RMSNorm, a GELU MLP or
/// a SwiGLU MLP).
///
/// A block stores its parts as ``AnyUnaryLayer`` and calls them without knowing their type, so a
/// new combination of parts needs no new block type. Conformers are ``Module`` subclasses; their
/// parameters are reached through the module tree as usual.
public protocol UnaryLayer<Scalar>: AnyObject {
    associatedtype Scalar: TensorScalar
    func callAsFunction(_ x: Variable<Scalar>) -> Variable<Scalar>
}

/// A module that is a ``UnaryLayer``: what a block holds for each of its parts.
public typealias AnyUnaryLayer<Scalar: TensorScalar> = any Module<Scalar> & UnaryLayer<Scalar>

extension LayerNorm: UnaryLayer {}
