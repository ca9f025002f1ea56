import Autograd
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

@Suite("GPT-2 decoder behaviour")
struct GPT2Tests {
    let config = GPT2Configuration(
        vocabularySize: 13, contextLength: 16, embeddingSize: 12, layerCount: 2, headCount: 3,
        residualDropout: 0, embeddingDropout: 0, attentionDropout: 0)

    @Test func logitsHaveOneRowPerPosition() {
        let model = GPT2LanguageModel<Float>(configuration: config)
        let logits = model(tokens: Array(repeating: 1, count: 2 * 7), batchSize: 2)
        #expect(logits.shape == [2, 7, 13])
    }

    @Test func laterTokensDoNotChangeEarlierLogits() {
        let model = GPT2LanguageModel<Double>(configuration: config, seed: 1)
        let a = model(tokens: [3, 1, 4, 1, 5, 9, 2, 6], batchSize: 1).value
        let b = model(tokens: [3, 1, 4, 1, 0, 0, 12, 7], batchSize: 1).value
        let r = compare(a.sliced(along: 1, 0..<4), b.sliced(along: 1, 0..<4), tolerance: 1e-13, "causal prefix")
        #expect(r.passed, "\(r)")
        let later = compare(a.sliced(along: 1, 4..<8), b.sliced(along: 1, 4..<8), tolerance: 1e-3, "later positions")
        #expect(!later.passed, "changing later tokens should change later logits")
    }

    @Test func paddedBatchGivesTheSameLogitsAsEachSequenceAlone() {
        let model = GPT2LanguageModel<Double>(configuration: config, seed: 2)
        let short = [5, 6, 7], long = [1, 2, 3, 4, 8, 9]
        let aloneShort = model(tokens: short, batchSize: 1).value
        let aloneLong = model(tokens: long, batchSize: 1).value
        let padded = short + [0, 0, 0] + long
        let mask = Tensor<Double>(shape: [2, 6], scalars: [1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1])
        let batch = model(tokens: padded, batchSize: 2, attentionMask: mask).value
        let r1 = compare(batch.sliced(along: 0, 0..<1).sliced(along: 1, 0..<3), aloneShort, tolerance: 1e-13, "short")
        let r2 = compare(batch.sliced(along: 0, 1..<2), aloneLong, tolerance: 1e-13, "long")
        #expect(r1.passed, "\(r1)")
        #expect(r2.passed, "\(r2)")
    }

    @Test func maskedKeysAreIgnored() {
        // Masking key 1 must give the same output at position 2 as attention that never sees it:
        // compared with a model run where the content of token 1 differs.
        let model = GPT2LanguageModel<Double>(configuration: config, seed: 3)
        let mask = Tensor<Double>(shape: [1, 4], scalars: [1, 0, 1, 1])
        let a = model(tokens: [2, 5, 3, 4], batchSize: 1, attentionMask: mask).value
        let b = model(tokens: [2, 11, 3, 4], batchSize: 1, attentionMask: mask).value
        let r = compare(a.sliced(along: 1, 2..<4), b.sliced(along: 1, 2..<4), tolerance: 1e-13, "positions after a masked key")
        #expect(r.passed, "\(r)")
    }

    @Test func dropoutIsReproducibleAfterReseeding() {
        var c = config; c.residualDropout = 0.1; c.attentionDropout = 0.1; c.embeddingDropout = 0.1
        let model = GPT2LanguageModel<Float>(configuration: c, seed: 4)
        model.reseed(77)
        let a = model(tokens: [1, 2, 3, 4], batchSize: 1).value
        model.reseed(77)
        let b = model(tokens: [1, 2, 3, 4], batchSize: 1).value
        #expect(a == b)
        model.evaluate()
        let c1 = model(tokens: [1, 2, 3, 4], batchSize: 1).value
        #expect(c1 != a, "evaluation mode must switch dropout off")
    }
}
