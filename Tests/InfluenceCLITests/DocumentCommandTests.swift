import Formats
import Foundation
import TensorCore
import Testing

/// Documents longer than the context, top rows and low-rank queries from the command line.
@Suite("influence on long documents, top rows and low-rank queries", .serialized)
struct DocumentCommandTests {
    /// Three documents, the second far longer than the fixture's context of 32 tokens, with ids.
    func writeDocuments(_ dir: URL) throws -> (train: URL, queries: URL) {
        let long = String(repeating: "The quick brown fox jumps over the lazy dog, then runs home. ", count: 6)
        let rows: [[String: Any]] = [
            ["id": "short", "text": "A cat sat on the mat."], ["id": "long", "text": long],
            ["id": "german", "text": "Der Hund bellt laut."],
        ]
        let train = dir.appendingPathComponent("train.jsonl"), queries = dir.appendingPathComponent("queries.jsonl")
        try rows.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }.joined(separator: "\n")
            .write(to: train, atomically: true, encoding: .utf8)
        try ["{\"prompt\": \"The quick brown\", \"completion\": \" fox jumps.\"}", "{\"text\": \"A cat sat.\"}"].joined(separator: "\n")
            .write(to: queries, atomically: true, encoding: .utf8)
        return (train, queries)
    }

    @Test func aLongDocumentIsChunkedAndItsTotalIsTheSumOfItsRows() throws {
        let dir = Influence.temporaryDirectory()
        let (train, queries) = try writeDocuments(dir)
        let factors = dir.appendingPathComponent("factors"), scores = dir.appendingPathComponent("scores")
        #expect(
            try Influence.run(["fit", "--model", Influence.fixtureModel.path, "--data", train.path, "--strategy", "ekfac", "--out", factors.path]).exitCode == 0
        )
        let r = try Influence.run([
            "scores", "--model", Influence.fixtureModel.path, "--factors", factors.path, "--train", train.path,
            "--queries", queries.path, "--out", scores.path,
        ])
        #expect(r.exitCode == 0, "\(r.standardError)")
        let rows = try SafeTensorsFile(contentsOf: scores.appendingPathComponent("pairwise_scores.safetensors")).tensor(named: "all_modules", as: Float.self)
        let documents = try SafeTensorsFile(contentsOf: scores.appendingPathComponent("document_scores.safetensors"))
        let totals = try documents.tensor(named: "all_modules", as: Float.self)
        let index = try String(contentsOf: scores.appendingPathComponent("documents.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(index.map { $0["id"] as! String } == ["short", "long", "german"])
        let ranges = index.map { ($0["rows"] as! [Int]) }
        #expect(ranges[1][1] - ranges[1][0] > 2, "the long document spans \(ranges[1]) rows")
        #expect(rows.shape == [2, ranges[2][1]] && totals.shape == [2, 3])
        #expect(documents.metadata["chunk_length"] == "32" && documents.metadata["chunk_stride"] == "31")
        for q in 0..<2 {
            for (d, range) in ranges.enumerated() {
                let sum = (range[0]..<range[1]).reduce(Float(0)) { $0 + rows[q, $1] }
                #expect(abs(totals[q, d] - sum) <= 1e-5 * Swift.max(1, abs(sum)))
            }
        }
    }

    @Test func theLossOfALongDocumentIsTheSumOverItsChunks() throws {
        let dir = Influence.temporaryDirectory()
        let (train, _) = try writeDocuments(dir)
        let whole = try Influence.run(["loss", "--model", Influence.fixtureModel.path, "--data", train.path])
        #expect(whole.exitCode == 0, "\(whole.standardError)")
        let tokenized = try Influence.run([
            "tokenize", "--tokenizer", Influence.fixtureModel.appendingPathComponent("tokenizer.json").path,
            "--data", train.path,
        ])
        let ids = tokenized.standardOutput.split(separator: "\n").map {
            (try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["input_ids"] as! [Int]
        }
        let long = ids[1]
        #expect(long.count > 64)
        // The chunks written by hand: tokens [31k, 31k + 32).
        var chunks: [[Int]] = []
        var start = 0
        while start + 1 < long.count { chunks.append(Array(long[start..<Swift.min(long.count, start + 32)])); start += 31 }
        let chunkFile = dir.appendingPathComponent("chunks.jsonl")
        try chunks.map { "{\"input_ids\": \($0)}" }.joined(separator: "\n").write(to: chunkFile, atomically: true, encoding: .utf8)
        let parts = try Influence.run(["loss", "--model", Influence.fixtureModel.path, "--data", chunkFile.path])
        func losses(_ text: String) -> [(Double, Int)] {
            text.split(separator: "\n").map {
                let o = try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]; return (o["loss"] as! Double, o["tokens"] as! Int)
            }
        }
        let expected = losses(parts.standardOutput).reduce(0) { $0 + $1.0 }
        let observed = losses(whole.standardOutput)[1]
        #expect(abs(observed.0 - expected) <= 1e-4 * expected, "\(observed.0) vs \(expected)")
        #expect(observed.1 == long.count - 1)
    }

    @Test func topRowsAndLowRankQueriesAgreeWithTheDenseScores() throws {
        let dir = Influence.temporaryDirectory()
        let (train, queries) = try writeDocuments(dir)
        let factors = dir.appendingPathComponent("factors")
        #expect(
            try Influence.run([
                "fit", "--model", Influence.fixtureModel.path, "--data", train.path, "--strategy", "ekfac", "--modules", "mlp",
                "--out", factors.path,
            ]).exitCode == 0)
        func scores(_ extra: [String]) throws -> URL {
            let out = dir.appendingPathComponent(UUID().uuidString)
            let r = try Influence.run(
                [
                    "scores", "--model", Influence.fixtureModel.path, "--factors", factors.path, "--train", train.path,
                    "--queries", queries.path, "--out", out.path,
                ] + extra)
            #expect(r.exitCode == 0, "\(r.standardError)")
            return out
        }
        let dense = try SafeTensorsFile(contentsOf: try scores([]).appendingPathComponent("pairwise_scores.safetensors")).tensor(
            named: "all_modules", as: Float.self)
        let auto = try SafeTensorsFile(
            contentsOf: try scores(["--query-rank", "auto", "--query-energy", "1", "--memory-budget", "64K"])
                .appendingPathComponent("pairwise_scores.safetensors")
        ).tensor(named: "all_modules", as: Float.self)
        #expect((auto - dense).magnitude().max().scalar <= 1e-4 * dense.magnitude().max().scalar)
        let top = try SafeTensorsFile(contentsOf: try scores(["--top-k", "2"]).appendingPathComponent("top_scores.safetensors"))
        #expect(top.tensorNames.contains("highest.indices") && top.tensorNames.contains("lowest.scores"))
        let offsets = try top.integers(named: "highest.offsets"), indices = try top.integers(named: "highest.indices")
        #expect(offsets == [0, 2, 4])
        for q in 0..<2 {
            let row = (0..<dense.shape[1]).map { dense[q, $0] }
            let best = row.indices.sorted { row[$0] > row[$1] }.prefix(2)
            #expect(Array(indices[(2 * q)..<(2 * q + 2)]) == Array(best))
        }
        let bad = try Influence.run([
            "scores", "--model", Influence.fixtureModel.path, "--factors", factors.path, "--train", train.path,
            "--queries", queries.path, "--query-energy", "1.5", "--query-rank", "auto", "--out", dir.appendingPathComponent("x").path,
        ])
        #expect(bad.exitCode == 64 && bad.standardError.contains("option '--query-energy' must be in (0, 1], got '1.5'"), "\(bad.standardError)")
    }
}
