import Autograd
import Foundation
import Formats
import ModelIO
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

/// The reference checkpoints of scripts/fixtures/make_family_fixtures.py (transformers, random
/// weights, float32 computation): logits, per-token losses and parameter gradients on a padded
/// batch of two sequences.
enum FamilyFixtures {
    static let cases = ["llama-gqa", "llama-tied-linear", "qwen2-bf16", "mistral-window", "pythia-parallel", "neox-sequential-f16", "llama-sharded"]

    static func directory(_ name: String) -> URL { Fixtures.directory.appendingPathComponent("families").appendingPathComponent(name) }

    static func reference(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(contentsOf: directory(name).appendingPathComponent("reference.safetensors"))
    }

    /// A copy of a case's directory, to change files in.
    static func copy(_ name: String) throws -> URL {
        let out = Fixtures.temporaryDirectory().appendingPathComponent(name)
        try FileManager.default.copyItem(at: directory(name), to: out)
        return out
    }

    /// Rewrites config.json after `change`.
    static func editConfiguration(_ directory: URL, _ change: (inout [String: Any]) -> Void) throws {
        let url = directory.appendingPathComponent("config.json")
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        change(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: url)
    }

    static func languageModel(_ directory: URL) throws -> any CausalLanguageModel<Float> {
        try #require(try ModelDirectory.load(from: directory, as: Float.self).languageModel)
    }
}

/// The batch of a reference file and the model's outputs on it.
struct ReferenceBatch {
    let tokens: [Int], mask: [Int], batch: Int, time: Int

    init(_ file: SafeTensorsFile) throws {
        tokens = try file.integers(named: "input_ids")
        mask = try file.integers(named: "attention_mask")
        batch = try file.entry(named: "input_ids").shape[0]
        time = tokens.count / batch
    }

    func logits(_ model: any CausalLanguageModel<Float>) -> Variable<Float> {
        model.logits(tokens: tokens, batchSize: batch, attentionMask: Tensor(shape: [batch, time], scalars: mask.map(Float.init)))
    }

    func loss(_ model: any CausalLanguageModel<Float>) -> Variable<Float> {
        Losses.nextTokenLosses(logits: logits(model), tokens: tokens, mask: mask)
    }
}

/// max |a − b| / max |b|.
func relativeError(_ a: Tensor<Float>, _ b: Tensor<Float>) -> Float {
    (a - b).magnitude().max().scalar / Swift.max(b.magnitude().max().scalar, 1e-30)
}

@Suite("Llama, Mistral, Qwen2 and GPT-NeoX checkpoints against transformers")
struct FamilyCheckpointTests {
    @Test(arguments: FamilyFixtures.cases)
    func logitsAndTokenLossesMatchTransformers(name: String) throws {
        let reference = try FamilyFixtures.reference(name)
        let model = try FamilyFixtures.languageModel(FamilyFixtures.directory(name))
        let batch = try ReferenceBatch(reference)
        let logits = batch.logits(model).value
        let expected = try reference.tensor(named: "logits", as: Float.self)
        #expect(logits.shape == expected.shape)
        // Float32 on both sides, different summation orders: 2e-5 of the largest logit.
        let e = relativeError(logits, expected)
        #expect(e <= 2e-5, "\(name): max |Δ logits| / max |logit| = \(e)")
        let losses = batch.loss(model).value
        let expectedLosses = try reference.tensor(named: "token_losses", as: Float.self)
        let l = relativeError(losses, expectedLosses)
        #expect(l <= 2e-5, "\(name): token losses relative error \(l)")
    }

    @Test(arguments: FamilyFixtures.cases)
    func parameterGradientsMatchTransformers(name: String) throws {
        let reference = try FamilyFixtures.reference(name)
        let model = try FamilyFixtures.languageModel(FamilyFixtures.directory(name))
        let batch = try ReferenceBatch(reference)
        let named = model.module.namedParameters()
        let loss = withGradients { batch.loss(model).sum() }
        let grads = gradients(of: loss, at: named.map(\.parameter.variable))
        // transformers names GPT-NeoX's head lm_head; it is embed_out in checkpoints and here.
        let referenceNames = Set(reference.tensorNames.filter { $0.hasPrefix("grad.") }.map { String($0.dropFirst(5)) })
        #expect(referenceNames.count == named.count, "\(name): \(referenceNames.count) reference gradients for \(named.count) parameters")
        for ((parameterName, _), g) in zip(named, grads) {
            let stored = parameterName == "embed_out.weight" ? "lm_head.weight" : parameterName
            let expected = try reference.tensor(named: "grad." + stored, as: Float.self)
            let e = relativeError(g.value, expected)
            #expect(e <= 1e-4, "\(name): gradient of \(parameterName): relative error \(e)")
        }
    }

    @Test(arguments: FamilyFixtures.cases)
    func rotaryFrequenciesMatchTransformers(name: String) throws {
        let reference = try FamilyFixtures.reference(name)
        let model = try FamilyFixtures.languageModel(FamilyFixtures.directory(name))
        let rotary: RotaryEmbedding
        if let llama = model as? LlamaForCausalLM<Float> {
            rotary = llama.model.layers.elements[0].attention.module(as: LlamaAttention<Float>.self).rotary
        } else {
            rotary = try #require(model as? GPTNeoXForCausalLM<Float>).gpt_neox.layers.elements[0].attention.module(as: GPTNeoXAttention<Float>.self).rotary
        }
        let expected = try reference.tensor(named: "rope.inv_freq", as: Float.self)
        let e = relativeError(Tensor(rotary.inverseFrequencies), expected)
        #expect(e <= 1e-6, "\(name): inverse frequencies \(rotary.inverseFrequencies) vs \(expected.scalars)")
    }

    @Test func halfPrecisionWeightsAreStoredAsSuchAndComputedInFloat32() throws {
        for (name, dtype) in [("qwen2-bf16", SafeTensorsDType.bfloat16), ("neox-sequential-f16", .float16)] {
            let file = try SafeTensorsFile(contentsOf: FamilyFixtures.directory(name).appendingPathComponent("model.safetensors"))
            #expect(file.entries.allSatisfy { $0.dtype == dtype }, "\(name) should store \(dtype)")
        }
    }

    @Test func shardedCheckpointsLoadFromTheirIndex() throws {
        let directory = FamilyFixtures.directory("llama-sharded")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("model.safetensors").path))
        let shards = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("model-") }
        #expect(shards.count >= 3)
        // A shard named in the index but absent is named in the error.
        let copy = try FamilyFixtures.copy("llama-sharded")
        try FileManager.default.removeItem(at: copy.appendingPathComponent(shards.sorted()[1]))
        let error = #expect(throws: ModelIOError.self) { try ModelDirectory.load(from: copy, as: Float.self) }
        #expect("\(error!)".contains(shards.sorted()[1]), "\(error!)")
    }

    @Test func theSlidingWindowChangesWhatAQuerySees() throws {
        let reference = try FamilyFixtures.reference("mistral-window")
        let batch = try ReferenceBatch(reference)
        let copy = try FamilyFixtures.copy("mistral-window")
        try FamilyFixtures.editConfiguration(copy) { $0["sliding_window"] = NSNull() }
        let unwindowed = batch.logits(try FamilyFixtures.languageModel(copy)).value
        let e = relativeError(unwindowed, try reference.tensor(named: "logits_no_window", as: Float.self))
        #expect(e <= 2e-5, "without the window: \(e)")
        #expect(relativeError(unwindowed, try reference.tensor(named: "logits", as: Float.self)) > 1e-2, "the window must matter here")
    }

    @Test(arguments: ["llama-gqa", "llama-tied-linear", "pythia-parallel"])
    func olderConfigurationLayoutsGiveTheSameModel(name: String) throws {
        let copy = try FamilyFixtures.copy(name)
        try FileManager.default.removeItem(at: copy.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(at: copy.appendingPathComponent("config-legacy.json"), to: copy.appendingPathComponent("config.json"))
        let batch = try ReferenceBatch(try FamilyFixtures.reference(name))
        let legacy = batch.logits(try FamilyFixtures.languageModel(copy)).value
        let current = batch.logits(try FamilyFixtures.languageModel(FamilyFixtures.directory(name))).value
        #expect(legacy == current, "\(name): the older layout gives other logits")
    }

    @Test(arguments: ["llama-gqa", "llama-tied-linear", "qwen2-bf16", "mistral-window", "pythia-parallel", "neox-sequential-f16"])
    func aSavedModelLoadsBackIdentically(name: String) throws {
        let model = try FamilyFixtures.languageModel(FamilyFixtures.directory(name))
        let out = Fixtures.temporaryDirectory().appendingPathComponent("saved")
        try ModelDirectory.save(model, tokenizer: nil, to: out)
        let reloaded = try ModelDirectory.load(from: out, as: Float.self)
        let batch = try ReferenceBatch(try FamilyFixtures.reference(name))
        #expect(batch.logits(model).value == batch.logits(try #require(reloaded.languageModel)).value, "\(name)")
        #expect(reloaded.modelType == (try HuggingFaceConfiguration(directory: FamilyFixtures.directory(name)).modelType))
    }
}

extension Module {
    /// This module as a concrete type (a block's attention, say).
    func module<M: Module<Scalar>>(as _: M.Type) -> M { self as! M }
}

@Suite("Model directories a family cannot use are named")
struct FamilyConfigurationErrorTests {
    func loadError(_ name: String, _ change: (inout [String: Any]) -> Void) throws -> String {
        let copy = try FamilyFixtures.copy(name)
        try FamilyFixtures.editConfiguration(copy, change)
        let error = #expect(throws: ModelIOError.self) { try ModelDirectory.load(from: copy, as: Float.self) }
        return error.map { "\($0)" } ?? ""
    }

    @Test func anOptionTheFamilyDoesNotImplementIsNamed() throws {
        let message = try loadError("llama-gqa") { $0["attention_sink_size"] = 4 }
        #expect(message.contains("field attention_sink_size is not implemented for model_type 'llama'"), "\(message)")
        let rope = try loadError("llama-gqa") { c in
            var r = c["rope_parameters"] as! [String: Any]
            r["rope_type"] = "yarn"
            c["rope_parameters"] = r
        }
        #expect(rope.contains("field rope_parameters.rope_type rotary scaling 'yarn' is not implemented (supported: default, linear, llama3)"), "\(rope)")
        let activation = try loadError("pythia-parallel") { $0["hidden_act"] = "quick_gelu" }
        #expect(activation.contains("field hidden_act activation 'quick_gelu' is not implemented"), "\(activation)")
        let partial = try loadError("qwen2-bf16") { c in
            var r = c["rope_parameters"] as! [String: Any]
            r["partial_rotary_factor"] = 0.5
            c["rope_parameters"] = r
        }
        #expect(partial.contains("partial_rotary_factor"), "\(partial)")
    }

    @Test func impossibleSizesAreNamed() throws {
        let heads = try loadError("llama-gqa") { $0["num_key_value_heads"] = 3 }
        #expect(heads.contains("num_key_value_heads 3 does not divide num_attention_heads = 4"), "\(heads)")
        let rotary = try loadError("pythia-parallel") { c in
            var r = c["rope_parameters"] as! [String: Any]
            r["partial_rotary_factor"] = 0.125
            c["rope_parameters"] = r
        }
        #expect(rotary.contains("rotary_pct"), "\(rotary)")
        // A context length too large for Int, or fractional, is an error, not a trap.
        for bad in [1e30, 16.5, -4] as [Double] {
            let context = try loadError("llama-gqa") { c in
                var r = c["rope_parameters"] as! [String: Any]
                r["original_max_position_embeddings"] = bad
                c["rope_parameters"] = r
            }
            #expect(context.contains("rope_parameters.original_max_position_embeddings must be a positive integer"), "\(bad): \(context)")
        }
    }

    @Test func missingExtraAndMisshapenWeightsAreNamed() throws {
        let url = { (d: URL) in d.appendingPathComponent("model.safetensors") }
        func rewrite(_ directory: URL, _ change: (inout [(name: String, payload: SafeTensorsPayload)]) -> Void) throws {
            let file = try SafeTensorsFile(contentsOf: url(directory))
            var tensors: [(name: String, payload: SafeTensorsPayload)] = try file.tensorNames.map { ($0, .float32(try file.tensor(named: $0, as: Float.self))) }
            change(&tensors)
            try SafeTensorsFile.write(tensors, metadata: ["format": "pt"], to: url(directory))
        }
        let missing = try FamilyFixtures.copy("llama-gqa")
        try rewrite(missing) { $0.removeAll { $0.name == "model.layers.1.mlp.up_proj.weight" } }
        let m = #expect(throws: ModelIOError.self) { try ModelDirectory.load(from: missing, as: Float.self) }
        #expect("\(m!)".contains("tensor model.layers.1.mlp.up_proj.weight is missing (expected shape [48, 32])"), "\(m!)")

        let extra = try FamilyFixtures.copy("pythia-parallel")
        try rewrite(extra) { $0.append(("gpt_neox.layers.0.mlp.gate.weight", .float32(Tensor.zeros(shape: [2, 2])))) }
        let x = #expect(throws: ModelIOError.self) { try ModelDirectory.load(from: extra, as: Float.self) }
        #expect("\(x!)".contains("tensor gpt_neox.layers.0.mlp.gate.weight does not belong to this model"), "\(x!)")

        let misshapen = try FamilyFixtures.copy("qwen2-bf16")
        try rewrite(misshapen) { t in
            let i = t.firstIndex { $0.name == "model.layers.0.self_attn.k_proj.bias" }!
            t[i] = (t[i].name, .float32(Tensor.zeros(shape: [32])))
        }
        let s = #expect(throws: ModelIOError.self) { try ModelDirectory.load(from: misshapen, as: Float.self) }
        #expect("\(s!)".contains("tensor model.layers.0.self_attn.k_proj.bias has shape [32], the configuration implies [16]"), "\(s!)")
    }

    @Test func buffersOfOlderCheckpointsAreSkipped() throws {
        let directory = try FamilyFixtures.copy("pythia-parallel")
        let file = try SafeTensorsFile(contentsOf: directory.appendingPathComponent("model.safetensors"))
        var tensors: [(name: String, payload: SafeTensorsPayload)] = try file.tensorNames.map { ($0, .float32(try file.tensor(named: $0, as: Float.self))) }
        tensors.append(("gpt_neox.layers.0.attention.rotary_emb.inv_freq", .float32(Tensor.zeros(shape: [1]))))
        tensors.append(("gpt_neox.layers.0.attention.bias", .float32(Tensor.zeros(shape: [1, 1, 64, 64]))))
        try SafeTensorsFile.write(tensors, metadata: ["format": "pt"], to: directory.appendingPathComponent("model.safetensors"))
        _ = try FamilyFixtures.languageModel(directory)
    }
}
