import Autograd
import Influence
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

/// A CNN small enough for dense oracles: conv2d 2 channels 2×2 (padding 1×0) → tanh → 2×2
/// average pooling → flatten → linear 3, on 1×4×5 images; 37 parameters.
enum ConvolutionFixture {
    static let steps: [NetworkStep] = [
        .conv2d(outChannels: 2, kernelSize: (2, 2), stride: (1, 1), padding: (1, 0), dilation: (1, 1), bias: true),
        .activation(.tanh),
        .pool(.average, kernelSize: (2, 2), stride: (2, 2), padding: (0, 0)),
        .flatten,
        .linear(outFeatures: 3, bias: true),
    ]
    static let inputShape = [1, 4, 5]
    static let labels = [0, 2, 1, 1, 0, 2]

    static func task<Scalar: TensorScalar>(_: Scalar.Type, seed: UInt64 = 5) -> ClassificationTask<Scalar> {
        let network = SequentialNetwork<Scalar>(steps: steps, inputShape: inputShape, seed: seed)
        var generator = testGenerator(seed &+ 7)
        let features = Tensor<Scalar>.randomNormal(shape: [6, 20], using: &generator)
        let queries = Tensor<Scalar>.randomNormal(shape: [2, 20], using: &generator)
        return ClassificationTask(model: network, trainingFeatures: features, trainingLabels: labels, queryFeatures: queries, queryLabels: [1, 2])
    }

    /// The windows of one 1-channel 4×5 image for the first convolution, written out: row t
    /// (output position (i, j), row-major over 5×4) holds x[i − 1 + u, j + v] for u, v ∈ {0, 1}
    /// (zero outside the image), then 1 for the bias.
    static func patches(_ image: [Double]) -> [[Double]] {
        var rows: [[Double]] = []
        for i in 0..<5 {
            for j in 0..<4 {
                var row: [Double] = []
                for u in 0..<2 {
                    for v in 0..<2 {
                        let y = i - 1 + u, x = j + v
                        row.append(y >= 0 && y < 4 ? image[y * 5 + x] : 0)
                    }
                }
                rows.append(row + [1])
            }
        }
        return rows
    }
}

@Suite("Influence through convolutions (KFC), against autograd and dense oracles")
struct ConvolutionInfluenceTests {
    func layers<Scalar>(_ task: ClassificationTask<Scalar>) -> [any TrackableLayer<Scalar>] { task.model.trackableLayers().map(\.layer) }

    @Test func perExampleGradientsOfConvolutionsEqualEachExampleAlone() throws {
        // Oracle: an ordinary backward pass over each example alone ([out, in, kh, kw] viewed as
        // [out, in·kh·kw], bias column appended); both sides Float64: 1e-11.
        let task = ConvolutionFixture.task(Double.self)
        let capture = try GradientCapture(model: task.model, patterns: [])
        #expect(capture.names == ["layers.0", "layers.4"])
        #expect(capture.gradientShapes == [[2, 5], [3, 9]])
        var generator = testGenerator()
        let indices = [4, 0, 3, 5, 1]
        let batch = capture.record { task.trainingLoss(indices: indices, labels: .data, generator: &generator) }
        #expect(capture.positionCounts == [20, 1])
        let expected = perExampleTrainingGradients(task, layers: layers(task), examples: indices)
        for (i, layer) in batch.layers.enumerated() {
            let r = compare(layer.perExampleGradients(examples: indices.count), expected[i], tolerance: 1e-11, capture.names[i])
            #expect(r.passed, "\(r)")
        }
    }

    @Test func activationCovarianceOfAConvolutionAveragesItsWindows() throws {
        // KFC: A = (1/(N·P)) Σ_n Σ_t ā_nt ā_ntᵀ over the P = 20 windows of each of the N = 6
        // images, the windows written out by hand (padding rows of zeros included, as
        // Kronfluence's unfold has them). Float64: 1e-12.
        let task = ConvolutionFixture.task(Double.self)
        let factors = try FactorFitter(task: task, modules: ["layers.0"], configuration: FitConfiguration(strategy: .kfac, labels: .data, batchSize: 4)).fit()
        var expected = [Double](repeating: 0, count: 25)
        for n in 0..<6 {
            let image = task.trainingFeatures.sliced(along: 0, n..<(n + 1)).scalars
            for row in ConvolutionFixture.patches(image) {
                for a in 0..<5 { for b in 0..<5 { expected[a * 5 + b] += row[a] * row[b] / 120 } }
            }
        }
        let r = compare(factors.layers[0].activationCovariance!, Tensor(shape: [5, 5], scalars: expected), tolerance: 1e-12, "A")
        #expect(r.passed, "\(r)")
        #expect(factors.tokenCount == 6 && factors.exampleCount == 6)
    }

    @Test func ekfacLambdaOfAConvolutionIsTheRotatedFisherDiagonal() throws {
        // Λ = diag(Qᵀ F Q) with F the dense Fisher of per-example gradients from autograd and
        // Q = Q_S ⊗ Q_A from the fit: whatever the Kronecker factors, this is EK-FAC's definition. 1e-10.
        let task = ConvolutionFixture.task(Double.self, seed: 8)
        let factors = try FactorFitter(task: task, modules: [], configuration: FitConfiguration(strategy: .ekfac, labels: .data, batchSize: 4)).fit()
        let perExample = perExampleTrainingGradients(task, layers: layers(task), examples: Array(0..<6))
        for l in 0..<2 {
            let f = factors.layers[l]
            let q = kronecker(f.gradientEigenvectors!, f.activationEigenvectors!)
            let rotated = diagonal(of: Tensor.matmul(Tensor.matmul(q, denseFisher(perExample[l]), transposeA: true), q))
            let r = compare(f.lambda!.flattened(), rotated, tolerance: 1e-10, "Λ of layer \(l)")
            #expect(r.passed, "\(r)")
        }
    }

    @Test func identityScoresOfACNNArePlainGradientDotProducts() throws {
        // Σ_layers ⟨G_q, G_m⟩ by autograd in Float64 on the same weights; Float32 pipeline: 1e-5.
        let task = ConvolutionFixture.task(Float.self, seed: 11)
        let oracle = ConvolutionFixture.task(Double.self, seed: 11)
        let factors = try FactorFitter(task: task, modules: [], configuration: FitConfiguration(strategy: .identity)).fit()
        let scores = try ScoreComputer(task: task, factors: factors, factorsPath: "memory", configuration: ScoreConfiguration()).compute()
        let training = perExampleTrainingGradients(oracle, layers: layers(oracle), examples: Array(0..<6))
        let queries = perQueryGradients(oracle, layers: layers(oracle))
        var expected = Tensor<Double>.zeros(shape: [2, 6])
        for l in 0..<2 { expected += Tensor.matmul(queries[l].reshaped(to: [2, -1]), training[l].reshaped(to: [6, -1]), transposeB: true) }
        let r = compare(scores.pairwise, expected, tolerance: 1e-5, "identity scores")
        #expect(r.passed, "\(r)")
    }

    @Test(arguments: ["exact", "cg"])
    func solvedScoresOfACNNEqualTheDenseSolve(solverName: String) throws {
        // Oracle: g_qᵀ (G + λI)⁻¹ g_m with G the dense Gauss–Newton matrix of the Float64 task and
        // per-example gradients from autograd, a Cholesky solve in Double. Float32 pipeline: 1e-4.
        let task = ConvolutionFixture.task(Float.self, seed: 13)
        let reference = ConvolutionFixture.task(Double.self, seed: 13)
        let op64 = try CurvatureOperator(task: reference, modules: [], kind: .ggn)
        #expect(op64.dimension == 37)
        let g = op64.denseMatrix()
        let damping = 0.05
        func gradient(_ loss: () -> Variable<Double>) -> Tensor<Double> {
            Tensor.concatenated(layerGradients(layers(reference), of: loss).map { $0.flattened() }, along: 0)
        }
        let train = (0..<6).map { m in
            gradient {
                var s = testGenerator(0); return reference.trainingLoss(indices: [m], labels: .data, generator: &s).loss
            }
        }
        let queries = (0..<2).map { q in gradient { reference.queryMeasurement(indices: [q]).loss } }
        let solved = try ((g + g.transposed()) * 0.5 + Tensor.identity(37) * damping).choleskySolve(Tensor.stacked(queries, along: 1))
        let expected = Tensor.matmul(solved, Tensor.stacked(train, along: 1), transposeA: true)
        let op = try CurvatureOperator(task: task, modules: [], kind: .ggn)
        let solver: any OperatorCurvatureStrategy =
            solverName == "exact"
            ? ExactStrategy()
            : ConjugateGradientStrategy(tolerance: 1e-6, maximumIterations: nil, failsWhenNotConverged: true)
        let scores = try ScoreComputer(
            task: task, curvature: op, strategy: solver, damping: damping,
            configuration: ScoreConfiguration(batchSize: 4)
        ).compute()
        let r = compare(scores.pairwise, expected, tolerance: 1e-4, "\(solverName) scores of a CNN")
        #expect(r.passed, "\(r)")
    }

    @Test func ekfacScoresOfACNNFollowTheExactOnes() throws {
        // EK-FAC approximates the Gauss–Newton solve; on this CNN its scores must agree with the
        // exact ones in ranking (Pearson > 0.9 over the 12 pairs), which a wrong convolution
        // block (transposed, misaligned bias column) does not.
        let task = ConvolutionFixture.task(Float.self, seed: 17)
        let factors = try FactorFitter(task: task, modules: [], configuration: FitConfiguration(strategy: .ekfac, labels: .data, batchSize: 3)).fit()
        let ekfac = try ScoreComputer(task: task, factors: factors, factorsPath: "memory", configuration: ScoreConfiguration(damping: .value(0.05))).compute()
        let op = try CurvatureOperator(task: task, modules: [], kind: .ggn)
        let exact = try ScoreComputer(task: task, curvature: op, strategy: ExactStrategy(), damping: 0.05, configuration: ScoreConfiguration()).compute()
        let a = ekfac.pairwise.scalars.map(Double.init), b = exact.pairwise.scalars.map(Double.init)
        let (ma, mb) = (a.reduce(0, +) / 12, b.reduce(0, +) / 12)
        let cov = zip(a, b).map { ($0 - ma) * ($1 - mb) }.reduce(0, +)
        let pearson = cov / (a.map { ($0 - ma) * ($0 - ma) }.reduce(0, +).squareRoot() * b.map { ($0 - mb) * ($0 - mb) }.reduce(0, +).squareRoot())
        #expect(pearson > 0.9, "EK-FAC against exact on a CNN: Pearson \(pearson)")
    }

    @Test func perTokenScoresAreRefusedForConvolutionsByName() throws {
        let task = ConvolutionFixture.task(Float.self)
        let factors = try FactorFitter(task: task, modules: [], configuration: FitConfiguration(strategy: .identity)).fit()
        #expect {
            _ = try ScoreComputer(task: task, factors: factors, factorsPath: "memory", configuration: ScoreConfiguration(perToken: true)).compute()
        } throws: { "\($0)".contains("layers.0") || "\($0)".contains("convolution") }
    }
}
