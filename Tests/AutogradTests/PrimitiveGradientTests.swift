import Autograd
import Testing
import TensorCore
import _TestSupport

/// One primitive operation under test: input shapes, a way to draw inputs in the op's domain,
/// and the op itself.
struct PrimitiveCase: CustomStringConvertible, @unchecked Sendable {
    let description: String
    let shapes: [[Int]]
    /// Maps a standard-normal draw into the op's domain (positive for log, away from kinks for relu).
    var domain: (Double) -> Double = { $0 }
    let f: ([Variable<Double>]) -> Variable<Double>
}

private let positive: (Double) -> Double = { abs($0) + 0.5 }
private let awayFromZero: (Double) -> Double = { $0 >= 0 ? $0 + 0.3 : $0 - 0.3 }

let primitiveCases: [PrimitiveCase] = [
    // Arithmetic, with every broadcasting pattern.
    PrimitiveCase(description: "add same shape", shapes: [[3, 4], [3, 4]]) { $0[0] + $0[1] },
    PrimitiveCase(description: "add row [4] to [3,4]", shapes: [[3, 4], [4]]) { $0[0] + $0[1] },
    PrimitiveCase(description: "add [3,1] to [1,4]", shapes: [[3, 1], [1, 4]]) { $0[0] + $0[1] },
    PrimitiveCase(description: "add [2,3,4] and [3,1]", shapes: [[2, 3, 4], [3, 1]]) { $0[0] + $0[1] },
    PrimitiveCase(description: "add scalar tensor", shapes: [[3, 4], []]) { $0[0] + $0[1] },
    PrimitiveCase(description: "subtract broadcast", shapes: [[4], [3, 4]]) { $0[0] - $0[1] },
    PrimitiveCase(description: "multiply broadcast", shapes: [[2, 3, 4], [1, 3, 1]]) { $0[0] * $0[1] },
    PrimitiveCase(description: "divide broadcast", shapes: [[3, 4], [4]], domain: positive) { $0[0] / $0[1] },
    PrimitiveCase(description: "negate", shapes: [[5]]) { -$0[0] },
    PrimitiveCase(description: "scale by constant", shapes: [[5]]) { $0[0] * 2.5 },
    PrimitiveCase(description: "constant minus", shapes: [[5]]) { 1.5 - $0[0] },
    PrimitiveCase(description: "constant over", shapes: [[5]], domain: positive) { 2 / $0[0] },
    PrimitiveCase(description: "pow in both", shapes: [[3, 4], [4]], domain: positive) { Variable.pow($0[0], $0[1]) },
    PrimitiveCase(description: "raised to 3", shapes: [[6]]) { $0[0].raised(to: 3) },
    PrimitiveCase(description: "maximum broadcast", shapes: [[3, 4], [4]]) { Variable.maximum($0[0], $0[1]) },
    PrimitiveCase(description: "minimum", shapes: [[3, 4], [3, 4]]) { Variable.minimum($0[0], $0[1]) },
    PrimitiveCase(description: "select", shapes: [[3, 4], [4]]) {
        Variable.select(Tensor(shape: [3, 1], scalars: [1, 0, 1]), $0[0], $0[1])
    },
    // Elementwise functions.
    PrimitiveCase(description: "exp", shapes: [[7]]) { $0[0].exp() },
    PrimitiveCase(description: "log", shapes: [[7]], domain: positive) { $0[0].log() },
    PrimitiveCase(description: "tanh", shapes: [[7]]) { $0[0].tanh() },
    PrimitiveCase(description: "sqrt", shapes: [[7]], domain: positive) { $0[0].squareRoot() },
    PrimitiveCase(description: "square", shapes: [[7]]) { $0[0].squared() },
    PrimitiveCase(description: "reciprocal", shapes: [[7]], domain: positive) { $0[0].reciprocal() },
    PrimitiveCase(description: "sigmoid", shapes: [[7]]) { $0[0].sigmoid() },
    PrimitiveCase(description: "abs", shapes: [[7]], domain: awayFromZero) { $0[0].magnitude() },
    PrimitiveCase(description: "relu", shapes: [[7]], domain: awayFromZero) { $0[0].relu() },
    PrimitiveCase(description: "erf", shapes: [[7]]) { $0[0].erf() },
    PrimitiveCase(description: "gelu exact", shapes: [[9]]) { $0[0].gelu() },
    PrimitiveCase(description: "gelu tanh approximation", shapes: [[9]]) { $0[0].gelu(approximate: true) },
    PrimitiveCase(description: "silu", shapes: [[7]]) { $0[0].silu() },
    // Shapes.
    PrimitiveCase(description: "reshape", shapes: [[3, 4]]) { $0[0].reshaped(to: [2, -1]) },
    PrimitiveCase(description: "permute rank 3", shapes: [[2, 3, 4]]) { $0[0].permuted([2, 0, 1]) },
    PrimitiveCase(description: "transpose", shapes: [[3, 5]]) { $0[0].transposed() },
    PrimitiveCase(description: "slice", shapes: [[4, 5]]) { $0[0].sliced(along: 1, 1..<4) },
    PrimitiveCase(description: "pad", shapes: [[3, 2]]) { $0[0].padded(along: 0, before: 1, after: 2) },
    PrimitiveCase(description: "concatenate", shapes: [[2, 3], [2, 2]]) { Variable.concatenated([$0[0], $0[1]], along: 1) },
    PrimitiveCase(description: "stack", shapes: [[3], [3]]) { Variable.stacked([$0[0], $0[1]], along: 1) },
    PrimitiveCase(description: "broadcast", shapes: [[3, 1]]) { $0[0].broadcasted(to: [2, 3, 4]) },
    PrimitiveCase(description: "sum to shape", shapes: [[2, 3, 4]]) { $0[0].summed(toShape: [3, 1]) },
    // Reductions.
    PrimitiveCase(description: "sum along axes", shapes: [[2, 3, 4]]) { $0[0].sum(alongAxes: [0, 2]) },
    PrimitiveCase(description: "sum keeping dimensions", shapes: [[2, 3, 4]]) { $0[0].sum(alongAxes: [1], keepingDimensions: true) },
    PrimitiveCase(description: "sum all", shapes: [[3, 4]]) { $0[0].sum() },
    PrimitiveCase(description: "mean along axis", shapes: [[3, 4]]) { $0[0].mean(alongAxes: [1]) },
    PrimitiveCase(description: "mean all", shapes: [[3, 4]]) { $0[0].mean() },
    PrimitiveCase(description: "max along axis", shapes: [[3, 5]]) { $0[0].max(alongAxes: [1]) },
    PrimitiveCase(description: "min along axes", shapes: [[2, 3, 4]]) { $0[0].min(alongAxes: [0, 2], keepingDimensions: true) },
    PrimitiveCase(description: "log-sum-exp", shapes: [[3, 5]]) { $0[0].logSumExp(alongAxis: 1) },
    PrimitiveCase(description: "log-sum-exp axis 0 kept", shapes: [[3, 5]]) { $0[0].logSumExp(alongAxis: 0, keepingDimensions: true) },
    PrimitiveCase(description: "log-softmax", shapes: [[3, 5]]) { $0[0].logSoftmax(alongAxis: 1) },
    PrimitiveCase(description: "softmax axis 0", shapes: [[4, 3]]) { $0[0].softmax(alongAxis: 0) },
    // Indexing.
    PrimitiveCase(description: "index select with repeats", shapes: [[5, 3]]) { $0[0].indexSelect(along: 0, indices: [4, 1, 1, 0]) },
    PrimitiveCase(description: "index add with repeats", shapes: [[4, 3]]) {
        Variable.indexAdd($0[0], along: 0, indices: [2, 0, 2, 1], into: [3, 3])
    },
    PrimitiveCase(description: "gather", shapes: [[3, 4]]) { $0[0].gather(along: 1, indices: [3, 0, 1, 1, 2, 2]) },
    PrimitiveCase(description: "scatter add", shapes: [[3, 2]]) {
        Variable.scatterAdd($0[0], along: 1, indices: [0, 0, 3, 1, 2, 3], into: [3, 4])
    },
    // Matrix products.
    PrimitiveCase(description: "matmul", shapes: [[3, 4], [4, 2]]) { Variable.matmul($0[0], $0[1]) },
    PrimitiveCase(description: "matmul Aᵀ", shapes: [[4, 3], [4, 2]]) { Variable.matmul($0[0], $0[1], transposeA: true) },
    PrimitiveCase(description: "matmul Bᵀ", shapes: [[3, 4], [2, 4]]) { Variable.matmul($0[0], $0[1], transposeB: true) },
    PrimitiveCase(description: "matmul AᵀBᵀ", shapes: [[4, 3], [2, 4]]) {
        Variable.matmul($0[0], $0[1], transposeA: true, transposeB: true)
    },
    PrimitiveCase(description: "batched matmul", shapes: [[2, 3, 4], [2, 4, 2]]) { Variable.matmul($0[0], $0[1]) },
    PrimitiveCase(description: "batched matmul, shared B", shapes: [[2, 3, 4], [4, 2]]) { Variable.matmul($0[0], $0[1]) },
    PrimitiveCase(description: "batched matmul, shared Bᵀ", shapes: [[2, 3, 4], [2, 4]]) { Variable.matmul($0[0], $0[1], transposeB: true) },
    PrimitiveCase(description: "batched matmul, shared A", shapes: [[3, 4], [2, 4, 2]]) { Variable.matmul($0[0], $0[1]) },
    PrimitiveCase(description: "batched matmul Aᵀ, shared B", shapes: [[2, 4, 3], [4, 2]]) { Variable.matmul($0[0], $0[1], transposeA: true) },
    PrimitiveCase(description: "linear with bias", shapes: [[2, 3, 4], [5, 4], [5]]) { Variable.linear($0[0], weight: $0[1], bias: $0[2]) },
    PrimitiveCase(description: "linear without bias", shapes: [[3, 4], [2, 4]]) { Variable.linear($0[0], weight: $0[1], bias: nil) },
    PrimitiveCase(description: "fused cross-entropy", shapes: [[4, 5]]) { $0[0].crossEntropy(labels: [2, 0, 4, 4]) },
    // Sliding windows (im2col) and their adjoint, with every geometry setting at once.
    PrimitiveCase(description: "unfold windows, stride, padding, dilation", shapes: [[2, 2, 5, 6]]) {
        $0[0].unfoldedWindows(WindowGeometry(kernel: (2, 3), stride: (2, 1), padding: (1, 1), dilation: (1, 2)))
    },
    PrimitiveCase(description: "fold windows (col2im)", shapes: [[2, 12, 12]]) {
        Variable.foldedWindows($0[0], WindowGeometry(kernel: (2, 3), stride: (2, 1), padding: (1, 1), dilation: (1, 2)), imageShape: [2, 2, 5, 6])
    },
    PrimitiveCase(description: "convolution as unfold and linear", shapes: [[2, 3, 5, 4], [4, 3, 3, 2], [4]]) {
        Variable.linear($0[0].unfoldedWindows(WindowGeometry(kernel: (3, 2), padding: (1, 0))), weight: $0[1].reshaped(to: [4, 18]), bias: $0[2])
    },
    PrimitiveCase(description: "max over pooling windows", shapes: [[2, 2, 4, 6]]) {
        $0[0].reshaped(to: [4, 1, 4, 6]).unfoldedWindows(WindowGeometry(kernel: (2, 3), stride: (2, 3))).max(alongAxes: [2])
    },
    // Composite.
    PrimitiveCase(description: "softmax cross-entropy", shapes: [[4, 3]]) {
        Variable.softmaxCrossEntropy(logits: $0[0], labels: [2, 0, 1, 1])
    },
]

/// Draws the inputs of a case and a fixed random weighting of its output.
private func draw(_ c: PrimitiveCase, seed: UInt64) -> (inputs: [Tensor<Double>], weights: Tensor<Double>) {
    var generator = testGenerator(seed)
    let inputs = c.shapes.map { shape in
        let t = Tensor<Double>.randomNormal(shape: shape, using: &generator)
        return Tensor(shape: shape, scalars: t.scalars.map(c.domain))
    }
    let outShape = withoutGradients { c.f(inputs.map { Variable($0) }).shape }
    return (inputs, Tensor.randomNormal(shape: outShape, using: &generator))
}

/// The scalar that is differentiated: L(x) = Σ w ⊙ f(x) + ½ Σ f(x)², so that even ops that are
/// linear in x have a non-zero Hessian.
private func objective(_ c: PrimitiveCase, _ weights: Tensor<Double>, _ xs: [Variable<Double>]) -> Variable<Double> {
    let y = c.f(xs)
    return (y * Variable(weights)).sum() + y.squared().sum() * 0.5
}

private func split(_ flat: Tensor<Double>, like shapes: [[Int]]) -> [Tensor<Double>] {
    var offset = 0
    return shapes.map { shape in
        let n = shape.reduce(1, *)
        defer { offset += n }
        return flat.sliced(along: 0, offset..<(offset + n)).reshaped(to: shape)
    }
}

@Suite("Every primitive against finite differences in Float64")
struct PrimitiveGradientTests {
    @Test("first derivatives", arguments: primitiveCases)
    func gradientMatchesFiniteDifferences(_ c: PrimitiveCase) {
        let (inputs, weights) = draw(c, seed: 7)
        let analytic = Differentiation.valueWithGradient(at: inputs) { objective(c, weights, $0) }.gradients
        let flat = Tensor.concatenated(inputs.map { $0.flattened() }, along: 0)
        let numeric = FiniteDifferences.gradient(at: flat) { x in
            withoutGradients { objective(c, weights, split(x, like: c.shapes).map { Variable($0) }).value.scalar }
        }
        let observed = Tensor.concatenated(analytic.map { $0.flattened() }, along: 0)
        let result = compare(observed, numeric, tolerance: 1e-7, floor: 1e-6, c.description)
        #expect(result.passed, "\(result)")
    }

    /// The backward rules are differentiated again: H·v from two reverse passes against finite
    /// differences of first-order gradients, (∇L(x + hv) − ∇L(x − hv)) / 2h.
    @Test("second derivatives (Hessian–vector products)", arguments: primitiveCases)
    func hessianVectorProductMatchesFiniteDifferences(_ c: PrimitiveCase) {
        let (inputs, weights) = draw(c, seed: 11)
        var generator = testGenerator(99)
        let vector = inputs.map { Tensor<Double>.randomNormal(shape: $0.shape, using: &generator) }
        let hv = Differentiation.hvp(at: inputs, vector: vector) { objective(c, weights, $0) }
        let h = 1e-5
        func gradient(_ xs: [Tensor<Double>]) -> Tensor<Double> {
            let g = Differentiation.valueWithGradient(at: xs) { objective(c, weights, $0) }.gradients
            return Tensor.concatenated(g.map { $0.flattened() }, along: 0)
        }
        let plus = gradient(zip(inputs, vector).map { $0 + $1 * h })
        let minus = gradient(zip(inputs, vector).map { $0 - $1 * h })
        let numeric = (plus - minus) / (2 * h)
        let observed = Tensor.concatenated(hv.map { $0.flattened() }, along: 0)
        let result = compare(observed, numeric, tolerance: 1e-6, floor: 1e-6, c.description)
        #expect(result.passed, "\(result)")
    }
}
