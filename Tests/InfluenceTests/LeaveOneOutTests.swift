import Autograd
import Foundation
import Influence
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

/// The classic check of Koh & Liang (2017): for L2-regularised logistic regression trained to
/// convergence, the predicted change of a query's loss when one training point is removed agrees
/// with actually retraining without it.
///
/// Objective: J(θ) = (1/N) Σ_i ℓ(z_i; θ) + (λ/2)‖θ‖², so H = ∇²(mean loss) + λI — exactly the damped
/// curvature of the exact strategy with damping λ. Removing z_m (keeping 1/N) moves θ by
/// −(1/N)·(−H⁻¹∇ℓ_m), so ΔL(z_q) ≈ score(q, m) / N.
@Suite("Leave-one-out retraining against influence (L2-regularised logistic regression)")
struct LeaveOneOutTests {
    static let lambda = 0.05

    /// Newton's method on J over the examples `keep`, from `model`'s current parameters.
    func train(_ model: MultilayerPerceptron<Double>, features: Tensor<Double>, labels: [Int], keep: [Int], total: Int) throws {
        let x = features.indexSelect(along: 0, indices: keep), y = keep.map { labels[$0] }
        let task = ClassificationTask(model: model, trainingFeatures: x, trainingLabels: y, queryFeatures: x, queryLabels: y)
        let op = try CurvatureOperator(task: task, modules: [], kind: .hessian, batchSize: 64)
        let layer = model.linearLayers()[0].layer
        for _ in 0..<30 {
            // Gradient and Hessian of the mean over `keep`, rescaled to the 1/N of the full objective.
            let share = Double(keep.count) / Double(total)
            let g = layerGradients([layer]) {
                Losses.crossEntropy(logits: model(Variable(x)), labels: y, reduction: .sum) * (1 / Double(total))
            }[0].flattened()
            let theta = Tensor.concatenated([layer.weight.value, layer.bias!.value.reshaped(to: [layer.outputCount, 1])], along: 1).flattened()
            let gradient = g + theta * Self.lambda
            let h = op.denseMatrix() * share + Tensor.identity(op.dimension) * Self.lambda
            let step = try ((h + h.transposed()) * 0.5).choleskySolve(gradient)
            let next = (theta - step).reshaped(to: [layer.outputCount, layer.inputCount + 1])
            layer.weight.value = next.sliced(along: 1, 0..<layer.inputCount)
            layer.bias!.value = next.sliced(along: 1, layer.inputCount..<(layer.inputCount + 1)).reshaped(to: [layer.outputCount])
            if Double(Tensor.dot(step, step)).squareRoot() < 1e-13 { break }
        }
    }

    @Test func predictedRemovalEffectsMatchLeaveOneOutRetraining() throws {
        // Two overlapping Gaussian classes in 4 dimensions, 200 points, and a query point: each removal
        // is a small perturbation, the regime in which the first-order prediction holds.
        var generator = testGenerator(101)
        let n = 200
        let labels = (0..<n).map { $0 % 2 }
        let noise = Tensor<Double>.randomNormal(shape: [n, 4], using: &generator)
        let shift = Tensor<Double>(shape: [n, 1], scalars: labels.map { $0 == 0 ? -0.7 : 0.7 })
        let features = noise + shift
        let query = Tensor<Double>(rows: [[0.3, -0.2, 0.5, 0.1]]), queryLabel = [1]

        let model = MultilayerPerceptron<Double>(sizes: [4, 2], seed: 7)
        try train(model, features: features, labels: labels, keep: Array(0..<n), total: n)
        let optimum = model.state()
        func queryLoss(_ m: MultilayerPerceptron<Double>) -> Double {
            withoutGradients { Losses.crossEntropy(logits: m(Variable(query)), labels: queryLabel, reduction: .sum).value.scalar }
        }
        let base = queryLoss(model)

        // Actual: retrain without each point, from the optimum, to convergence.
        var actual: [Double] = []
        for m in 0..<n {
            try model.load(Dictionary(uniqueKeysWithValues: optimum.map { ($0.name, $0.value) }))
            try train(model, features: features, labels: labels, keep: (0..<n).filter { $0 != m }, total: n)
            actual.append(queryLoss(model) - base)
        }
        try model.load(Dictionary(uniqueKeysWithValues: optimum.map { ($0.name, $0.value) }))

        // Predicted: exact-strategy scores with damping λ on the same weights (Float pipeline).
        let floatModel = MultilayerPerceptron<Float>(sizes: [4, 2], seed: 7)
        try copyParameters(from: model, to: floatModel)
        let task = ClassificationTask(
            model: floatModel, trainingFeatures: Tensor<Float>(features), trainingLabels: labels,
            queryFeatures: Tensor<Float>(query), queryLabels: queryLabel)
        let op = try CurvatureOperator(task: task, modules: [], kind: .hessian)
        let scores = try ScoreComputer(
            task: task, curvature: op, strategy: ExactStrategy(), damping: Self.lambda,
            configuration: ScoreConfiguration(batchSize: 8)
        ).compute()
        let predicted = (0..<n).map { Double(scores.pairwise[0, $0]) / Double(n) }

        let pearson = correlation(predicted, actual)
        #expect(pearson >= 0.99, "Pearson \(pearson) between predicted and actual leave-one-out changes")
        // The first-order prediction is also right in size, not only in order.
        let scale = actual.map(abs).max()!
        let worst = zip(predicted, actual).map { abs($0 - $1) }.max()!
        #expect(worst <= 0.1 * scale, "largest error \(worst) against a largest change \(scale)")
    }

    func correlation(_ a: [Double], _ b: [Double]) -> Double {
        let ma = a.reduce(0, +) / Double(a.count), mb = b.reduce(0, +) / Double(b.count)
        let cov = zip(a, b).map { ($0 - ma) * ($1 - mb) }.reduce(0, +)
        let va = a.map { ($0 - ma) * ($0 - ma) }.reduce(0, +), vb = b.map { ($0 - mb) * ($0 - mb) }.reduce(0, +)
        return cov / (va * vb).squareRoot()
    }
}
