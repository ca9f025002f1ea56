import Autograd
import TensorCore

/// A lookup table: row `i` of the `[count, dimension]` weight is the vector of index `i`.
public final class Embedding<Scalar: TensorScalar>: Module<Scalar> {
    /// The table, `[count, dimension]`; tied to a language model's head when the model ties them.
    public let weight: Parameter<Scalar>
    /// The number of rows (the vocabulary size for a token embedding).
    public var count: Int { weight.shape[0] }
    /// The length of each vector, the weight's second dimension.
    public var dimension: Int { weight.shape[1] }

    /// A table over an existing `[count, dimension]` weight (which may be shared with another module).
    public init(weight: Parameter<Scalar>) {
        precondition(weight.value.rank == 2, "Embedding weight must be [count, dimension], got \(weight.shape)")
        self.weight = weight
        super.init()
        register(parameter: weight, "weight")
    }

    /// A `[count, dimension]` table drawn from N(0, σ²) with σ = `standardDeviation` (1 by default, as PyTorch).
    public convenience init(count: Int, dimension: Int, standardDeviation: Scalar = 1, using generator: inout SeededGenerator) {
        self.init(weight: Parameter(Tensor.randomNormal(shape: [count, dimension], standardDeviation: standardDeviation, using: &generator)))
    }

    /// The rows at `indices`: `[indices.count, dimension]`.
    ///
    /// - Precondition: every index is in `0..<count` (the message names the first one that is not).
    public func callAsFunction(_ indices: [Int]) -> Variable<Scalar> {
        weight.variable.indexSelect(along: 0, indices: indices)
    }
}
