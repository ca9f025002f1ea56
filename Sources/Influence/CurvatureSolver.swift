import TensorCore

/// Solves (H + λI) x = b for the curvature of a ``CurvatureOperator``, over the row-major
/// concatenation of its per-layer blocks.
public enum CurvatureSolver {
    /// The exact solve: the dense matrix H + λI, its Cholesky factor, and a triangular solve per
    /// right-hand side. For models of up to about ten thousand tracked parameters.
    ///
    /// - Parameter rightHandSides: `[dimension, k]`.
    /// - Throws: ``InfluenceError/notPositiveDefinite(dimension:damping:lowestEigenvalue:)`` when H + λI is not
    ///   positive definite (a Hessian away from a minimum, or too little damping).
    public static func exact<Task: InfluenceTask>(
        _ op: CurvatureOperator<Task>, damping: Double,
        rightHandSides: Tensor<Task.Scalar>
    ) throws -> Tensor<Task.Scalar> {
        try ExactInverse(op, damping: damping).solve(rightHandSides)
    }

    /// (H + λI)⁻¹ through the Cholesky factor L of the dense H + λI (in Double), computed once
    /// and reused for every query chunk and for self-influence.
    public struct ExactInverse<Scalar: TensorScalar> {
        /// Lower-triangular L with L Lᵀ = H + λI.
        public let factor: Tensor<Double>

        /// The Cholesky factor of the operator's dense matrix, symmetrised, plus λI.
        ///
        /// - Parameters:
        ///   - op: the curvature; its dense matrix `[dimension, dimension]` is formed with one product per column.
        ///   - damping: λ, added to the diagonal.
        /// - Throws: ``InfluenceError/notPositiveDefinite(dimension:damping:lowestEigenvalue:)`` when H + λI is not positive definite.
        public init<Task: InfluenceTask>(_ op: CurvatureOperator<Task>, damping: Double) throws where Task.Scalar == Scalar {
            let h = op.denseMatrix()
            try self.init(symmetric: (h + h.transposed()) * 0.5, damping: damping)
        }

        /// The factor of `symmetric` + λI for a symmetric `[n, n]` curvature matrix.
        public init(symmetric: Tensor<Scalar>, damping: Double) throws {
            let n = symmetric.shape[0]
            do { factor = try Tensor<Double>(symmetric + Tensor.identity(n) * Scalar(damping)).choleskyFactor() } catch LinearAlgebraError.notPositiveDefinite {
                // Name the damping that would do: the lowest eigenvalue of the symmetric part of H.
                let lowest = try? Tensor<Double>(symmetric).symmetricEigendecomposition().values.min().scalar
                throw InfluenceError.notPositiveDefinite(dimension: n, damping: damping, lowestEigenvalue: lowest)
            }
        }

        /// x = (H + λI)⁻¹ b for the columns of b `[dimension, k]`.
        public func solve(_ b: Tensor<Scalar>) throws -> Tensor<Scalar> {
            precondition(b.rank == 2 && b.shape[0] == factor.shape[0], "right-hand sides \(b.shape) should be [\(factor.shape[0]), k]")
            return Tensor<Scalar>(try Tensor.choleskySolve(factor: factor, Tensor<Double>(b)))
        }

        /// gᵀ (H + λI)⁻¹ g for each row of `g` `[rows, dimension]`.
        public func quadraticForms(_ g: Tensor<Scalar>) throws -> Tensor<Scalar> {
            let g64 = Tensor<Double>(g)
            let x = try Tensor.choleskySolve(factor: factor, g64.transposed())  // [dimension, rows]
            return Tensor<Scalar>((x.transposed() * g64).sum(alongAxes: [1]))
        }
    }

    /// The outcome of a conjugate-gradient solve.
    public struct Iterations: Sendable {
        /// The iterations this column ran (each one operator product).
        public var count: Int
        /// ‖b − (H + λI)x‖ / ‖b‖ at the end.
        public var relativeResidual: Double
        /// Whether the true residual, recomputed at the end, is within 10 × the tolerance.
        public var converged: Bool
        /// CG stopped because pᵀ(H + λI)p ≤ 0: H + λI is not positive definite.
        public var foundNegativeCurvature = false
        /// The recurrence's residual reached the tolerance but the true residual did not: the
        /// precision of the products (Float) limits the attainable accuracy.
        public var limitedByPrecision = false
    }

    /// Conjugate gradient on (H + λI) x = b for every right-hand side together, with operator
    /// products only (no dense matrix). The columns keep their own recurrences (each iterate is
    /// what a solve of that column alone would give) but share the passes over the training data:
    /// one pass per iteration serves every column that has not converged yet.
    ///
    /// - Parameters:
    ///   - rightHandSides: `[dimension, k]`.
    ///   - tolerance: stop when the relative residual falls below it.
    /// - Returns: the solutions `[dimension, k]` and the iterations of each column. H + λI must be
    ///   positive definite for CG to converge: a column that does not is reported, not hidden.
    public static func conjugateGradient<Task: InfluenceTask>(
        _ op: CurvatureOperator<Task>, damping: Double,
        rightHandSides: Tensor<Task.Scalar>, tolerance: Double = 1e-8,
        maximumIterations: Int? = nil
    ) -> (solutions: Tensor<Task.Scalar>, iterations: [Iterations]) {
        typealias S = Task.Scalar
        let n = op.dimension, k = rightHandSides.shape[1]
        precondition(rightHandSides.rank == 2 && n == rightHandSides.shape[0], "right-hand sides \(rightHandSides.shape) should be [\(n), k]")
        func applyDamped(_ columns: [Tensor<S>]) -> [Tensor<S>] {
            guard !columns.isEmpty else { return [] }
            let products = op.apply(columns: Tensor.stacked(columns, along: 1))
            return columns.indices.map { j in products.sliced(along: 1, j..<(j + 1)).reshaped(to: [n]) + columns[j] * S(damping) }
        }
        let limit = maximumIterations ?? 2 * n
        let b = (0..<k).map { rightHandSides.sliced(along: 1, $0..<($0 + 1)).reshaped(to: [n]) }
        let bNorm = b.map { Swift.max(Double(Tensor.dot($0, $0)).squareRoot(), Double.leastNormalMagnitude) }
        var x = [Tensor<S>](repeating: .zeros(shape: [n]), count: k), r = b, p = b
        var rr = r.map { Double(Tensor.dot($0, $0)) }
        var count = [Int](repeating: 0, count: k)
        var negative = [Bool](repeating: false, count: k), reached = [Bool](repeating: false, count: k)
        var active = (0..<k).filter { rr[$0].squareRoot() / bNorm[$0] > tolerance }
        while !active.isEmpty {
            let ap = applyDamped(active.map { p[$0] })
            var still: [Int] = []
            for (j, column) in active.enumerated() {
                let pap = Double(Tensor.dot(p[column], ap[j]))
                guard pap > 0 else { negative[column] = true; continue }  // not positive definite along p: stop this column
                let alpha = rr[column] / pap
                x[column].add(p[column], scaledBy: S(alpha))
                r[column].add(ap[j], scaledBy: S(-alpha))
                let next = Double(Tensor.dot(r[column], r[column]))
                p[column] = r[column] + p[column] * S(next / rr[column])
                rr[column] = next
                count[column] += 1
                if next.squareRoot() / bNorm[column] <= tolerance { reached[column] = true } else if count[column] < limit { still.append(column) }
            }
            active = still
            op.progress?("cg", count.max() ?? 0, limit)
        }
        // The true residual of every column, from one more shared pass.
        let final = applyDamped(x)
        let report = (0..<k).map { j -> Iterations in
            let residual = b[j] - final[j]
            let relative = Double(Tensor.dot(residual, residual)).squareRoot() / bNorm[j]
            let converged = relative <= tolerance * 10
            return Iterations(
                count: count[j], relativeResidual: relative, converged: converged, foundNegativeCurvature: negative[j],
                limitedByPrecision: !converged && reached[j])
        }
        return (Tensor.stacked(x, along: 1), report)
    }
}

extension CurvatureSolver {
    /// LiSSA (Agarwal et al. 2017): the stochastic Neumann recursion
    ///
    /// ```
    /// x₀ = b,   x_{j+1} = b + (I − (H_j + λI)/s) x_j,   (H + λI)⁻¹ b ≈ x_depth / s
    /// ```
    /// with H_j the curvature on a random mini-batch of `batchSize` distinct examples, averaged over
    /// `repeats` runs. It converges when the scale s exceeds the largest eigenvalue of H + λI.
    ///
    /// - Throws: ``InfluenceError/diverged(_:)`` when the iterate grows without bound or is not
    ///   finite, with the advice to raise the scale.
    public static func lissa<Task: InfluenceTask>(
        _ op: CurvatureOperator<Task>, damping: Double, rightHandSides: Tensor<Task.Scalar>,
        scale: Double, depth: Int, repeats: Int = 1, batchSize: Int, seed: UInt64 = 0
    ) throws -> Tensor<Task.Scalar> {
        typealias S = Task.Scalar
        precondition(scale > 0 && depth > 0 && repeats > 0 && batchSize > 0, "LiSSA needs positive scale, depth, repeats and batch size")
        let n = op.dimension
        var generator = SeededGenerator(seed: seed)
        let b = rightHandSides, k = rightHandSides.shape[1]
        precondition(b.rank == 2 && b.shape[0] == n, "right-hand sides \(b.shape) should be [\(n), k]")
        // Every column follows the same mini-batches, so one pass per step serves them all.
        let bNorm = Swift.max(
            Double(Tensor.dot(b.flattened(), b.flattened())).squareRoot() / Double(Swift.max(k, 1)).squareRoot(),
            Double.leastNormalMagnitude)
        var average = Tensor<S>.zeros(shape: [n, k])
        for _ in 0..<repeats {
            var x = b
            for step in 0..<depth {
                // A batch without replacement (partial Fisher–Yates): the whole set when batchSize ≥ N.
                var pool = Array(0..<op.exampleCount)
                let size = Swift.min(batchSize, pool.count)
                for i in 0..<size { pool.swapAt(i, i + Int(generator.next() % UInt64(pool.count - i))) }
                let hx = op.apply(columns: x, examples: Array(pool.prefix(size))) + x * S(damping)
                op.progress?("lissa", step + 1, depth)
                x = b + x - hx * S(1 / scale)
                let norm = Double(Tensor.dot(x.flattened(), x.flattened())).squareRoot() / Double(Swift.max(k, 1)).squareRoot()
                if !norm.isFinite || norm > 1e6 * bNorm * Double(depth) {
                    throw InfluenceError.diverged(
                        "LiSSA diverged at step \(step + 1) of \(depth) (‖x‖ = \(norm)); raise --lissa-scale above the largest eigenvalue of H + λI, or raise the damping"
                    )
                }
            }
            average += x
        }
        return average * S(1 / (scale * Double(repeats)))
    }

    /// The top `rank` eigenpairs of H from a Krylov space of `krylovDimension` operator products
    /// (Lanczos with full reorthogonalisation), and the low-rank inverse
    ///
    /// ```
    /// (H + λI)⁻¹ b ≈ V diag(1/(μ + λ)) Vᵀ b
    /// ```
    /// on the span of the top eigenvectors V. With rank equal to the dimension it is the exact
    /// solve. `byMagnitude` keeps the eigenvalues largest in absolute value instead (pyDVL's
    /// choice): for an indefinite Hessian that includes its most negative directions.
    public static func arnoldi<Task: InfluenceTask>(
        _ op: CurvatureOperator<Task>, damping: Double, rightHandSides: Tensor<Task.Scalar>,
        rank: Int, krylovDimension: Int, byMagnitude: Bool = false,
        seed: UInt64 = 0
    ) throws -> Tensor<Task.Scalar> {
        try LowRankInverse(op, damping: damping, rank: rank, krylovDimension: krylovDimension, byMagnitude: byMagnitude, seed: seed)
            .solve(rightHandSides)
    }

    /// `rank` eigenpairs of H from a Krylov space of `krylovDimension` operator products (Lanczos
    /// with full reorthogonalisation): the largest eigenvalues, or with `byMagnitude` the largest
    /// in absolute value. Damping-free, so that one computation serves any λ.
    public struct Eigenpairs: Sendable {
        /// Eigenvectors `[dimension, rank]` (orthonormal columns).
        public let vectors: Tensor<Double>
        /// μ, `[rank]`.
        public let values: Tensor<Double>

        /// Eigenpairs found elsewhere: `vectors` `[dimension, rank]` with orthonormal columns, `values` `[rank]`.
        public init(vectors: Tensor<Double>, values: Tensor<Double>) {
            precondition(vectors.rank == 2 && values.shape == [vectors.shape[1]], "eigenpairs \(vectors.shape), \(values.shape)")
            self.vectors = vectors
            self.values = values
        }

        /// Finds `rank` Ritz pairs of the operator's curvature by Lanczos from a random start drawn with `seed`.
        ///
        /// - Parameters:
        ///   - op: the curvature; one product per Krylov vector.
        ///   - rank: the eigenpairs kept, in 1...m with m = min(dimension, max(rank, krylovDimension)).
        ///   - krylovDimension: the size of the Krylov space (capped at the dimension).
        ///   - byMagnitude: keep the eigenvalues largest in absolute value rather than the largest.
        ///   - seed: seeds the start vector (and any restart after an invariant subspace).
        /// - Throws: ``LinearAlgebraError`` when the eigendecomposition of the tridiagonal matrix fails (a non-finite product).
        public init<Task: InfluenceTask>(
            _ op: CurvatureOperator<Task>, rank: Int, krylovDimension: Int, byMagnitude: Bool = false,
            seed: UInt64 = 0
        ) throws {
            typealias S = Task.Scalar
            let n = op.dimension
            let m = Swift.min(n, Swift.max(rank, krylovDimension))
            precondition(rank > 0 && rank <= m, "Arnoldi rank \(rank) must be in 1...\(m)")
            var generator = SeededGenerator(seed: seed)
            var basis: [Tensor<Double>] = []
            var q = Tensor<Double>.randomNormal(shape: [n], using: &generator)
            q = q * (1 / Double(Tensor.dot(q, q)).squareRoot())
            var tridiagonal = Tensor<Double>.zeros(shape: [m, m])
            for j in 0..<m {
                basis.append(q)
                var w = Tensor<Double>(op.apply(columns: Tensor<S>(q).reshaped(to: [n, 1]))).reshaped(to: [n])
                op.progress?("lanczos", j + 1, m)
                // Full reorthogonalisation (twice) against every basis vector keeps the basis orthonormal.
                for _ in 0..<2 {
                    for (i, v) in basis.enumerated() {
                        let c = Tensor.dot(w, v)
                        tridiagonal[i, j] += c
                        w.add(v, scaledBy: -c)
                    }
                }
                let norm = Double(Tensor.dot(w, w)).squareRoot()
                if j + 1 < m {
                    if norm < 1e-12 {  // an invariant subspace: restart from a random vector orthogonal to the basis
                        w = Tensor<Double>.randomNormal(shape: [n], using: &generator)
                        for v in basis { w.add(v, scaledBy: -Tensor.dot(w, v)) }
                        q = w * (1 / Double(Tensor.dot(w, w)).squareRoot())
                    } else {
                        tridiagonal[j + 1, j] = norm
                        q = w * (1 / norm)
                    }
                }
            }
            let symmetric = (tridiagonal + tridiagonal.transposed()) * 0.5
            let (values, ritzVectors) = try symmetric.symmetricEigendecomposition()
            let q2 = Tensor.stacked(basis, along: 1)  // [n, m]
            // The kept Ritz pairs: the largest `rank` values, or the largest in absolute value.
            let order = byMagnitude ? (0..<m).sorted { abs(values[$0]) > abs(values[$1]) } : Array((0..<m).reversed())
            let kept = Array(order.prefix(rank))
            let v = Tensor.matmul(q2, ritzVectors.indexSelect(along: 1, indices: kept))  // [n, rank]
            let mu = values.indexSelect(along: 0, indices: kept)
            self.init(vectors: v, values: mu)
        }
    }

    /// V diag(1/(μ + λ)) Vᵀ on `rank` eigenpairs of H found by Lanczos, computed once and reused
    /// for every query chunk and for self-influence.
    public struct LowRankInverse<Scalar: TensorScalar> {
        /// Eigenvectors `[dimension, rank]` (orthonormal columns).
        public let vectors: Tensor<Double>
        /// μ + λ, `[rank]`.
        public let shiftedValues: Tensor<Double>

        /// Finds the eigenpairs by Lanczos (see ``Eigenpairs/init(_:rank:krylovDimension:byMagnitude:seed:)``) and shifts them by λ.
        ///
        /// - Throws: ``InfluenceError/notPositiveDefinite(dimension:damping:lowestEigenvalue:)`` when a kept eigenvalue plus λ is not
        ///   positive; ``LinearAlgebraError`` when the eigendecomposition fails.
        public init<Task: InfluenceTask>(
            _ op: CurvatureOperator<Task>, damping: Double, rank: Int, krylovDimension: Int,
            byMagnitude: Bool = false, seed: UInt64 = 0
        ) throws where Task.Scalar == Scalar {
            let pairs = try Eigenpairs(op, rank: rank, krylovDimension: krylovDimension, byMagnitude: byMagnitude, seed: seed)
            try self.init(pairs, damping: damping)
        }

        /// The inverse on eigenpairs found earlier.
        ///
        /// - Throws: ``InfluenceError/notPositiveDefinite(dimension:damping:lowestEigenvalue:)`` when a
        ///   kept eigenvalue plus λ is not positive.
        public init(_ pairs: Eigenpairs, damping: Double) throws {
            let shifted = pairs.values + damping
            if !(shifted.min().scalar > 0) {
                throw InfluenceError.notPositiveDefinite(dimension: pairs.vectors.shape[0], damping: damping, lowestEigenvalue: pairs.values.min().scalar)
            }
            vectors = pairs.vectors
            shiftedValues = shifted
        }

        /// The low-rank inverse applied to the columns of b `[dimension, k]`.
        public func solve(_ b: Tensor<Scalar>) -> Tensor<Scalar> {
            let projected = Tensor.matmul(vectors, Tensor<Double>(b), transposeA: true) / shiftedValues.reshaped(to: [shiftedValues.shape[0], 1])
            return Tensor<Scalar>(Tensor.matmul(vectors, projected))
        }

        /// gᵀ V diag(1/(μ + λ)) Vᵀ g for each row of `g` `[rows, dimension]`.
        public func quadraticForms(_ g: Tensor<Scalar>) -> Tensor<Scalar> {
            let p = Tensor.matmul(Tensor<Double>(g), vectors)  // [rows, rank]
            return Tensor<Scalar>((p.squared() / shiftedValues.reshaped(to: [1, shiftedValues.shape[0]])).sum(alongAxes: [1]))
        }
    }
}
