import Testing
import TensorCore

/// The leading eigenpairs of symmetric matrices against the full decomposition.
@Suite("Leading symmetric eigenpairs (dsyevr)")
struct LeadingEigenpairsTests {
    @Test(arguments: [(6, 1), (40, 5), (40, 40)])
    func theLeadingPairsAreThoseOfTheFullDecomposition(order n: Int, count k: Int) throws {
        var g = SeededGenerator(seed: UInt64(n * 100 + k))
        let x = Tensor<Double>.randomNormal(shape: [n + 3, n], using: &g)
        let a = Tensor.matmul(x, x, transposeA: true)
        let (values, vectors) = try a.symmetricEigendecomposition()
        let (leading, leadingVectors) = try a.largestSymmetricEigenpairs(k)
        #expect(leadingVectors.shape == [n, k])
        let all = values.scalars
        for i in 0..<k {
            #expect(abs(leading[i] - all[n - 1 - i]) <= 1e-9 * all[n - 1])
            // The same vector up to sign.
            let dot = (0..<n).reduce(0.0) { $0 + leadingVectors[$1, i] * vectors[$1, n - 1 - i] }
            #expect(abs(abs(dot) - 1) < 1e-8, "pair \(i): |⟨v, v'⟩| = \(abs(dot))")
        }
        #expect(try a.symmetricEigenvalues().enumerated().allSatisfy { abs($1 - all[$0]) <= 1e-9 * all[n - 1] })
    }
}
