import Foundation
import Testing

@Suite("influence train", .serialized)
struct TrainCommandTests {
    /// A small separable CSV: the label is which of two features is larger.
    func writeCSV(to url: URL) throws {
        var lines = ["a,b,c,label"]
        var state: UInt64 = 12345
        func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        for _ in 0..<240 {
            let (a, b, c) = (next(), next(), next())
            lines.append("\(a),\(b),\(c),\(a > b ? "big" : "small")")
        }
        try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
    }

    func log(_ dir: URL) throws -> [String] {
        try String(contentsOf: dir.appendingPathComponent("training_log.jsonl"), encoding: .utf8).split(separator: "\n").map(String.init)
    }

    @Test func classifierTrainsAndAResumedRunMatchesAnUninterruptedOne() throws {
        let root = Influence.temporaryDirectory()
        let csv = root.appendingPathComponent("data.csv")
        try writeCSV(to: csv)
        let common = [
            "train", "--model-type", "mlp", "--data", csv.path, "--hidden", "8", "--batch-size", "16",
            "--learning-rate", "0.05", "--validation-interval", "10", "--checkpoint-interval", "10",
        ]
        let straight = root.appendingPathComponent("straight")
        let r1 = try Influence.run(common + ["--out", straight.path, "--steps", "40"])
        #expect(r1.exitCode == 0, "\(r1.standardError)")
        let resumed = root.appendingPathComponent("resumed")
        let r2 = try Influence.run(common + ["--out", resumed.path, "--steps", "20"])
        #expect(r2.exitCode == 0, "\(r2.standardError)")
        let r3 = try Influence.run(common + ["--out", resumed.path, "--steps", "40"])
        #expect(r3.exitCode == 0, "\(r3.standardError)")
        #expect(r3.standardError.contains("resuming from step 20"))
        let a = try log(straight), b = try log(resumed)
        #expect(a.count == 40 && a == b, "the resumed run's log differs from the uninterrupted one")
        // The loss falls on this separable problem.
        let losses = a.map { (try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["validation_loss"] as? Double }.compactMap { $0 }
        #expect(losses.count == 4 && losses.last! < losses.first!, "validation losses \(losses)")
        let files = try FileManager.default.contentsOfDirectory(atPath: straight.path).filter { $0 != ".influence.lock" }.sorted()
        #expect(files == ["checkpoint.safetensors", "config.json", "model.safetensors", "training_log.jsonl", "training_options.json", "training_run.json"])
        let inspect = try Influence.run(["inspect", "--model", straight.path])
        #expect(inspect.standardOutput.contains("configuration: sizes 3-8-2, activation relu"))
    }

    @Test func epochsCountPassesOverTheTrainingExamples() throws {
        let root = Influence.temporaryDirectory()
        let csv = root.appendingPathComponent("data.csv")
        try writeCSV(to: csv)
        let out = root.appendingPathComponent("model")
        // 240 rows, a tenth held out: 216 training rows, batches of 16 → 14 steps per epoch.
        let r = try Influence.run([
            "train", "--model-type", "mlp", "--data", csv.path, "--hidden", "4", "--epochs", "2",
            "--batch-size", "16", "--out", out.path,
        ])
        #expect(r.exitCode == 0, "\(r.standardError)")
        #expect(try log(out).count == 28)
    }

    @Test func resumingWithOtherOptionsIsRefused() throws {
        let root = Influence.temporaryDirectory()
        let csv = root.appendingPathComponent("data.csv")
        try writeCSV(to: csv)
        let out = root.appendingPathComponent("model")
        let base = ["train", "--model-type", "mlp", "--data", csv.path, "--hidden", "4", "--steps", "5", "--out", out.path]
        #expect(try Influence.run(base).exitCode == 0)
        let changed = try Influence.run(base + ["--learning-rate", "0.5"])
        #expect(changed.exitCode == 1)
        #expect(changed.standardError.contains("was made with other options"))
        #expect(try Influence.run(base + ["--learning-rate", "0.5", "--restart"]).exitCode == 0)
    }

    @Test func languageModelTrainsOnJSONLinesWithItsOwnTokenizer() throws {
        let root = Influence.temporaryDirectory()
        let data = root.appendingPathComponent("texts.jsonl")
        let sentences = (0..<200).map { i in "{\"text\": \"the cat number \(i % 7) sat on the mat and saw \(i % 5) dogs.\"}" }
        try sentences.joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        let out = root.appendingPathComponent("lm")
        let r = try Influence.run([
            "train", "--data", data.path, "--out", out.path, "--steps", "30", "--layers", "1", "--width", "16",
            "--heads", "2", "--context", "16", "--vocab-size", "300", "--validation-interval", "10",
            "--dropout", "0",
        ])
        #expect(r.exitCode == 0, "\(r.standardError)")
        let names = try FileManager.default.contentsOfDirectory(atPath: out.path)
        #expect(names.contains("tokenizer.json") && names.contains("config.json") && names.contains("model.safetensors"))
        let validation = try log(out).compactMap { (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["validation_loss"] as? Double }
        #expect(validation.count == 3 && validation.last! < validation.first!, "validation losses \(validation)")
        // The trained directory is usable by the other commands.
        let loss = try Influence.run(["loss", "--model", out.path, "--data", data.path])
        #expect(loss.exitCode == 0 && loss.standardOutput.split(separator: "\n").count == 200)
    }

    @Test(arguments: [
        (["train", "--out", "/tmp/x"], "Error: language-model training needs exactly one of --corpus fortunes and --data FILE.jsonl"),
        (["train", "--out", "/tmp/x", "--corpus", "wikipedia"], "Error: unknown corpus 'wikipedia' (available: fortunes)"),
        (["train", "--out", "/tmp/x", "--corpus", "fortunes", "--steps", "0"], "Error: option '--steps' must be at least 1, got 0"),
        (["train", "--out", "/tmp/x", "--model-type", "mlp"], "Error: MLP training needs exactly one of --dataset fashion-mnist and --data FILE.csv"),
        (["train", "--out", "/tmp/x", "--model-type", "resnet"], "Error: option '--model-type' must be one of gpt2, llama, gpt_neox, mlp, cnn, got 'resnet'"),
    ])
    func invalidCombinationsAreUsageErrors(arguments: [String], message: String) throws {
        let r = try Influence.run(arguments)
        #expect(r.exitCode == 64)
        #expect(r.standardError.hasPrefix(message + "\nUsage: influence train "), "\(r.standardError)")
    }
}
