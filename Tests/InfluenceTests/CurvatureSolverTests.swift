import Foundation
import Influence
import Testing
import TensorCore
import _TestSupport

@Suite("Exact and conjugate-gradient solves of (H + λI) x = b")
struct CurvatureSolverTests {
    @Test(arguments: CurvatureKind.allCases)
    func conjugateGradientMatchesTheExactSolve(kind: CurvatureKind) throws {
        let task = Fixtures.classificationTask(Double.self)
        let op = try CurvatureOperator(task: task, modules: [], kind: kind, batchSize: 4)
        var generator = testGenerator(13)
        let b = Tensor<Double>.randomNormal(shape: [op.dimension, 2], using: &generator)
        // Damping above the Hessian's most negative eigenvalue keeps H + λI positive definite.
        let h = op.denseMatrix()
        let lowest = try ((h + h.transposed()) * 0.5).symmetricEigendecomposition().values.min().scalar
        let damping = Swift.max(0, -lowest) + 0.05
        let exact = try CurvatureSolver.exact(op, damping: damping, rightHandSides: b)
        // The exact solution satisfies the system built from the dense matrix.
        let residual = Tensor.matmul((h + h.transposed()) * 0.5 + Tensor.identity(op.dimension) * damping, exact) - b
        #expect(residual.magnitude().max().scalar < 1e-10)
        let (cg, iterations) = CurvatureSolver.conjugateGradient(op, damping: damping, rightHandSides: b, tolerance: 1e-10)
        let r = compare(cg, exact, tolerance: 1e-8, "CG vs exact (\(kind))")
        #expect(r.passed, "\(r)")
        let converged = iterations.allSatisfy { $0.converged }
        #expect(converged, "\(iterations.map { $0.relativeResidual })")
        #expect(iterations.allSatisfy { $0.count <= 2 * op.dimension })
    }

    @Test func anIndefiniteHessianWithoutDampingIsAnErrorThatSuggestsDamping() throws {
        let task = Fixtures.classificationTask(Double.self)
        let op = try CurvatureOperator(task: task, modules: [], kind: .hessian)
        let h = op.denseMatrix()
        let lowest = try ((h + h.transposed()) * 0.5).symmetricEigendecomposition().values.min().scalar
        try #require(lowest < 0, "this model's Hessian happens to be positive definite (smallest eigenvalue \(lowest))")
        let b = Tensor<Double>.ones(shape: [op.dimension, 1])
        let error = #expect(throws: InfluenceError.self) { try CurvatureSolver.exact(op, damping: 0, rightHandSides: b) }
        #expect("\(error!)".contains("raise the damping"))
        _ = try CurvatureSolver.exact(op, damping: -lowest + 1e-3, rightHandSides: b)
    }
}
