import Foundation
import Autograd
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

/// Flattens the gradients of every parameter and an input into one vector, and the matching
/// finite differences, for a scalar function of a module.
func checkGradients(
    _ module: Module<Double>, input: Tensor<Double>, tolerance: Double = 1e-7, sample: Int = 400,
    _ f: (Variable<Double>) -> Variable<Double>
) -> Comparison {
    let x = Variable(input, requiresGradient: true)
    let params = module.parameters
    let analytic = gradients(of: f(x), at: [x] + params.map(\.variable)).map { $0.value.flattened() }
    var observed: [Double] = [], expected: [Double] = []
    // Input entries.
    let fdInput = FiniteDifferences.gradient(at: input) { t in withoutGradients { f(Variable(t)).value.scalar } }
    observed += analytic[0].scalars; expected += fdInput.scalars
    // A deterministic sample of parameter entries.
    var generator = testGenerator(5)
    for (k, p) in params.enumerated() {
        let original = p.value
        let n = original.scalarCount
        let picks =
            n <= sample / params.count
            ? Array(0..<n)
            : (0..<(sample / params.count)).map { _ in Int(generator.next() % UInt64(n)) }
        for i in picks {
            let h = 1e-5
            var plus = original; plus.withUnsafeMutableBufferPointer { $0[i] += h }
            p.value = plus
            let fPlus = withoutGradients { f(Variable(input)).value.scalar }
            var minus = original; minus.withUnsafeMutableBufferPointer { $0[i] -= h }
            p.value = minus
            let fMinus = withoutGradients { f(Variable(input)).value.scalar }
            p.value = original
            observed.append(analytic[k + 1].scalars[i]); expected.append((fPlus - fMinus) / (2 * h))
        }
    }
    return compare(Tensor(observed), Tensor(expected), tolerance: tolerance, "\(type(of: module))")
}

@Suite("Layers against finite differences and formulas")
struct LayerTests {
    @Test func fusedLinearEqualsMatmulPlusBias() {
        var generator = testGenerator(1)
        let layer = Linear<Double>(inputCount: 4, outputCount: 3, using: &generator)
        let x = Variable(Tensor<Double>.randomNormal(shape: [2, 5, 4], using: &generator), requiresGradient: true)
        let fused = layer(x)
        let composed = Variable.matmul(x, layer.weight.variable, transposeB: true) + layer.bias!.variable
        let r = compare(fused.value, composed.value, tolerance: 1e-14, "value")
        #expect(r.passed, "\(r)")
        let w = Variable(Tensor<Double>.randomNormal(shape: [2, 5, 3], using: &generator))
        let targets = [x, layer.weight.variable, layer.bias!.variable]
        let gf = gradients(of: (fused * w).sum(), at: targets), gc = gradients(of: (composed * w).sum(), at: targets)
        for (a, b) in zip(gf, gc) {
            let r = compare(a.value, b.value, tolerance: 1e-13, "gradient")
            #expect(r.passed, "\(r)")
        }
    }

    @Test func linearForwardHookSeesInputAndOutput() {
        var generator = testGenerator(2)
        let layer = Linear<Float>(inputCount: 2, outputCount: 2, using: &generator)
        var seen: [([Int], [Int])] = []
        let handle = layer.registerForwardHook { _, input, output in seen.append((input.shape, output.shape)) }
        _ = layer(Variable(Tensor.ones(shape: [3, 2])))
        handle.remove()
        _ = layer(Variable(Tensor.ones(shape: [3, 2])))
        #expect(seen.count == 1 && seen[0].0 == [3, 2] && seen[0].1 == [3, 2])
    }

    @Test func layerNormMatchesFormulaAndFiniteDifferences() {
        var generator = testGenerator(3)
        let norm = LayerNorm<Double>(dimension: 6, epsilon: 1e-5)
        norm.weight.value = Tensor.randomNormal(shape: [6], using: &generator)
        norm.bias.value = Tensor.randomNormal(shape: [6], using: &generator)
        let x = Tensor<Double>.randomNormal(shape: [3, 6], using: &generator)
        let y = norm(Variable(x)).value
        // Formula, row by row.
        var expected: [Double] = []
        for r in 0..<3 {
            let row = (0..<6).map { x[r, $0] }
            let mean = row.reduce(0, +) / 6
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 6
            for (j, v) in row.enumerated() {
                expected.append((v - mean) / (variance + 1e-5).squareRoot() * norm.weight.value[j] + norm.bias.value[j])
            }
        }
        let r = compare(y, Tensor(shape: [3, 6], scalars: expected), tolerance: 1e-13, "LayerNorm")
        #expect(r.passed, "\(r)")
        let w = Tensor<Double>.randomNormal(shape: [3, 6], using: &generator)
        let g = checkGradients(norm, input: x) { (norm($0) * Variable(w)).sum() }
        #expect(g.passed, "\(g)")
    }

    @Test func embeddingGradientAccumulatesRepeatedIndices() {
        let table = Embedding<Double>(weight: Parameter(Tensor(rows: [[1, 2], [3, 4], [5, 6]])))
        let out = table([2, 0, 2])
        #expect(out.value == Tensor(rows: [[5, 6], [1, 2], [5, 6]]))
        let g = gradients(of: out.sum(), at: [table.weight.variable])[0]
        #expect(g.value == Tensor(rows: [[1, 1], [0, 0], [2, 2]]))
    }

    @Test func dropoutScalesKeptValuesAndIsIdentityInEvaluation() {
        let dropout = Dropout<Double>(probability: 0.25)
        dropout.reseed(9)
        let x = Variable(Tensor<Double>.ones(shape: [100_000]))
        let y = dropout(x).value.scalars
        let zeros = y.filter { $0 == 0 }.count
        #expect(abs(Double(zeros) / 100_000 - 0.25) < 0.01, "dropped fraction \(Double(zeros) / 100_000)")
        #expect(y.allSatisfy { $0 == 0 || abs($0 - 4.0 / 3.0) < 1e-12 })
        dropout.reseed(9)
        #expect(dropout(x).value.scalars == y, "the same seed must give the same mask")
        dropout.evaluate()
        #expect(dropout(x).value == x.value)
    }

    @Test(arguments: Activation.allCases)
    func activationsMatchTheirFormulas(_ activation: Activation) {
        let xs: [Double] = [-2.5, -0.3, 0.2, 1.7]
        let y = activation(Variable(Tensor(xs))).value.scalars
        let expected = xs.map { x -> Double in
            switch activation {
            case .relu: return max(x, 0)
            case .gelu: return 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
            case .geluNew: return 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
            case .tanh: return tanh(x)
            case .sigmoid: return 1 / (1 + exp(-x))
            case .silu: return x / (1 + exp(-x))
            case .identity: return x
            }
        }
        let r = compare(Tensor(y), Tensor(expected), tolerance: 1e-14, activation.rawValue)
        #expect(r.passed, "\(r)")
    }

    @Test func multilayerPerceptronGradientsMatchFiniteDifferences() {
        let model = MultilayerPerceptron<Double>(sizes: [5, 7, 3], activation: .tanh, seed: 4)
        var generator = testGenerator(6)
        let x = Tensor<Double>.randomNormal(shape: [4, 5], using: &generator)
        let g = checkGradients(model, input: x) { Losses.crossEntropy(logits: model($0), labels: [0, 2, 1, 2]) }
        #expect(g.passed, "\(g)")
    }

    @Test func gpt2GradientsMatchFiniteDifferences() {
        let config = GPT2Configuration(
            vocabularySize: 11, contextLength: 8, embeddingSize: 8, layerCount: 2, headCount: 2,
            residualDropout: 0, embeddingDropout: 0, attentionDropout: 0)
        let model = GPT2LanguageModel<Double>(configuration: config, seed: 3)
        let tokens = [1, 5, 2, 9, 3, 0, 7, 7, 4, 10]
        let mask = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
        let attention = Tensor<Double>(shape: [2, 5], scalars: mask.map(Double.init))
        // The input of checkGradients is unused here; the tokens are fixed.
        let g = checkGradients(model, input: Tensor([0.0]), tolerance: 1e-6, sample: 600) { dummy in
            let logits = model(tokens: tokens, batchSize: 2, attentionMask: attention)
            return Losses.nextTokenLosses(logits: logits, tokens: tokens, mask: mask).sum() + dummy.sum() * 0
        }
        #expect(g.passed, "\(g)")
    }
}
