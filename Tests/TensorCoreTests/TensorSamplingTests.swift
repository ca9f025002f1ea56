import Foundation
import Testing
import TensorCore
import _TestSupport

/// softmax of one row, in Double by the closed form.
private func naiveSoftmax(_ logits: [Double]) -> [Double] {
    let m = logits.max()!
    let e = logits.map { Foundation.exp($0 - m) }
    let s = e.reduce(0, +)
    return e.map { $0 / s }
}

@Suite("Tensor sampling")
struct TensorSamplingTests {
    /// 200k draws: each class frequency within 0.01 of softmax(logits) (standard error ≤ 0.0012).
    @Test func frequenciesMatchSoftmax() {
        let row: [Float] = [0.5, -1, 2, 0, 1.25]
        let draws = 200_000
        let logits = Tensor<Float>(shape: [1, row.count], scalars: row).broadcasted(to: [draws, row.count])
        var generator = testGenerator(1)
        let samples = Tensor.sampleCategorical(logits: logits, using: &generator)
        #expect(samples.count == draws)
        var counts = [Int](repeating: 0, count: row.count)
        for s in samples { counts[s] += 1 }
        let frequencies = Tensor<Double>(counts.map { Double($0) / Double(draws) })
        let expected = Tensor<Double>(naiveSoftmax(row.map(Double.init)))
        let maxDifference = zip(frequencies.scalars, expected.scalars).map { abs($0 - $1) }.max()!
        #expect(maxDifference < 0.01, "frequencies \(frequencies) vs softmax \(expected)")
    }

    /// Rows with different logits draw from their own distributions.
    @Test func eachRowUsesItsOwnLogits() {
        let rows: [[Double]] = [[3, 0, 0], [0, 0, 3]]
        let draws = 100_000
        let logits = makeTensor(shape: [2 * draws, 3]) { rows[$0[0] % 2][$0[1]] }
        var generator = testGenerator(2)
        let samples = Tensor.sampleCategorical(logits: logits, using: &generator)
        for r in 0..<2 {
            var counts = [0, 0, 0]
            for (i, s) in samples.enumerated() where i % 2 == r { counts[s] += 1 }
            let expected = naiveSoftmax(rows[r])
            for c in 0..<3 {
                #expect(
                    abs(Double(counts[c]) / Double(draws) - expected[c]) < 0.01,
                    "row \(r) class \(c): \(counts) vs \(expected)")
            }
        }
    }

    /// A logit of −1e4 has probability e^−10000 = 0 in Double and must never be drawn.
    @Test func negligibleClassIsNeverDrawn() {
        let draws = 200_000
        let row: [Float] = [0, -1e4, 1, -1e4]
        let logits = Tensor<Float>(shape: [1, 4], scalars: row).broadcasted(to: [draws, 4])
        var generator = testGenerator(3)
        let samples = Tensor.sampleCategorical(logits: logits, using: &generator)
        #expect(!samples.contains(1) && !samples.contains(3))
        #expect(samples.contains(0) && samples.contains(2))
        // The last class negligible is the case where rounding at the top of the cumulative sum matters.
        let lastNegligible = Tensor<Double>(shape: [1, 3], scalars: [5, 5, -1e4]).broadcasted(to: [draws, 3])
        #expect(!Tensor.sampleCategorical(logits: lastNegligible, using: &generator).contains(2))
    }

    @Test func dominantClassIsAlwaysDrawn() {
        let logits = Tensor<Float>(shape: [1, 4], scalars: [-1e4, -1e4, 0, -1e4]).broadcasted(to: [1000, 4])
        var generator = testGenerator(4)
        #expect(Tensor.sampleCategorical(logits: logits, using: &generator).allSatisfy { $0 == 2 })
    }

    @Test func sameSeedGivesSameDraws() {
        let logits: Tensor<Float> = randomTensor([500, 7], seed: 5)
        var g1 = testGenerator(6), g2 = testGenerator(6), g3 = testGenerator(7)
        let a = Tensor.sampleCategorical(logits: logits, using: &g1)
        let b = Tensor.sampleCategorical(logits: logits, using: &g2)
        let c = Tensor.sampleCategorical(logits: logits, using: &g3)
        #expect(a == b)
        #expect(a != c, "a different seed should change some of 500 draws")
        #expect(a.allSatisfy { (0..<7).contains($0) })
    }

    /// Rank-1 logits give a single draw; shift invariance of softmax gives the same draw.
    @Test func rankOneLogitsAndShiftInvariance() {
        let logits = Tensor<Double>([0.1, 0.7, -0.3])
        var g1 = testGenerator(8), g2 = testGenerator(8)
        let a = Tensor.sampleCategorical(logits: logits, using: &g1)
        let b = Tensor.sampleCategorical(logits: logits + 1000, using: &g2)
        #expect(a.count == 1 && (0..<3).contains(a[0]))
        #expect(a == b)
    }
}
