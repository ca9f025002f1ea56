import Autograd
import Influence
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

/// A problem on which K-FAC is exact: a single Linear layer `[3] → [2]` with zero weight and bias,
/// squared error, trained on every pair of `p` inputs and `q` targets. The output gradient is
/// g = 2(f − y) = −2y whatever the input, so the dense Fisher
///
/// ```
/// F = (1/pq) Σ_x Σ_y (g gᵀ) ⊗ (ā āᵀ) = S ⊗ A
/// ```
/// factorises exactly (row-major vec of G = g āᵀ is g ⊗ ā).
struct FactorisingRegression<Scalar: TensorScalar> {
    static var inputs: [[Double]] { [[1, 0.5, -1], [0.3, -2, 0.7], [-1.2, 0.4, 0.9], [0.8, 1.1, 0.2]] }
    static var targets: [[Double]] { [[1, -0.5], [0.2, 0.9], [-0.7, -1.3]] }
    let task: RegressionTask<Scalar>

    init() {
        let model = MultilayerPerceptron<Scalar>(sizes: [3, 2])
        model.layers.elements[0].weight.value = Tensor.zeros(shape: [2, 3])
        model.layers.elements[0].bias!.value = Tensor.zeros(shape: [2])
        var features: [[Scalar]] = [], targets: [[Scalar]] = []
        for x in Self.inputs { for y in Self.targets { features.append(x.map { Scalar($0) }); targets.append(y.map { Scalar($0) }) } }
        task = RegressionTask(
            model: model, trainingFeatures: Tensor(rows: features), trainingTargets: Tensor(rows: targets),
            queryFeatures: Tensor(rows: [[0.5, -0.3, 1.5], [-0.9, 0.1, 0.6]]),
            queryTargets: Tensor(rows: [[0.4, 1.1], [-1.5, 0.3]]))
    }

    var layer: Linear<Scalar> { task.model.linearLayers().map(\.layer)[0] }

    func fit<S: FactorCurvatureStrategy>(_ strategy: S, batchSize: Int = 5) throws -> InfluenceFactors {
        try FactorFitter(task: task, modules: [], configuration: FitConfiguration(strategy: strategy, labels: .data, batchSize: batchSize)).fit()
    }
}

/// The dense oracle of scores: g_qᵀ (F + λI)⁻¹ g_m by Cholesky, `[queries, train]`.
func denseScores(fisher: Tensor<Double>, damping: Double, queries: Tensor<Double>, training: Tensor<Double>) throws -> Tensor<Double> {
    let n = fisher.shape[0]
    let solved = try (fisher + Tensor<Double>.identity(n) * damping).choleskySolve(training.reshaped(to: [training.shape[0], n]).transposed())
    return Tensor.matmul(queries.reshaped(to: [queries.shape[0], n]), solved)
}

@Suite("Curvature strategies against the dense Fisher")
struct CurvatureStrategyTests {
    @Test func kroneckerFactorsEqualTheDenseFisherWhenItFactorises() throws {
        // Oracle: F = (1/N) Σ vec(G_b) vec(G_b)ᵀ with G_b from autograd on each example alone.
        // The identity F = S ⊗ A is exact here, so only rounding remains: 1e-12.
        let problem = FactorisingRegression<Double>()
        let factors = try problem.fit(.kfac).layers[0]
        let perExample = perExampleTrainingGradients(problem.task, layers: [problem.layer], examples: Array(0..<12))[0]
        let fisher = denseFisher(perExample)
        let r = compare(kronecker(factors.gradientCovariance!, factors.activationCovariance!), fisher, tolerance: 1e-12, "S ⊗ A")
        #expect(r.passed, "\(r)")
    }

    @Test func ekfacLambdaEqualsTheFisherDiagonalInTheKroneckerEigenbasisAndKfacEigenvaluesHere() throws {
        // Λ = diag(Qᵀ F Q), Q = Q_S ⊗ Q_A; when F = S ⊗ A that is also λ_S λ_Aᵀ (EK-FAC = K-FAC). 1e-11.
        let problem = FactorisingRegression<Double>()
        let factors = try problem.fit(.ekfac).layers[0]
        let fisher = denseFisher(perExampleTrainingGradients(problem.task, layers: [problem.layer], examples: Array(0..<12))[0])
        let q = kronecker(factors.gradientEigenvectors!, factors.activationEigenvectors!)
        let rotated = diagonal(of: Tensor.matmul(Tensor.matmul(q, fisher, transposeA: true), q))
        let lambda = factors.lambda!
        #expect(lambda.shape == [2, 4])
        let r1 = compare(lambda.flattened(), rotated, tolerance: 1e-11, "Λ vs diag(QᵀFQ)")
        #expect(r1.passed, "\(r1)")
        let r2 = compare(lambda, Tensor.outer(factors.gradientEigenvalues!, factors.activationEigenvalues!), tolerance: 1e-11, "Λ vs λ_S λ_Aᵀ")
        #expect(r2.passed, "\(r2)")
    }

    @Test(arguments: [KFACStrategy(), EKFACStrategy()] as [any FactorCurvatureStrategy])
    func scoresEqualTheDenseDampedSolveWhenTheFisherFactorises(strategy: any FactorCurvatureStrategy) throws {
        // Oracle: g_qᵀ (F + λI)⁻¹ g_m with the dense F and Cholesky, λ = 1e-3, all in Float64.
        // The preconditioner applies the same inverse exactly in the eigenbasis, so only rounding
        // remains (observed ≈ 2e-15): 1e-11.
        let problem = FactorisingRegression<Double>()
        let factors = try problem.fit(strategy)
        let training = perExampleTrainingGradients(problem.task, layers: [problem.layer], examples: Array(0..<12))[0]
        let queries = perQueryGradients(problem.task, layers: [problem.layer])[0]
        let expected = try denseScores(fisher: denseFisher(training), damping: 1e-3, queries: queries, training: training)
        let preconditioner = try Preconditioner<Double>(factors: factors, damping: .value(1e-3))
        let preconditioned = preconditioner.apply(queries, layer: 0)
        let observed = Tensor.matmul(preconditioned.reshaped(to: [2, -1]), training.reshaped(to: [12, -1]), transposeB: true)
        let r = compare(observed, expected, tolerance: 1e-11, "\(strategy) scores (Float64 preconditioner)")
        #expect(r.passed, "\(r)")
    }

    @Test(arguments: [KFACStrategy(), EKFACStrategy()] as [any FactorCurvatureStrategy])
    func scoreComputerMatchesTheDenseSolveInFloat(strategy: any FactorCurvatureStrategy) throws {
        // The whole Float32 pipeline (fit, precondition, stream the training data) against the
        // Float64 dense solve, with the same weights (all zero) and data. Float32 rounding through
        // the fit and the damped inverse: observed ≈ 3e-7, tolerance 1e-5.
        let problem = FactorisingRegression<Float>()
        let oracle = FactorisingRegression<Double>()
        let factors = try problem.fit(strategy)
        let training = perExampleTrainingGradients(oracle.task, layers: [oracle.layer], examples: Array(0..<12))[0]
        let queries = perQueryGradients(oracle.task, layers: [oracle.layer])[0]
        let expected = try denseScores(fisher: denseFisher(training), damping: 1e-3, queries: queries, training: training)
        let scores = try ScoreComputer(
            task: problem.task, factors: factors, factorsPath: "memory",
            configuration: ScoreConfiguration(damping: .value(1e-3), batchSize: 5)
        ).compute()
        let r = compare(scores.pairwise, expected, tolerance: 1e-5, "\(strategy) scores (ScoreComputer, Float32)")
        #expect(r.passed, "\(r)")
    }

    @Test func kfacIsNotExactWhenTheFisherDoesNotFactorise() throws {
        // Guard for the oracle above: on a generic MLP layer S ⊗ A differs from F, so the
        // factorising test really checks exactness and not a coincidence of the comparison.
        let task = Fixtures.classificationTask(Double.self, seed: 13)
        let factors = try FactorFitter(
            task: task, modules: ["layers.0"],
            configuration: FitConfiguration(strategy: .kfac, labels: .data)
        ).fit().layers[0]
        let fisher = denseFisher(perExampleTrainingGradients(task, layers: [task.model.linearLayers()[0].layer], examples: Array(0..<7))[0])
        let r = compare(kronecker(factors.gradientCovariance!, factors.activationCovariance!), fisher, tolerance: 1e-2)
        #expect(!r.passed, "S ⊗ A should differ from F on a generic layer: \(r)")
    }

    @Test func ekfacLambdaEqualsTheRotatedFisherDiagonalOnAnyData() throws {
        // diag((Q_S ⊗ Q_A)ᵀ F (Q_S ⊗ Q_A)) = E_b[(Q_Sᵀ G_b Q_A)²] is an identity for any data and
        // any orthogonal Q: checked on both layers of a random tanh classifier. Also A is the
        // mean of ā āᵀ over the inputs of each layer (computed from the data and the hidden
        // activations directly) and S the mean of g gᵀ, where g is the bias gradient of one
        // example. Float64 throughout: 1e-11.
        let task = Fixtures.classificationTask(Double.self, seed: 17)
        let factors = try FactorFitter(task: task, modules: [], configuration: FitConfiguration(strategy: .ekfac, labels: .data, batchSize: 3)).fit()
        let layers = task.model.linearLayers().map(\.layer)
        let perExample = perExampleTrainingGradients(task, layers: layers, examples: Array(0..<7))
        let x = task.trainingFeatures
        let hidden = (Tensor.matmul(x, layers[0].weight.value, transposeB: true) + layers[0].bias!.value).tanh()
        for (l, inputs) in [x, hidden].enumerated() {
            let f = factors.layers[l]
            let fisher = denseFisher(perExample[l])
            let q = kronecker(f.gradientEigenvectors!, f.activationEigenvectors!)
            let rotated = diagonal(of: Tensor.matmul(Tensor.matmul(q, fisher, transposeA: true), q))
            let r1 = compare(f.lambda!.flattened(), rotated, tolerance: 1e-11, "layer \(l) Λ")
            #expect(r1.passed, "\(r1)")

            let a = Tensor.concatenated([inputs, Tensor.ones(shape: [7, 1])], along: 1)
            let r2 = compare(f.activationCovariance!, Tensor.matmul(a, a, transposeA: true) * (1.0 / 7), tolerance: 1e-12, "layer \(l) A")
            #expect(r2.passed, "\(r2)")
            let g = perExample[l].sliced(along: 2, (perExample[l].shape[2] - 1)..<perExample[l].shape[2]).reshaped(to: [7, -1])
            let r3 = compare(f.gradientCovariance!, Tensor.matmul(g, g, transposeA: true) * (1.0 / 7), tolerance: 1e-12, "layer \(l) S")
            #expect(r3.passed, "\(r3)")
        }
    }

    @Test func diagonalLambdaIsTheMeanSquaredPerExampleGradient() throws {
        // Oracle: (1/N) Σ_b G_b ⊙ G_b from autograd on each example alone; 1e-12 in Float64.
        let task = Fixtures.classificationTask(Double.self, seed: 19)
        let factors = try FactorFitter(task: task, modules: [], configuration: FitConfiguration(strategy: .diagonal, labels: .data, batchSize: 4)).fit()
        let perExample = perExampleTrainingGradients(task, layers: task.model.linearLayers().map(\.layer), examples: Array(0..<7))
        for l in 0..<2 {
            let r = compare(factors.layers[l].lambda!, perExample[l].squared().mean(alongAxes: [0]), tolerance: 1e-12, "layer \(l) Λ")
            #expect(r.passed, "\(r)")
            #expect(factors.layers[l].activationCovariance == nil && factors.layers[l].gradientEigenvectors == nil)
        }
    }

    @Test func languageModelLambdaAveragesOverSequencesNotTokens() throws {
        // Per-sequence gradients G_b = Σ_t g_t ā_tᵀ from autograd on each sequence alone (5
        // sequences, 20 tokens): diagonal Λ = (1/5) Σ_b G_b ⊙ G_b, and EK-FAC's Λ for mlp.c_fc is
        // diag(Qᵀ F Q) with F the dense per-sequence Fisher. Float64: 1e-11.
        let model = Fixtures.languageModel(Double.self, seed: 21)
        let task = LanguageModelingTask(model: model, training: Fixtures.sequences, queries: [])
        let layers = model.linearLayers().map(\.layer)
        let perExample = perExampleTrainingGradients(task, layers: layers, examples: Array(0..<5))
        let diagonalFactors = try FactorFitter(task: task, modules: [], configuration: FitConfiguration(strategy: .diagonal, labels: .data, batchSize: 2)).fit()
        for (l, name) in diagonalFactors.moduleNames.enumerated() {
            let r = compare(diagonalFactors.layers[l].lambda!, perExample[l].squared().mean(alongAxes: [0]), tolerance: 1e-11, "\(name) diagonal Λ")
            #expect(r.passed, "\(r)")
        }
        let ekfac = try FactorFitter(task: task, modules: ["*.mlp.c_fc"], configuration: FitConfiguration(strategy: .ekfac, labels: .data, batchSize: 2)).fit()
        let f = ekfac.layers[0]
        let index = try #require(diagonalFactors.moduleNames.firstIndex(of: "transformer.h.0.mlp.c_fc"))
        let q = kronecker(f.gradientEigenvectors!, f.activationEigenvectors!)
        let rotated = Tensor.matmul(Tensor.matmul(q, denseFisher(perExample[index]), transposeA: true), q)
        let r = compare(f.lambda!.flattened(), diagonal(of: rotated), tolerance: 1e-11, "mlp.c_fc EK-FAC Λ")
        #expect(r.passed, "\(r)")
        #expect(ekfac.exampleCount == 5 && ekfac.tokenCount == 20)
    }

    @Test func diagonalScoresDivideByTheMeanSquaredGradientPlusDamping() throws {
        // Oracle: Σ_layers Σ_ij G_q,ij G_m,ij / (D_ij + λ) with D from autograd per example, in
        // Float64, against the Float32 ScoreComputer: 1e-4.
        let task = Fixtures.classificationTask(Float.self, seed: 23)
        let oracle = Fixtures.classificationTask(Double.self, seed: 23)
        try copyParameters(from: task.model, to: oracle.model)
        let factors = try FactorFitter(task: task, modules: [], configuration: FitConfiguration(strategy: .diagonal, labels: .data)).fit()
        let scores = try ScoreComputer(
            task: task, factors: factors, factorsPath: "memory",
            configuration: ScoreConfiguration(damping: .value(0.01))
        ).compute()
        let layers = oracle.model.linearLayers().map(\.layer)
        let training = perExampleTrainingGradients(oracle, layers: layers, examples: Array(0..<7))
        let queries = perQueryGradients(oracle, layers: layers)
        var expected = Tensor<Double>.zeros(shape: [2, 7])
        for l in 0..<2 {
            let d = training[l].squared().mean(alongAxes: [0]) + 0.01
            expected += Tensor.matmul((queries[l] / d).reshaped(to: [2, -1]), training[l].reshaped(to: [7, -1]), transposeB: true)
        }
        let r = compare(scores.pairwise, expected, tolerance: 1e-4, "diagonal scores")
        #expect(r.passed, "\(r)")
    }

    @Test func identityScoresArePlainGradientDotProducts() throws {
        // Oracle: Σ_layers ⟨G_q, G_m⟩ from autograd in Float64 on the same weights; Float32
        // pipeline: 1e-5. The fit of the identity strategy fits nothing.
        let task = Fixtures.classificationTask(Float.self, seed: 29)
        let oracle = Fixtures.classificationTask(Double.self, seed: 29)
        try copyParameters(from: task.model, to: oracle.model)
        let factors = try FactorFitter(task: task, modules: [], configuration: FitConfiguration(strategy: .identity)).fit()
        #expect(factors.layers.allSatisfy { $0.lambda == nil && $0.activationCovariance == nil })
        let computer = try ScoreComputer(task: task, factors: factors, factorsPath: "memory", configuration: ScoreConfiguration())
        let scores = try computer.compute()
        #expect(computer.dampings == [0, 0])
        let layers = oracle.model.linearLayers().map(\.layer)
        let training = perExampleTrainingGradients(oracle, layers: layers, examples: Array(0..<7))
        let queries = perQueryGradients(oracle, layers: layers)
        var expected = Tensor<Double>.zeros(shape: [2, 7])
        for l in 0..<2 { expected += Tensor.matmul(queries[l].reshaped(to: [2, -1]), training[l].reshaped(to: [7, -1]), transposeB: true) }
        let r = compare(scores.pairwise, expected, tolerance: 1e-5, "identity scores")
        #expect(r.passed, "\(r)")
    }

    @Test func dampingParsesAutoAndNonNegativeNumbersOnly() {
        #expect(Damping("auto") == .automatic)
        #expect(Damping("0.25") == .value(0.25))
        #expect(Damping("0") == .value(0))
        #expect(Damping("-1") == nil)
        #expect(Damping("nan") == nil)
        #expect(Damping("inf") == nil)
        #expect(Damping("fast") == nil)
        #expect(Damping.value(0.5).description == "0.5" && Damping.automatic.description == "auto")
    }
}
