import Autograd
import Foundation
import Influence
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

/// Curvature and scores over every parameter of a GPT-2 (embeddings and LayerNorms too), against
/// an oracle that knows nothing of the operator's block layout: a finite-difference Hessian of the
/// mean training gradient over the flat parameter vector in the model's own order, per-example
/// gradients by autograd, and a Cholesky solve in Double. Scores do not depend on the order.
@Suite("Influence over every parameter")
struct AllParametersTests {
    let queries: [[Int]] = [[3, 1, 4, 1, 5], [9, 2, 6]]

    func task<Scalar: TensorScalar>(_: Scalar.Type) -> LanguageModelingTask<GPT2LanguageModel<Scalar>> {
        LanguageModelingTask(model: Fixtures.languageModel(Scalar.self), training: Fixtures.sequences, queries: queries)
    }

    /// θ in `namedParameters` order.
    func flat(_ model: Module<Double>) -> Tensor<Double> {
        Tensor.concatenated(model.namedParameters().map { $0.parameter.value.flattened() }, along: 0)
    }

    func assign(_ theta: Tensor<Double>, to model: Module<Double>) {
        var offset = 0
        for (_, p) in model.namedParameters() {
            let count = p.value.scalarCount
            p.value = theta.sliced(along: 0, offset..<(offset + count)).reshaped(to: p.value.shape)
            offset += count
        }
    }

    /// ∇ of `loss` over every parameter, flat in `namedParameters` order.
    func gradient(_ model: Module<Double>, _ loss: () -> Variable<Double>) -> Tensor<Double> {
        let parameters = model.namedParameters().map(\.parameter)
        let value = withGradients { loss() }
        return Tensor.concatenated(gradients(of: value, at: parameters.map(\.variable)).map { $0.value.flattened() }, along: 0)
    }

    @Test func exactHessianScoresOverEveryParameterMatchTheDenseOracle() throws {
        let reference = task(Double.self)
        let model = reference.model
        let n = reference.trainingExampleCount
        var generator = testGenerator(0)
        func meanGradient() -> Tensor<Double> {
            gradient(model) { reference.trainingLoss(indices: Array(0..<n), labels: .data, generator: &generator).loss } * (1 / Double(n))
        }
        let theta = flat(model)
        let hessian = FiniteDifferences.jacobian(at: theta, step: 1e-5) {
            assign($0, to: model); return meanGradient()
        }
        assign(theta, to: model)
        let symmetric = (hessian + hessian.transposed()) * 0.5
        let lowest = try symmetric.symmetricEigendecomposition().values.min().scalar
        let damping = Swift.max(0, -lowest) + 0.1
        let train = Tensor.stacked(
            (0..<n).map { m in gradient(model) { reference.trainingLoss(indices: [m], labels: .data, generator: &generator).loss } }, along: 0)
        let query = Tensor.stacked((0..<queries.count).map { q in gradient(model) { reference.queryMeasurement(indices: [q]).loss } }, along: 0)
        let dimension = theta.scalarCount
        let factor = try (symmetric + Tensor.identity(dimension) * damping).choleskyFactor()
        let expected = Tensor.matmul(try Tensor.choleskySolve(factor: factor, query.transposed()), train.transposed(), transposeA: true)

        // The operator covers every parameter once.
        let op64 = try CurvatureOperator(task: reference, modules: [], kind: .hessian, batchSize: 2, allParameters: true)
        #expect(op64.dimension == model.parameterCount && op64.coversOtherParameters)
        #expect(op64.blockNames.contains("transformer.wte.weight") && op64.blockNames.contains("transformer.ln_f.bias"))

        let float = task(Float.self)
        try copyParameters(from: model, to: float.model)
        let op = try CurvatureOperator(task: float, modules: [], kind: .hessian, batchSize: 2, allParameters: true)
        for (solver, tolerance) in [
            (ExactStrategy() as any OperatorCurvatureStrategy, 2e-3),
            (ConjugateGradientStrategy(tolerance: 1e-4, maximumIterations: nil, failsWhenNotConverged: true), 2e-3),
        ] {
            let computer = try ScoreComputer(
                task: float, curvature: op, strategy: solver, damping: damping,
                configuration: ScoreConfiguration(damping: .value(damping), perModule: true, batchSize: 2))
            let scores = try computer.compute()
            let observed = Tensor<Double>(scores.pairwise)
            let scale = expected.magnitude().max().scalar
            #expect(
                (observed - expected).magnitude().max().scalar <= tolerance * scale,
                "\(solver.self): max |Δ| \((observed - expected).magnitude().max().scalar) of \(scale)")
            // The per-block scores add up to the total, and name every parameter outside Linear layers.
            var sum = Tensor<Float>.zeros(shape: scores.pairwise.shape)
            for (_, part) in scores.perModule { sum += part }
            #expect((sum - scores.pairwise).magnitude().max().scalar <= 1e-4 * scores.pairwise.magnitude().max().scalar)
            #expect(scores.perModule.map(\.name) == op.blockNames)
        }
    }

    @Test func selfScoresOverEveryParameterEqualThePairwiseDiagonal() throws {
        let lm = LanguageModelingTask(model: Fixtures.languageModel(Float.self), training: Fixtures.sequences, queries: Fixtures.sequences)
        let op = try CurvatureOperator(task: lm, modules: [], kind: .ggn, batchSize: 2, allParameters: true)
        let computer = try ScoreComputer(
            task: lm, curvature: op, strategy: ExactStrategy(), damping: 0.1,
            configuration: ScoreConfiguration(damping: .value(0.1), selfInfluence: true, batchSize: 2))
        let scores = try computer.compute()
        let diagonal = Tensor<Float>((0..<lm.trainingExampleCount).map { scores.pairwise[$0, $0] })
        let r = compare(scores.selfScores!, diagonal, tolerance: 1e-3, "self vs diagonal")
        #expect(r.passed, "\(r)")
    }
}
