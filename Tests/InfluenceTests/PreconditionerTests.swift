import Influence
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

/// A random orthogonal matrix: the eigenvectors of a random symmetric one.
func randomOrthogonal(_ n: Int, seed: UInt64) throws -> Tensor<Double> {
    var generator = testGenerator(seed)
    let r = Tensor<Double>.randomNormal(shape: [n, n], using: &generator)
    return try (r + r.transposed()).symmetricEigendecomposition().vectors
}

func randomPositive(_ shape: [Int], seed: UInt64) -> Tensor<Double> {
    var generator = testGenerator(seed)
    return Tensor<Double>.randomUniform(shape: shape, lower: 0.05, upper: 3, using: &generator)
}

@Suite("Preconditioner: (H + λI)⁻¹ per layer")
struct PreconditionerTests {
    /// Factors of the right structure for one `[2, 4]` layer, whose tensors the tests replace by hand
    /// (the factors' memberwise initialiser is not public).
    func factors(_ strategy: any FactorCurvatureStrategy) throws -> InfluenceFactors {
        try FactorisingRegression<Double>().fit(strategy)
    }

    /// Random per-example gradients `[3, 2, 4]`.
    var gradients: Tensor<Double> {
        var generator = testGenerator(71)
        return Tensor.randomNormal(shape: [3, 2, 4], using: &generator)
    }

    /// Applies a dense `[8, 8]` matrix to each row-major vec(G_n) of `[n, 2, 4]` gradients.
    func applyDense(_ matrix: Tensor<Double>, _ g: Tensor<Double>) -> Tensor<Double> {
        Tensor.matmul(g.reshaped(to: [g.shape[0], 8]), matrix, transposeB: true).reshaped(to: g.shape)
    }

    @Test func ekfacApplyEqualsTheDenseEigenbasisInverse() throws {
        // Oracle: (Q_S ⊗ Q_A) diag(1/(vec Λ + λ)) (Q_S ⊗ Q_A)ᵀ written out densely, with random
        // orthogonal Q_S, Q_A and a random positive Λ. Float64: 1e-12.
        var f = try factors(.ekfac)
        let qs = try randomOrthogonal(2, seed: 1), qa = try randomOrthogonal(4, seed: 2), lambda = randomPositive([2, 4], seed: 3)
        f.layers[0].gradientEigenvectors = qs
        f.layers[0].activationEigenvectors = qa
        f.layers[0].lambda = lambda
        let q = kronecker(qs, qa)
        let dense = Tensor.matmul(Tensor.matmul(q, Tensor.diagonal((lambda.flattened() + 0.3).reciprocal())), q, transposeB: true)
        let p = try Preconditioner<Double>(factors: f, damping: .value(0.3))
        let g = gradients
        let r = compare(p.apply(g, layer: 0), applyDense(dense, g), tolerance: 1e-12, "EK-FAC (H + λI)⁻¹G")
        #expect(r.passed, "\(r)")
        let selfExpected = (applyDense(dense, g) * g).reshaped(to: [3, -1]).sum(alongAxes: [1])
        let r2 = compare(p.selfScores(g, layer: 0), selfExpected, tolerance: 1e-12, "EK-FAC vec(G)ᵀ(H + λI)⁻¹vec(G)")
        #expect(r2.passed, "\(r2)")
        #expect(p.dampings == [0.3])
    }

    @Test func kfacApplyEqualsTheDenseDampedKroneckerSolve() throws {
        // Oracle: (S ⊗ A + λI)⁻¹ vec(G) by Cholesky, with S = Q_S diag(λ_S) Q_Sᵀ and A likewise
        // built from random eigenpairs. Float64: 1e-11.
        var f = try factors(.kfac)
        let qs = try randomOrthogonal(2, seed: 4), qa = try randomOrthogonal(4, seed: 5)
        let ls = randomPositive([2], seed: 6), la = randomPositive([4], seed: 7)
        f.layers[0].gradientEigenvectors = qs
        f.layers[0].activationEigenvectors = qa
        f.layers[0].gradientEigenvalues = ls
        f.layers[0].activationEigenvalues = la
        let s = Tensor.matmul(Tensor.matmul(qs, Tensor.diagonal(ls)), qs, transposeB: true)
        let a = Tensor.matmul(Tensor.matmul(qa, Tensor.diagonal(la)), qa, transposeB: true)
        let g = gradients
        let solved = try (kronecker(s, a) + Tensor<Double>.identity(8) * 0.05).choleskySolve(g.reshaped(to: [3, 8]).transposed())
        let p = try Preconditioner<Double>(factors: f, damping: .value(0.05))
        let r = compare(p.apply(g, layer: 0), solved.transposed().reshaped(to: [3, 2, 4]), tolerance: 1e-11, "K-FAC (S ⊗ A + λI)⁻¹G")
        #expect(r.passed, "\(r)")
    }

    @Test func diagonalApplyDividesElementwise() throws {
        var f = try factors(.diagonal)
        let lambda = randomPositive([2, 4], seed: 8)
        f.layers[0].lambda = lambda
        let g = gradients
        let p = try Preconditioner<Double>(factors: f, damping: .value(0.2))
        let r = compare(p.apply(g, layer: 0), g / (lambda + 0.2), tolerance: 1e-15, "G / (Λ + λ)")
        #expect(r.passed, "\(r)")
    }

    @Test func identityApplyReturnsTheGradient() throws {
        let g = gradients
        let p = try Preconditioner<Double>(factors: try factors(.identity), damping: .automatic)
        #expect(p.apply(g, layer: 0) == g)
        #expect(p.dampings == [0])
    }

    @Test func automaticDampingIsATenthOfTheMeanEigenvalue() throws {
        // EK-FAC and diagonal: 0.1 × mean(Λ). K-FAC: 0.1 × mean(λ_S λ_Aᵀ) = 0.1 × mean(λ_S) × mean(λ_A)
        // (the mean of an outer product is the product of the means). 1e-14.
        let lambda = randomPositive([2, 4], seed: 9)
        let expectedLambda = 0.1 * lambda.scalars.reduce(0, +) / 8
        for strategy in [EKFACStrategy(), DiagonalStrategy()] as [any FactorCurvatureStrategy] {
            var f = try factors(strategy)
            f.layers[0].lambda = lambda
            let d = try Preconditioner<Double>(factors: f, damping: .automatic).dampings
            let r = compare(d[0], expectedLambda, tolerance: 1e-14, "\(strategy) automatic damping")
            #expect(r.passed, "\(r)")
        }
        var f = try factors(.kfac)
        let ls = randomPositive([2], seed: 10), la = randomPositive([4], seed: 11)
        f.layers[0].gradientEigenvalues = ls
        f.layers[0].activationEigenvalues = la
        let d = try Preconditioner<Double>(factors: f, damping: .automatic).dampings
        let expected = 0.1 * (ls.scalars.reduce(0, +) / 2) * (la.scalars.reduce(0, +) / 4)
        let r = compare(d[0], expected, tolerance: 1e-14, "kfac automatic damping")
        #expect(r.passed, "\(r)")
    }

    @Test func nonPositiveShiftedEigenvaluesAreRefused() throws {
        // Λ + λ must be positive everywhere: a negative Λ entry (possible for a hand-made or
        // corrupted file, never for a fit) is refused unless the damping lifts it above zero.
        for strategy in [EKFACStrategy(), DiagonalStrategy()] as [any FactorCurvatureStrategy] {
            var f = try factors(strategy)
            var values = randomPositive([2, 4], seed: 12).scalars
            values[5] = -1
            f.layers[0].lambda = Tensor(shape: [2, 4], scalars: values)
            #expect(throws: InfluenceError.self, "\(strategy) with Λ + λ = -0.5") { try Preconditioner<Double>(factors: f, damping: .value(0.5)) }
            #expect(throws: InfluenceError.self, "\(strategy) with Λ + λ = 0") { try Preconditioner<Double>(factors: f, damping: .value(1)) }
            _ = try Preconditioner<Double>(factors: f, damping: .value(1.5))
            values = Array(repeating: -1, count: 8)
            f.layers[0].lambda = Tensor(shape: [2, 4], scalars: values)
            #expect(throws: InfluenceError.self, "\(strategy) automatic damping of a negative Λ") {
                try Preconditioner<Double>(factors: f, damping: .automatic)
            }
        }
        var f = try factors(.kfac)
        f.layers[0].gradientEigenvalues = Tensor([-2, 1])
        #expect(throws: InfluenceError.self) { try Preconditioner<Double>(factors: f, damping: .value(1e-3)) }
    }

    @Test func floatPreconditionerAgreesWithDouble() throws {
        // The same factors applied in Float32 and Float64: Float32 rounding, 1e-6.
        var f = try factors(.ekfac)
        f.layers[0].gradientEigenvectors = try randomOrthogonal(2, seed: 13)
        f.layers[0].activationEigenvectors = try randomOrthogonal(4, seed: 14)
        f.layers[0].lambda = randomPositive([2, 4], seed: 15)
        let g = gradients
        let single = try Preconditioner<Float>(factors: f, damping: .value(0.1)).apply(Tensor<Float>(g), layer: 0)
        let double = try Preconditioner<Double>(factors: f, damping: .value(0.1)).apply(g, layer: 0)
        let r = compare(single, double, tolerance: 1e-6, "Float32 vs Float64")
        #expect(r.passed, "\(r)")
    }
}
