extension Tensor {
    /// Matrix product with optional transposes of either operand, batched over leading axes.
    ///
    /// ```
    /// C = op(A) · op(B),   op(X) = Xᵀ if the flag is set (last two axes), else X
    /// ```
    /// - Parameters:
    ///   - a: `[..., m, k]` (or `[..., k, m]` with `transposeA`).
    ///   - b: `[..., k, n]` (or `[..., n, k]` with `transposeB`), with the same batch axes as `a`,
    ///     or rank 2 to be shared by every batch (and likewise `a`).
    /// - Returns: `[..., m, n]`.
    /// - Complexity: one BLAS gemm when `b` is rank 2 and `a` not transposed; one per batch otherwise.
    ///   Transposes are passed to BLAS, never copied.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank >= 2 && b.rank >= 2, "matmul needs rank ≥ 2 operands, got \(a.shape) and \(b.shape)")
        let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let (m, k) = transposeA ? (ac, ar) : (ar, ac)
        let (k2, n) = transposeB ? (bc, br) : (br, bc)
        let aBatch = Array(a.shape.dropLast(2)), bBatch = Array(b.shape.dropLast(2))
        precondition(k == k2, "matmul inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
        precondition(
            aBatch == bBatch || aBatch.isEmpty || bBatch.isEmpty,
            "matmul batch axes differ: \(a.shape) and \(b.shape)")
        let batch = aBatch.isEmpty ? bBatch : aBatch
        let batchCount = batch.reduce(1, *)
        return Tensor(shape: batch + [m, n]) { c in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    let pa = pa.baseAddress!, pb = pb.baseAddress!
                    if !transposeA && bBatch.isEmpty {
                        // Fold the batch into the rows of one gemm.
                        Parallelism.withBLAS(singleThreaded: Parallelism.isSmallProduct(batchCount * m * n * k)) {
                            Scalar.gemm(
                                transposeA: false, transposeB: transposeB, m: batchCount * m, n: n, k: k,
                                alpha: 1, a: pa, lda: ac, b: pb, ldb: bc, beta: 0, c: c, ldc: n)
                        }
                        return
                    }
                    let aStep = aBatch.isEmpty ? 0 : ar * ac, bStep = bBatch.isEmpty ? 0 : br * bc
                    let cAddress = Int(bitPattern: c)
                    func products(_ range: Range<Int>) {
                        let c = UnsafeMutablePointer<Scalar>(bitPattern: cAddress)!
                        for i in range {
                            Scalar.gemm(
                                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                                alpha: 1, a: pa + i * aStep, lda: ac, b: pb + i * bStep, ldb: bc,
                                beta: 0, c: c + i * m * n, ldc: n)
                        }
                    }
                    if Parallelism.isSmallProduct(m * n * k) {
                        // Small products: one BLAS thread each, the batch split across threads.
                        Parallelism.withBLAS(singleThreaded: true) {
                            Parallelism.forEachChunk(count: batchCount, minimumChunk: 1, products)
                        }
                    } else {
                        Parallelism.withBLAS(singleThreaded: false) { products(0..<batchCount) }
                    }
                }
            }
        }
    }

    /// `beta · self + alpha · op(a) · op(b)` in place, for rank-2 operands (BLAS gemm).
    public mutating func addMatrixProduct(
        _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false,
        alpha: Scalar = 1, beta: Scalar = 1
    ) {
        precondition(a.rank == 2 && b.rank == 2 && rank == 2, "addMatrixProduct needs matrices, got \(a.shape), \(b.shape), \(shape)")
        let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (k2, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        precondition(
            k == k2 && shape == [m, n],
            "addMatrixProduct: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "") does not give \(shape)")
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                withUnsafeMutableBufferPointer { pc in
                    Parallelism.withBLAS(singleThreaded: Parallelism.isSmallProduct(m * n * k)) {
                        Scalar.gemm(
                            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                            a: pa.baseAddress!, lda: a.shape[1], b: pb.baseAddress!, ldb: b.shape[1],
                            beta: beta, c: pc.baseAddress!, ldc: n)
                    }
                }
            }
        }
    }

    /// Matrix–vector product `op(A) · x` (BLAS gemv). `a`: [m, n]; `x`: [n] (or [m] transposed).
    public static func matvec(_ a: Tensor, _ x: Tensor, transpose: Bool = false) -> Tensor {
        precondition(a.rank == 2 && x.rank == 1, "matvec needs a matrix and a vector, got \(a.shape) and \(x.shape)")
        let (m, n) = (a.shape[0], a.shape[1])
        precondition(x.scalarCount == (transpose ? m : n), "matvec: \(a.shape)\(transpose ? "ᵀ" : "") · \(x.shape)")
        return Tensor(shape: [transpose ? n : m]) { y in
            a.withUnsafeBufferPointer { pa in
                x.withUnsafeBufferPointer { px in
                    Parallelism.withBLAS(singleThreaded: false) {
                        Scalar.gemv(transpose: transpose, m: m, n: n, alpha: 1, a: pa.baseAddress!, lda: n, x: px.baseAddress!, beta: 0, y: y)
                    }
                }
            }
        }
    }

    /// The dot product of two tensors with the same number of elements (BLAS dot).
    public static func dot(_ a: Tensor, _ b: Tensor) -> Scalar {
        precondition(a.scalarCount == b.scalarCount, "dot: \(a.shape) and \(b.shape) have different sizes")
        return a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in Parallelism.withBLAS(singleThreaded: false) { Scalar.dot(count: a.scalarCount, pa.baseAddress!, pb.baseAddress!) }
            }
        }
    }

    /// The outer product `a bᵀ` of two vectors: [a.count, b.count].
    public static func outer(_ a: Tensor, _ b: Tensor) -> Tensor {
        matmul(a.reshaped(to: [a.scalarCount, 1]), b.reshaped(to: [1, b.scalarCount]))
    }
}
