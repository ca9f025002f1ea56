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
/// Each channel is unfolded into its windows and reduced along the window, so the backward pass
/// is folding (col2im) of the reduction's cotangent and gradients of gradients work.
public final class Pool2d<Scalar: TensorScalar>: Module<Scalar>, UnaryLayer {
    public let kind: PoolingKind
    public let geometry: WindowGeometry

    /// - Parameter stride: nil for the kernel size (PyTorch's default).
    public init(_ kind: PoolingKind, kernelSize: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) {
        precondition(kernelSize.0 > 0 && kernelSize.1 > 0, "pooling kernel must be positive, got \(kernelSize)")
        precondition(padding.0 >= 0 && padding.1 >= 0 && 2 * padding.0 <= kernelSize.0 && 2 * padding.1 <= kernelSize.1,
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
        var windows = x.reshaped(to: [batch * channels, 1, height, width]).unfoldedWindows(geometry)   // [b·c, oh·ow, kh·kw]
        if kind == .max && (geometry.padding.0 > 0 || geometry.padding.1 > 0) {
            // Padding reads as −∞ for the maximum, as in PyTorch: a constant far below any value
            // is added where the window lies in the padding (a window is never all padding, since
            // padding is at most half the kernel).
            let inside = Tensor<Scalar>.ones(shape: [1, 1, height, width]).unfoldedWindows(geometry)
            windows = windows + Variable((inside - 1) * Scalar.greatestFiniteMagnitude)
        }
        let reduced = kind == .max ? windows.gather(along: 2, indices: Self.firstMaxima(windows.value)) : windows.mean(alongAxes: [2])
        return reduced.reshaped(to: [batch, channels, oh, ow])
    }
}

extension Pool2d {
    /// For each row of `[m, positions, window]`, the index of its first largest value (or first NaN).
    static func firstMaxima(_ windows: Tensor<Scalar>) -> [Int] {
        let k = windows.shape[2], rows = windows.shape[0] * windows.shape[1]
        var indices = [Int](repeating: 0, count: rows)
        windows.withUnsafeBufferPointer { v in
            for r in 0..<rows {
                let row = v.baseAddress! + r * k
                var best = 0, value = row[0]
                if !value.isNaN {
                    for j in 1..<k where row[j] > value || row[j].isNaN {
                        best = j
                        value = row[j]
                        if value.isNaN { break }
                    }
                }
                indices[r] = best
            }
        }
        return indices
    }
}

/// `[batch, d1, d2, …]` → `[batch, d1·d2·…]` (PyTorch's `nn.Flatten`).
public final class Flatten<Scalar: TensorScalar>: Module<Scalar>, UnaryLayer {
    override public init() { super.init() }

    public func callAsFunction(_ x: Variable<Scalar>) -> Variable<Scalar> {
        x.reshaped(to: [x.shape[0], x.scalarCount / Swift.max(1, x.shape[0])])
    }
}

/// An elementwise nonlinearity as a module of its own (a step of a sequential network).
public final class ActivationLayer<Scalar: TensorScalar>: Module<Scalar>, UnaryLayer {
    public let activation: Activation

    public init(_ activation: Activation) {
        self.activation = activation
        super.init()
    }

    public func callAsFunction(_ x: Variable<Scalar>) -> Variable<Scalar> { activation(x) }
}

extension Linear: UnaryLayer {}
