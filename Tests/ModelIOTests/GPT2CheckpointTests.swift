import Autograd
import Foundation
import Formats
import ModelIO
import NeuralNetworks
import Testing
import TensorCore
import Tokenizers
import _TestSupport

/// The fixtures come from scripts/fixtures/make_gpt2_fixtures.py (transformers and tokenizers).
enum Fixtures {
    static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    static let model = directory.appendingPathComponent("tiny-gpt2")
    static let reference = try! SafeTensorsFile(contentsOf: directory.appendingPathComponent("reference.safetensors"))

    static func temporaryDirectory() -> URL {
        TestTemporaryRoot.directory("modelio")
    }
}

@Suite("GPT-2 checkpoints against transformers")
struct GPT2CheckpointTests {
    let tokens: [Int]
    let mask: [Int]

    init() throws {
        tokens = try Fixtures.reference.integers(named: "input_ids")
        mask = try Fixtures.reference.integers(named: "attention_mask")
    }

    func forward(_ model: GPT2LanguageModel<Float>) -> Variable<Float> {
        let attention = Tensor<Float>(shape: [2, tokens.count / 2], scalars: mask.map(Float.init))
        return model(tokens: tokens, batchSize: 2, attentionMask: attention)
    }

    @Test func logitsMatchTransformers() throws {
        let (model, _) = try GPT2Checkpoint.load(from: Fixtures.model, as: Float.self)
        let logits = forward(model).value
        let expected = try Fixtures.reference.tensor(named: "logits", as: Float.self)
        // Padding positions attend to nothing useful in either implementation; compare real tokens.
        let time = tokens.count / 2
        var worst: Float = 0
        for b in 0..<2 {
            for t in 0..<time where mask[b * time + t] == 1 {
                for v in 0..<expected.shape[2] {
                    worst = max(worst, abs(logits[b, t, v] - expected[b, t, v]))
                }
            }
        }
        #expect(worst <= 1e-4, "max |Δ logits| = \(worst)")
    }

    @Test func tokenLossesMatchTransformers() throws {
        let (model, _) = try GPT2Checkpoint.load(from: Fixtures.model, as: Float.self)
        let losses = Losses.nextTokenLosses(logits: forward(model), tokens: tokens, mask: mask).value
        let expected = try Fixtures.reference.tensor(named: "token_losses", as: Float.self)
        var worst: Float = 0
        for (a, b) in zip(losses.scalars, expected.scalars) { worst = max(worst, abs(a - b)) }
        #expect(worst <= 1e-4, "max |Δ loss| = \(worst)")
    }

    @Test func gradientsMatchTransformers() throws {
        let (model, _) = try GPT2Checkpoint.load(from: Fixtures.model, as: Float.self)
        let loss = Losses.nextTokenLosses(logits: forward(model), tokens: tokens, mask: mask).sum()
        let named = model.namedParameters()
        let grads = gradients(of: loss, at: named.map(\.parameter.variable))
        for ((name, _), g) in zip(named, grads) {
            let expected = try Fixtures.reference.tensor(named: "grad." + name, as: Float.self)
            let r = compare(g.value, expected, tolerance: 1e-3, name)
            #expect(r.passed, "\(r)")
        }
    }

    @Test func tokenizerMatchesTokenizersLibrary() throws {
        let (_, loaded) = try GPT2Checkpoint.load(from: Fixtures.model, as: Float.self)
        let tokenizer = try #require(loaded)
        let data = try Data(contentsOf: Fixtures.directory.appendingPathComponent("tokenization.json"))
        let samples = try JSONSerialization.jsonObject(with: data) as! [[String: Any]]
        for sample in samples {
            let text = sample["text"] as! String, ids = sample["ids"] as! [Int]
            #expect(tokenizer.encode(text) == ids, "ids of \(text.debugDescription)")
            #expect(tokenizer.decode(ids) == text, "decoding of \(text.debugDescription)")
        }
    }

    @Test func savedCheckpointLoadsBackWithTheSameLogits() throws {
        let (model, tokenizer) = try GPT2Checkpoint.load(from: Fixtures.model, as: Float.self)
        let out = Fixtures.temporaryDirectory().appendingPathComponent("saved")
        try GPT2Checkpoint.save(model, tokenizer: tokenizer, to: out)
        let names = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        #expect(names == ["config.json", "model.safetensors", "tokenizer.json"])
        let file = try SafeTensorsFile(contentsOf: out.appendingPathComponent("model.safetensors"))
        #expect(file.metadata["format"] == "pt")
        #expect(!file.contains(tensorNamed: "lm_head.weight"), "the tied head is not stored, as transformers does")
        // Conv1D weights are stored [in, out] like transformers.
        #expect(try file.entry(named: "transformer.h.0.mlp.c_fc.weight").shape == [32, 128])
        let (reloaded, _) = try GPT2Checkpoint.load(from: out, as: Float.self)
        #expect(forward(reloaded).value == forward(model).value)
    }

    @Test func loadsInDoublePrecision() throws {
        let (model, _) = try GPT2Checkpoint.load(from: Fixtures.model, as: Double.self)
        let attention = Tensor<Double>(shape: [2, tokens.count / 2], scalars: mask.map(Double.init))
        let loss = Losses.nextTokenLosses(logits: model(tokens: tokens, batchSize: 2, attentionMask: attention), tokens: tokens, mask: mask)
        let expected = try Fixtures.reference.tensor(named: "token_losses", as: Double.self)
        let r = compare(loss.value, expected, tolerance: 1e-5, "Float64 losses")
        #expect(r.passed, "\(r)")
    }
}

@Suite("Malformed model directories")
struct MalformedModelDirectoryTests {
    func copyOfFixture() throws -> URL {
        let out = Fixtures.temporaryDirectory().appendingPathComponent("model")
        try FileManager.default.copyItem(at: Fixtures.model, to: out)
        return out
    }

    @Test func missingDirectory() {
        #expect(throws: ModelIOError.self) { try ModelDirectory.load(from: URL(fileURLWithPath: "/nonexistent/model"), as: Float.self) }
    }

    @Test func missingWeights() throws {
        let dir = try copyOfFixture()
        try FileManager.default.removeItem(at: dir.appendingPathComponent("model.safetensors"))
        let error = #expect(throws: ModelIOError.self) { try ModelDirectory.load(from: dir, as: Float.self) }
        #expect("\(error!)".contains("model.safetensors"))
    }

    @Test func unsupportedModelType() throws {
        let dir = try copyOfFixture()
        try Data(#"{"model_type": "t5", "vocab_size": 10}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        let error = #expect(throws: ModelIOError.self) { try ModelDirectory.load(from: dir, as: Float.self) }
        #expect(error == .unsupportedModelType(path: dir.appendingPathComponent("config.json").path, modelType: "t5", supported: ModelRegistry.modelTypes))
        #expect("\(error!)".contains("model_type 't5' is not supported (supported: gpt2, llama, mistral, qwen2, gpt_neox, mlp, cnn)"), "\(error!)")
    }

    @Test func configurationThatDoesNotMatchTheWeights() throws {
        let dir = try copyOfFixture()
        let url = dir.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        config["n_embd"] = 64
        try JSONSerialization.data(withJSONObject: config).write(to: url)
        let error = #expect(throws: ModelIOError.self) { try ModelDirectory.load(from: dir, as: Float.self) }
        #expect("\(error!)".contains("does not match the weights"), "refused from the headers, before the model is allocated")
    }

    @Test func weightsWithNaN() throws {
        let dir = try copyOfFixture()
        let url = dir.appendingPathComponent("model.safetensors")
        let file = try SafeTensorsFile(contentsOf: url)
        var tensors: [(name: String, payload: SafeTensorsPayload)] = []
        for name in file.tensorNames {
            var t = try file.tensor(named: name, as: Float.self)
            if name == "transformer.ln_f.bias" { t[0] = .nan }
            tensors.append((name, .float32(t)))
        }
        try SafeTensorsFile.write(tensors, metadata: ["format": "pt"], to: url)
        #expect(throws: ModelIOError.nonFiniteTensor(path: url.path, tensor: "transformer.ln_f.bias")) {
            try ModelDirectory.load(from: dir, as: Float.self)
        }
    }

    @Test func malformedConfiguration() throws {
        let dir = try copyOfFixture()
        try Data("{not json".utf8).write(to: dir.appendingPathComponent("config.json"))
        #expect(throws: ModelIOError.self) { try ModelDirectory.load(from: dir, as: Float.self) }
    }
}
