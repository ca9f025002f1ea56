import Formats
import Foundation
import TensorCore
import Testing

/// The command line on Llama-family and GPT-NeoX models: the transformers fixtures, and models
/// `influence train --architecture` makes.
@Suite("influence on Llama and GPT-NeoX models", .serialized)
struct FamilyCommandTests {
    static let families = Influence.packageRoot.appendingPathComponent("Tests/ModelIOTests/Fixtures/families")

    /// The reference batch's rows as `{"input_ids"}` lines, without the padding of row 1.
    func referenceRows(_ name: String, to url: URL) throws -> (file: SafeTensorsFile, rows: [[Int]]) {
        let file = try SafeTensorsFile(contentsOf: Self.families.appendingPathComponent(name).appendingPathComponent("reference.safetensors"))
        let ids = try file.integers(named: "input_ids"), mask = try file.integers(named: "attention_mask")
        let time = ids.count / 2
        let rows = (0..<2).map { b in (0..<time).filter { mask[b * time + $0] == 1 }.map { ids[b * time + $0] } }
        try rows.map { "{\"input_ids\": \($0)}" }.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        return (file, rows)
    }

    @Test(arguments: ["llama-gqa", "qwen2-bf16", "mistral-window", "pythia-parallel", "llama-sharded"])
    func lossEqualsTransformersTokenLossesSummed(name: String) throws {
        let dir = Influence.temporaryDirectory()
        let data = dir.appendingPathComponent("rows.jsonl")
        let (file, rows) = try referenceRows(name, to: data)
        let r = try Influence.run(["loss", "--model", Self.families.appendingPathComponent(name).path, "--data", data.path])
        #expect(r.exitCode == 0, "\(r.standardError)")
        let expected = try file.tensor(named: "token_losses", as: Float.self).sum(alongAxes: [1])
        let lines = r.standardOutput.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(lines.count == 2)
        for (b, line) in lines.enumerated() {
            let loss = line["loss"] as! Double
            #expect(abs(loss - Double(expected[b])) <= 1e-4 * abs(Double(expected[b])), "\(name) row \(b): \(loss) vs \(expected[b])")
            #expect(line["tokens"] as! Int == rows[b].count - 1)
        }
    }

    @Test func inspectNamesTheFamilyItsGroupsAndTiedHead() throws {
        let r = try Influence.run(["inspect", "--model", Self.families.appendingPathComponent("qwen2-bf16").path])
        #expect(r.exitCode == 0, "\(r.standardError)")
        #expect(r.standardOutput.contains("model: qwen2 (Qwen2ForCausalLM)"))
        #expect(r.standardOutput.contains("num_key_value_heads 2, head_dim 8"))
        #expect(r.standardOutput.contains("biases: q/k/v yes, o no"))
        #expect(r.standardOutput.contains("  model.layers.0.self_attn.k_proj          Linear*    weight [16, 32], bias [16]"), "\(r.standardOutput)")
        #expect(r.standardOutput.contains("(lm_head.weight is tied to model.embed_tokens.weight)"))
        #expect(r.standardOutput.contains("module groups (--modules): all (15), attention (8), mlp (6)"))
    }

    @Test(arguments: ["llama", "gpt_neox"])
    func trainFitAndScoreAModelOfEachArchitecture(architecture: String) throws {
        let dir = Influence.temporaryDirectory()
        let data = dir.appendingPathComponent("texts.jsonl")
        let sentences = (0..<120).map { i in "{\"text\": \"the cat number \(i % 7) sat on the mat and saw \(i % 5) dogs.\"}" }
        try sentences.joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        let queries = dir.appendingPathComponent("queries.jsonl")
        try "{\"prompt\": \"the cat number 3\", \"completion\": \" sat on the mat\"}\n".write(to: queries, atomically: true, encoding: .utf8)
        let model = dir.appendingPathComponent("model")
        let train = try Influence.run(
            [
                "train", "--architecture", architecture, "--data", data.path, "--out", model.path, "--steps", "30",
                "--layers", "1", "--width", "16", "--heads", "4", "--context", "16", "--vocab-size", "300",
                "--validation-interval", "10", "--dropout", "0",
            ] + (architecture == "llama" ? ["--kv-heads", "2"] : []))
        #expect(train.exitCode == 0, "\(train.standardError)")
        let log = try String(contentsOf: model.appendingPathComponent("training_log.jsonl"), encoding: .utf8).split(separator: "\n")
        let validation = log.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["validation_loss"] as? Double }
        #expect(validation.count == 3 && validation.last! < validation.first!, "validation losses \(validation)")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: model.appendingPathComponent("config.json"))) as! [String: Any]
        #expect(config["model_type"] as? String == architecture)
        let factors = dir.appendingPathComponent("factors"), scores = dir.appendingPathComponent("scores")
        let fit = try Influence.run([
            "fit", "--model", model.path, "--data", data.path, "--strategy", "ekfac", "--modules", "mlp",
            "--max-examples", "24", "--out", factors.path,
        ])
        #expect(fit.exitCode == 0, "\(fit.standardError)")
        let mlp =
            architecture == "llama"
            ? ["model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj", "model.layers.0.mlp.down_proj"]
            : ["gpt_neox.layers.0.mlp.dense_h_to_4h", "gpt_neox.layers.0.mlp.dense_4h_to_h"]
        #expect(fit.standardOutput.contains("modules: " + mlp.joined(separator: ", ")), "\(fit.standardOutput)")
        let run = try Influence.run([
            "scores", "--model", model.path, "--factors", factors.path, "--train", data.path, "--max-examples", "24",
            "--queries", queries.path, "--per-module", "--per-token", "--out", scores.path,
        ])
        #expect(run.exitCode == 0, "\(run.standardError)")
        let pairwise = try SafeTensorsFile(contentsOf: scores.appendingPathComponent("pairwise_scores.safetensors"))
        let all = try pairwise.tensor(named: "all_modules", as: Float.self)
        #expect(all.shape == [1, 24])
        var sum = Tensor<Float>.zeros(shape: [1, 24])
        for name in mlp { sum += try pairwise.tensor(named: name, as: Float.self) }
        let scale = all.magnitude().max().scalar
        #expect((sum - all).magnitude().max().scalar <= 1e-4 * scale, "the modules add up to the total")
        #expect((try pairwise.tensor(named: "per_token", as: Float.self).sum(alongAxes: [2]) - all).magnitude().max().scalar <= 1e-4 * scale)
        // The solvers run on the same model: the exact Gauss–Newton solve over one attention layer.
        let exact = try Influence.run([
            "scores", "--model", model.path, "--strategy", "exact", "--modules", "attention", "--damping", "0.1",
            "--train", data.path, "--max-examples", "8", "--queries", queries.path, "--out", dir.appendingPathComponent("exact").path,
        ])
        #expect(exact.exitCode == 0, "\(exact.standardError)")
    }
}
