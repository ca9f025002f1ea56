import TensorCore
import _TestSupport

// Independent oracles shared by the TensorCore tests: plain index arithmetic and naive loops that
// use nothing from TensorCore beyond reading and writing elements.

/// The row-major multi-index of flat position `flat` in `shape`.
func unravel(_ flat: Int, _ shape: [Int]) -> [Int] {
    var index = [Int](repeating: 0, count: shape.count)
    var rest = flat
    for d in stride(from: shape.count - 1, through: 0, by: -1) {
        index[d] = rest % shape[d]
        rest /= shape[d]
    }
    return index
}

/// The row-major flat position of a multi-index in `shape`.
func ravel(_ index: [Int], _ shape: [Int]) -> Int {
    var flat = 0
    for (i, d) in zip(index, shape) { flat = flat * d + i }
    return flat
}

/// A tensor whose element at each multi-index is `f(index)`.
func makeTensor<T: TensorScalar>(shape: [Int], _ f: ([Int]) -> T) -> Tensor<T> {
    let count = shape.reduce(1, *)
    return Tensor(shape: shape, scalars: (0..<count).map { f(unravel($0, shape)) })
}

/// Standard normal entries from a fixed seed.
func randomTensor<T: TensorScalar>(_ shape: [Int], seed: UInt64, as _: T.Type = T.self) -> Tensor<T> {
    var generator = SeededGenerator(seed: seed)
    return Tensor<T>.randomNormal(shape: shape, using: &generator)
}

/// Small integers drawn from `values`, so that ties and exact arithmetic are common.
func integerTensor<T: TensorScalar>(_ shape: [Int], from values: [Int], seed: UInt64, as _: T.Type = T.self) -> Tensor<T> {
    var generator = SeededGenerator(seed: seed)
    let count = shape.reduce(1, *)
    return Tensor(shape: shape, scalars: (0..<count).map { _ in T(values[Int(generator.next() % UInt64(values.count))]) })
}

/// `Σ x_i y_i` accumulated in Double by a plain loop.
func naiveDot<T: TensorScalar, U: TensorScalar>(_ x: Tensor<T>, _ y: Tensor<U>) -> Double {
    precondition(x.scalarCount == y.scalarCount)
    var s = 0.0
    for (a, b) in zip(x.scalars, y.scalars) { s += Double(a) * Double(b) }
    return s
}

/// The index of `outputIndex`'s source element in an operand of shape `operand` broadcast to `output`.
func broadcastSourceIndex(_ outputIndex: [Int], operand: [Int], output: [Int]) -> [Int] {
    let lead = output.count - operand.count
    return operand.indices.map { d in operand[d] == 1 ? 0 : outputIndex[lead + d] }
}

/// The NumPy broadcast shape, written out independently of BroadcastPlan.
func naiveBroadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
    let rank = max(a.count, b.count)
    let pa = [Int](repeating: 1, count: rank - a.count) + a
    let pb = [Int](repeating: 1, count: rank - b.count) + b
    return zip(pa, pb).map { x, y in
        precondition(x == y || x == 1 || y == 1, "test bug: \(a) and \(b) do not broadcast")
        return x == 1 ? y : x
    }
}

/// `op(A) · op(B)` by a triple loop in Double, batched like ``Tensor/matmul(_:_:transposeA:transposeB:)``:
/// equal batch axes, or one operand rank 2 and shared.
func naiveMatmul<T: TensorScalar>(_ a: Tensor<T>, _ b: Tensor<T>, transposeA: Bool = false, transposeB: Bool = false) -> Tensor<Double> {
    let aBatch = Array(a.shape.dropLast(2)), bBatch = Array(b.shape.dropLast(2))
    let batch = aBatch.isEmpty ? bBatch : aBatch
    let batchCount = batch.reduce(1, *)
    let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
    let (m, k) = transposeA ? (ac, ar) : (ar, ac)
    let n = transposeB ? br : bc
    let pa = a.scalars.map(Double.init), pb = b.scalars.map(Double.init)
    var c = [Double](repeating: 0, count: batchCount * m * n)
    for t in 0..<batchCount {
        let aBase = aBatch.isEmpty ? 0 : t * ar * ac, bBase = bBatch.isEmpty ? 0 : t * br * bc
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = transposeA ? pa[aBase + p * ac + i] : pa[aBase + i * ac + p]
                    let bv = transposeB ? pb[bBase + j * bc + p] : pb[bBase + p * bc + j]
                    s += av * bv
                }
                c[t * m * n + i * n + j] = s
            }
        }
    }
    return Tensor(shape: batch + [m, n], scalars: c)
}

/// The plain matrix transpose of a rank-2 tensor, by index arithmetic.
func naiveTranspose<T: TensorScalar>(_ x: Tensor<T>) -> Tensor<T> {
    let (r, c) = (x.shape[0], x.shape[1])
    let s = x.scalars
    return makeTensor(shape: [c, r]) { s[$0[1] * c + $0[0]] }
}

/// A symmetric positive-definite matrix `B Bᵀ + n I`.
func spdMatrix<T: TensorScalar>(_ n: Int, seed: UInt64, as _: T.Type = T.self) -> Tensor<T> {
    let b: Tensor<Double> = randomTensor([n, n], seed: seed)
    let bbt = naiveMatmul(b, b, transposeB: true)
    return Tensor<T>(makeTensor(shape: [n, n]) { bbt[$0[0], $0[1]] + ($0[0] == $0[1] ? Double(n) : 0) })
}
