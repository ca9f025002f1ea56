import Testing
import TensorCore
import _TestSupport

@Suite("Tensor creation")
struct TensorCreationTests {
    @Test func constantFills() {
        #expect(Tensor<Float>.zeros(shape: [2, 3]).scalars == [Float](repeating: 0, count: 6))
        #expect(Tensor<Double>.ones(shape: [3]).scalars == [1, 1, 1])
        let full = Tensor<Double>.full(-2.5, shape: [2, 2])
        #expect(full.shape == [2, 2] && full.scalars == [-2.5, -2.5, -2.5, -2.5])
        let like = Tensor<Float>(shape: [2, 1, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect(Tensor.zeros(like: like) == Tensor<Float>(repeating: 0, shape: [2, 1, 3]))
        #expect(Tensor.ones(like: like) == Tensor<Float>(repeating: 1, shape: [2, 1, 3]))
        #expect(Tensor<Float>.zeros(shape: []).shape == [] && Tensor<Float>.zeros(shape: []).scalar == 0)
    }

    @Test func arangeCountsUpToButExcludingEnd() {
        #expect(Tensor<Float>.arange(0, 5).scalars == [0, 1, 2, 3, 4])
        #expect(Tensor<Float>.arange(5).scalars == [0, 1, 2, 3, 4])
        #expect(Tensor<Double>.arange(1, 2, step: 0.25).scalars == [1, 1.25, 1.5, 1.75])
        #expect(Tensor<Double>.arange(5, 0, step: -2).scalars == [5, 3, 1])
        #expect(Tensor<Double>.arange(0, 1, step: 0.3).scalarCount == 4, "ceil(1 / 0.3) = 4 elements")
        #expect(Tensor<Float>.arange(3, 1).scalarCount == 0, "an empty range gives no elements")
    }

    @Test(arguments: [1, 2, 5])
    func identityHasOnesOnTheDiagonal(n: Int) {
        let i = Tensor<Double>.identity(n)
        #expect(i.shape == [n, n])
        for r in 0..<n { for c in 0..<n { #expect(i[r, c] == (r == c ? 1 : 0)) } }
    }

    @Test func diagonalPlacesValues() {
        let d = Tensor<Float>.diagonal(Tensor([3, -1, 2]))
        let expected = Tensor<Float>(rows: [[3, 0, 0], [0, -1, 0], [0, 0, 2]])
        let c = compare(d, expected, tolerance: 0, "diagonal")
        #expect(c.passed, "\(c)")
    }

    /// Sample mean and standard deviation of 50k draws with mean 3 and deviation 2: the mean's own
    /// standard error is 2/√50000 ≈ 0.009, so 0.05 is over five standard errors.
    @Test func randomNormalHasRequestedMoments() {
        var g = testGenerator(7)
        let x = Tensor<Double>.randomNormal(shape: [50_000], mean: 3, standardDeviation: 2, using: &g)
        let v = x.scalars
        let mean = v.reduce(0, +) / Double(v.count)
        let sd = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
        #expect(abs(mean - 3) < 0.05, "mean \(mean)")
        #expect(abs(sd - 2) < 0.05, "standard deviation \(sd)")
    }

    @Test func randomNormalIsReproducibleAndUsesTheGeneratorsNormals() {
        var g1 = testGenerator(11), g2 = testGenerator(11)
        let a = Tensor<Float>.randomNormal(shape: [4, 5], mean: 1, standardDeviation: 0.5, using: &g1)
        let b = Tensor<Float>.randomNormal(shape: [4, 5], mean: 1, standardDeviation: 0.5, using: &g2)
        #expect(a == b)
        var g3 = testGenerator(11)
        let expected = Tensor<Float>(shape: [4, 5], scalars: (0..<20).map { _ in 1 + 0.5 * Float(g3.nextNormal()) })
        let c = compare(a, expected, tolerance: 0, "randomNormal vs nextNormal")
        #expect(c.passed, "\(c)")
    }

    @Test func randomUniformStaysInRange() {
        var g = testGenerator(3)
        let x = Tensor<Float>.randomUniform(shape: [100, 100], lower: -2, upper: 5, using: &g)
        let v = x.scalars
        #expect(v.allSatisfy { $0 >= -2 && $0 < 5 })
        // Mean of U(-2, 5) is 1.5, standard error 7/√12/100 ≈ 0.02.
        let mean = v.reduce(0, +) / Float(v.count)
        #expect(abs(mean - 1.5) < 0.1, "mean \(mean)")
        #expect(v.min()! < -1.9 && v.max()! > 4.9, "draws should cover the interval")
    }
}
