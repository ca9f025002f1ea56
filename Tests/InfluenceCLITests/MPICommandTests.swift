import Formats
import Foundation
import TensorCore
import Testing

/// `mpirun -np N influence fit|scores`: the ranks share the training rows and rank 0 writes
/// exactly the bytes one process writes. MPI is initialised once per process, so every run is a
/// child process.
@Suite("influence fit and scores across MPI ranks", .serialized)
struct MPICommandTests {
    func writeRows(_ dir: URL) throws -> (train: URL, queries: URL) {
        try Influence.writeRows(
            dir,
            texts: [
                "Hello, world!", "Don't panic.", "Über den Wolken.", "¿Dónde está la biblioteca?", "A cat sat on the mat.",
                "Two cats sat on two mats.", "Nothing is certain.", "Der Hund bellt.", "One more line here.", "And the eleventh?", "Ten.",
            ],
            queryLines: ["{\"prompt\": \"A cat\", \"completion\": \" sat on the mat.\"}", "{\"text\": \"Hello there, world!\"}"])
    }

    func bytes(_ url: URL) throws -> Data { try Data(contentsOf: url) }

    /// Runs `arguments + ["--out", dir/name-np]` with 1 (no mpirun), 2 and 3 ranks sharing
    /// `threads` threads, and returns the folders.
    func acrossRanks(_ dir: URL, _ name: String, _ arguments: [String], threads: Int = 1) throws -> [URL] {
        var folders: [URL] = []
        for ranks in [1, 2, 3] {
            let out = dir.appendingPathComponent("\(name)-\(ranks)")
            let result =
                ranks == 1
                ? try Influence.run(arguments + ["--out", out.path], threads: threads)
                : try Influence.runMPI(ranks: ranks, arguments + ["--out", out.path], threads: threads)
            try #require(result.exitCode == 0, "\(ranks) ranks: \(result.standardError)")
            #expect(result.standardOutput.components(separatedBy: "wrote ").count == 2, "only rank 0 prints: \(result.standardOutput)")
            folders.append(out)
        }
        return folders
    }

    @Test func languageModelFactorsAndScoresAreTheSameBitsOnOneTwoAndThreeRanks() throws {
        let dir = Influence.temporaryDirectory()
        let (train, queries) = try writeRows(dir)
        let model = Influence.fixtureModel.path
        // 11 rows in batches of 2: 6 batches in 6 blocks; 3 ranks take 2 each, 2 ranks 3.
        let fits = try acrossRanks(dir, "ekfac", ["fit", "--model", model, "--data", train.path, "--strategy", "ekfac", "--batch-size", "2"])
        let one = try bytes(fits[0].appendingPathComponent("factors.safetensors"))
        for f in fits.dropFirst() { #expect(try bytes(f.appendingPathComponent("factors.safetensors")) == one, "\(f.lastPathComponent)") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: fits[2].path).filter { $0.hasPrefix("partial-") }.isEmpty)
        // Five ranks over 11 blocks of one batch: uneven shares, three rounds of the rank tree.
        let fine = ["fit", "--model", model, "--data", train.path, "--strategy", "kfac", "--batch-size", "1", "--reduction-blocks", "11"]
        let alone = dir.appendingPathComponent("kfac-1"), five = dir.appendingPathComponent("kfac-5")
        _ = try Influence.run(fine + ["--out", alone.path])
        let r = try Influence.runMPI(ranks: 5, fine + ["--out", five.path])
        try #require(r.exitCode == 0, "\(r.standardError)")
        #expect(r.standardOutput.contains("reduced the covariance sums of 5 ranks"))
        #expect(try bytes(five.appendingPathComponent("factors.safetensors")) == bytes(alone.appendingPathComponent("factors.safetensors")))

        let scoring = ["scores", "--model", model, "--factors", fits[0].path, "--train", train.path, "--queries", queries.path, "--batch-size", "2"]
        let dense = try acrossRanks(dir, "dense", scoring + ["--per-module", "--per-token", "--self"])
        let top = try acrossRanks(dir, "top", scoring + ["--top-k", "3"])
        for (folders, files) in [(dense, ["pairwise_scores.safetensors", "self_scores.safetensors", "summary.json"]), (top, ["top_scores.safetensors"])] {
            for file in files {
                let expected = try bytes(folders[0].appendingPathComponent(file))
                for f in folders.dropFirst() { #expect(try bytes(f.appendingPathComponent(file)) == expected, "\(f.lastPathComponent)/\(file)") }
            }
        }
        // The scores are real: not all zero, 2 queries by 11 rows.
        let pairwise = try SafeTensorsFile(contentsOf: dense[2].appendingPathComponent("pairwise_scores.safetensors")).tensor(
            named: "all_modules", as: Float.self)
        #expect(pairwise.shape == [2, 11] && pairwise.magnitude().max().scalar > 0)
    }

    @Test func classifierFactorsAndScoresAreTheSameBitsOnOneTwoAndThreeRanks() throws {
        let dir = Influence.temporaryDirectory()
        var lines = ["a,b,label"]
        for i in 0..<50 {
            let a = Double((i * 37) % 50) / 50, b = Double((i * 11) % 50) / 50
            lines.append("\(a),\(b),\(a > b ? "big" : "small")")
        }
        let csv = dir.appendingPathComponent("train.csv")
        try lines.joined(separator: "\n").write(to: csv, atomically: true, encoding: .utf8)
        let model = dir.appendingPathComponent("model")
        let trained = try Influence.run([
            "train", "--model-type", "mlp", "--data", csv.path, "--hidden", "6", "--steps", "30", "--validation-fraction", "0",
            "--validation-interval", "0", "--out", model.path,
        ])
        try #require(trained.exitCode == 0, "\(trained.standardError)")
        for strategy in ["kfac", "diagonal"] {
            let fits = try acrossRanks(
                dir, strategy, ["fit", "--model", model.path, "--data", csv.path, "--strategy", strategy, "--batch-size", "4", "--accumulate", "float64"])
            let one = try bytes(fits[0].appendingPathComponent("factors.safetensors"))
            for f in fits.dropFirst() { #expect(try bytes(f.appendingPathComponent("factors.safetensors")) == one, "\(f.lastPathComponent)") }
        }
        let scores = try acrossRanks(
            dir, "scores",
            [
                "scores", "--model", model.path, "--factors", dir.appendingPathComponent("kfac-1").path, "--train", csv.path, "--queries", csv.path,
                "--max-queries", "5", "--self",
            ])
        let expected = try bytes(scores[0].appendingPathComponent("pairwise_scores.safetensors"))
        for f in scores.dropFirst() { #expect(try bytes(f.appendingPathComponent("pairwise_scores.safetensors")) == expected) }
        // Conjugate gradient and the exact solve: the ranks share every curvature product's batches.
        for strategy in ["cg", "exact"] {
            let solved = try acrossRanks(
                dir, "scores-\(strategy)",
                [
                    "scores", "--model", model.path, "--strategy", strategy, "--curvature", "ggn", "--damping", "0.1", "--curvature-batch", "8",
                    "--train", csv.path, "--queries", csv.path, "--max-queries", "3",
                ])
            let one = try bytes(solved[0].appendingPathComponent("pairwise_scores.safetensors"))
            for f in solved.dropFirst() { #expect(try bytes(f.appendingPathComponent("pairwise_scores.safetensors")) == one, "\(f.lastPathComponent)") }
        }
    }

    @Test func aFailingRankEndsTheJobWithItsReason() throws {
        let dir = Influence.temporaryDirectory()
        let (train, _) = try writeRows(dir)
        let out = dir.appendingPathComponent("factors")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        // Rank 1 of 2 holds blocks 3..<6 of 6: its partial sums are unreadable, rank 0's are fine.
        try Data("not a safetensors file".utf8).write(to: out.appendingPathComponent("partial-covariance.blocks-3-6.safetensors"))
        let r = try Influence.runMPI(
            ranks: 2, ["fit", "--model", Influence.fixtureModel.path, "--data", train.path, "--strategy", "kfac", "--batch-size", "2", "--out", out.path],
            timeout: 120)
        #expect(r.exitCode != 0 && r.exitCode != 124, "exit \(r.exitCode): ended, not timed out")
        #expect(r.standardError.contains("rank 1 of 2") && r.standardError.contains("partial-covariance.blocks-3-6.safetensors"), "\(r.standardError)")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("factors.safetensors").path))
    }

    @Test func aRankResumesFromThePartialSumsOfItsBlocks() throws {
        let dir = Influence.temporaryDirectory()
        let (train, _) = try writeRows(dir)
        let fit = ["fit", "--model", Influence.fixtureModel.path, "--data", train.path, "--strategy", "kfac", "--batch-size", "2"]
        let whole = dir.appendingPathComponent("whole"), resumed = dir.appendingPathComponent("resumed")
        _ = try Influence.run(fit + ["--out", whole.path])
        // As if a job had been killed after rank 1 of 2 finished its blocks: its sums are on disk.
        let part = try Influence.run(fit + ["--out", resumed.path, "--partition", "1/2"])
        try #require(part.exitCode == 0, "\(part.standardError)")
        let saved = resumed.appendingPathComponent("partial-covariance.blocks-3-6.safetensors")
        try #require(FileManager.default.fileExists(atPath: saved.path))
        let r = try Influence.runMPI(ranks: 2, fit + ["--out", resumed.path])
        try #require(r.exitCode == 0, "\(r.standardError)")
        #expect(try bytes(resumed.appendingPathComponent("factors.safetensors")) == bytes(whole.appendingPathComponent("factors.safetensors")))
        #expect(!FileManager.default.fileExists(atPath: saved.path))
    }

    @Test func commandsThatDoNotShareWorkAreRefusedUnderMPI() throws {
        let r = try Influence.runMPI(ranks: 2, ["inspect", "--model", Influence.fixtureModel.path], timeout: 60)
        #expect(r.exitCode != 0 && r.standardError.contains("runs in one process"), "\(r.standardError)")
    }

    /// The records of a validation journal (its first line is the header), by the unit they hold.
    func journal(_ url: URL, unit: String) throws -> [Int: [String: JSONValue]] {
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").dropFirst()
        var records: [Int: [String: JSONValue]] = [:]
        for line in lines {
            guard var o = try JSONValue(parsing: Data(line.utf8)).objectValue, let k = o[unit]?.intValue else { continue }
            o["seconds"] = nil
            records[k] = o
        }
        return records
    }

    @Test func validationGroundTruthIsSharedByRanksWithTheSameResults() throws {
        let s = try ValidateCommandTests.setUp()
        let common = ["--model", s.model.path, "--train", s.train.path, "--queries", s.queries.path, "--strategies", "exact,identity", "--damping", "0.01"]
        // PBRF: each rank solves its turn of the points; the solves, the journal and the report are those of one process.
        let pbrf = try acrossRanks(s.directory, "pbrf", ["validate", "pbrf"] + common + ["--points", "5", "--pbrf-steps", "400"])
        let pbrfTruth = try pbrf.map { try journal($0.appendingPathComponent("pbrf-truth.jsonl"), unit: "point") }
        #expect(pbrfTruth[0].count == 5)
        for (k, t) in pbrfTruth.enumerated().dropFirst() { #expect(t == pbrfTruth[0], "\(k + 1) ranks: the PBRF solves differ") }
        let pearson = try pbrf.map {
            ValidateCommandTests.strategies(try ValidateCommandTests.record($0.appendingPathComponent("pbrf.json")))["exact"]?["pearson"]
        }
        #expect(pearson[0] != nil && pearson.allSatisfy { $0 == pearson[0] }, "\(pearson)")
        // LDS: each rank retrains its turn of the subsets.
        let lds = try acrossRanks(s.directory, "lds", ["validate", "lds"] + common + ["--subsets", "5"])
        let ldsTruth = try lds.map { try journal($0.appendingPathComponent("lds-truth.jsonl"), unit: "subset") }
        #expect(ldsTruth[0].count == 5)
        for (k, t) in ldsTruth.enumerated().dropFirst() { #expect(t == ldsTruth[0], "\(k + 1) ranks: the retrainings differ") }
        // Mislabel detection has no ground truth to share: one process.
        let mislabels = try Influence.runMPI(
            ranks: 2, ["validate", "mislabels"] + common + ["--out", s.directory.appendingPathComponent("mislabels").path], timeout: 60)
        #expect(mislabels.exitCode != 0 && mislabels.standardError.contains("runs in one process"), "\(mislabels.standardError)")
    }
}
