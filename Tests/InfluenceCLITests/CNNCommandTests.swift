import Formats
import Foundation
import TensorCore
import Testing

/// A FashionMNIST CNN end to end through the command line: train, then every strategy of fit and
/// scores, PBRF validation, and the errors of data that does not fit the model.
@Suite("influence on a FashionMNIST CNN", .serialized)
struct CNNCommandTests {
    static func train(_ directory: URL) throws -> URL {
        let model = directory.appendingPathComponent("cnn")
        let r = try Influence.run([
            "train", "--architecture", "cnn", "--dataset", "fashion-mnist", "--channels", "2,2", "--kernel-size", "3",
            "--max-examples", "256", "--steps", "40", "--batch-size", "32", "--learning-rate", "0.01",
            "--validation-fraction", "0.1", "--out", model.path,
        ])
        #expect(r.exitCode == 0, "\(r.standardError)")
        return model
    }

    static func scores(_ directory: URL) throws -> Tensor<Float> {
        try SafeTensorsFile(contentsOf: directory.appendingPathComponent("pairwise_scores.safetensors")).tensor(named: "all_modules", as: Float.self)
    }

    static func pearson(_ a: Tensor<Float>, _ b: Tensor<Float>) -> Double {
        let x = a.scalars.map(Double.init), y = b.scalars.map(Double.init), n = Double(x.count)
        let (mx, my) = (x.reduce(0, +) / n, y.reduce(0, +) / n)
        let c = zip(x, y).map { ($0 - mx) * ($1 - my) }.reduce(0, +)
        return c / (x.map { ($0 - mx) * ($0 - mx) }.reduce(0, +) * y.map { ($0 - my) * ($0 - my) }.reduce(0, +)).squareRoot()
    }

    @Test func trainsFitsScoresWithEveryStrategyAndValidates() throws {
        let dir = Influence.temporaryDirectory()
        let model = try Self.train(dir)
        // PyTorch's layout, named as nn.Sequential names its steps.
        let weights = try SafeTensorsFile(contentsOf: model.appendingPathComponent("model.safetensors"))
        #expect(try weights.entry(named: "layers.0.weight").shape == [2, 1, 3, 3])
        #expect(try weights.entry(named: "layers.3.weight").shape == [2, 2, 3, 3])
        #expect(try weights.entry(named: "layers.7.weight").shape == [10, 98])
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: model.appendingPathComponent("config.json"))) as? [String: Any]
        #expect(config?["model_type"] as? String == "cnn" && config?["input_shape"] as? [Int] == [1, 28, 28], "\(String(describing: config))")
        let inspect = try Influence.run(["inspect", "--model", model.path])
        #expect(inspect.exitCode == 0 && inspect.standardOutput.contains("layers.0") && inspect.standardOutput.contains("conv2d"), "\(inspect.standardOutput)")

        let data = ["--train", "fashion-mnist:train", "--queries", "fashion-mnist:test", "--max-examples", "40", "--max-queries", "3"]
        var results: [String: Tensor<Float>] = [:]
        for strategy in ["ekfac", "kfac", "diagonal"] {
            let factors = dir.appendingPathComponent("factors-\(strategy)"), out = dir.appendingPathComponent("scores-\(strategy)")
            let fit = try Influence.run([
                "fit", "--model", model.path, "--data", "fashion-mnist:train", "--max-examples", "40", "--strategy", strategy,
                "--out", factors.path,
            ])
            #expect(fit.exitCode == 0 && fit.standardOutput.contains("for 3 modules on 40 examples"), "\(strategy): \(fit.standardOutput)\(fit.standardError)")
            let s = try Influence.run(
                ["scores", "--model", model.path, "--factors", factors.path, "--damping", "0.01", "--per-module", "--out", out.path] + data)
            #expect(s.exitCode == 0, "\(strategy): \(s.standardError)")
            results[strategy] = try Self.scores(out)
        }
        for strategy in ["identity", "exact", "cg", "lissa", "arnoldi"] {
            let out = dir.appendingPathComponent("scores-\(strategy)")
            // LiSSA's scale must exceed the curvature's largest eigenvalue, which raw pixels make large.
            let extra = strategy == "lissa" ? ["--lissa-scale", "200", "--lissa-depth", "500"] : []
            let s = try Influence.run(["scores", "--model", model.path, "--strategy", strategy, "--damping", "0.01", "--out", out.path] + extra + data)
            #expect(s.exitCode == 0, "\(strategy): \(s.standardError)")
            results[strategy] = try Self.scores(out)
        }
        for (strategy, scores) in results {
            #expect(scores.shape == [3, 40] && scores.scalars.allSatisfy(\.isFinite), "\(strategy): \(scores.shape)")
        }
        let exact = try #require(results["exact"]), cg = try #require(results["cg"]), ekfac = try #require(results["ekfac"])
        #expect((cg - exact).magnitude().max().scalar <= 1e-2 * exact.magnitude().max().scalar, "CG against the exact solve")
        // EK-FAC (fitted on sampled labels, 40 images) follows the exact Gauss–Newton solve (Pearson
        // 0.79 when this was written).
        #expect(Self.pearson(ekfac, exact) > 0.6, "EK-FAC against exact: \(Self.pearson(ekfac, exact))")

        let pbrf = try Influence.run([
            "validate", "pbrf", "--model", model.path, "--train", "fashion-mnist:train", "--queries", "fashion-mnist:test",
            "--max-examples", "64", "--max-queries", "2", "--points", "4", "--strategies", "exact,ekfac,identity",
            "--damping", "0.01", "--pbrf-steps", "300", "--out", dir.appendingPathComponent("pbrf").path,
        ])
        #expect(pbrf.exitCode == 0 && pbrf.standardOutput.contains("pearson"), "\(pbrf.standardOutput)\(pbrf.standardError)")
    }

    @Test func ldsAndMislabelsRetrainTheCNN() throws {
        let dir = Influence.temporaryDirectory()
        let model = dir.appendingPathComponent("cnn")
        let trained = try Influence.run([
            "train", "--architecture", "cnn", "--dataset", "fashion-mnist", "--channels", "2", "--max-examples", "96",
            "--steps", "30", "--batch-size", "16", "--learning-rate", "0.01", "--validation-fraction", "0",
            "--validation-interval", "0", "--save-every", "15", "--out", model.path,
        ])
        try #require(trained.exitCode == 0, "\(trained.standardError)")
        // TracIn over the two checkpoints the training kept.
        let tracin = try Influence.run([
            "scores", "--model", model.path, "--strategy", "tracin", "--checkpoints", model.appendingPathComponent("checkpoints").path,
            "--train", "fashion-mnist:train", "--queries", "fashion-mnist:test", "--max-examples", "20", "--max-queries", "2",
            "--out", dir.appendingPathComponent("tracin").path,
        ])
        #expect(tracin.exitCode == 0 && tracin.standardOutput.contains("TracIn over 2 checkpoints"), "\(tracin.standardOutput)\(tracin.standardError)")
        #expect(try Self.scores(dir.appendingPathComponent("tracin")).shape == [2, 20])
        let lds = try Influence.run([
            "validate", "lds", "--model", model.path, "--train", "fashion-mnist:train", "--queries", "fashion-mnist:test",
            "--max-examples", "48", "--max-queries", "3", "--subsets", "6", "--strategies", "ekfac,identity",
            "--damping", "0.01", "--out", dir.appendingPathComponent("lds").path,
        ])
        #expect(lds.exitCode == 0 && lds.standardError.contains("CNN classifier conv2d-relu-max_pool2d-flatten-linear"), "\(lds.standardError)")
        let rows = ValidateCommandTests.strategies(try ValidateCommandTests.record(dir.appendingPathComponent("lds/lds.json")))
        guard case let .number(value)? = rows["ekfac"]?["lds"] else {
            Issue.record("no LDS for ekfac: \(rows)")
            return
        }
        #expect(value >= -1 && value <= 1)
        let mislabels = try Influence.run([
            "validate", "mislabels", "--model", model.path, "--train", "fashion-mnist:train", "--max-examples", "60",
            "--strategies", "identity,ekfac", "--damping", "0.01", "--out", dir.appendingPathComponent("mislabels").path,
        ])
        #expect(mislabels.exitCode == 0 && mislabels.standardOutput.contains("auc"), "\(mislabels.standardOutput)\(mislabels.standardError)")
    }

    @Test func dataThatDoesNotFitTheFirstLayerIsNamed() throws {
        let dir = Influence.temporaryDirectory()
        let model = dir.appendingPathComponent("cnn")
        let trained = try Influence.run([
            "train", "--architecture", "cnn", "--dataset", "fashion-mnist", "--channels", "1", "--max-examples", "16",
            "--steps", "1", "--validation-fraction", "0", "--validation-interval", "0", "--out", model.path,
        ])
        try #require(trained.exitCode == 0, "\(trained.standardError)")
        let csv = dir.appendingPathComponent("small.csv")
        try "a,b,c,d,label\n1,2,3,4,0\n".write(to: csv, atomically: true, encoding: .utf8)
        let r = try Influence.run(["fit", "--model", model.path, "--data", csv.path, "--strategy", "ekfac", "--out", dir.appendingPathComponent("f").path])
        #expect(r.exitCode == 1 && r.standardError.contains("4 values per row") && r.standardError.contains("1×28×28"), "\(r.standardError)")
        // A CSV CNN needs the image shape.
        let noShape = try Influence.run(["train", "--architecture", "cnn", "--data", csv.path, "--steps", "1", "--out", dir.appendingPathComponent("m").path])
        #expect(noShape.exitCode != 0 && noShape.standardError.contains("--input-shape"), "\(noShape.standardError)")
        let wrongShape = try Influence.run([
            "train", "--architecture", "cnn", "--data", csv.path, "--input-shape", "1,3,3", "--steps", "1",
            "--out", dir.appendingPathComponent("m").path,
        ])
        #expect(wrongShape.exitCode != 0 && wrongShape.standardError.contains("input shape 1,3,3"), "\(wrongShape.standardError)")
    }
}
