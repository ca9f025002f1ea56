import Formats
import Foundation
import Testing

/// `influence validate pbrf|lds|mislabels` on a small MLP classifier trained from a CSV file.
@Suite("influence validate", .serialized)
struct ValidateCommandTests {
    /// Rows `a,b,c,d,label`: three classes separated by a linear rule, so a small MLP learns them.
    static func writeCSV(_ url: URL, rows: Int, seed: UInt64) throws {
        var state = seed
        func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53) * 2 - 1
        }
        var lines = ["a,b,c,d,label"]
        for _ in 0..<rows {
            let v = (0..<4).map { _ in next() }
            let label = v[0] + v[1] > 0.3 ? 2 : (v[2] - v[3] > 0 ? 1 : 0)
            lines.append(v.map { String(format: "%.5f", $0) }.joined(separator: ",") + ",\(label)")
        }
        try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
    }

    struct Setup {
        let directory: URL, model: URL, train: URL, queries: URL
    }

    static func setUp() throws -> Setup {
        let directory = Influence.temporaryDirectory()
        let train = directory.appendingPathComponent("train.csv"), queries = directory.appendingPathComponent("queries.csv")
        try writeCSV(train, rows: 160, seed: 1)
        try writeCSV(queries, rows: 6, seed: 2)
        let model = directory.appendingPathComponent("mlp")
        let trained = try Influence.run([
            "train", "--model-type", "mlp", "--data", train.path, "--hidden", "8", "--steps", "150", "--batch-size", "32",
            "--learning-rate", "0.02", "--validation-fraction", "0.01", "--out", model.path,
        ])
        #expect(trained.exitCode == 0, "\(trained.standardError)")
        #expect(FileManager.default.fileExists(atPath: model.appendingPathComponent("training_options.json").path))
        return Setup(directory: directory, model: model, train: train, queries: queries)
    }

    static func record(_ url: URL) throws -> [String: JSONValue] {
        guard case let .object(o) = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: url)) else { return [:] }
        return o
    }

    static func strategies(_ record: [String: JSONValue]) -> [String: [String: JSONValue]] {
        guard case let .array(rows)? = record["strategies"] else { return [:] }
        var result: [String: [String: JSONValue]] = [:]
        for case let .object(row) in rows { if case let .string(name)? = row["strategy"] { result[name] = row } }
        return result
    }

    @Test func pbrfRanksExactAboveIdentityAndResumes() throws {
        let s = try Self.setUp()
        let out = s.directory.appendingPathComponent("pbrf")
        let arguments = [
            "validate", "pbrf", "--model", s.model.path, "--train", s.train.path, "--queries", s.queries.path, "--points", "8",
            "--strategies", "exact,ekfac,identity,cg:tolerance=1e-8,tracin,exact:layerwise", "--damping", "0.01", "--pbrf-steps", "3000",
            "--out", out.path,
        ]
        let first = try Influence.run(arguments)
        #expect(first.exitCode == 0, "\(first.standardError)")
        #expect(first.standardOutput.contains("pearson") && first.standardOutput.contains("solves converged"), "\(first.standardOutput)")
        let record = try Self.record(out.appendingPathComponent("pbrf.json"))
        let rows = Self.strategies(record)
        guard case let .number(exact)? = rows["exact"]?["pearson"], case let .number(cg)? = rows["cg:tolerance=1e-8"]?["pearson"] else {
            Issue.record("no Pearson for exact or cg in \(record)")
            return
        }
        #expect(exact > 0.9, "exact GGN against PBRF: \(exact)")
        #expect(abs(cg - exact) < 0.02, "cg \(cg) vs exact \(exact)")
        #expect(rows["tracin"]?["skipped"] != nil, "the model has no checkpoints: \(String(describing: rows["tracin"]))")
        // The block-diagonal exact solve is its own row, and differs from the full one.
        guard case let .number(layerwise)? = rows["exact:layerwise"]?["pearson"] else {
            Issue.record("no Pearson for exact:layerwise in \(record)")
            return
        }
        #expect(layerwise != exact)
        // A rerun reads the finished solves and scores back: the same figures, no new solve.
        let second = try Influence.run(arguments)
        #expect(second.exitCode == 0, "\(second.standardError)")
        #expect(!second.standardError.contains("scoring with"), "\(second.standardError)")
        #expect(Self.strategies(try Self.record(out.appendingPathComponent("pbrf.json")))["exact"]?["pearson"] == rows["exact"]?["pearson"])
        // Other settings on the same output are refused, naming the file.
        let other = try Influence.run(arguments.map { $0 == "0.01" ? "0.02" : $0 })
        #expect(other.exitCode == 1 && other.standardError.contains("pbrf-truth.jsonl"), "\(other.standardError)")
    }

    @Test func ldsAndMislabelsRetrainTheClassifier() throws {
        let s = try Self.setUp()
        let lds = try Influence.run([
            "validate", "lds", "--model", s.model.path, "--train", s.train.path, "--queries", s.queries.path, "--subsets", "12",
            "--strategies", "exact,identity", "--damping", "0.01", "--out", s.directory.appendingPathComponent("lds").path,
        ])
        #expect(lds.exitCode == 0, "\(lds.standardError)")
        let ldsRows = Self.strategies(try Self.record(s.directory.appendingPathComponent("lds/lds.json")))
        guard case let .number(value)? = ldsRows["exact"]?["lds"] else {
            Issue.record("no LDS for exact: \(ldsRows)")
            return
        }
        #expect(value > -1 && value <= 1)
        // The retrainings do not depend on the damping, the scores do: a rerun with another damping
        // keeps the first and scores again; one with the same damping scores nothing.
        func rerun(_ damping: String) throws -> CommandResult {
            try Influence.run([
                "validate", "lds", "--model", s.model.path, "--train", s.train.path, "--queries", s.queries.path, "--subsets", "12",
                "--strategies", "exact,identity", "--damping", damping, "--out", s.directory.appendingPathComponent("lds").path,
            ])
        }
        let journal = s.directory.appendingPathComponent("lds/lds-truth.jsonl")
        let before = try String(contentsOf: journal, encoding: .utf8)
        let same = try rerun("0.01"), other = try rerun("0.5")
        #expect(same.exitCode == 0 && !same.standardError.contains("scoring with"), "\(same.standardError)")
        #expect(other.exitCode == 0 && other.standardError.contains("scoring with exact"), "\(other.standardError)")
        #expect(try String(contentsOf: journal, encoding: .utf8) == before, "the retrainings were redone")
        let mislabels = try Influence.run([
            "validate", "mislabels", "--model", s.model.path, "--train", s.train.path, "--strategies", "exact,ekfac,cg",
            "--damping", "0.01", "--flip-fraction", "0.1", "--out", s.directory.appendingPathComponent("mis").path,
        ])
        #expect(mislabels.exitCode == 0, "\(mislabels.standardError)")
        let rows = Self.strategies(try Self.record(s.directory.appendingPathComponent("mis/mislabels.json")))
        guard case let .number(auc)? = rows["exact"]?["auc"], case let .number(found)? = rows["exact"]?["found_30%"] else {
            Issue.record("no AUC for exact: \(rows)")
            return
        }
        // Flipped labels of a learnable rule stand out by self-influence well above chance.
        #expect(auc > 0.7 && found > 0.5, "AUC \(auc), found at 30 %: \(found)")
        #expect(rows["cg"]?["skipped"] != nil)
    }

    /// PBRF works on any model we load: a GPT-2, with completion measurements; LDS says why it cannot.
    @Test func pbrfOfALanguageModel() throws {
        let directory = Influence.temporaryDirectory()
        let train = directory.appendingPathComponent("train.jsonl"), queries = directory.appendingPathComponent("queries.jsonl")
        let texts = ["Hello, world!", "Don't panic.", "A cat sat on the mat.", "Two cats sat on two mats.", "Nothing is certain.", "Der Hund bellt."]
        try texts.map { "{\"text\": \(String(decoding: try JSONEncoder().encode($0), as: UTF8.self))}" }.joined(separator: "\n")
            .write(to: train, atomically: true, encoding: .utf8)
        try ["{\"prompt\": \"A cat\", \"completion\": \" sat on the mat.\"}", "{\"text\": \"Hello there, world!\"}"].joined(separator: "\n")
            .write(to: queries, atomically: true, encoding: .utf8)
        let out = directory.appendingPathComponent("pbrf")
        let r = try Influence.run([
            "validate", "pbrf", "--model", Influence.fixtureModel.path, "--train", train.path, "--queries", queries.path,
            "--points", "3", "--strategies", "cg,ekfac", "--damping", "0.1", "--pbrf-steps", "600",
            "--pbrf-tolerance", "1e-2", "--out", out.path,
        ])
        #expect(r.exitCode == 0, "\(r.standardError)")
        let rows = Self.strategies(try Self.record(out.appendingPathComponent("pbrf.json")))
        guard case let .number(cg)? = rows["cg"]?["pearson"] else {
            Issue.record("no Pearson for cg: \(rows)")
            return
        }
        #expect(cg > 0.8, "CG on the Gauss–Newton matrix against the PBRF of a GPT-2: \(cg)")
        let lds = try Influence.run([
            "validate", "lds", "--model", Influence.fixtureModel.path, "--train", train.path, "--queries", queries.path,
            "--out", directory.appendingPathComponent("lds").path,
        ])
        #expect(lds.exitCode == 1 && lds.standardError.contains("cannot be retrained"), "\(lds.standardError)")
    }

    /// A GPT-2 made by `influence train` is retrained on subsets of its rows for LDS; mislabels says why not.
    @Test func ldsRetrainsALanguageModel() throws {
        let directory = Influence.temporaryDirectory()
        let train = directory.appendingPathComponent("train.jsonl"), queries = directory.appendingPathComponent("queries.jsonl")
        let texts = (0..<24).map { i in
            ["A cat sat on the mat.", "Two dogs ran in the park.", "The sun is hot.", "Rain falls on the hill."][i % 4]
                + (i % 3 == 0 ? " Again and again." : " Once.")
        }
        try texts.map { "{\"text\": \"\($0)\"}" }.joined(separator: "\n").write(to: train, atomically: true, encoding: .utf8)
        try ["{\"prompt\": \"A cat\", \"completion\": \" sat on the mat.\"}", "{\"prompt\": \"The sun\", \"completion\": \" is hot. Once.\"}"]
            .joined(separator: "\n").write(to: queries, atomically: true, encoding: .utf8)
        let model = directory.appendingPathComponent("gpt2")
        let trained = try Influence.run([
            "train", "--architecture", "gpt2", "--data", train.path, "--vocab-size", "300", "--layers", "1", "--width", "16",
            "--heads", "2", "--context", "16", "--dropout", "0", "--steps", "40", "--batch-size", "8",
            "--learning-rate", "0.01", "--validation-fraction", "0", "--out", model.path,
        ])
        #expect(trained.exitCode == 0, "\(trained.standardError)")
        #expect(FileManager.default.fileExists(atPath: model.appendingPathComponent("training_options.json").path))
        let out = directory.appendingPathComponent("lds")
        let arguments = [
            "validate", "lds", "--model", model.path, "--train", train.path, "--queries", queries.path, "--subsets", "6",
            "--strategies", "exact,identity", "--modules", "mlp", "--damping", "0.01", "--out", out.path,
        ]
        let first = try Influence.run(arguments)
        #expect(first.exitCode == 0, "\(first.standardError)")
        // Every subset was retrained: the completion losses differ between subsets.
        let lines = try String(contentsOf: out.appendingPathComponent("lds-truth.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 7, "a header and six subsets: \(lines.count) lines")
        let measurements = lines.dropFirst().compactMap { line -> [Double]? in
            guard case let .object(o) = try? JSONDecoder().decode(JSONValue.self, from: Data(line.utf8)), case let .array(v)? = o["measurements"] else {
                return nil
            }
            return v.compactMap(\.doubleValue)
        }
        #expect(measurements.count == 6 && measurements.allSatisfy { $0.count == 2 && $0.allSatisfy { $0.isFinite && $0 > 0 } })
        #expect(Set(measurements.map { $0[0] }).count == 6, "retrained models differ by subset: \(measurements)")
        let rows = Self.strategies(try Self.record(out.appendingPathComponent("lds.json")))
        guard case let .number(exact)? = rows["exact"]?["lds"] else {
            Issue.record("no LDS for exact: \(rows)")
            return
        }
        #expect(exact.isFinite && abs(exact) <= 1)
        // A rerun resumes: the same table, no retraining.
        let second = try Influence.run(arguments)
        #expect(second.exitCode == 0, "\(second.standardError)")
        #expect(Self.strategies(try Self.record(out.appendingPathComponent("lds.json")))["exact"]?["lds"] == rows["exact"]?["lds"])
        let after = try String(contentsOf: out.appendingPathComponent("lds-truth.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(after == lines, "the rerun retrained nothing")
        let mislabels = try Influence.run([
            "validate", "mislabels", "--model", model.path, "--train", train.path, "--queries", queries.path,
            "--out", directory.appendingPathComponent("mislabels").path,
        ])
        #expect(mislabels.exitCode == 1 && mislabels.standardError.contains("is a language model"), "\(mislabels.standardError)")
    }

    /// A tanh MLP regressor trained from a CSV file: scores, PBRF and LDS work on it; mislabels says why not.
    @Test func aRegressorTrainsScoresAndValidates() throws {
        let directory = Influence.temporaryDirectory()
        var state: UInt64 = 9
        func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53) * 2 - 1
        }
        func write(_ url: URL, rows: Int) throws {
            var lines = ["a,b,c,price"]
            for _ in 0..<rows {
                let (a, b, c) = (next(), next(), next())
                lines.append(String(format: "%.5f,%.5f,%.5f,%.5f", a, b, c, sin(2 * a) - b * c + 0.05 * next()))
            }
            try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        }
        let train = directory.appendingPathComponent("train.csv"), queries = directory.appendingPathComponent("queries.csv")
        try write(train, rows: 120)
        try write(queries, rows: 5)
        let model = directory.appendingPathComponent("regressor")
        let trained = try Influence.run([
            "train", "--model-type", "mlp", "--data", train.path, "--target-column", "price", "--hidden", "8",
            "--activation", "tanh", "--steps", "300", "--learning-rate", "0.01", "--validation-fraction", "0.01",
            "--out", model.path,
        ])
        #expect(trained.exitCode == 0, "\(trained.standardError)")
        let config = try String(contentsOf: model.appendingPathComponent("config.json"), encoding: .utf8)
        #expect(config.contains("\"regression\"") && config.contains("\"price\""), "\(config)")
        let scores = try Influence.run([
            "scores", "--model", model.path, "--strategy", "exact", "--curvature", "ggn", "--damping", "0.01",
            "--train", train.path, "--queries", queries.path, "--out", directory.appendingPathComponent("scores").path,
        ])
        #expect(scores.exitCode == 0, "\(scores.standardError)")
        let out = directory.appendingPathComponent("pbrf")
        let pbrf = try Influence.run([
            "validate", "pbrf", "--model", model.path, "--train", train.path, "--queries", queries.path, "--points", "6",
            "--strategies", "exact,identity", "--out", out.path,
        ])
        #expect(pbrf.exitCode == 0, "\(pbrf.standardError)")
        guard case let .number(exact)? = Self.strategies(try Self.record(out.appendingPathComponent("pbrf.json")))["exact"]?["pearson"] else {
            Issue.record("no Pearson for exact")
            return
        }
        #expect(exact > 0.9, "exact GGN against the PBRF of a regressor: \(exact)")
        let lds = try Influence.run([
            "validate", "lds", "--model", model.path, "--train", train.path, "--queries", queries.path, "--subsets", "10",
            "--strategies", "exact", "--out", directory.appendingPathComponent("lds").path,
        ])
        #expect(lds.exitCode == 0, "\(lds.standardError)")
        let mislabels = try Influence.run([
            "validate", "mislabels", "--model", model.path, "--train", train.path,
            "--out", directory.appendingPathComponent("mis").path,
        ])
        #expect(mislabels.exitCode == 1 && mislabels.standardError.contains("regressor"), "\(mislabels.standardError)")
        let wrongColumns = try Influence.run([
            "scores", "--model", model.path, "--strategy", "identity", "--train", queries.path + ".missing",
            "--queries", queries.path, "--out", directory.appendingPathComponent("s2").path,
        ])
        #expect(wrongColumns.exitCode == 1 && wrongColumns.standardError.contains("does not exist"), "\(wrongColumns.standardError)")
    }

    @Test func mistakesAreNamed() throws {
        let s = try Self.setUp()
        let noQueries = try Influence.run(["validate", "pbrf", "--model", s.model.path, "--train", s.train.path, "--out", s.directory.path])
        #expect(noQueries.exitCode == 64 && noQueries.standardError.contains("--queries"))
        let unknown = try Influence.run([
            "validate", "pbrf", "--model", s.model.path, "--train", s.train.path, "--queries", s.queries.path,
            "--strategies", "ekfac,magic", "--out", s.directory.path,
        ])
        #expect(unknown.exitCode == 64 && unknown.standardError.contains("magic"))
        let badOption = try Influence.run([
            "validate", "pbrf", "--model", s.model.path, "--train", s.train.path, "--queries", s.queries.path,
            "--strategies", "lissa:speed=2", "--out", s.directory.path,
        ])
        #expect(badOption.exitCode == 1 && badOption.standardError.contains("no option 'speed'"), "\(badOption.standardError)")
        let tiny = try Influence.run([
            "validate", "pbrf", "--model", s.model.path, "--train", s.train.path, "--queries", s.queries.path, "--points", "1",
            "--strategies", "identity", "--epsilon", "1e-12", "--out", s.directory.appendingPathComponent("tiny").path,
        ])
        #expect(tiny.exitCode == 1 && tiny.standardError.contains("use --epsilon"), "\(tiny.standardError)")
        // Each kind takes its own options: --subsets is LDS's, --points PBRF's.
        let foreign = try Influence.run([
            "validate", "pbrf", "--model", s.model.path, "--train", s.train.path, "--queries", s.queries.path,
            "--subsets", "5", "--out", s.directory.path,
        ])
        #expect(foreign.exitCode == 64 && foreign.standardError.contains("--subsets"), "\(foreign.standardError)")
        let help = try Influence.run(["validate", "lds", "--help"])
        #expect(
            help.exitCode == 0 && help.standardOutput.contains("--subsets") && !help.standardOutput.contains("--pbrf-steps"),
            "\(help.standardOutput)")
        let unknownKind = try Influence.run(["validate", "loo", "--model", s.model.path])
        #expect(unknownKind.exitCode == 64 && unknownKind.standardError.contains("pbrf, lds, mislabels"), "\(unknownKind.standardError)")
        // A model without its training record cannot be retrained.
        try FileManager.default.removeItem(at: s.model.appendingPathComponent("training_options.json"))
        let lds = try Influence.run([
            "validate", "lds", "--model", s.model.path, "--train", s.train.path, "--queries", s.queries.path,
            "--out", s.directory.appendingPathComponent("lds").path,
        ])
        #expect(lds.exitCode == 1 && lds.standardError.contains("cannot be retrained"), "\(lds.standardError)")
        // A hand-edited record with a negative seed is named, not trapped on.
        try Data(#"{"steps": 10, "batch_size": 8, "learning_rate": 0.01, "optimizer": "adamw", "seed": -1}"#.utf8)
            .write(to: s.model.appendingPathComponent("training_options.json"))
        let badRecord = try Influence.run([
            "validate", "lds", "--model", s.model.path, "--train", s.train.path, "--queries", s.queries.path,
            "--out", s.directory.appendingPathComponent("lds2").path,
        ])
        #expect(badRecord.exitCode == 1 && badRecord.standardError.contains("is not a training record"), "\(badRecord.standardError)")
    }
}
