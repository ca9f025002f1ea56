import Autograd
import NeuralNetworks
import TensorCore

/// Updates parameters from their gradients. The state (moments, step count) can be exported and
/// restored, so that a resumed run continues exactly.
public protocol Optimizer<Scalar>: AnyObject {
    associatedtype Scalar: TensorScalar
    /// The parameters updated, in the order of the gradients passed to ``step(gradients:)``.
    var parameters: [Parameter<Scalar>] { get }
    /// The learning rate of the next step (a schedule sets it before each step).
    var learningRate: Double { get set }
    /// Steps taken so far.
    var stepCount: Int { get }
    /// Applies one update. `gradients[i]` has the shape of `parameters[i]`.
    func step(gradients: [Tensor<Scalar>])
    /// Named state tensors for a checkpoint.
    func exportState() -> [(name: String, value: Tensor<Scalar>)]
    /// Restores state exported by ``exportState()`` (same parameters) and the step count.
    func restoreState(_ state: [String: Tensor<Scalar>], stepCount: Int) throws
}

/// Errors of restoring optimizer state.
public enum OptimizerError: Error, CustomStringConvertible, Equatable {
    case missingState(name: String)
    case stateShapeMismatch(name: String, expected: [Int], found: [Int])

    /// A one-line message naming the state tensor and, for a mismatch, both shapes.
    public var description: String {
        switch self {
        case let .missingState(name): return "optimizer state \(name) is missing from the checkpoint"
        case let .stateShapeMismatch(name, expected, found): return "optimizer state \(name) has shape \(found), expected \(expected)"
        }
    }
}

func restore<Scalar>(_ names: [String], _ shapes: [[Int]], from state: [String: Tensor<Scalar>]) throws -> [Tensor<Scalar>] {
    try zip(names, shapes).map { name, shape in
        guard let t = state[name] else { throw OptimizerError.missingState(name: name) }
        guard t.shape == shape else { throw OptimizerError.stateShapeMismatch(name: name, expected: shape, found: t.shape) }
        return t
    }
}

/// Stochastic gradient descent with momentum and (coupled, L2) weight decay, as PyTorch's `SGD`:
///
/// ```
/// g ← g + λθ;   b ← μb + g (b = g at the first step);   θ ← θ − η b
/// ```
public final class SGD<Scalar: TensorScalar>: Optimizer {
    /// The parameters updated, in the order of the gradients passed to ``step(gradients:)``.
    public let parameters: [Parameter<Scalar>]
    /// η, the step size; the trainer sets it from the schedule before each step.
    public var learningRate: Double
    /// μ, the momentum coefficient; 0 keeps no velocity and exports no state.
    public let momentum: Double
    /// λ, the coefficient of the L2 term λθ added to the gradient.
    public let weightDecay: Double
    /// The number of updates applied (or restored from a checkpoint).
    public private(set) var stepCount = 0
    private var velocities: [Tensor<Scalar>]

    /// Creates the optimizer with zero velocities.
    ///
    /// - Parameters:
    ///   - parameters: the parameters to update.
    ///   - learningRate: η.
    ///   - momentum: μ (0 for plain SGD).
    ///   - weightDecay: λ, coupled: added to the gradient as λθ.
    public init(parameters: [Parameter<Scalar>], learningRate: Double, momentum: Double = 0, weightDecay: Double = 0) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        velocities = parameters.map { Tensor.zeros(shape: $0.shape) }
    }

    /// Applies one update; at the first step the velocity is the gradient itself, as in PyTorch.
    ///
    /// - Parameters:
    ///   - gradients: one per parameter, in the order of ``parameters``, each with its parameter's shape (checked with preconditions).
    public func step(gradients: [Tensor<Scalar>]) {
        precondition(gradients.count == parameters.count, "SGD: \(gradients.count) gradients for \(parameters.count) parameters")
        for (i, p) in parameters.enumerated() {
            precondition(gradients[i].shape == p.shape, "SGD: gradient \(gradients[i].shape) for parameter \(p.shape)")
            var value = p.value
            let first = stepCount == 0
            value.withUnsafeMutableBufferPointer { theta in
                velocities[i].withUnsafeMutableBufferPointer { velocity in
                    gradients[i].withUnsafeBufferPointer { g in
                        FusedUpdates.sgd(
                            theta, velocity, g, learningRate: learningRate, momentum: momentum,
                            weightDecay: weightDecay, first: first)
                    }
                }
            }
            p.value = value
        }
        stepCount += 1
    }

    /// The velocities as `sgd.velocity.<i>`, one per parameter; nothing when ``momentum`` is 0.
    public func exportState() -> [(name: String, value: Tensor<Scalar>)] {
        momentum == 0 ? [] : velocities.enumerated().map { ("sgd.velocity.\($0.offset)", $0.element) }
    }

    /// Restores the velocities exported by ``exportState()`` (when ``momentum`` is not 0) and the step count.
    ///
    /// - Throws: ``OptimizerError`` when a velocity is missing or has another shape than its parameter.
    public func restoreState(_ state: [String: Tensor<Scalar>], stepCount: Int) throws {
        if momentum != 0 {
            velocities = try restore(parameters.indices.map { "sgd.velocity.\($0)" }, parameters.map(\.shape), from: state)
        }
        self.stepCount = stepCount
    }
}

/// Adam with decoupled weight decay, as PyTorch's `AdamW`:
///
/// ```
/// θ ← θ(1 − ηλ);  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
/// θ ← θ − η · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)
/// ```
public final class AdamW<Scalar: TensorScalar>: Optimizer {
    /// The parameters updated, in the order of the gradients passed to ``step(gradients:)``.
    public let parameters: [Parameter<Scalar>]
    /// η, the step size; the trainer sets it from the schedule before each step.
    public var learningRate: Double
    /// β₁ and β₂, the decay rates of the first and second moments; ε, added to the root of the second moment; λ, the decoupled weight decay.
    public let beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double
    /// The number of updates applied (or restored from a checkpoint); t in the bias corrections.
    public private(set) var stepCount = 0
    private var firstMoments: [Tensor<Scalar>]
    private var secondMoments: [Tensor<Scalar>]

    /// Creates the optimizer with zero moments; the defaults are PyTorch's.
    ///
    /// - Parameters:
    ///   - parameters: the parameters to update.
    ///   - learningRate: η.
    ///   - beta1: β₁.
    ///   - beta2: β₂.
    ///   - epsilon: ε.
    ///   - weightDecay: λ, decoupled: θ is scaled by 1 − ηλ before the Adam step.
    public init(
        parameters: [Parameter<Scalar>], learningRate: Double, beta1: Double = 0.9, beta2: Double = 0.999,
        epsilon: Double = 1e-8, weightDecay: Double = 0.01
    ) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        firstMoments = parameters.map { Tensor.zeros(shape: $0.shape) }
        secondMoments = parameters.map { Tensor.zeros(shape: $0.shape) }
    }

    /// Applies one update with bias corrections 1 − β₁ᵗ and 1 − β₂ᵗ, t counting this step.
    ///
    /// - Parameters:
    ///   - gradients: one per parameter, in the order of ``parameters``, each with its parameter's shape (checked with preconditions).
    public func step(gradients: [Tensor<Scalar>]) {
        precondition(gradients.count == parameters.count, "AdamW: \(gradients.count) gradients for \(parameters.count) parameters")
        stepCount += 1
        let c1 = 1 - Foundation_pow(beta1, Double(stepCount)), c2 = 1 - Foundation_pow(beta2, Double(stepCount))
        for (i, p) in parameters.enumerated() {
            precondition(gradients[i].shape == p.shape, "AdamW: gradient \(gradients[i].shape) for parameter \(p.shape)")
            var value = p.value
            value.withUnsafeMutableBufferPointer { theta in
                firstMoments[i].withUnsafeMutableBufferPointer { m in
                    secondMoments[i].withUnsafeMutableBufferPointer { v in
                        gradients[i].withUnsafeBufferPointer { g in
                            FusedUpdates.adamW(
                                theta, m, v, g, learningRate: learningRate, beta1: beta1, beta2: beta2,
                                epsilon: epsilon, weightDecay: weightDecay, correction1: c1, correction2: c2)
                        }
                    }
                }
            }
            p.value = value
        }
    }

    /// The first moments as `adamw.m.<i>` and the second as `adamw.v.<i>`, one of each per parameter.
    public func exportState() -> [(name: String, value: Tensor<Scalar>)] {
        firstMoments.enumerated().map { ("adamw.m.\($0.offset)", $0.element) }
            + secondMoments.enumerated().map { ("adamw.v.\($0.offset)", $0.element) }
    }

    /// Restores both moments exported by ``exportState()`` and the step count; nothing changes unless both are complete.
    ///
    /// - Throws: ``OptimizerError`` when a moment is missing or has another shape than its parameter.
    public func restoreState(_ state: [String: Tensor<Scalar>], stepCount: Int) throws {
        let shapes = parameters.map(\.shape)
        let m = try restore(parameters.indices.map { "adamw.m.\($0)" }, shapes, from: state)
        let v = try restore(parameters.indices.map { "adamw.v.\($0)" }, shapes, from: state)
        firstMoments = m
        secondMoments = v
        self.stepCount = stepCount
    }
}

#if canImport(Glibc)
    import Glibc
    @inline(__always) func Foundation_pow(_ x: Double, _ y: Double) -> Double { Glibc.pow(x, y) }
#else
    import Darwin
    @inline(__always) func Foundation_pow(_ x: Double, _ y: Double) -> Double { Darwin.pow(x, y) }
#endif
