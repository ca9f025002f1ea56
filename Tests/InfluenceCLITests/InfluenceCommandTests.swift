import Formats
import Foundation
import TensorCore
import Testing

@Suite("influence fit and scores", .serialized)
struct InfluenceCommandTests {
    func writeRows(_ dir: URL) throws -> (train: URL, queries: URL) {
        let train = dir.appendingPathComponent("train.jsonl"), queries = dir.appendingPathComponent("queries.jsonl")
        let texts = [
            "Hello, world!", "Don't panic.", "Über den Wolken.", "¿Dónde está la biblioteca?", "A cat sat on the mat.",
            "Two cats sat on two mats.", "Nothing is certain.", "Der Hund bellt.",
        ]
        try texts.map { "{\"text\": \(String(decoding: try JSONEncoder().encode($0), as: UTF8.self))}" }.joined(separator: "\n")
            .write(to: train, atomically: true, encoding: .utf8)
        try ["{\"prompt\": \"A cat\", \"completion\": \" sat on the mat.\"}", "{\"text\": \"Hello there, world!\"}"].joined(separator: "\n")
            .write(to: queries, atomically: true, encoding: .utf8)
        return (train, queries)
    }

    @Test func fitThenScoresWriteTheContractedFiles() throws {
        let dir = Influence.temporaryDirectory()
        let (train, queries) = try writeRows(dir)
        let factors = dir.appendingPathComponent("factors"), scores = dir.appendingPathComponent("scores")
        let fit = try Influence.run([
            "fit", "--model", Influence.fixtureModel.path, "--data", train.path, "--strategy", "ekfac",
            "--modules", "mlp", "--batch-size", "3", "--out", factors.path,
        ])
        #expect(fit.exitCode == 0, "\(fit.standardError)")
        #expect(fit.standardOutput.contains("fitted ekfac factors for 4 modules on 8 examples"))
        let run = try Influence.run([
            "scores", "--model", Influence.fixtureModel.path, "--factors", factors.path, "--train", train.path,
            "--queries", queries.path, "--per-module", "--per-token", "--self", "--out", scores.path,
        ])
        #expect(run.exitCode == 0, "\(run.standardError)")
        let pairwise = try SafeTensorsFile(contentsOf: scores.appendingPathComponent("pairwise_scores.safetensors"))
        let all = try pairwise.tensor(named: "all_modules", as: Float.self)
        #expect(all.shape == [2, 8])
        #expect(
            Set(pairwise.tensorNames)
                == Set([
                    "all_modules", "per_token", "transformer.h.0.mlp.c_fc", "transformer.h.0.mlp.c_proj",
                    "transformer.h.1.mlp.c_fc", "transformer.h.1.mlp.c_proj",
                ]))
        // The modules add up to the total, and the tokens to each score.
        var sum = Tensor<Float>.zeros(shape: [2, 8])
        for name in pairwise.tensorNames where name.hasPrefix("transformer.") { sum += try pairwise.tensor(named: name, as: Float.self) }
        let perToken = try pairwise.tensor(named: "per_token", as: Float.self)
        for (observed, expected) in [(sum, all), (perToken.sum(alongAxes: [2]), all)] {
            let scale = all.magnitude().max().scalar
            #expect((observed - expected).magnitude().max().scalar <= 1e-5 * scale)
        }
        let selfScores = try SafeTensorsFile(contentsOf: scores.appendingPathComponent("self_scores.safetensors")).tensor(named: "all_modules", as: Float.self)
        #expect(selfScores.shape == [8] && selfScores.scalars.allSatisfy { $0 > 0 }, "self-influence is a positive quadratic form")
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: scores.appendingPathComponent("summary.json"))) as! [String: Any]
        let perQuery = summary["queries"] as! [[String: Any]]
        #expect(perQuery.count == 2)
        let highest = perQuery[0]["highest"] as! [[String: Any]]
        #expect(highest.count == 8 && (highest[0]["score"] as! Double) >= (highest[1]["score"] as! Double))
        #expect(abs((highest[0]["score"] as! Double) - Double((0..<8).map { all[0, $0] }.max()!)) < 1e-3)
    }

    @Test func scoresRefuseFactorsOfAnotherModel() throws {
        let dir = Influence.temporaryDirectory()
        let (train, queries) = try writeRows(dir)
        let factors = dir.appendingPathComponent("factors")
        #expect(
            try Influence.run([
                "fit", "--model", Influence.fixtureModel.path, "--data", train.path, "--strategy", "diagonal",
                "--out", factors.path,
            ]).exitCode == 0)
        // Another model: the same architecture with one bias changed.
        let other = dir.appendingPathComponent("other")
        try FileManager.default.copyItem(at: Influence.fixtureModel, to: other)
        let weights = other.appendingPathComponent("model.safetensors")
        let file = try SafeTensorsFile(contentsOf: weights)
        var tensors: [(name: String, payload: SafeTensorsPayload)] = []
        for name in file.tensorNames {
            var t = try file.tensor(named: name, as: Float.self)
            if name == "transformer.ln_f.bias" { t[0] += 1 }
            tensors.append((name, .float32(t)))
        }
        try SafeTensorsFile.write(tensors, metadata: ["format": "pt"], to: weights)
        let r = try Influence.run([
            "scores", "--model", other.path, "--factors", factors.path, "--train", train.path,
            "--queries", queries.path, "--out", dir.appendingPathComponent("scores").path,
        ])
        #expect(r.exitCode == 1)
        #expect(r.standardError.contains("factors in \(factors.path) do not fit: they were fitted on another model"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("scores/pairwise_scores.safetensors").path))
    }

    @Test func conjugateGradientScoresNeedNoFactors() throws {
        let dir = Influence.temporaryDirectory()
        let (train, queries) = try writeRows(dir)
        let scores = dir.appendingPathComponent("scores")
        let r = try Influence.run([
            "scores", "--model", Influence.fixtureModel.path, "--strategy", "cg", "--curvature", "ggn",
            "--modules", "transformer.h.1.attn.c_proj", "--damping", "0.1", "--train", train.path,
            "--queries", queries.path, "--cg-fail", "--out", scores.path,
        ])
        #expect(r.exitCode == 0, "\(r.standardError)")
        #expect(r.standardOutput.contains("cg (ggn, 1056 parameters), damping 0.1"))
        let all = try SafeTensorsFile(contentsOf: scores.appendingPathComponent("pairwise_scores.safetensors")).tensor(named: "all_modules", as: Float.self)
        #expect(all.shape == [2, 8] && all.isFinite)
    }

    @Test func modulesAllCoversEveryParameterOfTheModel() throws {
        let dir = Influence.temporaryDirectory()
        let (train, queries) = try writeRows(dir)
        let inspect = try Influence.run(["inspect", "--model", Influence.fixtureModel.path])
        let count = inspect.standardOutput.split(separator: "\n").first { $0.hasPrefix("parameters: ") }!
            .dropFirst("parameters: ".count).replacingOccurrences(of: ",", with: "")
        let scores = dir.appendingPathComponent("scores")
        let r = try Influence.run([
            "scores", "--model", Influence.fixtureModel.path, "--strategy", "cg", "--modules", "all", "--damping", "0.1",
            "--cg-tolerance", "1e-4", "--train", train.path, "--queries", queries.path, "--per-module", "--out", scores.path,
        ])
        #expect(r.exitCode == 0, "\(r.standardError)")
        #expect(r.standardOutput.contains("cg (ggn, \(count) parameters)"), "\(r.standardOutput) (model: \(count))")
        let file = try SafeTensorsFile(contentsOf: scores.appendingPathComponent("pairwise_scores.safetensors"))
        #expect(file.contains(tensorNamed: "transformer.ln_f.weight") && file.contains(tensorNamed: "transformer.wpe.weight"))
        let refused = try Influence.run([
            "scores", "--model", Influence.fixtureModel.path, "--strategy", "cg", "--modules", "all", "--layerwise",
            "--damping", "0.1", "--train", train.path, "--queries", queries.path, "--out", scores.path,
        ])
        #expect(refused.exitCode == 64 && refused.standardError.contains("--modules all is offered without --layerwise and --per-token"))
    }

    @Test func tracInSumsLearningRateWeightedIdentityScoresOverSavedCheckpoints() throws {
        let dir = Influence.temporaryDirectory()
        let (train, queries) = try writeRows(dir)
        let model = dir.appendingPathComponent("model")
        let trained = try Influence.run([
            "train", "--data", train.path, "--out", model.path, "--steps", "6", "--layers", "1", "--width", "16",
            "--heads", "2", "--context", "32", "--vocab-size", "300", "--batch-size", "2", "--save-every", "3",
            "--validation-fraction", "0", "--validation-interval", "0",
        ])
        #expect(trained.exitCode == 0, "\(trained.standardError)")
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: model.appendingPathComponent("checkpoints/checkpoints.json"))) as! [[String: Any]]
        #expect(index.map { $0["path"] as! String } == ["step-000003", "step-000006"])
        let tracin = dir.appendingPathComponent("tracin")
        let r = try Influence.run([
            "scores", "--model", model.path, "--strategy", "tracin", "--checkpoints", model.appendingPathComponent("checkpoints").path,
            "--modules", "mlp", "--train", train.path, "--queries", queries.path, "--out", tracin.path,
        ])
        #expect(r.exitCode == 0, "\(r.standardError)")
        // The oracle: each checkpoint's identity scores through fit and scores, weighted by its learning rate.
        var expected = Tensor<Float>.zeros(shape: [2, 8])
        for entry in index {
            let checkpoint = model.appendingPathComponent("checkpoints").appendingPathComponent(entry["path"] as! String)
            let factors = dir.appendingPathComponent("f-\(entry["path"]!)"), scores = dir.appendingPathComponent("s-\(entry["path"]!)")
            #expect(
                try Influence.run([
                    "fit", "--model", checkpoint.path, "--data", train.path, "--strategy", "identity", "--modules", "mlp",
                    "--out", factors.path,
                ]).exitCode == 0)
            #expect(
                try Influence.run([
                    "scores", "--model", checkpoint.path, "--factors", factors.path, "--train", train.path,
                    "--queries", queries.path, "--out", scores.path,
                ]).exitCode == 0)
            let s = try SafeTensorsFile(contentsOf: scores.appendingPathComponent("pairwise_scores.safetensors")).tensor(named: "all_modules", as: Float.self)
            expected += s * Float(entry["learning_rate"] as! Double)
        }
        let observed = try SafeTensorsFile(contentsOf: tracin.appendingPathComponent("pairwise_scores.safetensors")).tensor(
            named: "all_modules", as: Float.self)
        #expect((observed - expected).magnitude().max().scalar <= 1e-5 * expected.magnitude().max().scalar)
    }

    @Test func arnoldiScoresOfFullRankEqualConjugateGradient() throws {
        let dir = Influence.temporaryDirectory()
        let (train, queries) = try writeRows(dir)
        func run(_ extra: [String]) throws -> Tensor<Float> {
            let out = dir.appendingPathComponent(UUID().uuidString)
            let r = try Influence.run(
                [
                    "scores", "--model", Influence.fixtureModel.path, "--curvature", "ggn", "--modules",
                    "transformer.h.0.attn.c_proj", "--damping", "0.1", "--train", train.path, "--queries", queries.path,
                    "--out", out.path,
                ] + extra)
            #expect(r.exitCode == 0, "\(r.standardError)")
            return try SafeTensorsFile(contentsOf: out.appendingPathComponent("pairwise_scores.safetensors")).tensor(named: "all_modules", as: Float.self)
        }
        let cg = try run(["--strategy", "cg", "--cg-tolerance", "1e-7"])
        let arnoldi = try run(["--strategy", "arnoldi", "--arnoldi-rank", "1056", "--arnoldi-krylov", "1056"])
        let scale = cg.magnitude().max().scalar
        #expect((arnoldi - cg).magnitude().max().scalar <= 1e-3 * scale)
    }

    @Test(arguments: [
        (
            ["scores", "--model", "m", "--train", "t", "--queries", "q", "--out", "o"],
            "Error: give either --factors FACTORS_DIR or --strategy identity|diagonal|kfac|ekfac|exact|cg|lissa|arnoldi|tracin"
        ),
        (
            ["scores", "--model", "m", "--strategy", "cg", "--factors", "f", "--train", "t", "--queries", "q", "--damping", "1", "--out", "o"],
            "Error: give either --factors FACTORS_DIR or --strategy identity|diagonal|kfac|ekfac|exact|cg|lissa|arnoldi|tracin"
        ),
        (
            ["scores", "--model", "m", "--strategy", "cg", "--train", "t", "--queries", "q", "--damping", "1", "--self", "--out", "o"],
            "Error: --self needs fitted factors or --strategy exact|arnoldi; it is not offered with --strategy cg"
        ),
        (
            ["fit", "--model", "m", "--data", "d", "--strategy", "newton", "--out", "o"],
            "Error: option '--strategy' must be one of identity, diagonal, kfac, ekfac, got 'newton'"
        ),
        (
            ["fit", "--model", "m", "--data", "d", "--strategy", "ekfac", "--fisher", "true", "--out", "o"],
            "Error: option '--fisher' must be one of sampled, empirical, got 'true'"
        ),
        (
            ["scores", "--model", "m", "--factors", "f", "--train", "t", "--queries", "q", "--damping", "-1", "--out", "o"],
            "Error: option '--damping' needs 'auto' or a number from 0 to 1e15 (beyond it every score is 0 in float precision), got '-1'"
        ),
    ])
    func invalidOptionsAreUsageErrors(arguments: [String], message: String) throws {
        let r = try Influence.run(arguments)
        #expect(r.exitCode == 64)
        #expect(r.standardError.hasPrefix(message + "\nUsage: influence \(arguments[0]) "), "\(r.standardError)")
    }

    @Test func modulesThatMatchNothingAreNamed() throws {
        let dir = Influence.temporaryDirectory()
        let (train, _) = try writeRows(dir)
        let r = try Influence.run([
            "fit", "--model", Influence.fixtureModel.path, "--data", train.path, "--strategy", "kfac",
            "--modules", "transformer.h.9.*", "--out", dir.appendingPathComponent("f").path,
        ])
        #expect(r.exitCode == 1)
        #expect(r.standardError.contains("no Linear layer matches transformer.h.9.*; available: transformer.h.0.attn.c_attn"))
    }
}
