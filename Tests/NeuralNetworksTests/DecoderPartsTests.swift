import Autograd
import Foundation
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

/// The parts Llama and GPT-NeoX are built from, against closed forms and equivalent
/// constructions (the families as a whole are checked against transformers in ModelIOTests).
@Suite("Decoder parts: RMSNorm, rotary positions, grouped attention, masks, blocks")
struct DecoderPartsTests {
    @Test func rmsNormMatchesItsFormulaAndFiniteDifferences() throws {
        var generator = testGenerator(1)
        let norm = RMSNorm<Double>(dimension: 5, epsilon: 1e-6)
        norm.weight.value = Tensor.randomNormal(shape: [5], using: &generator)
        let x = Tensor<Double>.randomNormal(shape: [3, 5], using: &generator)
        let y = norm(Variable(x)).value
        for r in 0..<3 {
            let row = (0..<5).map { x[r, $0] }
            let scale = 1 / (row.map { $0 * $0 }.reduce(0, +) / 5 + 1e-6).squareRoot()
            for c in 0..<5 { #expect(abs(y[r, c] - row[c] * scale * norm.weight.value[c]) < 1e-12) }
        }
        let analytic = gradients(of: norm(Variable(x, requiresGradient: true)).squared().sum(), at: [norm.weight.variable])[0].value
        let numeric = FiniteDifferences.gradient(at: norm.weight.value) { w in
            norm.weight.value = w
            return withoutGradients { norm(Variable(x)).value.squared().sum().scalar }
        }
        let r = compare(analytic, numeric, tolerance: 1e-7, "RMSNorm weight gradient")
        #expect(r.passed, "\(r)")
    }

    @Test func rotaryScoresDependOnlyOnTheDistanceBetweenPositions() throws {
        // q at position m and k at position n: ⟨R_m q, R_n k⟩ = ⟨R_{m+s} q, R_{n+s} k⟩ for any shift s.
        var generator = testGenerator(2)
        let rotary = RotaryEmbedding(dimension: 8, base: 10_000)
        let (cos, sin) = rotary.tables(time: 12, as: Double.self)
        let q = Tensor<Double>.randomNormal(shape: [1, 1, 1, 8], using: &generator)
        let k = Tensor<Double>.randomNormal(shape: [1, 1, 1, 8], using: &generator)
        func at(_ x: Tensor<Double>, _ p: Int) -> Tensor<Double> {
            rotary(Variable(x), cos: cos.sliced(along: 0, p..<(p + 1)), sin: sin.sliced(along: 0, p..<(p + 1))).value
        }
        func score(_ m: Int, _ n: Int) -> Double { (at(q, m) * at(k, n)).sum().scalar }
        #expect(abs(score(5, 2) - score(9, 6)) < 1e-5 * abs(score(5, 2)) + 1e-9)
        #expect(abs(score(3, 3) - (q * k).sum().scalar) < 1e-6, "at equal positions the rotations cancel")
        // A rotation keeps each vector's length.
        #expect(abs(at(q, 7).squared().sum().scalar - q.squared().sum().scalar) < 1e-6)
    }

    @Test func partialRotaryLeavesTheOtherFeaturesAlone() throws {
        var generator = testGenerator(3)
        let rotary = RotaryEmbedding(dimension: 2, base: 10_000)
        let (cos, sin) = rotary.tables(time: 4, as: Double.self)
        let x = Tensor<Double>.randomNormal(shape: [1, 2, 4, 8], using: &generator)
        let y = rotary(Variable(x), cos: cos, sin: sin).value
        #expect(y.sliced(along: 3, 2..<8) == x.sliced(along: 3, 2..<8))
        #expect(y.sliced(along: 3, 0..<2) != x.sliced(along: 3, 0..<2))
    }

    @Test func llama3ScalingKeepsHighFrequenciesAndDividesLowOnes() {
        let plain = RotaryEmbedding(dimension: 64, base: 500_000)
        let scaled = RotaryEmbedding(
            dimension: 64, base: 500_000,
            scaling: .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 8192))
        #expect(scaled.inverseFrequencies[0] == plain.inverseFrequencies[0], "the highest frequency is kept")
        #expect(
            abs(scaled.inverseFrequencies[31] - plain.inverseFrequencies[31] / 8) <= 1e-6 * plain.inverseFrequencies[31],
            "the lowest frequency is divided by the factor")
        let linear = RotaryEmbedding(dimension: 64, base: 500_000, scaling: .linear(factor: 2))
        #expect(zip(linear.inverseFrequencies, plain.inverseFrequencies).allSatisfy { abs($0 - $1 / 2) <= 1e-7 * $1 })
    }

    @Test func groupedQueryAttentionEqualsAttentionWithRepeatedKeys() throws {
        // Two key/value heads for four query heads: the same as four heads whose keys and values
        // repeat each group's, the layout of Hugging Face's repeat_kv.
        var generator = testGenerator(4)
        let q = Tensor<Double>.randomNormal(shape: [2, 4, 5, 3], using: &generator)
        let k = Tensor<Double>.randomNormal(shape: [2, 2, 5, 3], using: &generator)
        let v = Tensor<Double>.randomNormal(shape: [2, 2, 5, 3], using: &generator)
        let mask: Tensor<Double> = causalAttentionMask(batch: 2, time: 5, attentionMask: nil)
        let grouped = scaledDotProductAttention(queries: Variable(q), keys: Variable(k), values: Variable(v), mask: mask, scale: 0.5).value
        let repeated = [0, 0, 1, 1]
        let full = scaledDotProductAttention(
            queries: Variable(q), keys: Variable(k.indexSelect(along: 1, indices: repeated)),
            values: Variable(v.indexSelect(along: 1, indices: repeated)), mask: mask, scale: 0.5
        ).value
        let r = compare(grouped, full, tolerance: 1e-13, "grouped vs repeated keys")
        #expect(r.passed, "\(r)")
    }

    @Test func slidingWindowMaskLetsEachQuerySeeItsLastKeys() {
        let padding = Tensor<Float>(shape: [1, 6], scalars: [1, 1, 1, 1, 1, 0])
        let mask: Tensor<Float> = causalAttentionMask(batch: 1, time: 6, attentionMask: padding, slidingWindow: 3)
        for i in 0..<6 {
            for j in 0..<6 {
                let visible = j <= i && i - j < 3 && j != 5
                #expect((mask[0, 0, i, j] == 0) == visible, "query \(i), key \(j)")
            }
        }
    }

    @Test func parallelResidualAddsBothBranchesToTheInput() throws {
        // With the attention branch zeroed (zero output projection), a parallel block computes
        // x + mlp(norm₂(x)) and a sequential one x + mlp(norm₂(x)) too; with it non-zero they differ.
        var generator = testGenerator(5)
        let c = GPTNeoXConfiguration(
            vocabularySize: 7, hiddenSize: 8, intermediateSize: 12, layerCount: 1, headCount: 2,
            rotaryDimension: 2, contextLength: 6)
        var parallel = c, sequential = c
        parallel.parallelResidual = true
        sequential.parallelResidual = false
        let a = GPTNeoXForCausalLM<Double>(configuration: parallel, seed: 9), b = GPTNeoXForCausalLM<Double>(configuration: sequential, seed: 9)
        let tokens = [1, 4, 2, 6, 3]
        #expect(a.logits(tokens: tokens, batchSize: 1, attentionMask: nil).value != b.logits(tokens: tokens, batchSize: 1, attentionMask: nil).value)
        for model in [a, b] {
            let attention = model.gpt_neox.layers.elements[0].attention as! GPTNeoXAttention<Double>
            attention.dense.weight.value = Tensor.zeros(shape: attention.dense.weight.shape)
            attention.dense.bias!.value = Tensor.zeros(shape: [8])
        }
        let x = Tensor<Double>.randomNormal(shape: [1, 5, 8], using: &generator)
        let mask: Tensor<Double> = causalAttentionMask(batch: 1, time: 5, attentionMask: nil)
        let ya = a.gpt_neox.layers.elements[0](Variable(x), mask: mask).value
        let yb = b.gpt_neox.layers.elements[0](Variable(x), mask: mask).value
        let r = compare(ya, yb, tolerance: 1e-12, "parallel and sequential with a zero attention branch")
        #expect(r.passed, "\(r)")
    }

    @Test func llamaIsCausalAndIgnoresPadding() throws {
        let c = LlamaConfiguration(
            vocabularySize: 11, hiddenSize: 8, intermediateSize: 12, layerCount: 2, headCount: 4, keyValueHeadCount: 2,
            contextLength: 8)
        let model = LlamaForCausalLM<Double>(configuration: c, seed: 1)
        let a = model.logits(tokens: [3, 1, 4, 1, 5, 9], batchSize: 1, attentionMask: nil).value
        let b = model.logits(tokens: [3, 1, 4, 2, 6, 10], batchSize: 1, attentionMask: nil).value
        let r = compare(a.sliced(along: 1, 0..<3), b.sliced(along: 1, 0..<3), tolerance: 1e-13, "causal prefix")
        #expect(r.passed, "\(r)")
        let padded = model.logits(
            tokens: [3, 1, 4, 0, 0, 0, 3, 1, 4, 1, 5, 9], batchSize: 2,
            attentionMask: Tensor(shape: [2, 6], scalars: [1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1])
        ).value
        let p = compare(padded.sliced(along: 0, 0..<1).sliced(along: 1, 0..<3), a.sliced(along: 1, 0..<3), tolerance: 1e-13, "padded row")
        #expect(p.passed, "\(p)")
    }
}
