import Autograd
import Datasets
import Foundation
import Influence
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

@Suite("Influence tasks: training losses and query measurements")
struct InfluenceTaskTests {
    /// Σ_t −log p(x_t | x_<t) of one sequence alone, over target positions t in `targets`, by
    /// Losses.nextTokenLosses (position t − 1 predicts token t).
    func sequenceLoss(_ model: GPT2LanguageModel<Double>, _ tokens: [Int], targets: Range<Int>) -> Double {
        guard targets.lowerBound < targets.upperBound else { return 0 }
        let losses = Losses.nextTokenLosses(logits: model(tokens: tokens, batchSize: 1), tokens: tokens).value
        return losses.sliced(along: 1, (targets.lowerBound - 1)..<(targets.upperBound - 1)).sum().scalar
    }

    @Test func languageModelTrainingLossIsTheSumOverUnpaddedSequences() {
        // Oracle: each sequence alone, Σ over t ≥ 1; the padded batch must add nothing. 1e-12.
        let model = Fixtures.languageModel(Double.self)
        let task = LanguageModelingTask(model: model, training: Fixtures.sequences, queries: [])
        var generator = testGenerator()
        let loss = task.trainingLoss(indices: [0, 1, 2, 3, 4], labels: .data, generator: &generator)
        let expected = Fixtures.sequences.map { sequenceLoss(model, $0, targets: 1..<$0.count) }.reduce(0, +)
        let r = compare(loss.loss.value.scalar, expected, tolerance: 1e-12, "summed training loss")
        #expect(r.passed, "\(r)")
        #expect(loss.rowsPerExample == 6)
        #expect(loss.rowMask == Fixtures.sequences.flatMap { s in (0..<6).map { $0 < s.count } })
    }

    @Test func promptedQueryMeasuresTheCompletionTokensOnly() {
        // f = −log p(completion | prompt) = Σ_{t ≥ prompt} −log p(x_t | x_<t), batched with padding.
        // A prompt covering the whole query measures nothing. 1e-12.
        let model = Fixtures.languageModel(Double.self, seed: 5)
        let queries = [[1, 5, 2, 7, 3, 9], [10, 3, 6, 2], [4, 8, 1], [2, 6]]
        let prompts = [3, 1, 3, 0]
        let task = LanguageModelingTask(model: model, training: [], queries: queries, queryPromptLengths: prompts)
        for (q, tokens) in queries.enumerated() {
            let alone = task.queryMeasurement(indices: [q]).loss.value.scalar
            let expected = sequenceLoss(model, tokens, targets: Swift.max(1, prompts[q])..<tokens.count)
            let r = compare(alone, expected, tolerance: 1e-12, floor: 1e-300, "query \(q) with prompt \(prompts[q])")
            #expect(r.passed, "\(r)")
        }
        let batched = task.queryMeasurement(indices: [0, 1, 2, 3]).loss.value.scalar
        let expected = queries.enumerated().map { sequenceLoss(model, $1, targets: Swift.max(1, prompts[$0])..<$1.count) }.reduce(0, +)
        let r = compare(batched, expected, tolerance: 1e-12, "padded batch of prompted queries")
        #expect(r.passed, "\(r)")
        #expect(task.queryMeasurement(indices: [2]).loss.value.scalar == 0)
    }

    @Test func sequencesLongerThanTheContextAreTruncated() {
        let task = LanguageModelingTask(model: Fixtures.languageModel(Double.self), training: [Array(0..<11)], queries: [Array(0..<10)])
        #expect(task.training[0] == Array(0..<8) && task.queries[0] == Array(0..<8))
        #expect(task.trainingTokens(0) == Array(0..<8) && task.queryPromptLengths == [0])
    }

    @Test func classificationLossIsTheSummedCrossEntropy() {
        // Oracle: −log softmax(f(x))[y] computed from the logits by hand. 1e-12.
        let task = Fixtures.classificationTask(Double.self)
        var generator = testGenerator()
        let loss = task.trainingLoss(indices: [1, 4, 6], labels: .data, generator: &generator)
        let logits =
            task.network is MultilayerPerceptron<Double>
            ? (task.network as! MultilayerPerceptron<Double>)(Variable(task.trainingFeatures)).value : Tensor<Double>.zeros(shape: [7, 3])
        let expected = [1, 4, 6].map { m -> Double in
            let row = (0..<3).map { logits[m, $0] }
            return Foundation.log(row.map { Foundation.exp($0) }.reduce(0, +)) - row[task.trainingLabels[m]]
        }.reduce(0, +)
        let r = compare(loss.loss.value.scalar, expected, tolerance: 1e-12, "cross-entropy")
        #expect(r.passed, "\(r)")
        #expect(loss.rowsPerExample == 1 && loss.rowMask == nil)
        #expect(task.trainingTokens(0) == nil && task.queryCount == 2 && task.trainingExampleCount == 7)
    }

    @Test func sampledClassLabelsFollowTheModelsDistribution() {
        // With a constant predictive distribution p (zero weights, bias [0, 1, 2]), the loss of
        // N sampled labels is Σ −log p(y_i), whose mean is the entropy H(p) and whose standard
        // error is sd(−log p(y))/√N. Tolerance: 5 standard errors.
        let model = MultilayerPerceptron<Double>(sizes: [2, 3])
        model.layers.elements[0].weight.value = Tensor.zeros(shape: [3, 2])
        model.layers.elements[0].bias!.value = Tensor([0, 1, 2])
        let n = 4000
        let task = ClassificationTask(
            model: model, trainingFeatures: Tensor.ones(shape: [n, 2]), trainingLabels: Array(repeating: 0, count: n),
            queryFeatures: Tensor.ones(shape: [1, 2]), queryLabels: [0])
        var generator = testGenerator(83)
        let mean = task.trainingLoss(indices: Array(0..<n), labels: .sampled, generator: &generator).loss.value.scalar / Double(n)
        let z = [0.0, 1, 2].map(Foundation.exp).reduce(0, +)
        let p = [0.0, 1, 2].map { Foundation.exp($0) / z }
        let entropy = p.map { -$0 * Foundation.log($0) }.reduce(0, +)
        let variance = p.map { $0 * Foundation.log($0) * Foundation.log($0) }.reduce(0, +) - entropy * entropy
        #expect(abs(mean - entropy) < 5 * (variance / Double(n)).squareRoot(), "mean sampled loss \(mean), entropy \(entropy)")
        let dataLoss = task.trainingLoss(indices: Array(0..<n), labels: .data, generator: &generator).loss.value.scalar / Double(n)
        #expect(abs(dataLoss - (-Foundation.log(p[0]))) < 1e-12, "data labels are all class 0")
    }

    @Test func regressionLossIsTheSummedSquaredErrorAndSampledTargetsFollowItsGaussian() {
        // Data labels: Σ_i Σ_j (f(x_i)_j − y_ij)², oracle by hand (1e-12). Sampled labels
        // y = f(x) + ε, ε ~ N(0, ½) (the Gaussian whose negative log-likelihood is this loss): the
        // loss is Σ ε², mean ½ per output with variance ½, over 3000 × 2 draws; tolerance 5
        // standard errors.
        let problem = FactorisingRegression<Double>()
        var generator = testGenerator(89)
        let loss = problem.task.trainingLoss(indices: [0, 5, 11], labels: .data, generator: &generator).loss.value.scalar
        let targets = problem.task.trainingTargets
        let expected = [0, 5, 11].map { m in (0..<2).map { targets[m, $0] * targets[m, $0] }.reduce(0, +) }.reduce(0, +)
        let r = compare(loss, expected, tolerance: 1e-12, "squared error at zero weights")
        #expect(r.passed, "\(r)")

        let n = 3000
        let model = MultilayerPerceptron<Double>(sizes: [3, 2], seed: 4)
        var featureGenerator = testGenerator(97)
        let task = RegressionTask(
            model: model, trainingFeatures: Tensor.randomNormal(shape: [n, 3], using: &featureGenerator),
            trainingTargets: Tensor.zeros(shape: [n, 2]), queryFeatures: Tensor.zeros(shape: [1, 3]),
            queryTargets: Tensor.zeros(shape: [1, 2]))
        let sampled = task.trainingLoss(indices: Array(0..<n), labels: .sampled, generator: &generator).loss.value.scalar / Double(2 * n)
        #expect(abs(sampled - 0.5) < 5 * (0.5 / Double(2 * n)).squareRoot(), "mean squared noise \(sampled)")
    }
}
