import Autograd
import Foundation
import Influence
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

@Suite("Curvature operators against dense matrices built independently")
struct CurvatureOperatorTests {
    /// θ ↦ the mean training gradient over the tracked layers, both in the operator's layout
    /// (row-major [out, in+1] blocks, concatenated), by ordinary first-order autograd.
    func meanGradient(_ task: ClassificationTask<Double>, at theta: Tensor<Double>) -> Tensor<Double> {
        let layers = task.model.linearLayers().map(\.layer)
        var offset = 0
        for layer in layers {
            let (out, inp) = (layer.outputCount, layer.inputCount)
            let block = theta.sliced(along: 0, offset..<(offset + out * (inp + 1))).reshaped(to: [out, inp + 1])
            layer.weight.value = block.sliced(along: 1, 0..<inp)
            layer.bias!.value = block.sliced(along: 1, inp..<(inp + 1)).reshaped(to: [out])
            offset += out * (inp + 1)
        }
        let n = task.trainingExampleCount
        let blocks = layerGradients(layers) {
            var generator = testGenerator(0)
            return task.trainingLoss(indices: Array(0..<n), labels: .data, generator: &generator).loss
        }
        return Tensor.concatenated(blocks.map { $0.flattened() }, along: 0) * (1 / Double(n))
    }

    func parameters(_ task: ClassificationTask<Double>) -> Tensor<Double> {
        Tensor.concatenated(
            task.model.linearLayers().map { layer in
                Tensor.concatenated([layer.layer.weight.value, layer.layer.bias!.value.reshaped(to: [layer.layer.outputCount, 1])], along: 1).flattened()
            }, along: 0)
    }

    @Test func hessianMatchesFiniteDifferencesOfTheMeanGradient() throws {
        let task = Fixtures.classificationTask(Double.self)
        let op = try CurvatureOperator(task: task, modules: [], kind: .hessian, batchSize: 3)
        let dense = op.denseMatrix()
        let theta = parameters(task)
        let numeric = FiniteDifferences.jacobian(at: theta) { meanGradient(task, at: $0) }
        _ = meanGradient(task, at: theta)  // restore the parameters
        let r = compare(dense, numeric, tolerance: 1e-7, "H")
        #expect(r.passed, "\(r)")
        #expect(dense.shape == [op.dimension, op.dimension] && op.dimension == 4 * 4 + 3 * 5)
    }

    @Test func gaussNewtonOfLogisticRegressionIsItsHessianAndTheClosedForm() throws {
        // One Linear layer with cross-entropy: z is linear in θ, so H = GGN = (1/N) Σ (diag p − ppᵀ) ⊗ x̄x̄ᵀ.
        let model = MultilayerPerceptron<Double>(sizes: [3, 4], seed: 2)
        var generator = testGenerator(3)
        let x = Tensor<Double>.randomNormal(shape: [6, 3], using: &generator)
        let task = ClassificationTask(
            model: model, trainingFeatures: x, trainingLabels: [0, 3, 1, 2, 2, 0],
            queryFeatures: x, queryLabels: [0, 3, 1, 2, 2, 0])
        let ggn = try CurvatureOperator(task: task, modules: [], kind: .ggn, batchSize: 4).denseMatrix()
        let hessian = try CurvatureOperator(task: task, modules: [], kind: .hessian, batchSize: 4).denseMatrix()
        let p = withoutGradients { model(Variable(x)).value.softmax(alongAxis: 1) }
        var expected = Tensor<Double>.zeros(shape: [16, 16])
        for n in 0..<6 {
            let xbar = (0..<4).map { $0 < 3 ? x[n, $0] : 1.0 }
            for o in 0..<4 {
                for o2 in 0..<4 {
                    let h = (o == o2 ? p[n, o] : 0) - p[n, o] * p[n, o2]
                    for i in 0..<4 { for i2 in 0..<4 { expected[o * 4 + i, o2 * 4 + i2] += h * xbar[i] * xbar[i2] / 6 } }
                }
            }
        }
        for (observed, label) in [(ggn, "GGN"), (hessian, "H")] {
            let r = compare(observed, expected, tolerance: 1e-12, label)
            #expect(r.passed, "\(r)")
        }
    }

    @Test func gaussNewtonIsPositiveSemidefiniteWhereTheHessianNeedNotBe() throws {
        let task = Fixtures.classificationTask(Double.self)
        let ggn = try CurvatureOperator(task: task, modules: [], kind: .ggn).denseMatrix()
        let values = try ((ggn + ggn.transposed()) * 0.5).symmetricEigendecomposition().values
        #expect(values.min().scalar >= -1e-12 * values.max().scalar, "smallest eigenvalue \(values.min().scalar)")
        let r = compare(ggn, ggn.transposed(), tolerance: 1e-12, "GGN symmetry")
        #expect(r.passed, "\(r)")
    }

    @Test func productsDoNotDependOnTheBatchSize() throws {
        let task = Fixtures.classificationTask(Double.self)
        var generator = testGenerator(8)
        for kind in CurvatureKind.allCases {
            let one = try CurvatureOperator(task: task, modules: ["layers.1"], kind: kind, batchSize: 1)
            let all = try CurvatureOperator(task: task, modules: ["layers.1"], kind: kind, batchSize: 7)
            let v = one.shapes.map { Tensor<Double>.randomNormal(shape: $0, using: &generator) }
            let r = compare(one.apply(v)[0], all.apply(v)[0], tolerance: 1e-12, "\(kind) batch 1 vs 7")
            #expect(r.passed, "\(r)")
        }
    }

    @Test(arguments: CurvatureKind.allCases)
    func severalVectorsInOnePassEqualOneProductEach(kind: CurvatureKind) throws {
        let task = Fixtures.classificationTask(Double.self)
        let op = try CurvatureOperator(task: task, modules: [], kind: kind, batchSize: 3)
        var generator = testGenerator(21)
        let x = Tensor<Double>.randomNormal(shape: [op.dimension, 4], using: &generator)
        let together = op.apply(columns: x)
        let dense = op.denseMatrix()
        for j in 0..<4 {
            let column = x.sliced(along: 1, j..<(j + 1)).reshaped(to: [op.dimension])
            var offset = 0
            let blocks = op.shapes.map { s -> Tensor<Double> in
                defer { offset += s[0] * s[1] }
                return column.sliced(along: 0, offset..<(offset + s[0] * s[1])).reshaped(to: s)
            }
            let alone = Tensor.concatenated(op.apply(blocks).map { $0.flattened() }, along: 0)
            let r = compare(together.sliced(along: 1, j..<(j + 1)).reshaped(to: [op.dimension]), alone, tolerance: 1e-12, "\(kind) column \(j)")
            #expect(r.passed, "\(r)")
        }
        // And the dense matrix (built from groups of unit vectors) applies the same operator.
        let r = compare(Tensor.matmul(dense, x), together, tolerance: 1e-10, "\(kind) dense × x")
        #expect(r.passed, "\(r)")
    }

    @Test func empiricalFisherIsTheMeanOuterProductOfPerExampleGradients() throws {
        let task = Fixtures.classificationTask(Double.self)
        let layers = task.model.linearLayers().map(\.layer)
        let perExample = perExampleTrainingGradients(task, layers: layers, examples: Array(0..<task.trainingExampleCount))
        let flat = Tensor.concatenated(perExample.map { $0.reshaped(to: [task.trainingExampleCount, -1]) }, along: 1)
        let expected = Tensor.matmul(flat, flat, transposeA: true) * (1 / Double(task.trainingExampleCount))
        let op = try CurvatureOperator(task: task, modules: [], kind: .fisher, batchSize: 3)
        let r = compare(op.denseMatrix(), expected, tolerance: 1e-12, "dense empirical Fisher")
        #expect(r.passed, "\(r)")
        // The matrix-free products apply the same matrix.
        var generator = testGenerator(5)
        let x = Tensor<Double>.randomNormal(shape: [op.dimension, 3], using: &generator)
        let p = compare(op.apply(columns: x), Tensor.matmul(expected, x), tolerance: 1e-12, "F x")
        #expect(p.passed, "\(p)")
        // Over every parameter of a GPT-2 (per-example backward passes) the products match the dense matrix too.
        let lm = LanguageModelingTask(model: Fixtures.languageModel(Double.self), training: Fixtures.sequences, queries: [[1, 2, 3]])
        let all = try CurvatureOperator(task: lm, modules: [], kind: .fisher, batchSize: 2, allParameters: true)
        let y = Tensor<Double>.randomNormal(shape: [all.dimension, 2], using: &generator)
        let q = compare(all.apply(columns: y), Tensor.matmul(all.denseMatrix(), y), tolerance: 1e-10, "GPT-2 F y")
        #expect(q.passed, "\(q)")
    }
}
