import Autograd
import Foundation
import Influence
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

@Suite("TracIn over checkpoints")
struct TracInTests {
    @Test func scoresAreLearningRateWeightedGradientDotProductsSummedOverCheckpoints() throws {
        let rates = [0.3, 0.05]
        // Two checkpoints: the same architecture and data, different weights.
        let tasks = [Fixtures.classificationTask(Float.self, seed: 5), Fixtures.classificationTask(Float.self, seed: 6)]
        let references = [Fixtures.classificationTask(Double.self, seed: 5), Fixtures.classificationTask(Double.self, seed: 6)]
        for (t, r) in zip(tasks, references) { try copyParameters(from: t.model, to: r.model) }
        var expected = Tensor<Double>.zeros(shape: [2, 7])
        for (reference, rate) in zip(references, rates) {
            func gradient(_ loss: () -> Variable<Double>) -> Tensor<Double> {
                Tensor.concatenated(layerGradients(reference.model.linearLayers().map(\.layer), of: loss).map { $0.flattened() }, along: 0)
            }
            let train = (0..<7).map { m in
                gradient {
                    var g = testGenerator(0); return reference.trainingLoss(indices: [m], labels: .data, generator: &g).loss
                }
            }
            let queries = (0..<2).map { q in gradient { reference.queryMeasurement(indices: [q]).loss } }
            expected += Tensor.matmul(Tensor.stacked(queries), Tensor.stacked(train), transposeB: true) * rate
        }
        let scores = try TracIn.scores(
            checkpoints: Array(zip(tasks, rates)).map { ($0.0, $0.1) }, modules: [],
            configuration: ScoreConfiguration(perModule: true, batchSize: 3))
        let r = compare(scores.pairwise, expected, tolerance: 1e-5, "TracIn")
        #expect(r.passed, "\(r)")
        var sum = Tensor<Float>.zeros(shape: [2, 7])
        for (_, part) in scores.perModule { sum += part }
        let m = compare(sum, scores.pairwise, tolerance: 1e-5, "per-module sum")
        #expect(m.passed, "\(m)")
    }
}
