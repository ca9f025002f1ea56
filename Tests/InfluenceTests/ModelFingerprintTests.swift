import Influence
import NeuralNetworks
import Testing
import TensorCore

@Suite("Model fingerprints")
struct ModelFingerprintTests {
    @Test func sameParametersGiveTheSameSixteenDigitFingerprint() {
        let a = ModelFingerprint.of(MultilayerPerceptron<Float>(sizes: [3, 4, 2], seed: 1))
        let b = ModelFingerprint.of(MultilayerPerceptron<Float>(sizes: [3, 4, 2], seed: 1))
        #expect(a == b)
        #expect(a.count == 16 && a.allSatisfy(\.isHexDigit))
    }

    @Test func changingOneWeightChangesTheFingerprintAndRestoringItRestoresIt() {
        let model = MultilayerPerceptron<Double>(sizes: [3, 4, 2], seed: 2)
        let original = ModelFingerprint.of(model)
        let weight = model.layers.elements[1].weight
        let saved = weight.value
        var values = saved.scalars
        values[3] = values[3].nextUp
        weight.value = Tensor(shape: saved.shape, scalars: values)
        #expect(ModelFingerprint.of(model) != original, "one ulp in one weight")
        weight.value = saved
        #expect(ModelFingerprint.of(model) == original)
    }

    @Test func shapesAndNamesCountNotOnlyValues() {
        // Same scalars (all zero) in other shapes or under other names.
        let wide = MultilayerPerceptron<Float>(sizes: [4, 2]), tall = MultilayerPerceptron<Float>(sizes: [2, 4])
        for m in [wide, tall] { for p in m.parameters { p.value = Tensor.zeros(shape: p.shape) } }
        let zeroBias = MultilayerPerceptron<Float>(sizes: [2, 4])
        #expect(ModelFingerprint.of(wide) != ModelFingerprint.of(tall))
        #expect(ModelFingerprint.of(wide) != ModelFingerprint.of(zeroBias))
    }
}
