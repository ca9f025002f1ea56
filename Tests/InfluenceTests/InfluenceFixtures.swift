import Autograd
import Foundation
import Influence
import NeuralNetworks
import TensorCore
import _TestSupport

/// Tiny models, data and independent oracles shared by the influence tests.
///
/// Every oracle here is built from the autograd engine and dense linear algebra only, never from
/// the code under test: per-example gradients from one backward pass per example alone, dense
/// Fishers from those gradients, and Kronecker products written out element by element.
enum Fixtures {
    /// A one-layer GPT-2 small enough for per-example autograd, without dropout and with an
    /// untied head, so that every Linear layer's gradient is that layer's alone.
    static let gptConfiguration = GPT2Configuration(
        vocabularySize: 11, contextLength: 8, embeddingSize: 8, layerCount: 1, headCount: 2, innerSize: 8,
        residualDropout: 0, embeddingDropout: 0, attentionDropout: 0, tieWordEmbeddings: false)

    /// Sequences of different lengths, so that every batch of more than one is padded.
    static let sequences: [[Int]] = [[1, 5, 2, 7, 3, 9], [4, 8], [10, 3, 6, 2], [2, 2, 9, 1, 7], [6, 1, 3]]

    static func languageModel<Scalar: TensorScalar>(_: Scalar.Type, seed: UInt64 = 3) -> GPT2LanguageModel<Scalar> {
        let model = GPT2LanguageModel<Scalar>(configuration: gptConfiguration, seed: seed)
        model.evaluate()
        return model
    }

    /// A `[3, 4, 3]` tanh classifier on 7 random examples (and 2 queries) with labels in 0..<3.
    static func classificationTask<Scalar: TensorScalar>(
        _: Scalar.Type, seed: UInt64 = 5,
        queriesAreTraining: Bool = false
    ) -> ClassificationTask<Scalar> {
        let model = MultilayerPerceptron<Scalar>(sizes: [3, 4, 3], activation: .tanh, seed: seed)
        var generator = testGenerator(seed &+ 100)
        let features = Tensor<Scalar>.randomNormal(shape: [7, 3], using: &generator)
        let labels = [0, 2, 1, 1, 0, 2, 2]
        let queryFeatures = queriesAreTraining ? features : Tensor<Scalar>.randomNormal(shape: [2, 3], using: &generator)
        return ClassificationTask(
            model: model, trainingFeatures: features, trainingLabels: labels,
            queryFeatures: queryFeatures, queryLabels: queriesAreTraining ? labels : [1, 0])
    }
}

/// Copies every parameter of `source` into `target` (converting the precision), so that a Float
/// model and a Double model hold exactly the same numbers.
func copyParameters<A: TensorScalar, B: TensorScalar>(from source: Module<A>, to target: Module<B>) throws {
    try target.load(Dictionary(uniqueKeysWithValues: source.state().map { ($0.name, Tensor<B>($0.value)) }))
}

/// The gradient of `loss` with respect to each layer's weight, with the bias gradient appended as
/// the last column (`[out, in (+1)]`), by one ordinary backward pass over every parameter.
func layerGradients<Scalar: TensorScalar>(_ layers: [any TrackableLayer<Scalar>], of loss: () -> Variable<Scalar>) -> [Tensor<Scalar>] {
    for layer in layers {
        precondition(layer.weight.requiresGradient && (layer.bias?.requiresGradient ?? true), "oracle needs trainable layers")
    }
    let weights = layers.map { $0.weight.variable }
    let biases = layers.map { $0.bias?.variable }
    let value = withGradients { loss() }
    let all = gradients(of: value, at: weights + biases.compactMap { $0 }).map(\.value)
    var biasGradients = all[layers.count...].makeIterator()
    return zip(layers, all.prefix(layers.count)).map { layer, weight in
        // A convolution's [out, in, kh, kw] gradient is its block's [out, in·kh·kw].
        let w = weight.reshaped(to: [layer.outputCount, layer.inputCount])
        guard layer.bias != nil, let b = biasGradients.next() else { return w }
        return Tensor.concatenated([w, b.reshaped(to: [layer.outputCount, 1])], along: 1)
    }
}

/// Per-layer gradients of each training example's loss taken alone (data labels), `[examples, out, in (+1)]`.
func perExampleTrainingGradients<Task: InfluenceTask>(
    _ task: Task, layers: [any TrackableLayer<Task.Scalar>],
    examples: [Int]
) -> [Tensor<Task.Scalar>] {
    var generator = testGenerator()
    let each = examples.map { m in layerGradients(layers) { task.trainingLoss(indices: [m], labels: .data, generator: &generator).loss } }
    return layers.indices.map { l in Tensor.stacked(each.map { $0[l] }, along: 0) }
}

/// Per-layer gradients of each query's measurement taken alone, `[queries, out, in (+1)]`.
func perQueryGradients<Task: InfluenceTask>(_ task: Task, layers: [any TrackableLayer<Task.Scalar>]) -> [Tensor<Task.Scalar>] {
    let each = (0..<task.queryCount).map { q in layerGradients(layers) { task.queryMeasurement(indices: [q]).loss } }
    return layers.indices.map { l in Tensor.stacked(each.map { $0[l] }, along: 0) }
}

/// The dense Fisher (1/N) Σ_b vec(G_b) vec(G_b)ᵀ of per-example gradients `[N, out, in]` (row-major vec).
func denseFisher(_ perExample: Tensor<Double>) -> Tensor<Double> {
    let n = perExample.shape[0]
    let v = perExample.reshaped(to: [n, -1])
    return Tensor.matmul(v, v, transposeA: true) * (1 / Double(n))
}

/// The Kronecker product A ⊗ B, written out element by element: (A ⊗ B)[(i,k),(j,l)] = A[i,j]·B[k,l].
func kronecker(_ a: Tensor<Double>, _ b: Tensor<Double>) -> Tensor<Double> {
    let (m, n, p, q) = (a.shape[0], a.shape[1], b.shape[0], b.shape[1])
    var scalars = [Double](repeating: 0, count: m * p * n * q)
    for i in 0..<m {
        for j in 0..<n {
            for k in 0..<p {
                for l in 0..<q {
                    scalars[(i * p + k) * (n * q) + j * q + l] = a[i, j] * b[k, l]
                }
            }
        }
    }
    return Tensor(shape: [m * p, n * q], scalars: scalars)
}

/// The diagonal of a square matrix.
func diagonal(of matrix: Tensor<Double>) -> Tensor<Double> {
    Tensor((0..<matrix.shape[0]).map { matrix[$0, $0] })
}

/// A fresh empty directory under the temporary directory, removed by the caller.
func temporaryDirectory(_ label: String) throws -> URL {
    TestTemporaryRoot.directory("influence-tests-\(label)")
}

/// The layer-wise variant of a solver strategy on a task's Gauss–Newton curvature.
func layerwiseComputer<Task: InfluenceTask>(
    _ task: Task, base: any CurvatureStrategy, damping: Double, batchSize: Int,
    configuration: ScoreConfiguration
) throws -> ScoreComputer<Task> where Task.Scalar == Float {
    var configuration = configuration
    configuration.damping = .value(damping)
    let fitted = try LayerwiseStrategy(base: base).fit(CurvatureContext(task: task, curvature: .ggn, curvatureBatchSize: batchSize).erased())
    return try ScoreComputer(task: task, fitted: fitted, configuration: configuration)
}
