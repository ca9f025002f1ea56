import TensorCore

/// Solves (H + λI) x = b for the curvature of a ``CurvatureOperator``, over the row-major
/// concatenation of its per-layer blocks.
public enum CurvatureSolver {
    /// The exact solve: the dense matrix H + λI, its Cholesky factor, and a triangular solve per
    /// right-hand side. For models of up to about ten thousand tracked parameters.
    ///
    /// - Parameter rightHandSides: `[dimension, k]`.
    /// - Throws: ``InfluenceError/notPositiveDefinite(dimension:damping:)`` when H + λI is not
    ///   positive definite (a Hessian away from a minimum, or too little damping).
    public static func exact<Task: InfluenceTask>(_ op: CurvatureOperator<Task>, damping: Double,
                                                   rightHandSides: Tensor<Task.Scalar>) throws -> Tensor<Task.Scalar> {
        let n = op.dimension
        precondition(rightHandSides.rank == 2 && rightHandSides.shape[0] == n,
                     "right-hand sides \(rightHandSides.shape) should be [\(n), k]")
        let h = op.denseMatrix()
        let damped = (h + h.transposed()) * 0.5 + Tensor.identity(n) * Task.Scalar(damping)
        let factor: Tensor<Double>
        do { factor = try Tensor<Double>(damped).choleskyFactor() } catch LinearAlgebraError.notPositiveDefinite {
            throw InfluenceError.notPositiveDefinite(dimension: n, damping: damping)
        }
        return Tensor<Task.Scalar>(try Tensor.choleskySolve(factor: factor, Tensor<Double>(rightHandSides)))
    }

    /// The outcome of a conjugate-gradient solve.
    public struct Iterations: Sendable {
        public var count: Int
        /// ‖b − (H + λI)x‖ / ‖b‖ at the end.
        public var relativeResidual: Double
        public var converged: Bool
    }

    /// Conjugate gradient on (H + λI) x = b, one right-hand side at a time, with operator
    /// products only (no dense matrix).
    ///
    /// - Parameters:
    ///   - rightHandSides: `[dimension, k]`.
    ///   - tolerance: stop when the relative residual falls below it.
    /// - Returns: the solutions `[dimension, k]` and the iterations of each column. H + λI must be
    ///   positive definite for CG to converge: a column that does not is reported, not hidden.
    public static func conjugateGradient<Task: InfluenceTask>(_ op: CurvatureOperator<Task>, damping: Double,
                                                               rightHandSides: Tensor<Task.Scalar>, tolerance: Double = 1e-8,
                                                               maximumIterations: Int? = nil) -> (solutions: Tensor<Task.Scalar>, iterations: [Iterations]) {
        typealias S = Task.Scalar
        let n = op.dimension
        let shapes = op.shapes
        func blocks(_ x: Tensor<S>) -> [Tensor<S>] {
            var offset = 0
            return shapes.map { s in
                defer { offset += s[0] * s[1] }
                return x.sliced(along: 0, offset..<(offset + s[0] * s[1])).reshaped(to: s)
            }
        }
        func applyDamped(_ x: Tensor<S>) -> Tensor<S> {
            Tensor.concatenated(op.apply(blocks(x)).map { $0.flattened() }, along: 0) + x * S(damping)
        }
        let limit = maximumIterations ?? 2 * n
        var solutions: [Tensor<S>] = [], report: [Iterations] = []
        for column in 0..<rightHandSides.shape[1] {
            let b = rightHandSides.sliced(along: 1, column..<(column + 1)).reshaped(to: [n])
            let bNorm = Swift.max(Double(Tensor.dot(b, b)).squareRoot(), Double.leastNormalMagnitude)
            var x = Tensor<S>.zeros(shape: [n]), r = b, p = r
            var rr = Double(Tensor.dot(r, r))
            var k = 0
            while k < limit && rr.squareRoot() / bNorm > tolerance {
                let ap = applyDamped(p)
                let pap = Double(Tensor.dot(p, ap))
                guard pap > 0 else { break }   // not positive definite along p
                let alpha = rr / pap
                x.add(p, scaledBy: S(alpha))
                r.add(ap, scaledBy: S(-alpha))
                let next = Double(Tensor.dot(r, r))
                p = r + p * S(next / rr)
                rr = next
                k += 1
            }
            let residual = b - applyDamped(x)
            let relative = Double(Tensor.dot(residual, residual)).squareRoot() / bNorm
            solutions.append(x)
            report.append(Iterations(count: k, relativeResidual: relative, converged: relative <= tolerance * 10))
        }
        return (Tensor.stacked(solutions, along: 1), report)
    }
}
