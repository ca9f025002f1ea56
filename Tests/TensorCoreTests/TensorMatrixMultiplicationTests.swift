import Testing
import TensorCore
import _TestSupport

/// The stored shape of an operand that becomes `[rows, columns]` after the optional transpose.
private func stored(_ batch: [Int], _ rows: Int, _ columns: Int, transposed: Bool) -> [Int] {
    batch + (transposed ? [columns, rows] : [rows, columns])
}

@Suite("Tensor matrix multiplication")
struct TensorMatrixMultiplicationTests {
    // m, k, n all different so that a swapped dimension cannot go unnoticed.
    static let m = 5, k = 7, n = 3

    private func check<T: TensorScalar>(
        _: T.Type, aBatch: [Int], bBatch: [Int], transposeA: Bool, transposeB: Bool,
        tolerance: Double
    ) {
        let a: Tensor<T> = randomTensor(stored(aBatch, Self.m, Self.k, transposed: transposeA), seed: 1)
        let b: Tensor<T> = randomTensor(stored(bBatch, Self.k, Self.n, transposed: transposeB), seed: 2)
        let observed = Tensor.matmul(a, b, transposeA: transposeA, transposeB: transposeB)
        let expected = naiveMatmul(a, b, transposeA: transposeA, transposeB: transposeB)
        let label = "\(T.self) \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")"
        #expect(observed.shape == (aBatch.isEmpty ? bBatch : aBatch) + [Self.m, Self.n], "\(label)")
        let c = compare(observed, expected, tolerance: tolerance, label)
        #expect(c.passed, "\(c)")
    }

    private func checkBoth(aBatch: [Int], bBatch: [Int], transposeA: Bool, transposeB: Bool) {
        check(Float.self, aBatch: aBatch, bBatch: bBatch, transposeA: transposeA, transposeB: transposeB, tolerance: 1e-6)
        check(Double.self, aBatch: aBatch, bBatch: bBatch, transposeA: transposeA, transposeB: transposeB, tolerance: 1e-14)
    }

    /// Float to 1e-6, Double to 1e-14 relative, against a triple loop in Double.
    @Test(arguments: [false, true], [false, true])
    func matmulOfMatrices(transposeA: Bool, transposeB: Bool) {
        checkBoth(aBatch: [], bBatch: [], transposeA: transposeA, transposeB: transposeB)
    }

    @Test(arguments: [false, true], [false, true])
    func matmulWithEqualBatchAxes(transposeA: Bool, transposeB: Bool) {
        checkBoth(aBatch: [4], bBatch: [4], transposeA: transposeA, transposeB: transposeB)
        checkBoth(aBatch: [2, 3], bBatch: [2, 3], transposeA: transposeA, transposeB: transposeB)
    }

    /// A rank-2 B shared by every batch of A (the folded single-gemm path when A is not transposed).
    @Test(arguments: [false, true], [false, true])
    func matmulWithSharedRightOperand(transposeA: Bool, transposeB: Bool) {
        checkBoth(aBatch: [4], bBatch: [], transposeA: transposeA, transposeB: transposeB)
        checkBoth(aBatch: [2, 3], bBatch: [], transposeA: transposeA, transposeB: transposeB)
    }

    /// A rank-2 A shared by every batch of B.
    @Test(arguments: [false, true], [false, true])
    func matmulWithSharedLeftOperand(transposeA: Bool, transposeB: Bool) {
        checkBoth(aBatch: [], bBatch: [4], transposeA: transposeA, transposeB: transposeB)
        checkBoth(aBatch: [], bBatch: [2, 3], transposeA: transposeA, transposeB: transposeB)
    }

    @Test func matmulOfLargeMatricesMatchesNaiveLoop() {
        let a: Tensor<Float> = randomTensor([130, 200], seed: 3)
        let b: Tensor<Float> = randomTensor([200, 90], seed: 4)
        let c = compare(Tensor.matmul(a, b), naiveMatmul(a, b), tolerance: 1e-5, "130×200 · 200×90")
        #expect(c.passed, "\(c)")
    }

    @Test func matmulWithIdentityAndKnownProduct() {
        let a = Tensor<Double>(rows: [[1, 2], [3, 4], [5, 6]])
        #expect(Tensor.matmul(a, Tensor<Double>.identity(2)) == a)
        let b = Tensor<Double>(rows: [[1, 0, -1], [2, 1, 0]])
        #expect(Tensor.matmul(a, b).scalars == [5, 2, -1, 11, 4, -3, 17, 6, -5])
    }

    @Test func matmulWithEmptyInnerDimensionGivesZeros() {
        let a = Tensor<Float>.zeros(shape: [2, 0]), b = Tensor<Float>.zeros(shape: [0, 3])
        let c = Tensor.matmul(a, b)
        #expect(c.shape == [2, 3])
        #expect(c.scalars == [Float](repeating: 0, count: 6))
    }

    @Test func mismatchedInnerDimensionsTrap() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor.matmul(Tensor<Float>.zeros(shape: [2, 3]), Tensor<Float>.zeros(shape: [4, 2]))
        }
    }

    // MARK: Matrix–vector, dot, outer

    @Test(arguments: [false, true])
    func matvecMatchesNaiveLoop(transpose: Bool) {
        let a: Tensor<Double> = randomTensor([6, 4], seed: 5)
        let x: Tensor<Double> = randomTensor([transpose ? 6 : 4], seed: 6)
        let observed = Tensor.matvec(a, x, transpose: transpose)
        let expected = naiveMatmul(a, x.reshaped(to: [x.scalarCount, 1]), transposeA: transpose).flattened()
        let c = compare(observed, expected, tolerance: 1e-14, "matvec transpose \(transpose)")
        #expect(c.passed, "\(c)")

        let af = Tensor<Float>(a), xf = Tensor<Float>(x)
        let cf = compare(Tensor.matvec(af, xf, transpose: transpose), expected, tolerance: 1e-6, "Float matvec")
        #expect(cf.passed, "\(cf)")
    }

    @Test func dotMatchesNaiveSum() {
        let a: Tensor<Float> = randomTensor([1000], seed: 7)
        let b: Tensor<Float> = randomTensor([10, 100], seed: 8)
        let c = compare(Double(Tensor.dot(a, b)), naiveDot(a, b), tolerance: 1e-5, "dot")
        #expect(c.passed, "\(c)")
        #expect(Tensor.dot(Tensor<Double>([1, 2, 3]), Tensor<Double>([4, -5, 6])) == 12)
    }

    @Test func outerProductMatchesClosedForm() {
        let a = Tensor<Double>([1, -2, 3]), b = Tensor<Double>([0.5, 4])
        let o = Tensor.outer(a, b)
        let expected = makeTensor(shape: [3, 2]) { a[$0[0]] * b[$0[1]] }
        let c = compare(o, expected, tolerance: 0, "outer")
        #expect(c.passed, "\(c)")
    }

    // MARK: In-place product

    /// `beta · C + alpha · op(A) op(B)` against the naive product, to 1e-14 in Double.
    @Test(arguments: [false, true], [false, true])
    func addMatrixProductScalesAndAccumulates(transposeA: Bool, transposeB: Bool) {
        let a: Tensor<Double> = randomTensor(stored([], Self.m, Self.k, transposed: transposeA), seed: 9)
        let b: Tensor<Double> = randomTensor(stored([], Self.k, Self.n, transposed: transposeB), seed: 10)
        let c0: Tensor<Double> = randomTensor([Self.m, Self.n], seed: 11)
        let (alpha, beta) = (0.5, -2.0)
        var c = c0
        c.addMatrixProduct(a, b, transposeA: transposeA, transposeB: transposeB, alpha: alpha, beta: beta)
        let product = naiveMatmul(a, b, transposeA: transposeA, transposeB: transposeB)
        let expected = makeTensor(shape: [Self.m, Self.n]) { i in beta * c0[i[0], i[1]] + alpha * product[i[0], i[1]] }
        let result = compare(c, expected, tolerance: 1e-14, "addMatrixProduct tA \(transposeA) tB \(transposeB)")
        #expect(result.passed, "\(result)")
    }

    @Test func addMatrixProductDefaultsAccumulateAndLeaveCopiesAlone() {
        let a: Tensor<Float> = randomTensor([4, 3], seed: 12)
        let b: Tensor<Float> = randomTensor([3, 2], seed: 13)
        let c0: Tensor<Float> = randomTensor([4, 2], seed: 14)
        var c = c0
        c.addMatrixProduct(a, b)
        let product = naiveMatmul(a, b)
        let expected = makeTensor(shape: [4, 2]) { i in Double(c0[i[0], i[1]]) + product[i[0], i[1]] }
        let result = compare(c, expected, tolerance: 1e-6, "C += A B")
        #expect(result.passed, "\(result)")
        #expect(c0 != c, "the copy must not see the in-place update")
    }
}
