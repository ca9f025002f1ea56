import Autograd
import TensorCore

/// How a pooling window is reduced.
public enum PoolingKind: String, Sendable, Codable {
    /// The largest value of each window (PyTorch's `MaxPool2d`: padding never wins). As in
    /// PyTorch, the first largest element of a window in row-major order (or its first NaN) takes
    /// the whole gradient: ties are common (a background of equal values after a bias and a ReLU),
    /// and how they share the gradient changes each position's output gradient, so KFC's S.
    case max
    /// The mean of each window, padding counted as zeros (`AvgPool2d` with `count_include_pad`).
    case average
}

/// Max or average pooling over `[batch, channels, height, width]`, channel by channel.
///
/// Max pooling selects each window's first maximum (``Tensor/maxPoolingIndices(_:)``); average
/// pooling unfolds each channel into its windows and takes their mean, so its backward pass is
/// folding (col2im). Both are linear in the input once the choice is made, so gradients of
/// gradients work.
public final class Pool2d<Scalar: TensorScalar>: Module<Scalar>, UnaryLayer {
    /// Whether windows are reduced by their maximum or their mean.
    public let kind: PoolingKind
    /// Window size, stride and padding (dilation 1).
    public let geometry: WindowGeometry

    /// - Parameter stride: nil for the kernel size (PyTorch's default).
    public init(_ kind: PoolingKind, kernelSize: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) {
        precondition(kernelSize.0 > 0 && kernelSize.1 > 0, "pooling kernel must be positive, got \(kernelSize)")
        precondition(
            padding.0 >= 0 && padding.1 >= 0 && 2 * padding.0 <= kernelSize.0 && 2 * padding.1 <= kernelSize.1,
            "pooling padding must be at most half the kernel, got \(padding) for \(kernelSize)")
        self.kind = kind
        geometry = WindowGeometry(kernel: kernelSize, stride: stride ?? kernelSize, padding: padding)
        super.init()
    }

    /// `(oh, ow)` for an input of `(height, width)`, or nil when the window does not fit.
    public func outputSize(height: Int, width: Int) -> (Int, Int)? { geometry.outputSize(height: height, width: width) }

    /// `[batch, channels, height, width]` → `[batch, channels, oh, ow]`.
    public func callAsFunction(_ x: Variable<Scalar>) -> Variable<Scalar> {
        precondition(x.rank == 4, "pooling needs [batch, channels, height, width], got \(x.shape)")
        let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        guard let (oh, ow) = outputSize(height: height, width: width) else {
            preconditionFailure("pooling \(geometry) does not fit an image of \(height)×\(width)")
        }
        if kind == .max {
            // Each output picks one input element: a selection, whose gradient is an index-add
            // (and that one's a selection again, so gradients of gradients work).
            return x.reshaped(to: [x.scalarCount]).indexSelect(along: 0, indices: x.value.maxPoolingIndices(geometry))
                .reshaped(to: [batch, channels, oh, ow])
        }
        let reduced = x.reshaped(to: [batch * channels, 1, height, width]).unfoldedWindows(geometry).mean(alongAxes: [2])  // [b·c, oh·ow]
        return reduced.reshaped(to: [batch, channels, oh, ow])
    }
}

/// `[batch, d1, d2, …]` → `[batch, d1·d2·…]` (PyTorch's `nn.Flatten`).
public final class Flatten<Scalar: TensorScalar>: Module<Scalar>, UnaryLayer {
    /// A flattening step; it has no parameters.
    override public init() { super.init() }

    /// Keeps the first axis and flattens the rest: `[batch, d1, d2, …]` → `[batch, d1·d2·…]`.
    public func callAsFunction(_ x: Variable<Scalar>) -> Variable<Scalar> {
        x.reshaped(to: [x.shape[0], x.scalarCount / Swift.max(1, x.shape[0])])
    }
}

/// An elementwise nonlinearity as a module of its own (a step of a sequential network).
public final class ActivationLayer<Scalar: TensorScalar>: Module<Scalar>, UnaryLayer {
    /// The nonlinearity this step applies.
    public let activation: Activation

    /// A step applying `activation` elementwise; it has no parameters.
    public init(_ activation: Activation) {
        self.activation = activation
        super.init()
    }

    /// `activation(x)`, elementwise and of the same shape as `x`.
    public func callAsFunction(_ x: Variable<Scalar>) -> Variable<Scalar> { activation(x) }
}

extension Linear: UnaryLayer {}
