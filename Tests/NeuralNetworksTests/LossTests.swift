import Autograd
import Foundation
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

@Suite("Losses and label sampling")
struct LossTests {
    let logits = Tensor<Double>(rows: [[1, 2, 0.5], [-1, 0, 3], [0.2, 0.2, 0.2]])

    func manualCrossEntropy(_ row: Int, _ label: Int) -> Double {
        let r = (0..<3).map { logits[row, $0] }
        return log(r.map { exp($0) }.reduce(0, +)) - r[label]
    }

    @Test func crossEntropyMatchesFormulaForEachReduction() {
        let labels = [1, 2, 0]
        let manual = (0..<3).map { manualCrossEntropy($0, labels[$0]) }
        let none = Losses.crossEntropy(logits: Variable(logits), labels: labels, reduction: .none).value
        let r = compare(none, Tensor(manual), tolerance: 1e-14, "per row")
        #expect(r.passed, "\(r)")
        #expect(abs(Losses.crossEntropy(logits: Variable(logits), labels: labels, reduction: .sum).value.scalar - manual.reduce(0, +)) < 1e-13)
        #expect(abs(Losses.crossEntropy(logits: Variable(logits), labels: labels).value.scalar - manual.reduce(0, +) / 3) < 1e-13)
    }

    @Test func ignoredRowsCountNeitherInSumNorInMean() {
        let labels = [1, Losses.ignoredLabel, 0]
        let mean = Losses.crossEntropy(logits: Variable(logits), labels: labels).value.scalar
        #expect(abs(mean - (manualCrossEntropy(0, 1) + manualCrossEntropy(2, 0)) / 2) < 1e-13)
        let x = Variable(logits, requiresGradient: true)
        let g = gradients(of: Losses.crossEntropy(logits: x, labels: labels, reduction: .sum), at: [x])[0].value
        #expect(g.sliced(along: 0, 1..<2) == Tensor.zeros(shape: [1, 3]), "an ignored row received a gradient")
    }

    @Test func nextTokenLossesPredictTheFollowingToken() {
        // Logits [1, 3, 3]; tokens [0, 2, 1]: positions 0 → 2 and 1 → 1.
        let l = logits.reshaped(to: [1, 3, 3])
        let losses = Losses.nextTokenLosses(logits: Variable(l), tokens: [0, 2, 1]).value
        let r = compare(losses, Tensor(shape: [1, 2], scalars: [manualCrossEntropy(0, 2), manualCrossEntropy(1, 1)]), tolerance: 1e-14, "next token")
        #expect(r.passed, "\(r)")
        let masked = Losses.nextTokenLosses(logits: Variable(l), tokens: [0, 2, 1], mask: [1, 1, 0]).value
        #expect(masked[0, 1] == 0, "a padding target must not count")
    }

    @Test func squaredErrorSumsFeaturesAndAveragesRows() {
        let p = Tensor<Double>(rows: [[1, 2], [3, 5]]), t = Tensor<Double>(rows: [[0, 0], [3, 3]])
        #expect(Losses.meanSquaredError(Variable(p), t).value.scalar == 4.5)
        #expect(Losses.meanSquaredError(Variable(p), t, reduction: .sum).value.scalar == 9)
    }

    @Test func sampledLabelsFollowTheModelDistribution() {
        var generator = testGenerator(12)
        let row = Tensor<Double>(rows: [[0.5, -1, 2]])
        let many = Tensor<Double>.concatenated(Array(repeating: row, count: 60_000), along: 0)
        let labels = LabelSampling.categorical(logits: many, using: &generator)
        let p = row.softmax(alongAxis: 1).scalars
        for c in 0..<3 {
            let frequency = Double(labels.filter { $0 == c }.count) / 60_000
            #expect(abs(frequency - p[c]) < 0.01, "class \(c): frequency \(frequency), probability \(p[c])")
        }
        let prediction = Tensor<Double>.full(2, shape: [50_000])
        let targets = LabelSampling.gaussian(prediction: prediction, using: &generator).scalars
        let mean = targets.reduce(0, +) / 50_000
        let variance = targets.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 50_000
        // σ² = ½: the Gaussian whose negative log-likelihood is Σ (f − y)² without a ½.
        #expect(abs(mean - 2) < 0.02 && abs(variance - 0.5) < 0.015, "mean \(mean), variance \(variance)")
    }
}
