import Autograd
import TensorCore

/// One step of a ``SequentialNetwork``: the layers of a small image classifier.
public enum NetworkStep: Equatable, Sendable {
    /// `nn.Conv2d(in, outChannels, kernelSize, stride, padding, dilation, bias)`, groups = 1.
    case conv2d(outChannels: Int, kernelSize: (Int, Int), stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int), bias: Bool)
    /// `nn.MaxPool2d` or `nn.AvgPool2d` (`count_include_pad`).
    case pool(PoolingKind, kernelSize: (Int, Int), stride: (Int, Int), padding: (Int, Int))
    /// An elementwise nonlinearity (``ActivationLayer``), such as `nn.ReLU()`.
    case activation(Activation)
    /// `nn.Flatten()`: `[batch, c, h, w]` → `[batch, c·h·w]`.
    case flatten
    /// `nn.Linear(in, outFeatures, bias)` over the last axis.
    case linear(outFeatures: Int, bias: Bool)

    /// Two steps are equal when they are the same kind with the same settings (written out, as tuples are not `Equatable`).
    public static func == (a: NetworkStep, b: NetworkStep) -> Bool {
        switch (a, b) {
        case let (.conv2d(o1, k1, s1, p1, d1, b1), .conv2d(o2, k2, s2, p2, d2, b2)):
            return o1 == o2 && k1 == k2 && s1 == s2 && p1 == p2 && d1 == d2 && b1 == b2
        case let (.pool(x1, k1, s1, p1), .pool(x2, k2, s2, p2)): return x1 == x2 && k1 == k2 && s1 == s2 && p1 == p2
        case let (.activation(x), .activation(y)): return x == y
        case (.flatten, .flatten): return true
        case let (.linear(o1, b1), .linear(o2, b2)): return o1 == o2 && b1 == b2
        default: return false
        }
    }

    /// The step's name in config.json and in PyTorch (`Conv2d`, `MaxPool2d`, …).
    public var typeName: String {
        switch self {
        case .conv2d: return "conv2d"
        case let .pool(kind, _, _, _): return kind == .max ? "max_pool2d" : "avg_pool2d"
        case let .activation(a): return a.rawValue
        case .flatten: return "flatten"
        case .linear: return "linear"
        }
    }
}

/// Why a list of steps cannot run on an input shape: which step, and the shapes.
public struct NetworkShapeError: Error, CustomStringConvertible, Equatable {
    /// The index of the offending step in the list.
    public var step: Int
    /// What does not fit, starting with the step's ``NetworkStep/typeName``.
    public var message: String
    /// `step <index>: <message>`.
    public var description: String { "step \(step): \(message)" }
}

/// A network of steps applied in order, named `layers.0`, `layers.1`, … like PyTorch's
/// `nn.Sequential` (parameterless steps keep their index), so that a state dict moves between
/// the two by name. Input rows `[batch, c·h·w]` (or `[batch, c, h, w]`) are viewed as images of
/// ``inputShape``.
public final class SequentialNetwork<Scalar: TensorScalar>: Module<Scalar>, UnaryLayer {
    /// The steps in order; `layers.i` is the module of step `i`.
    public let steps: [NetworkStep]
    /// `[channels, height, width]` of one input image, or `[features]` for a network of Linear steps.
    public let inputShape: [Int]
    /// One module per step (`layers.0`, `layers.1`, …): ``Conv2d``, ``Pool2d``, ``ActivationLayer``, ``Flatten`` or ``Linear``.
    public let layers: ModuleList<Scalar, Module<Scalar>>
    /// Each step's forward call (closures over the modules of ``layers``).
    private let callable: [(Variable<Scalar>) -> Variable<Scalar>]

    /// The shape of one example after each step (without the batch axis), checking that every
    /// step fits the shape before it.
    ///
    /// - Throws: ``NetworkShapeError`` naming the step and the shapes.
    public static func shapes(of steps: [NetworkStep], input: [Int]) throws -> [[Int]] {
        var shape = input, result: [[Int]] = []
        for (i, step) in steps.enumerated() {
            func fail(_ message: String) -> NetworkShapeError { NetworkShapeError(step: i, message: "\(step.typeName) \(message)") }
            switch step {
            case let .conv2d(out, kernel, stride, padding, dilation, _):
                guard shape.count == 3 else { throw fail("needs images [channels, height, width], gets \(shape)") }
                guard out > 0 else { throw fail("needs a positive number of output channels, got \(out)") }
                let g = WindowGeometry(kernel: kernel, stride: stride, padding: padding, dilation: dilation)
                guard let (h, w) = g.outputSize(height: shape[1], width: shape[2]) else { throw fail("with \(g) does not fit \(shape)") }
                shape = [out, h, w]
            case let .pool(_, kernel, stride, padding):
                guard shape.count == 3 else { throw fail("needs images [channels, height, width], gets \(shape)") }
                guard 2 * padding.0 <= kernel.0 && 2 * padding.1 <= kernel.1 else { throw fail("padding must be at most half the kernel") }
                let g = WindowGeometry(kernel: kernel, stride: stride, padding: padding)
                guard let (h, w) = g.outputSize(height: shape[1], width: shape[2]) else { throw fail("with \(g) does not fit \(shape)") }
                shape = [shape[0], h, w]
            case .activation: break
            case .flatten: shape = [shape.reduce(1, *)]
            case let .linear(out, _):
                guard shape.count == 1 else { throw fail("needs flat features, gets \(shape); put a flatten step before it") }
                guard out > 0 else { throw fail("needs a positive number of output features, got \(out)") }
                shape = [out]
            }
            result.append(shape)
        }
        return result
    }

    /// - Precondition: the steps fit `inputShape` (``shapes(of:input:)`` does not throw).
    public init(steps: [NetworkStep], inputShape: [Int], seed: UInt64 = 0) {
        let shapes: [[Int]]
        do { shapes = try Self.shapes(of: steps, input: inputShape) } catch { preconditionFailure("\(error)") }
        var generator = SeededGenerator(seed: seed)
        var modules: [Module<Scalar>] = [], calls: [(Variable<Scalar>) -> Variable<Scalar>] = []
        func add<M: Module<Scalar> & UnaryLayer>(_ module: M) where M.Scalar == Scalar {
            modules.append(module)
            calls.append { module($0) }
        }
        var shape = inputShape
        for (step, next) in zip(steps, shapes) {
            switch step {
            case let .conv2d(out, kernel, stride, padding, dilation, bias):
                add(
                    Conv2d(
                        inputChannels: shape[0], outputChannels: out, kernelSize: kernel, stride: stride, padding: padding,
                        dilation: dilation, hasBias: bias, using: &generator))
            case let .pool(kind, kernel, stride, padding): add(Pool2d(kind, kernelSize: kernel, stride: stride, padding: padding))
            case let .activation(a): add(ActivationLayer(a))
            case .flatten: add(Flatten())
            case let .linear(out, bias): add(Linear(inputCount: shape[0], outputCount: out, hasBias: bias, using: &generator))
            }
            shape = next
        }
        self.steps = steps
        self.inputShape = inputShape
        callable = calls
        layers = ModuleList(modules)
        super.init()
        register(module: layers, "layers")
    }

    /// `conv`: the convolutions; `linear`: the fully connected layers; `all`: both.
    override public var moduleGroups: [String: [String]] {
        let named = steps.enumerated()
        let conv = named.filter {
            if case .conv2d = $0.element { return true }; return false
        }.map { "layers.\($0.offset)" }
        let linear = named.filter {
            if case .linear = $0.element { return true }; return false
        }.map { "layers.\($0.offset)" }
        return ["all": [], "conv": conv.isEmpty ? ["-"] : conv, "linear": linear.isEmpty ? ["-"] : linear]
    }

    /// The number of features of one input row, `c·h·w`.
    public var inputCount: Int { inputShape.reduce(1, *) }
    /// The number of outputs (classes).
    public var outputCount: Int { (try? Self.shapes(of: steps, input: inputShape).last?.reduce(1, *)) ?? inputCount }

    /// `[batch, c·h·w]` or `[batch, c, h, w]` → `[batch, outputs]`.
    public func callAsFunction(_ x: Variable<Scalar>) -> Variable<Scalar> {
        precondition(x.scalarCount == x.shape[0] * inputCount, "the network needs inputs of \(inputShape) per example, got \(x.shape)")
        var h = x.reshaped(to: [x.shape[0]] + inputShape)
        for step in callable { h = step(h) }
        return h
    }
}
