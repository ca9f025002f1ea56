import Autograd
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

    @Test func columnsSolvedTogetherFollowTheirOwnRecurrences() throws {
        // Columns of very different difficulty: b = 0, an eigenvector (one iteration) and random ones.
        let task = Fixtures.classificationTask(Double.self)
        let op = try CurvatureOperator(task: task, modules: [], kind: .ggn, batchSize: 5)
        let h = op.denseMatrix()
        let eigen = try ((h + h.transposed()) * 0.5).symmetricEigendecomposition()
        var generator = testGenerator(31)
        let n = op.dimension
        let b = Tensor.concatenated(
            [
                Tensor<Double>.zeros(shape: [n, 1]), eigen.vectors.sliced(along: 1, (n - 1)..<n),
                Tensor<Double>.randomNormal(shape: [n, 3], using: &generator),
            ], along: 1)
        let (together, report) = CurvatureSolver.conjugateGradient(op, damping: 0.1, rightHandSides: b, tolerance: 1e-9)
        for j in 0..<5 {
            let (alone, single) = CurvatureSolver.conjugateGradient(op, damping: 0.1, rightHandSides: b.sliced(along: 1, j..<(j + 1)), tolerance: 1e-9)
            #expect(single[0].count == report[j].count, "column \(j): \(single[0].count) alone, \(report[j].count) together")
            let r = compare(together.sliced(along: 1, j..<(j + 1)), alone, tolerance: 1e-12, "column \(j)")
            #expect(r.passed, "\(r)")
        }
        #expect(report[0].count == 0 && report[1].count == 1 && report[2].count > 5, "\(report.map(\.count))")
        #expect(report.allSatisfy { $0.converged })
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
        // The message names the lowest eigenvalue and the damping that would do.
        #expect("\(error!)".contains(String(format: "its lowest eigenvalue is %.4g, so a damping above %.4g would do", lowest, -lowest)), "\(error!)")
        _ = try CurvatureSolver.exact(op, damping: -lowest + 1e-3, rightHandSides: b)
    }
}

@Suite("Scores with exact and conjugate-gradient solves")
struct SolverScoreTests {
    @Test(arguments: [(CurvatureKind.ggn, "exact"), (.ggn, "cg"), (.hessian, "exact"), (.hessian, "cg")])
    func scoresEqualTheDenseSolveWithPerExampleGradients(kind: CurvatureKind, solverName: String) throws {
        let task = Fixtures.classificationTask(Float.self)
        let reference = Fixtures.classificationTask(Double.self)
        try copyParameters(from: task.model, to: reference.model)
        // Damping above the Hessian's most negative eigenvalue.
        let op64 = try CurvatureOperator(task: reference, modules: [], kind: kind)
        let h = op64.denseMatrix()
        let symmetric = (h + h.transposed()) * 0.5
        let damping = Swift.max(0, -(try symmetric.symmetricEigendecomposition().values.min().scalar)) + 0.1
        // Oracle: per-example gradients by autograd on each example alone, a Cholesky solve in Double.
        func gradient(_ loss: () -> Variable<Double>) -> Tensor<Double> {
            Tensor.concatenated(layerGradients(reference.model.linearLayers().map(\.layer), of: loss).map { $0.flattened() }, along: 0)
        }
        let train = (0..<reference.trainingExampleCount).map { m in
            gradient {
                var g = testGenerator(0); return reference.trainingLoss(indices: [m], labels: .data, generator: &g).loss
            }
        }
        let queries = (0..<reference.queryCount).map { q in gradient { reference.queryMeasurement(indices: [q]).loss } }
        let solved = try (symmetric + Tensor.identity(op64.dimension) * damping).choleskySolve(Tensor.stacked(queries, along: 1))
        let expected = Tensor.matmul(solved, Tensor.stacked(train, along: 1), transposeA: true)  // [queries, train]

        let op = try CurvatureOperator(task: task, modules: [], kind: kind)
        let solver: any OperatorCurvatureStrategy =
            solverName == "exact"
            ? ExactStrategy()
            : ConjugateGradientStrategy(tolerance: 1e-6, maximumIterations: nil, failsWhenNotConverged: true)
        let scores = try ScoreComputer(
            task: task, curvature: op, strategy: solver, damping: damping,
            configuration: ScoreConfiguration(perModule: true, batchSize: 3)
        ).compute()
        let r = compare(scores.pairwise, expected, tolerance: 1e-4, "\(solverName) \(kind) scores")
        #expect(r.passed, "\(r)")
        var sum = Tensor<Float>.zeros(shape: scores.pairwise.shape)
        for (_, part) in scores.perModule { sum += part }
        let m = compare(sum, scores.pairwise, tolerance: 1e-5, "per-module sum")
        #expect(m.passed, "\(m)")
    }

    @Test(arguments: ["exact", "arnoldi", "layer-wise exact"])
    func selfScoresOfTheKeptInverseEqualThePairwiseDiagonal(variant: String) throws {
        // Queries are the training examples, so the self score of m is the pairwise score (m, m).
        let task = Fixtures.classificationTask(Float.self, queriesAreTraining: true)
        let configuration = ScoreConfiguration(damping: .value(0.1), selfInfluence: true, batchSize: 3, queryChunkSize: 4)
        let computer: ScoreComputer<ClassificationTask<Float>>
        switch variant {
        case "layer-wise exact":
            computer = try layerwiseComputer(task, base: ExactStrategy(), damping: 0.1, batchSize: 3, configuration: configuration)
        default:
            let op = try CurvatureOperator(task: task, modules: [], kind: .ggn)
            let strategy: any OperatorCurvatureStrategy = variant == "exact" ? ExactStrategy() : ArnoldiStrategy(rank: 12, krylovDimension: 31)
            computer = try ScoreComputer(
                task: task, curvature: op, strategy: strategy,
                damping: 0.1, configuration: configuration)
        }
        let scores = try computer.compute()
        let n = task.trainingExampleCount
        let diagonal = Tensor<Float>((0..<n).map { scores.pairwise[$0, $0] })
        let r = compare(scores.selfScores!, diagonal, tolerance: 1e-4, "\(variant) self vs diagonal")
        #expect(r.passed, "\(r)")
        #expect(scores.selfScores!.min().scalar > 0)
    }

    @Test func conjugateGradientThatCannotConvergeIsReported() throws {
        let task = Fixtures.classificationTask(Float.self)
        let op = try CurvatureOperator(task: task, modules: [], kind: .ggn)
        let failing = try ScoreComputer(
            task: task, curvature: op,
            strategy: ConjugateGradientStrategy(
                tolerance: 1e-12, maximumIterations: 1,
                failsWhenNotConverged: true),
            damping: 0.01, configuration: ScoreConfiguration())
        #expect(throws: InfluenceError.self) { try failing.compute() }
        let warning = try ScoreComputer(
            task: task, curvature: op,
            strategy: ConjugateGradientStrategy(
                tolerance: 1e-12, maximumIterations: 1,
                failsWhenNotConverged: false),
            damping: 0.01, configuration: ScoreConfiguration())
        _ = try warning.compute()
        // One message for the chunk, naming how many queries failed.
        #expect(warning.warnings.count == 1, "\(warning.warnings)")
        #expect(
            warning.warnings[0].contains("\(task.queryCount) of \(task.queryCount) query columns")
                && warning.warnings[0].contains("raise the damping or the iteration limit"), "\(warning.warnings)")
    }

    @Test func negativeCurvatureIsNamedInTheReport() throws {
        let task = Fixtures.classificationTask(Double.self)
        let op = try CurvatureOperator(task: task, modules: [], kind: .hessian)
        let h = op.denseMatrix()
        let eigen = try ((h + h.transposed()) * 0.5).symmetricEigendecomposition()
        try #require(eigen.values[0] < 0, "this model's Hessian happens to be positive definite")
        // b along the most negative eigenvector: the first step meets pᵀHp < 0.
        let b = eigen.vectors.sliced(along: 1, 0..<1)
        let (_, report) = CurvatureSolver.conjugateGradient(op, damping: 0, rightHandSides: b, tolerance: 1e-8)
        #expect(report[0].foundNegativeCurvature && !report[0].converged, "\(report)")
        let task32 = Fixtures.classificationTask(Float.self)
        try copyParameters(from: task.model, to: task32.model)
        let op32 = try CurvatureOperator(task: task32, modules: [], kind: .hessian)
        let computer = try ScoreComputer(
            task: task32, curvature: op32,
            strategy: ConjugateGradientStrategy(
                tolerance: 1e-6, maximumIterations: nil,
                failsWhenNotConverged: true),
            damping: 0, configuration: ScoreConfiguration())
        let error = #expect(throws: InfluenceError.self) { try computer.compute() }
        #expect("\(error!)".contains("not positive definite"), "\(error!)")
    }
}

@Suite("LiSSA and Arnoldi against the exact solve")
struct LissaArnoldiTests {
    func setting() throws -> (op: CurvatureOperator<ClassificationTask<Double>>, b: Tensor<Double>, h: Tensor<Double>) {
        let task = Fixtures.classificationTask(Double.self)
        let op = try CurvatureOperator(task: task, modules: [], kind: .ggn, batchSize: 7)
        var generator = testGenerator(17)
        let h = op.denseMatrix()
        return (op, Tensor<Double>.randomNormal(shape: [op.dimension, 2], using: &generator), (h + h.transposed()) * 0.5)
    }

    @Test func fullRankArnoldiIsTheExactSolve() throws {
        let (op, b, _) = try setting()
        let exact = try CurvatureSolver.exact(op, damping: 0.1, rightHandSides: b)
        let arnoldi = try CurvatureSolver.arnoldi(op, damping: 0.1, rightHandSides: b, rank: op.dimension, krylovDimension: op.dimension)
        let r = compare(arnoldi, exact, tolerance: 1e-8, "full-rank Arnoldi")
        #expect(r.passed, "\(r)")
    }

    @Test func lowRankArnoldiProjectsOntoTheTopEigenvectors() throws {
        let (op, b, h) = try setting()
        let rank = 5
        let (values, vectors) = try h.symmetricEigendecomposition()
        let v = vectors.sliced(along: 1, (op.dimension - rank)..<op.dimension)
        let mu = values.sliced(along: 0, (op.dimension - rank)..<op.dimension) + 0.1
        let expected = Tensor.matmul(v, Tensor.matmul(v, b, transposeA: true) / mu.reshaped(to: [rank, 1]))
        let arnoldi = try CurvatureSolver.arnoldi(op, damping: 0.1, rightHandSides: b, rank: rank, krylovDimension: op.dimension)
        let r = compare(arnoldi, expected, tolerance: 1e-7, "rank-5 Arnoldi")
        #expect(r.passed, "\(r)")
    }

    @Test func arnoldiByMagnitudeKeepsTheNegativeDirectionsOfAnIndefiniteHessian() throws {
        let task = Fixtures.classificationTask(Double.self)
        let op = try CurvatureOperator(task: task, modules: [], kind: .hessian)
        let h = op.denseMatrix()
        let (values, vectors) = try ((h + h.transposed()) * 0.5).symmetricEigendecomposition()
        try #require(values[0] < 0, "this model's Hessian happens to be positive definite")
        let rank = 6, n = op.dimension
        let kept = (0..<n).sorted { abs(values[$0]) > abs(values[$1]) }.prefix(rank)
        try #require(kept.contains { values[$0] < 0 }, "no negative eigenvalue among the \(rank) largest in magnitude")
        let damping = -values[0] + 0.05
        var generator = testGenerator(41)
        let b = Tensor<Double>.randomNormal(shape: [n, 2], using: &generator)
        let v = vectors.indexSelect(along: 1, indices: Array(kept))
        let mu = values.indexSelect(along: 0, indices: Array(kept)) + damping
        let expected = Tensor.matmul(v, Tensor.matmul(v, b, transposeA: true) / mu.reshaped(to: [rank, 1]))
        let arnoldi = try CurvatureSolver.arnoldi(op, damping: damping, rightHandSides: b, rank: rank, krylovDimension: n, byMagnitude: true)
        let r = compare(arnoldi, expected, tolerance: 1e-7, "rank-\(rank) Arnoldi by magnitude")
        #expect(r.passed, "\(r)")
        // The default keeps the largest eigenvalues, which differ here.
        let largest = try CurvatureSolver.arnoldi(op, damping: damping, rightHandSides: b, rank: rank, krylovDimension: n)
        #expect((largest - expected).magnitude().max().scalar > 1e-3 * expected.magnitude().max().scalar)
    }

    @Test func convergedLissaIsTheExactSolve() throws {
        let (op, b, h) = try setting()
        let largest = try h.symmetricEigendecomposition().values.max().scalar
        // Full-batch products make the recursion deterministic; (1 − λ/s)^depth bounds the error.
        let exact = try CurvatureSolver.exact(op, damping: 0.1, rightHandSides: b)
        let lissa = try CurvatureSolver.lissa(
            op, damping: 0.1, rightHandSides: b, scale: 1.5 * (largest + 0.1), depth: 3000,
            batchSize: op.exampleCount * 10)
        let r = compare(lissa, exact, tolerance: 1e-6, "LiSSA")
        #expect(r.passed, "\(r)")
    }

    @Test func lissaWithTooSmallAScaleIsReportedAsDivergence() throws {
        let (op, b, h) = try setting()
        let largest = try h.symmetricEigendecomposition().values.max().scalar
        let error = #expect(throws: InfluenceError.self) {
            try CurvatureSolver.lissa(op, damping: 0.1, rightHandSides: b, scale: largest / 4, depth: 2000, batchSize: 7)
        }
        #expect("\(error!)".contains("raise --lissa-scale"))
    }
}

@Suite("The layer-wise (block-diagonal) variant")
struct LayerwiseSolverTests {
    @Test(arguments: ["exact", "cg"])
    func layerwiseScoresUseTheBlockDiagonalOfTheCurvature(solverName: String) throws {
        let task = Fixtures.classificationTask(Float.self)
        let reference = Fixtures.classificationTask(Double.self)
        try copyParameters(from: task.model, to: reference.model)
        let op64 = try CurvatureOperator(task: reference, modules: [], kind: .ggn)
        let h = op64.denseMatrix()
        // Zero the curvature between the two layers.
        let first = op64.shapes[0][0] * op64.shapes[0][1]
        var blockDiagonal = (h + h.transposed()) * 0.5
        blockDiagonal.withUnsafeMutableBufferPointer { p in
            let n = op64.dimension
            for i in 0..<n { for j in 0..<n where (i < first) != (j < first) { p[i * n + j] = 0 } }
        }
        func gradient(_ loss: () -> Variable<Double>) -> Tensor<Double> {
            Tensor.concatenated(layerGradients(reference.model.linearLayers().map(\.layer), of: loss).map { $0.flattened() }, along: 0)
        }
        let train = (0..<reference.trainingExampleCount).map { m in
            gradient {
                var g = testGenerator(0); return reference.trainingLoss(indices: [m], labels: .data, generator: &g).loss
            }
        }
        let queries = (0..<reference.queryCount).map { q in gradient { reference.queryMeasurement(indices: [q]).loss } }
        let solved = try (blockDiagonal + Tensor.identity(op64.dimension) * 0.1).choleskySolve(Tensor.stacked(queries, along: 1))
        let expected = Tensor.matmul(solved, Tensor.stacked(train, along: 1), transposeA: true)
        let solver: any OperatorCurvatureStrategy =
            solverName == "exact"
            ? ExactStrategy()
            : ConjugateGradientStrategy(tolerance: 1e-7, maximumIterations: nil, failsWhenNotConverged: true)
        let scores = try layerwiseComputer(task, base: solver, damping: 0.1, batchSize: 4, configuration: ScoreConfiguration()).compute()
        let r = compare(scores.pairwise, expected, tolerance: 1e-4, "layer-wise \(solverName)")
        #expect(r.passed, "\(r)")
    }
}
