import Foundation
import Testing
import TensorCore
import _TestSupport

/// A shape and the tolerance for one scalar type.
struct MatrixCase: Sendable, CustomTestStringConvertible {
    let rows: Int, columns: Int
    var testDescription: String { "\(rows)×\(columns)" }
    static let tallWideSquare = [
        MatrixCase(rows: 7, columns: 4), MatrixCase(rows: 4, columns: 7), MatrixCase(rows: 5, columns: 5),
        MatrixCase(rows: 6, columns: 1), MatrixCase(rows: 1, columns: 6),
    ]
}

/// `Xᵀ X` against the identity: the columns of X are orthonormal.
private func checkOrthonormalColumns<T: TensorScalar>(_ x: Tensor<T>, tolerance: Double, _ label: String) {
    let gram = naiveMatmul(x, x, transposeA: true)
    let c = compare(gram, Tensor<Double>.identity(x.shape[1]), tolerance: tolerance, label)
    #expect(c.passed, "\(c)")
}

/// A symmetric matrix `B + Bᵀ`.
private func symmetricMatrix<T: TensorScalar>(_ n: Int, seed: UInt64, as _: T.Type = T.self) -> Tensor<T> {
    let b: Tensor<Double> = randomTensor([n, n], seed: seed)
    return Tensor<T>(makeTensor(shape: [n, n]) { b[$0[0], $0[1]] + b[$0[1], $0[0]] })
}

@Suite("Tensor linear algebra")
struct TensorLinearAlgebraTests {
    // MARK: Symmetric eigendecomposition

    private func checkEigen<T: TensorScalar>(_: T.Type, tolerance: Double) throws {
        let n = 6
        let a: Tensor<T> = symmetricMatrix(n, seed: 1)
        let (w, v) = try a.symmetricEigendecomposition()
        #expect(w.shape == [n] && v.shape == [n, n])
        // A V = V diag(w): each column of V is an eigenvector for the matching value.
        let av = naiveMatmul(a, v)
        let vw = naiveMatmul(v, Tensor<T>.diagonal(w))
        var c = compare(av, vw, tolerance: tolerance, "\(T.self) A V = V diag(w)")
        #expect(c.passed, "\(c)")
        checkOrthonormalColumns(v, tolerance: tolerance, "\(T.self) VᵀV = I")
        let values = w.scalars
        #expect(zip(values, values.dropFirst()).allSatisfy { $0 <= $1 }, "eigenvalues not ascending: \(values)")
        // Reconstruction V diag(w) Vᵀ = A.
        c = compare(naiveMatmul(Tensor<Double>(v), vw, transposeB: true), a, tolerance: tolerance, "\(T.self) V diag(w) Vᵀ = A")
        #expect(c.passed, "\(c)")
    }

    /// Float to 1e-5, Double to 1e-13, relative in the Frobenius norm.
    @Test func symmetricEigendecompositionSatisfiesDefinition() throws {
        try checkEigen(Float.self, tolerance: 1e-5)
        try checkEigen(Double.self, tolerance: 1e-13)
    }

    @Test func eigenvaluesOfKnownMatrix() throws {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3 with eigenvectors (1, −1)/√2 and (1, 1)/√2.
        let (w, v) = try Tensor<Double>(rows: [[2, 1], [1, 2]]).symmetricEigendecomposition()
        let c = compare(w, Tensor<Double>([1, 3]), tolerance: 1e-15, "eigenvalues")
        #expect(c.passed, "\(c)")
        #expect(abs(abs(v[0, 1]) - 1 / 2.0.squareRoot()) < 1e-15 && v[0, 1] * v[1, 1] > 0, "eigenvector for 3 is ±(1, 1)/√2: \(v)")
        #expect(v[0, 0] * v[1, 0] < 0, "eigenvector for 1 is ±(1, −1)/√2: \(v)")
    }

    @Test func eigendecompositionReadsOnlyTheUpperTriangle() throws {
        let n = 5
        let symmetric: Tensor<Double> = symmetricMatrix(n, seed: 2)
        // Garbage below the diagonal must not change the result.
        let lopsided = makeTensor(shape: [n, n]) { i in i[0] > i[1] ? 1e3 * Double(i[0] + i[1]) : symmetric[i[0], i[1]] }
        let (w, v) = try lopsided.symmetricEigendecomposition()
        let c = compare(naiveMatmul(symmetric, v), naiveMatmul(v, Tensor.diagonal(w)), tolerance: 1e-13, "A V = V diag(w)")
        #expect(c.passed, "\(c)")
    }

    @Test func decompositionsLeaveTheirInputUnchanged() throws {
        let a: Tensor<Double> = spdMatrix(4, seed: 3)
        let copy = a
        _ = try a.symmetricEigendecomposition()
        _ = try a.choleskyFactor()
        _ = try a.singularValueDecomposition()
        _ = try a.qrDecomposition()
        #expect(a == copy)
    }

    // MARK: Cholesky

    private func checkCholesky<T: TensorScalar>(_: T.Type, tolerance: Double) throws {
        let n = 6
        let a: Tensor<T> = spdMatrix(n, seed: 4)
        let l = try a.choleskyFactor()
        let c = compare(naiveMatmul(l, l, transposeB: true), a, tolerance: tolerance, "\(T.self) L Lᵀ = A")
        #expect(c.passed, "\(c)")
        for i in 0..<n {
            #expect(l[i, i] > 0, "diagonal \(i) of L must be positive")
            for j in (i + 1)..<n { #expect(l[i, j] == 0, "L[\(i), \(j)] above the diagonal must be exactly 0") }
        }
    }

    /// Float to 1e-6, Double to 1e-14.
    @Test func choleskyFactorReconstructsTheMatrix() throws {
        try checkCholesky(Float.self, tolerance: 1e-6)
        try checkCholesky(Double.self, tolerance: 1e-14)
    }

    @Test func choleskyOfKnownMatrix() throws {
        // [[4, 2], [2, 3]] = L Lᵀ with L = [[2, 0], [1, √2]].
        let l = try Tensor<Double>(rows: [[4, 2], [2, 3]]).choleskyFactor()
        let c = compare(l, Tensor<Double>(rows: [[2, 0], [1, 2.0.squareRoot()]]), tolerance: 1e-15, "L")
        #expect(c.passed, "\(c)")
    }

    /// The residual ‖A X − B‖ / ‖B‖ for matrix and vector right-hand sides: Double to 1e-13, Float to 1e-5.
    @Test func choleskySolveHasSmallResidual() throws {
        let n = 8
        let a: Tensor<Double> = spdMatrix(n, seed: 5)
        let b: Tensor<Double> = randomTensor([n, 3], seed: 6)
        let x = try a.choleskySolve(b)
        #expect(x.shape == [n, 3])
        var c = compare(naiveMatmul(a, x), b, tolerance: 1e-13, "A X = B")
        #expect(c.passed, "\(c)")

        let v: Tensor<Double> = randomTensor([n], seed: 7)
        let factor = try a.choleskyFactor()
        let y = try Tensor.choleskySolve(factor: factor, v)
        #expect(y.shape == [n])
        c = compare(naiveMatmul(a, y.reshaped(to: [n, 1])).flattened(), v, tolerance: 1e-13, "A y = v")
        #expect(c.passed, "\(c)")

        let af = Tensor<Float>(a), bf = Tensor<Float>(b)
        c = compare(naiveMatmul(af, try af.choleskySolve(bf)), bf, tolerance: 1e-5, "Float A X = B")
        #expect(c.passed, "\(c)")
    }

    @Test func choleskyOfIndefiniteMatrixThrowsNotPositiveDefinite() {
        // Eigenvalues 3 and −1: the second leading minor is 1 − 4 < 0.
        let indefinite = Tensor<Double>(rows: [[1, 2], [2, 1]])
        let error = #expect(throws: LinearAlgebraError.self) { try indefinite.choleskyFactor() }
        #expect(error == .notPositiveDefinite(routine: "dpotrf", order: 2, pivot: 2))
        let description = error.map { "\($0)" } ?? ""
        #expect(
            description.contains("dpotrf") && description.contains("2×2") && description.contains("not positive definite"),
            "\(description)")

        let floatError = #expect(throws: LinearAlgebraError.self) { try Tensor<Float>(indefinite).choleskyFactor() }
        #expect(floatError == .notPositiveDefinite(routine: "spotrf", order: 2, pivot: 2))

        let solveError = #expect(throws: LinearAlgebraError.self) { try indefinite.choleskySolve(Tensor<Double>([1, 1])) }
        #expect(solveError == .notPositiveDefinite(routine: "dpotrf", order: 2, pivot: 2))
    }

    @Test func nonFiniteInputThrowsAndNamesRoutineAndSize() {
        var a: Tensor<Double> = spdMatrix(3, seed: 8)
        a[1, 2] = .nan
        let error = #expect(throws: LinearAlgebraError.self) { try a.choleskyFactor() }
        #expect(error == .nonFiniteInput(routine: "dpotrf", shape: [3, 3]))
        let description = error.map { "\($0)" } ?? ""
        #expect(description.contains("dpotrf") && description.contains("3×3"), "\(description)")

        var f = Tensor<Float>.identity(4).reshaped(to: [2, 8])
        f[0, 3] = .infinity
        #expect(throws: LinearAlgebraError.nonFiniteInput(routine: "sgesdd", shape: [2, 8])) { try f.singularValueDecomposition() }
        #expect(throws: LinearAlgebraError.nonFiniteInput(routine: "sgeqrf", shape: [2, 8])) { try f.qrDecomposition() }
        #expect(throws: LinearAlgebraError.nonFiniteInput(routine: "dsyevd", shape: [3, 3])) { try a.symmetricEigendecomposition() }

        let factor = Tensor<Double>.identity(2)
        #expect(throws: LinearAlgebraError.nonFiniteInput(routine: "dpotrs", shape: [2])) {
            try Tensor.choleskySolve(factor: factor, Tensor<Double>([1, .nan]))
        }
    }

    @Test func routineFailedDescriptionExplainsInfo() {
        let illegal = LinearAlgebraError.routineFailed(routine: "dgesdd", info: -4, shape: [3, 2])
        #expect(illegal.description == "dgesdd on a 3×2 matrix: argument 4 had an illegal value")
        let diverged = LinearAlgebraError.routineFailed(routine: "ssyevd", info: 2, shape: [5, 5])
        #expect(
            diverged.description.contains("ssyevd") && diverged.description.contains("5×5")
                && diverged.description.contains("info = 2"))
    }

    // MARK: SVD

    private func checkSVD<T: TensorScalar>(_ shape: MatrixCase, _: T.Type, tolerance: Double) throws {
        let (m, n) = (shape.rows, shape.columns), k = min(m, n)
        let a: Tensor<T> = randomTensor([m, n], seed: 9)
        let (u, s, vt) = try a.singularValueDecomposition()
        #expect(u.shape == [m, k] && s.shape == [k] && vt.shape == [k, n], "\(u.shape) \(s.shape) \(vt.shape)")
        let usvt = naiveMatmul(naiveMatmul(u, Tensor<T>.diagonal(s)), Tensor<Double>(vt))
        let c = compare(usvt, a, tolerance: tolerance, "\(T.self) \(shape) U diag(S) Vᵀ = A")
        #expect(c.passed, "\(c)")
        checkOrthonormalColumns(u, tolerance: tolerance, "\(T.self) \(shape) UᵀU = I")
        checkOrthonormalColumns(vt.transposed(), tolerance: tolerance, "\(T.self) \(shape) VᵀV = I")
        let values = s.scalars
        #expect(values.allSatisfy { $0 >= 0 }, "singular values must be non-negative: \(values)")
        #expect(zip(values, values.dropFirst()).allSatisfy { $0 >= $1 }, "singular values not descending: \(values)")
    }

    /// Float to 1e-5, Double to 1e-13, for tall, wide and square matrices.
    @Test(arguments: MatrixCase.tallWideSquare)
    func singularValueDecompositionSatisfiesDefinition(_ shape: MatrixCase) throws {
        try checkSVD(shape, Float.self, tolerance: 1e-5)
        try checkSVD(shape, Double.self, tolerance: 1e-13)
    }

    @Test func singularValuesOfKnownMatrices() throws {
        // A diagonal matrix with a negative entry: singular values are the sorted magnitudes.
        let d = Tensor<Double>(rows: [[1, 0, 0], [0, -5, 0], [0, 0, 3], [0, 0, 0]])
        var c = compare(try d.singularValueDecomposition().singularValues, Tensor<Double>([5, 3, 1]), tolerance: 1e-15, "diagonal")
        #expect(c.passed, "\(c)")
        // 3 u vᵀ with unit u, v has the single non-zero singular value 3.
        let u = Tensor<Double>([3, 4]) / 5, v = Tensor<Double>([2, 1, 2]) / 3
        let s = try (Tensor.outer(u, v) * 3).singularValueDecomposition().singularValues
        c = compare(s, Tensor<Double>([3, 0]), tolerance: 1e-15, "rank one")
        #expect(c.passed, "\(c)")
    }

    // MARK: QR

    private func checkQR<T: TensorScalar>(_ shape: MatrixCase, _: T.Type, tolerance: Double) throws {
        let (m, n) = (shape.rows, shape.columns), k = min(m, n)
        let a: Tensor<T> = randomTensor([m, n], seed: 10)
        let (q, r) = try a.qrDecomposition()
        #expect(q.shape == [m, k] && r.shape == [k, n], "\(q.shape) \(r.shape)")
        let c = compare(naiveMatmul(q, r), a, tolerance: tolerance, "\(T.self) \(shape) QR = A")
        #expect(c.passed, "\(c)")
        checkOrthonormalColumns(q, tolerance: tolerance, "\(T.self) \(shape) QᵀQ = I")
        for i in 0..<k {
            for j in 0..<min(i, n) {
                #expect(r[i, j] == 0, "R[\(i), \(j)] below the diagonal must be exactly 0")
            }
        }
    }

    /// Float to 1e-5, Double to 1e-13, for tall, wide and square matrices.
    @Test(arguments: MatrixCase.tallWideSquare)
    func qrDecompositionSatisfiesDefinition(_ shape: MatrixCase) throws {
        try checkQR(shape, Float.self, tolerance: 1e-5)
        try checkQR(shape, Double.self, tolerance: 1e-13)
    }
}
