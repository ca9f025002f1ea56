import Autograd
import TensorCore

/// A 2-D convolution over `[batch, in, height, width]` images (groups = 1), with the weight
/// stored as `[out, in, kh, kw]` and the bias as `[out]` (PyTorch's `nn.Conv2d`).
///
/// Computed as a product over unfolded windows (im2col):
///
/// ```
/// rows = unfold(x)                      [batch, positions, in·kh·kw]
/// y    = rows · W[out, in·kh·kw]ᵀ + b   [batch, positions, out] → [batch, out, oh, ow]
/// ```
/// so that, for influence, each output position is a row of a ``TrackableLayer``: the rows are
/// the windows and ∂L/∂y at each position is the row's output gradient (KFC's convention, as
/// Kronfluence uses it).
public final class Conv2d<Scalar: TensorScalar>: Module<Scalar>, TrackableLayer, UnaryLayer {
    /// The kernels, `[out, in, kh, kw]`; multiplied as the `[out, in·kh·kw]` matrix it is in row-major order.
    public let weight: Parameter<Scalar>
    /// The bias, `[out]`, or nil for a bias-free convolution.
    public let bias: Parameter<Scalar>?
    /// Kernel size (from the weight), stride, padding and dilation.
    public let geometry: WindowGeometry
    /// The number of input channels `in`.
    public var inputChannelCount: Int { weight.shape[1] }
    /// The number of output channels `out`.
    public var outputChannelCount: Int { weight.shape[0] }
    /// The length of an unfolded window, `in · kh · kw`: a row of the layer's matrix product.
    public var inputCount: Int { weight.shape[1] * weight.shape[2] * weight.shape[3] }
    /// The number of output channels `out`: the length of an output row.
    public var outputCount: Int { weight.shape[0] }

    private var rowHooks: [(id: Int, body: (Variable<Scalar>, Variable<Scalar>) -> Void)] = []
    private var nextHookID = 0

    /// - Parameters:
    ///   - weight: `[out, in, kh, kw]`.
    ///   - bias: `[out]`, or nil.
    ///   - stride, padding, dilation: `(height, width)`; the kernel size comes from the weight.
    public init(
        weight: Parameter<Scalar>, bias: Parameter<Scalar>?, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
        dilation: (Int, Int) = (1, 1)
    ) {
        precondition(weight.value.rank == 4, "Conv2d weight must be [out, in, kh, kw], got \(weight.shape)")
        if let bias { precondition(bias.shape == [weight.shape[0]], "Conv2d bias \(bias.shape) does not match weight \(weight.shape)") }
        precondition(
            stride.0 > 0 && stride.1 > 0 && dilation.0 > 0 && dilation.1 > 0 && padding.0 >= 0 && padding.1 >= 0,
            "Conv2d stride and dilation must be positive and padding non-negative")
        self.weight = weight
        self.bias = bias
        geometry = WindowGeometry(kernel: (weight.shape[2], weight.shape[3]), stride: stride, padding: padding, dilation: dilation)
        super.init()
        register(parameter: weight, "weight")
        if let bias { register(parameter: bias, "bias") }
    }

    /// PyTorch's default initialisation: weight and bias uniform in ±1/√(in·kh·kw).
    public convenience init(
        inputChannels: Int, outputChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
        padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), hasBias: Bool = true,
        using generator: inout SeededGenerator
    ) {
        let fanIn = inputChannels * kernelSize.0 * kernelSize.1
        let bound = Scalar(1 / Double(fanIn).squareRoot())
        let w = Tensor<Scalar>.randomUniform(
            shape: [outputChannels, inputChannels, kernelSize.0, kernelSize.1], lower: -bound, upper: bound,
            using: &generator)
        let b = hasBias ? Tensor<Scalar>.randomUniform(shape: [outputChannels], lower: -bound, upper: bound, using: &generator) : nil
        self.init(weight: Parameter(w), bias: b.map { Parameter($0) }, stride: stride, padding: padding, dilation: dilation)
    }

    /// `(oh, ow)` for an input of `(height, width)`, or nil when the kernel does not fit.
    public func outputSize(height: Int, width: Int) -> (Int, Int)? { geometry.outputSize(height: height, width: width) }

    /// `[batch, in, height, width]` → `[batch, out, oh, ow]`.
    public func callAsFunction(_ x: Variable<Scalar>) -> Variable<Scalar> {
        precondition(
            x.rank == 4 && x.shape[1] == inputChannelCount,
            "Conv2d with \(inputChannelCount) input channels needs [batch, \(inputChannelCount), height, width], got \(x.shape)")
        let (batch, height, width) = (x.shape[0], x.shape[2], x.shape[3])
        guard let (oh, ow) = outputSize(height: height, width: width) else {
            preconditionFailure("Conv2d \(geometry) does not fit an image of \(height)×\(width)")
        }
        let rows = x.unfoldedWindows(geometry)
        let y = Variable.linear(rows, weight: weight.variable.reshaped(to: [outputCount, inputCount]), bias: bias?.variable)
        for hook in rowHooks { hook.body(rows, y) }
        return y.transposed().reshaped(to: [batch, outputCount, oh, ow])
    }

    /// Registers `body` to be called after every forward call with the rows the weight multiplied and the rows it produced.
    ///
    /// The input rows are the unfolded windows `[batch, oh·ow, in·kh·kw]` (without a bias column) and the output rows are
    /// `[batch, oh·ow, out]`, before these are reshaped to `[batch, out, oh, ow]`.
    ///
    /// - Returns: A handle whose ``HookHandle/remove()`` unregisters the hook.
    @discardableResult
    public func registerRowHook(_ body: @escaping (_ inputRows: Variable<Scalar>, _ outputRows: Variable<Scalar>) -> Void) -> HookHandle {
        let id = nextHookID
        nextHookID += 1
        rowHooks.append((id, body))
        return HookHandle { [weak self] in self?.rowHooks.removeAll { $0.id == id } }
    }
}
