import Formats
import Foundation
import TensorCore
import Testing

/// `influence candidates` and `scores --candidates`.
@Suite("TF-IDF candidates from the command line", .serialized)
struct CandidatesCommandTests {
    static let texts = [
        "A cat sat on the mat.", "The dog sat by the door.", "A bird sang in the tree.", "The cat chased the dog.",
        "Rain fell on the roof.", "The mat was red.", "A dog and a cat slept.", "Birds fly south in winter.",
    ]

    func write(_ texts: [String], to url: URL) throws {
        try texts.map { String(decoding: try JSONSerialization.data(withJSONObject: ["text": $0]), as: UTF8.self) }.joined(separator: "\n")
            .write(to: url, atomically: true, encoding: .utf8)
    }

    func lines(_ url: URL) throws -> [[String: Any]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    /// The token ids of each row as the fixture's tokenizer encodes it.
    func tokens(_ url: URL) throws -> [[Int]] {
        let r = try Influence.run(["tokenize", "--tokenizer", Influence.fixtureModel.appendingPathComponent("tokenizer.json").path, "--data", url.path])
        #expect(r.exitCode == 0, "\(r.standardError)")
        return r.standardOutput.split(separator: "\n").map { (try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["input_ids"] as! [Int] }
    }

    @Test func candidatesAreTheRowsOfHighestIDFOverlapAndScoringThemMatchesTheDenseScores() throws {
        let dir = Influence.temporaryDirectory()
        let train = dir.appendingPathComponent("train.jsonl"), queries = dir.appendingPathComponent("queries.jsonl")
        try write(Self.texts, to: train)
        try ["{\"text\": \"The cat sat.\"}", "{\"prompt\": \"Birds\", \"completion\": \" sang in winter.\"}"].joined(separator: "\n")
            .write(to: queries, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("candidates.jsonl"), index = dir.appendingPathComponent("index.tfidf")
        let r = try Influence.run([
            "candidates", "--model", Influence.fixtureModel.path, "--train", train.path, "--queries", queries.path,
            "--top", "3", "--index", index.path, "--out", out.path,
        ])
        #expect(r.exitCode == 0, "\(r.standardError)")
        #expect(FileManager.default.fileExists(atPath: index.path))
        let records = try lines(out)
        #expect(records.count == 2)

        // The oracle: the paper's IDF sums written out here from the tokenizer's ids.
        let rows = try tokens(train).map(Set.init)
        let queryRows = try tokens(queries).map(Set.init)
        let c = Double(rows.count)
        for (q, record) in records.enumerated() {
            #expect(record["query_index"] as? Int == q)
            #expect(record["data"] is String)
            let expected = rows.map { row in
                queryRows[q].filter { row.contains($0) }.reduce(0.0) { sum, term in
                    let n = Double(rows.filter { $0.contains(term) }.count)
                    return sum + log((c - n + 0.5) / (n + 0.5) + 1)
                }
            }
            let order = expected.indices.sorted { expected[$0] != expected[$1] ? expected[$0] > expected[$1] : $0 < $1 }
            #expect(record["candidates"] as? [Int] == Array(order.prefix(3)), "query \(q): \(expected)")
            let scores = record["scores"] as! [Double]
            for (i, row) in order.prefix(3).enumerated() { #expect(abs(scores[i] - expected[row]) <= 1e-12) }
        }

        // scores --candidates: the candidate pairs only, equal to the dense scores at those pairs.
        let factors = dir.appendingPathComponent("factors")
        #expect(
            try Influence.run(["fit", "--model", Influence.fixtureModel.path, "--data", train.path, "--strategy", "ekfac", "--out", factors.path]).exitCode == 0
        )
        func scores(_ extra: [String]) throws -> (URL, CommandResult) {
            let out = dir.appendingPathComponent(UUID().uuidString)
            let r = try Influence.run(
                [
                    "scores", "--model", Influence.fixtureModel.path, "--factors", factors.path, "--train", train.path,
                    "--queries", queries.path, "--out", out.path,
                ] + extra)
            return (out, r)
        }
        let (denseDirectory, denseRun) = try scores([])
        #expect(denseRun.exitCode == 0, "\(denseRun.standardError)")
        let dense = try SafeTensorsFile(contentsOf: denseDirectory.appendingPathComponent("pairwise_scores.safetensors")).tensor(
            named: "all_modules", as: Float.self)
        let (sparseDirectory, sparseRun) = try scores(["--candidates", out.path, "--per-module"])
        #expect(sparseRun.exitCode == 0, "\(sparseRun.standardError)")
        let sparse = try SafeTensorsFile(contentsOf: sparseDirectory.appendingPathComponent("candidate_scores.safetensors"))
        #expect(try sparse.integers(named: "candidates.offsets") == [0, 3, 6])
        let indices = try sparse.integers(named: "candidates.indices")
        let values = try sparse.tensor(named: "candidates.scores", as: Float.self)
        #expect(indices == records.flatMap { $0["candidates"] as! [Int] })
        for (position, row) in indices.enumerated() {
            let q = position / 3
            #expect(abs(values[position] - dense[q, row]) <= 1e-5 * Swift.max(1, dense.magnitude().max().scalar))
        }
        #expect(!FileManager.default.fileExists(atPath: sparseDirectory.appendingPathComponent("pairwise_scores.safetensors").path))

        // The saved index is loaded on a second run and gives the same file.
        let again = dir.appendingPathComponent("again.jsonl")
        let second = try Influence.run([
            "candidates", "--model", Influence.fixtureModel.path, "--train", train.path, "--queries", queries.path,
            "--top", "3", "--index", index.path, "--out", again.path,
        ])
        #expect(second.exitCode == 0 && second.standardOutput.contains("loaded an index"), "\(second.standardOutput)")
        #expect(try Data(contentsOf: again) == Data(contentsOf: out))
    }

    @Test func filesOfOtherDataAndRowsOutOfRangeAreRefusedByName() throws {
        let dir = Influence.temporaryDirectory()
        let train = dir.appendingPathComponent("train.jsonl"), other = dir.appendingPathComponent("other.jsonl")
        let queries = dir.appendingPathComponent("queries.jsonl")
        try write(Self.texts, to: train)
        try write(Array(Self.texts.reversed()), to: other)
        try write(["The cat sat."], to: queries)
        let index = dir.appendingPathComponent("index.tfidf"), out = dir.appendingPathComponent("c.jsonl")
        func candidates(_ train: URL, _ extra: [String] = []) throws -> CommandResult {
            try Influence.run(
                [
                    "candidates", "--model", Influence.fixtureModel.path, "--train", train.path, "--queries", queries.path,
                    "--top", "50%", "--index", index.path, "--out", out.path,
                ] + extra)
        }
        #expect(try candidates(train).exitCode == 0)
        let stale = try candidates(other)
        #expect(stale.exitCode == 1 && stale.standardError.contains("\(index.path): the index was built over other training rows"), "\(stale.standardError)")
        let kind = try candidates(train, ["--terms", "words"])
        #expect(kind.exitCode == 1 && kind.standardError.contains("the index is over token ids, not words"), "\(kind.standardError)")
        let percent = try candidates(train, ["--top", "0%"])
        #expect(percent.exitCode == 64 && percent.standardError.contains("'--top'"), "\(percent.standardError)")

        let factors = dir.appendingPathComponent("factors")
        #expect(
            try Influence.run(["fit", "--model", Influence.fixtureModel.path, "--data", train.path, "--strategy", "diagonal", "--out", factors.path]).exitCode
                == 0)
        func scores(_ train: URL, _ file: URL, _ extra: [String] = []) throws -> CommandResult {
            try Influence.run(
                [
                    "scores", "--model", Influence.fixtureModel.path, "--factors", factors.path, "--train", train.path,
                    "--queries", queries.path, "--candidates", file.path, "--out", dir.appendingPathComponent(UUID().uuidString).path,
                ] + extra)
        }
        // Made for the other ordering of the rows: its data member names other data.
        let mismatch = try scores(other, out)
        #expect(mismatch.exitCode == 1 && mismatch.standardError.contains("\(out.path):1: data:"), "\(mismatch.standardError)")
        let outside = dir.appendingPathComponent("outside.jsonl")
        try "{\"query_index\": 0, \"candidates\": [2, 8], \"scores\": [1, 0]}\n".write(to: outside, atomically: true, encoding: .utf8)
        let range = try scores(train, outside)
        #expect(
            range.exitCode == 1 && range.standardError.contains("\(outside.path):1: candidates[1]: 8 is outside the documents 0..<8"), "\(range.standardError)")
        let count = dir.appendingPathComponent("count.jsonl")
        try "{\"query_index\": 0, \"candidates\": [2], \"scores\": [1]}\n{\"query_index\": 1, \"candidates\": [3], \"scores\": [1]}\n"
            .write(to: count, atomically: true, encoding: .utf8)
        let queriesError = try scores(train, count)
        #expect(
            queriesError.exitCode == 1 && queriesError.standardError.contains("\(count.path): 2 records, expected one for each of 1 queries"),
            "\(queriesError.standardError)")
        let both = try scores(train, out, ["--top-k", "2"])
        #expect(both.exitCode == 64 && both.standardError.contains("--candidates and --top-k"), "\(both.standardError)")
    }
}
