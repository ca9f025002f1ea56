import Autograd
import TensorCore

/// Zeroes each element with probability p in training mode and scales the rest by 1/(1 − p);
/// the identity in evaluation mode.
///
/// Its random stream is set by ``Module/reseed(_:)``, so that a training run, and a resumed
/// one, draws the same masks.
public final class Dropout<Scalar: TensorScalar>: Module<Scalar> {
    public let probability: Double
    private var generator = SeededGenerator(seed: 0)

    public init(probability: Double) {
        precondition(probability >= 0 && probability < 1, "dropout probability must be in [0, 1), got \(probability)")
        self.probability = probability
        super.init()
    }

    override public func didReseed(_ seed: UInt64) { generator = SeededGenerator(seed: seed) }

    public func callAsFunction(_ x: Variable<Scalar>) -> Variable<Scalar> {
        guard isTraining && probability > 0 else { return x }
        let keep = 1 - probability
        let scale = Scalar(1 / keep)
        return x.masked(by: Tensor.bernoulliMask(shape: x.shape, keepProbability: keep, scale: scale, using: &generator))
    }
}
