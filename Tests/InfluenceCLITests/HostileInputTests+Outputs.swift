import Formats
import Foundation
import Testing

/// Hostile input, part two: data files, weights and a scoring run's outputs.
@Suite("hostile input to influence: data, weights and outputs", .serialized)
struct HostileDataAndOutputTests {
    static func file(_ name: String, _ bytes: [UInt8]) throws -> URL {
        let url = Influence.temporaryDirectory().appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    static func line(_ before: String, _ raw: [UInt8], _ after: String) -> [UInt8] { Array(before.utf8) + raw + Array(after.utf8) }

    static let badLines: [([UInt8], String)] = [
        (line("{\"text\": \"ab", [0xFF, 0xFE], " cd\"}\n"), "not valid UTF-8 (byte 0xFF at column 13)"),
        (line("{\"text\": \"caf", [0xC3], "\"}\n"), "not valid UTF-8 (byte 0x22 at column 15)"),  // a truncated é
        (line("{\"text\": \"\\u00e9 ", [0xED, 0xA0, 0x80], "\"}\n"), "not valid UTF-8 (byte 0xA0 at column 19)"),  // a surrogate
        (line("{\"text\": \"ab", [0x01], "cd\"}\n"), "a raw control character (byte 0x1, column 13)"),
    ]

    /// A copy of the tiny GPT-2: its folder, its weights file, the length of that file's header
    /// and the file's bytes.
    static func fixtureWeights() throws -> (model: URL, weights: URL, headerLength: Int, bytes: [UInt8]) {
        let model = Influence.temporaryDirectory().appendingPathComponent("model")
        try FileManager.default.copyItem(at: Influence.fixtureModel, to: model)
        let url = model.appendingPathComponent("model.safetensors")
        let bytes = [UInt8](try Data(contentsOf: url))
        let headerLength = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        return (model, url, headerLength, bytes)
    }

    @Test(arguments: badLines)
    func textThatCannotBeJSONIsNamed(bytes: [UInt8], message: String) throws {
        let data = try Self.file("rows.jsonl", Array("{\"text\": \"fine\"}\n".utf8) + bytes)
        let r = try Influence.run(["loss", "--model", Influence.fixtureModel.path, "--data", data.path])
        #expect(r.exitCode == 1 && r.standardError.contains("rows.jsonl:2: invalid JSON: ") && r.standardError.contains(message), "\(r.standardError)")
    }

    @Test func fittingOnRowsWithNoTokenToPredictIsRefused() throws {
        let data = try Self.file("rows.jsonl", Array("{\"text\": \"a\"}\n{\"text\": \"b\"}\n".utf8))
        let out = Influence.temporaryDirectory().appendingPathComponent("factors")
        let r = try Influence.run(["fit", "--model", Influence.fixtureModel.path, "--data", data.path, "--strategy", "ekfac", "--out", out.path])
        #expect(
            r.exitCode == 1 && r.standardError.contains("none of the 2 training rows") && r.standardError.contains("has a token to predict"),
            "\(r.standardError)")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("factors.safetensors").path))
    }

    /// A weight whose dtype was changed from F32 to I32 over the same bytes (the header keeps its
    /// length) would load as huge integers.
    @Test func integerWeightsAreRefused() throws {
        let (model, url, headerLength, bytesRead) = try Self.fixtureWeights()
        var bytes = bytesRead
        let header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        let range = try #require(header.range(of: "\"F32\""))
        let offset = 8 + header.utf8.distance(from: header.startIndex, to: range.lowerBound)
        bytes.replaceSubrange(offset..<(offset + 5), with: Array("\"I32\"".utf8))
        try Data(bytes).write(to: url)
        let data = try Self.file("rows.jsonl", Array("{\"text\": \"hello world\"}\n".utf8))
        let r = try Influence.run(["loss", "--model", model.path, "--data", data.path])
        #expect(r.exitCode == 1 && r.standardError.contains("is stored as I32; model weights must be F64, F32, F16 or BF16"), "\(r.standardError)")
    }

    @Test func aTokenizerLargerThanTheModelsVocabularyIsRefused() throws {
        let model = Influence.temporaryDirectory().appendingPathComponent("model")
        try FileManager.default.copyItem(at: Influence.fixtureModel, to: model)
        let url = model.appendingPathComponent("tokenizer.json")
        var tokenizer = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        var bpe = tokenizer["model"] as! [String: Any]
        var vocabulary = bpe["vocab"] as! [String: Int]
        for k in 0..<16 { vocabulary["extra\(k)"] = vocabulary.count }  // ids 384…399 for a model of 384
        bpe["vocab"] = vocabulary
        tokenizer["model"] = bpe
        try JSONSerialization.data(withJSONObject: tokenizer).write(to: url)
        let data = try Self.file("rows.jsonl", Array("{\"text\": \"hello world\"}\n".utf8))
        let r = try Influence.run(["loss", "--model", model.path, "--data", data.path])
        #expect(r.exitCode == 1 && r.standardError.contains("the tokenizer has 400 tokens but the model's vocab_size is 384"), "\(r.standardError)")
    }

    /// Class names are recorded at training and every later file is read against them, whatever
    /// names it holds or their order; a name the model does not know is an error.
    @Test func classNamesAreRecordedAtTrainingAndReadAgainstLater() throws {
        let dir = Influence.temporaryDirectory()
        var train = "x,y,species\n"
        for i in 0..<30 { train += "\(Double(i % 3)),\(Double(i % 5) / 5),\(["setosa", "versicolor", "virginica"][i % 3])\n" }
        let trainCSV = dir.appendingPathComponent("train.csv"), model = dir.appendingPathComponent("model")
        try train.write(to: trainCSV, atomically: true, encoding: .utf8)
        let trained = try Influence.run([
            "train", "--model-type", "mlp", "--data", trainCSV.path, "--label-column", "species", "--hidden", "3",
            "--steps", "2", "--validation-fraction", "0", "--validation-interval", "0", "--out", model.path,
        ])
        try #require(trained.exitCode == 0, "\(trained.standardError)")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: model.appendingPathComponent("config.json"))) as! [String: Any]
        #expect(config["class_names"] as? [String] == ["setosa", "versicolor", "virginica"])

        // Only virginica: sorted within this file alone it would be class 0.
        let queryCSV = dir.appendingPathComponent("queries.csv")
        try "x,y,species\n2,0.4,virginica\n".write(to: queryCSV, atomically: true, encoding: .utf8)
        let loss = try Influence.run(["loss", "--model", model.path, "--data", queryCSV.path, "--label-column", "species"])
        #expect(loss.exitCode == 0 && loss.standardOutput.contains("\"label\": 2"), "\(loss.standardOutput) \(loss.standardError)")

        let unknown = dir.appendingPathComponent("unknown.csv")
        try "x,y,species\n2,0.4,virginica\n1,0.2,rose\n".write(to: unknown, atomically: true, encoding: .utf8)
        let r = try Influence.run(["loss", "--model", model.path, "--data", unknown.path, "--label-column", "species"])
        #expect(
            r.exitCode == 1
                && r.standardError.contains(
                    "unknown.csv:3: row 2, column 'species': label 'rose' is not one of the model's classes (setosa, versicolor, virginica)"),
            "\(r.standardError)")
    }

    /// A scoring run's files are committed by run.json, written last: a rerun without --self
    /// removes the earlier self scores, and a report refuses a folder whose run did not finish or
    /// whose files were written by different runs.
    @Test func aScoringRunsOutputsAreCommittedTogether() throws {
        let dir = Influence.temporaryDirectory()
        let data = try Self.file("rows.jsonl", Array("{\"text\": \"hello world\"}\n{\"text\": \"the cat sat\"}\n".utf8))
        let queries = try Self.file("queries.jsonl", Array("{\"prompt\": \"hello\", \"completion\": \" world\"}\n".utf8))
        let out = dir.appendingPathComponent("scores")
        func score(_ extra: [String]) throws -> CommandResult {
            try Influence.run(
                [
                    "scores", "--model", Influence.fixtureModel.path, "--strategy", "exact", "--damping", "0.1", "--modules", "transformer.h.1.mlp.c_proj",
                    "--train", data.path, "--queries", queries.path, "--out", out.path,
                ] + extra)
        }
        let first = try score(["--self"])
        try #require(first.exitCode == 0, "\(first.standardError)")
        let selfScores = out.appendingPathComponent("self_scores.safetensors")
        #expect(FileManager.default.fileExists(atPath: selfScores.path))
        let second = try score([])
        try #require(second.exitCode == 0, "\(second.standardError)")
        #expect(!FileManager.default.fileExists(atPath: selfScores.path), "the first run's self scores survived the second")
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("run.json"))) as! [String: Any]
        let files = try #require(record["files"] as? [String: Any])
        #expect(files.keys.sorted() == ["pairwise_scores.safetensors", "summary.json"], "\(files)")

        func report() throws -> CommandResult {
            try Influence.run([
                "report", "--scores", out.path, "--train", data.path, "--queries", queries.path,
                "--out", dir.appendingPathComponent("report.html").path,
            ])
        }
        #expect(try report().exitCode == 0)
        // Scores of another run beside this run's record.
        let pairwise = out.appendingPathComponent("pairwise_scores.safetensors")
        let saved = try Data(contentsOf: pairwise)
        try (saved + Data([0x20])).write(to: pairwise)
        let mixed = try report()
        #expect(
            mixed.exitCode == 1 && mixed.standardError.contains("pairwise_scores.safetensors is \(saved.count + 1) bytes but run.json records \(saved.count)"),
            "\(mixed.standardError)")
        // The same bytes in a new file, as another run of the same shapes would write.
        try saved.write(to: pairwise)
        let replaced = try report()
        #expect(replaced.exitCode == 1 && replaced.standardError.contains("is not the file run.json records"), "\(replaced.standardError)")
        // A run that stopped before its record.
        try FileManager.default.removeItem(at: out.appendingPathComponent("run.json"))
        let unfinished = try report()
        #expect(
            unfinished.exitCode == 1 && unfinished.standardError.contains("holds no run.json") && unfinished.standardError.contains("did not finish"),
            "\(unfinished.standardError)")
    }
}

extension HostileDataAndOutputTests {
    /// Finite weights so large that the logits overflow: the loss is not a number, and `loss`
    /// names the row instead of printing `inf` (which is not JSON).
    @Test func aNonFiniteLossNamesTheRow() throws {
        let (model, url, headerLength, bytesRead) = try Self.fixtureWeights()
        var bytes = bytesRead
        let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)])) as! [String: Any]
        let entry = try #require(header["transformer.wte.weight"] as? [String: Any])
        let offsets = entry["data_offsets"] as! [Int]
        #expect(entry["dtype"] as? String == "F32")
        let huge = Float(3e38).bitPattern
        for i in stride(from: 8 + headerLength + offsets[0], to: 8 + headerLength + offsets[1], by: 4) {
            for k in 0..<4 { bytes[i + k] = UInt8(truncatingIfNeeded: huge >> (8 * UInt32(k))) }
        }
        try Data(bytes).write(to: url)
        let data = try Self.file("rows.jsonl", Array("{\"text\": \"hello world\"}\n".utf8))
        let r = try Influence.run(["loss", "--model", model.path, "--data", data.path])
        #expect(r.exitCode == 1 && r.standardError.contains("row 0") && !r.standardOutput.contains("inf"), "\(r.standardOutput) \(r.standardError)")
    }
}

extension HostileDataAndOutputTests {
    /// A training checkpoint that cannot be read names --restart, which discards it.
    @Test func aCorruptedTrainingCheckpointNamesRestart() throws {
        let out = Influence.temporaryDirectory().appendingPathComponent("mlp")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try Data("not a checkpoint".utf8).write(to: out.appendingPathComponent("checkpoint.safetensors"))
        let arguments = [
            "train", "--model-type", "mlp", "--dataset", "fashion-mnist", "--hidden", "4", "--max-examples", "50", "--steps", "2",
            "--validation-interval", "0", "--out", out.path,
        ]
        let r = try Influence.run(arguments)
        #expect(
            r.exitCode == 1 && r.standardError.contains("checkpoint.safetensors cannot be resumed") && r.standardError.contains("add --restart"),
            "\(r.standardError)")
        let restarted = try Influence.run(arguments + ["--restart"])
        #expect(restarted.exitCode == 0, "\(restarted.standardError)")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("model.safetensors").path))
    }
}
