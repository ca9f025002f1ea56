import CLAPACKE

extension Tensor {
    private func requireMatrix(_ routine: String, square: Bool) throws {
        precondition(rank == 2, "\(routine) needs a matrix, got shape \(shape)")
        if square { precondition(shape[0] == shape[1], "\(routine) needs a square matrix, got shape \(shape)") }
        if !isFinite { throw LinearAlgebraError.nonFiniteInput(routine: routine, shape: shape) }
    }

    private static func routine(_ name: String) -> String { (Scalar.self == Float.self ? "s" : "d") + name }

    /// Eigendecomposition of a symmetric matrix (LAPACK syevd; only the upper triangle is read).
    ///
    /// ```
    /// A = V · diag(values) · Vᵀ
    /// ```
    /// - Returns: `values` [n] in ascending order and `vectors` [n, n] whose *columns* are the
    ///   orthonormal eigenvectors.
    /// - Throws: ``LinearAlgebraError`` on non-finite input or when syevd does not converge.
    public func symmetricEigendecomposition() throws -> (values: Tensor, vectors: Tensor) {
        let name = Tensor.routine("syevd")
        try requireMatrix(name, square: true)
        let n = shape[0]
        var vectors = self
        var values = Tensor.zeros(shape: [n])
        let info = vectors.withUnsafeMutableBufferPointer { a in
            values.withUnsafeMutableBufferPointer { w in
                Parallelism.withBLAS(singleThreaded: false) { Scalar.syevd(n: n, a: a.baseAddress!, w: w.baseAddress!) }
            }
        }
        if info != 0 { throw LinearAlgebraError.routineFailed(routine: name, info: info, shape: shape) }
        return (values, vectors)
    }

    /// The Cholesky factor L (lower triangular, zeros above the diagonal) with A = L Lᵀ (LAPACK potrf).
    ///
    /// - Throws: ``LinearAlgebraError/notPositiveDefinite(routine:order:pivot:)`` when A is not
    ///   positive definite, or on non-finite input.
    public func choleskyFactor() throws -> Tensor {
        let name = Tensor.routine("potrf")
        try requireMatrix(name, square: true)
        let n = shape[0]
        var l = self
        let info = l.withUnsafeMutableBufferPointer { p in Parallelism.withBLAS(singleThreaded: false) { Scalar.potrf(n: n, a: p.baseAddress!) } }
        if info > 0 { throw LinearAlgebraError.notPositiveDefinite(routine: name, order: n, pivot: Int(info)) }
        if info < 0 { throw LinearAlgebraError.routineFailed(routine: name, info: info, shape: shape) }
        l.withUnsafeMutableBufferPointer { p in
            for i in 0..<n { for j in (i + 1)..<Swift.max(i + 1, n) { p[i * n + j] = 0 } }
        }
        return l
    }

    /// Solves A X = B given the Cholesky factor L of A (LAPACK potrs).
    ///
    /// - Parameters:
    ///   - factor: L from ``choleskyFactor()``, [n, n].
    ///   - rightHandSide: B, [n] or [n, r].
    /// - Returns: X, of B's shape.
    public static func choleskySolve(factor: Tensor, _ rightHandSide: Tensor) throws -> Tensor {
        let name = routine("potrs")
        precondition(factor.rank == 2 && factor.shape[0] == factor.shape[1], "\(name) needs a square factor, got \(factor.shape)")
        let n = factor.shape[0]
        precondition(
            (rightHandSide.rank == 1 || rightHandSide.rank == 2) && rightHandSide.shape[0] == n,
            "\(name): right-hand side \(rightHandSide.shape) does not match factor \(factor.shape)")
        if !rightHandSide.isFinite { throw LinearAlgebraError.nonFiniteInput(routine: name, shape: rightHandSide.shape) }
        let r = rightHandSide.rank == 1 ? 1 : rightHandSide.shape[1]
        // The right-hand sides one after another (column-major for LAPACK), so that neither they
        // nor the factor need LAPACKE's row-major copies.
        var x = rightHandSide.rank == 1 ? rightHandSide : rightHandSide.transposed()
        let info = factor.withUnsafeBufferPointer { a in
            x.withUnsafeMutableBufferPointer { b in
                Parallelism.withBLAS(singleThreaded: false) { Scalar.potrs(n: n, rightHandSides: r, a: a.baseAddress!, b: b.baseAddress!) }
            }
        }
        if info != 0 { throw LinearAlgebraError.routineFailed(routine: name, info: info, shape: factor.shape) }
        return rightHandSide.rank == 1 ? x : x.transposed()
    }

    /// Solves A X = B for a symmetric positive-definite A by Cholesky.
    public func choleskySolve(_ rightHandSide: Tensor) throws -> Tensor {
        try Tensor.choleskySolve(factor: choleskyFactor(), rightHandSide)
    }

    /// The thin singular value decomposition A = U · diag(S) · Vᵀ (LAPACK gesdd).
    ///
    /// - Returns: `u` [m, k], `singularValues` [k] in descending order, `vt` [k, n], k = min(m, n).
    public func singularValueDecomposition() throws -> (u: Tensor, singularValues: Tensor, vt: Tensor) {
        let name = Tensor.routine("gesdd")
        try requireMatrix(name, square: false)
        let (m, n) = (shape[0], shape[1]), k = Swift.min(m, n)
        var a = self
        var s = Tensor.zeros(shape: [k]), u = Tensor.zeros(shape: [m, k]), vt = Tensor.zeros(shape: [k, n])
        let info = a.withUnsafeMutableBufferPointer { pa in
            s.withUnsafeMutableBufferPointer { ps in
                u.withUnsafeMutableBufferPointer { pu in
                    vt.withUnsafeMutableBufferPointer { pv in
                        Parallelism.withBLAS(singleThreaded: false) {
                            Scalar.gesdd(m: m, n: n, a: pa.baseAddress!, s: ps.baseAddress!, u: pu.baseAddress!, vt: pv.baseAddress!)
                        }
                    }
                }
            }
        }
        if info != 0 { throw LinearAlgebraError.routineFailed(routine: name, info: info, shape: shape) }
        return (u, s, vt)
    }

    /// The thin QR decomposition A = Q R (LAPACK geqrf and orgqr).
    ///
    /// - Returns: `q` [m, k] with orthonormal columns and `r` [k, n] upper triangular, k = min(m, n).
    public func qrDecomposition() throws -> (q: Tensor, r: Tensor) {
        let name = Tensor.routine("geqrf")
        try requireMatrix(name, square: false)
        let (m, n) = (shape[0], shape[1]), k = Swift.min(m, n)
        var a = self
        var tau = Tensor.zeros(shape: [Swift.max(1, k)])
        var info = a.withUnsafeMutableBufferPointer { pa in
            tau.withUnsafeMutableBufferPointer { t in
                Parallelism.withBLAS(singleThreaded: false) { Scalar.geqrf(m: m, n: n, a: pa.baseAddress!, tau: t.baseAddress!) }
            }
        }
        if info != 0 { throw LinearAlgebraError.routineFailed(routine: name, info: info, shape: shape) }
        var r = Tensor.zeros(shape: [k, n])
        r.withUnsafeMutableBufferPointer { pr in
            a.withUnsafeBufferPointer { pa in
                for i in 0..<k { for j in i..<n { pr[i * n + j] = pa[i * n + j] } }
            }
        }
        // orgqr forms the m × k matrix Q from the reflectors in the leading k columns. Its wrapper
        // takes the leading dimension to be its column count, k, so a wide matrix (n > k) has those
        // columns copied out to a contiguous m × k block first.
        var q = n == k ? a : a.sliced(along: 1, 0..<k)
        info = q.withUnsafeMutableBufferPointer { pq in
            tau.withUnsafeBufferPointer { t in
                Parallelism.withBLAS(singleThreaded: false) { Scalar.orgqr(m: m, n: k, k: k, a: pq.baseAddress!, tau: t.baseAddress!) }
            }
        }
        if info != 0 { throw LinearAlgebraError.routineFailed(routine: Tensor.routine("orgqr"), info: info, shape: shape) }
        return (q, r)
    }
}

extension Tensor where Scalar == Double {
    /// The `k` largest eigenvalues of a symmetric matrix, in descending order, with their
    /// eigenvectors as the columns of `[n, k]` (LAPACK dsyevr with a range of indices: the
    /// tridiagonal reduction, then only the wanted pairs; only the upper triangle is read).
    /// Matrices under 512 rows run on one BLAS thread, where threads cost more than they give.
    ///
    /// - Precondition: 1 ≤ k ≤ n.
    /// - Throws: ``LinearAlgebraError`` on non-finite input or when dsyevr fails.
    public func largestSymmetricEigenpairs(_ k: Int) throws -> (values: [Double], vectors: Tensor<Double>) {
        try requireSquareFinite("dsyevr")
        let n = shape[0]
        precondition(k >= 1 && k <= n, "dsyevr: asked for \(k) eigenpairs of an order-\(n) matrix")
        var a = self
        var w = [Double](repeating: 0, count: n)
        var z = Tensor<Double>.zeros(shape: [n, k])
        var support = [Int32](repeating: 0, count: 2 * k)
        var found: Int32 = 0
        let info = a.withUnsafeMutableBufferPointer { a in
            z.withUnsafeMutableBufferPointer { z in
                Parallelism.withBLAS(singleThreaded: n < 512) {
                    LAPACKE_dsyevr(
                        LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "I")), CChar(UInt8(ascii: "U")), Int32(n),
                        a.baseAddress!, Int32(n), 0, 0, Int32(n - k + 1), Int32(n), 0, &found, &w, z.baseAddress!, Int32(k), &support)
                }
            }
        }
        if info != 0 || Int(found) != k { throw LinearAlgebraError.routineFailed(routine: "dsyevr", info: info == 0 ? -1 : info, shape: shape) }
        // dsyevr gives them ascending: reverse the values and the columns.
        let descending = Array((0..<k).reversed())
        return (descending.map { w[$0] }, z.indexSelect(along: 1, indices: descending))
    }

    /// The eigenvalues of a symmetric matrix in ascending order, without eigenvectors (LAPACK
    /// dsyevd, JOBZ = N; only the upper triangle is read).
    public func symmetricEigenvalues() throws -> [Double] {
        try requireSquareFinite("dsyevd")
        let n = shape[0]
        var a = self
        var w = [Double](repeating: 0, count: n)
        let info = a.withUnsafeMutableBufferPointer { a in
            Parallelism.withBLAS(singleThreaded: n < 512) {
                LAPACKE_dsyevd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "U")), Int32(n), a.baseAddress!, Int32(n), &w)
            }
        }
        if info != 0 { throw LinearAlgebraError.routineFailed(routine: "dsyevd", info: info, shape: shape) }
        return w
    }

    private func requireSquareFinite(_ routine: String) throws {
        precondition(rank == 2 && shape[0] == shape[1], "\(routine) needs a square matrix, got shape \(shape)")
        if !isFinite { throw LinearAlgebraError.nonFiniteInput(routine: routine, shape: shape) }
    }
}
