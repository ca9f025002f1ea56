import Autograd
import Foundation
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

@Suite("Module tree: names, traversal, freezing, state")
struct ModuleTests {
    static let tiny = GPT2Configuration(
        vocabularySize: 11, contextLength: 8, embeddingSize: 8, layerCount: 2, headCount: 2,
        residualDropout: 0, embeddingDropout: 0, attentionDropout: 0)

    @Test func gpt2ParameterNamesMatchHuggingFace() {
        let model = GPT2LanguageModel<Float>(configuration: Self.tiny)
        var expected = ["transformer.wte.weight", "transformer.wpe.weight"]
        for i in 0..<2 {
            for suffix in [
                "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
                "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
                "mlp.c_proj.weight", "mlp.c_proj.bias",
            ] {
                expected.append("transformer.h.\(i).\(suffix)")
            }
        }
        expected += ["transformer.ln_f.weight", "transformer.ln_f.bias"]
        #expect(model.namedParameters().map(\.name) == expected)
        // The tied head is the embedding's parameter, listed once.
        #expect(model.lm_head.weight === model.transformer.wte.weight)
        let c = Self.tiny
        let perLayer = 4 * 8 + (8 * 24 + 24) + (8 * 8 + 8) + (8 * 32 + 32) + (32 * 8 + 8)
        #expect(model.parameterCount == c.vocabularySize * 8 + c.contextLength * 8 + 2 * perLayer + 16)
    }

    @Test func linearLayersAreFoundByPattern() {
        let model = GPT2LanguageModel<Float>(configuration: Self.tiny)
        #expect(model.linearLayers(matching: ["transformer.h.*.mlp.c_fc"]).map(\.name) == ["transformer.h.0.mlp.c_fc", "transformer.h.1.mlp.c_fc"])
        #expect(model.linearLayers(matching: ["*.mlp.*"]).count == 4)
        #expect(model.linearLayers().count == 4 * 2 + 1)
        #expect(model.linearLayers().last?.name == "lm_head")
        #expect(model.linearLayers(matching: ["transformer.h.1.attn.c_?ttn"]).map(\.name) == ["transformer.h.1.attn.c_attn"])
    }

    @Test(arguments: [
        ("a.*.c", "a.b.c", true), ("a.*.c", "a.b.d.c", true), ("a.*", "a", false), ("*", "", true),
        ("a?c", "abc", true), ("a?c", "ac", false), ("*.mlp.c_fc", "transformer.h.3.mlp.c_fc", true),
        ("transformer.h.1", "transformer.h.10", false),
    ])
    func namePatterns(pattern: String, name: String, matches: Bool) {
        #expect(NamePattern.matches(pattern, name) == matches)
    }

    @Test func frozenParametersGetNoGradientAndAreSkipped() {
        let model = MultilayerPerceptron<Double>(sizes: [3, 4, 2], seed: 1)
        model.freeze(matching: ["layers.0.*"])
        #expect(model.trainableParameters.count == 2)
        let x = Variable(Tensor<Double>(rows: [[1, 2, 3]]))
        let loss = model(x).sum()
        let g = gradients(of: loss, at: model.parameters.map(\.variable))
        #expect(g[0].value == Tensor.zeros(shape: [4, 3]), "a frozen weight received a gradient")
        #expect(!model.parameters[0].variable.requiresGradient)
        model.unfreeze()
        #expect(model.trainableParameters.count == 4)
    }

    @Test func loadReplacesValuesAndRejectsBadState() throws {
        let model = MultilayerPerceptron<Float>(sizes: [2, 3], seed: 1)
        var state = Dictionary(uniqueKeysWithValues: model.state().map { ($0.name, $0.value) })
        state["layers.0.weight"] = Tensor.ones(shape: [3, 2])
        try model.load(state)
        #expect(model.parameter(named: "layers.0.weight")!.value == Tensor.ones(shape: [3, 2]))

        var missing = state; missing["layers.0.bias"] = nil
        #expect(throws: ModuleError.missingParameter(name: "layers.0.bias")) { try model.load(missing) }
        var extra = state; extra["layers.9.weight"] = Tensor.ones(shape: [1])
        #expect(throws: ModuleError.unexpectedParameter(name: "layers.9.weight")) { try model.load(extra) }
        var wrong = state; wrong["layers.0.weight"] = Tensor.ones(shape: [2, 3])
        #expect(throws: ModuleError.shapeMismatch(name: "layers.0.weight", expected: [3, 2], found: [2, 3])) { try model.load(wrong) }
        var nan = state; nan["layers.0.bias"] = Tensor([1, .nan, 0])
        #expect(throws: ModuleError.nonFinite(name: "layers.0.bias")) { try model.load(nan) }
        // A failed load changes nothing.
        #expect(model.parameter(named: "layers.0.weight")!.value == Tensor.ones(shape: [3, 2]))
    }

    @Test func trainAndEvaluateModesReachEveryModule() {
        let model = GPT2LanguageModel<Float>(configuration: Self.tiny)
        model.evaluate()
        #expect(model.namedModules().allSatisfy { !$0.module.isTraining })
        model.train()
        #expect(model.namedModules().allSatisfy { $0.module.isTraining })
    }

    @Test func configurationDecodesHuggingFaceJSONWithDefaults() throws {
        let json = #"{"vocab_size": 50, "n_embd": 16, "n_layer": 2, "n_head": 4, "model_type": "gpt2"}"#
        let c = try JSONDecoder().decode(GPT2Configuration.self, from: Data(json.utf8))
        #expect(c.contextLength == 1024 && c.activation == "gelu_new" && c.feedForwardSize == 64 && c.tieWordEmbeddings)
        try c.validate()
        var bad = c; bad.headCount = 3
        #expect(throws: GPT2ConfigurationError.self) { try bad.validate() }
        var badActivation = c; badActivation.activation = "swoosh"
        #expect(throws: GPT2ConfigurationError.invalid(field: "activation_function", message: "unsupported activation swoosh")) {
            try badActivation.validate()
        }
    }
}
