import Autograd
import TensorCore

/// Zeroes each element with probability p in training mode and scales the rest by 1/(1 − p);
/// the identity in evaluation mode.
///
/// Its random stream is set by ``Module/reseed(_:)``, so that a training run, and a resumed
/// one, draws the same masks.
public final class Dropout<Scalar: TensorScalar>: Module<Scalar> {
    /// The probability p that an element is zeroed, in [0, 1).
    public let probability: Double
    private var generator = SeededGenerator(seed: 0)

    /// A dropout layer with drop probability p in [0, 1); its stream starts from seed 0 until ``Module/reseed(_:)`` is called.
    public init(probability: Double) {
        precondition(probability >= 0 && probability < 1, "dropout probability must be in [0, 1), got \(probability)")
        self.probability = probability
        super.init()
    }

    /// Restarts this layer's mask stream from `seed`.
    override public func didReseed(_ seed: UInt64) { generator = SeededGenerator(seed: seed) }

    /// `x` with a fresh Bernoulli mask (scaled by 1/(1 − p)) in training mode when p > 0, else `x` itself.
    public func callAsFunction(_ x: Variable<Scalar>) -> Variable<Scalar> {
        guard isTraining && probability > 0 else { return x }
        let keep = 1 - probability
        let scale = Scalar(1 / keep)
        return x.masked(by: Tensor.bernoulliMask(shape: x.shape, keepProbability: keep, scale: scale, using: &generator))
    }
}
