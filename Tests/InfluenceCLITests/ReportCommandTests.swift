import Formats
import Foundation
import TensorCore
import Testing

/// `influence report` on scores of the fixture model.
@Suite("influence report", .serialized)
struct ReportCommandTests {
    /// Four documents in two languages, one far longer than the fixture's context; three queries,
    /// two of them one question in two languages.
    func writeData(_ dir: URL) throws -> (train: URL, queries: URL) {
        let long = String(repeating: "The quick brown fox jumps over the lazy dog, then runs home. ", count: 5)
        let rows: [[String: Any]] = [
            ["id": "short", "text": "A cat sat on the mat.", "language": "en"],
            ["id": "long", "text": long, "language": "en"],
            ["id": "german", "text": "Der Hund bellt laut.", "language": "de"],
            ["id": "umlaut", "text": "Über die Brücke gehen wir.", "language": "de"],
        ]
        let queries: [[String: Any]] = [
            ["prompt": "The quick brown", "completion": " fox jumps.", "language": "en", "group": "fox"],
            ["prompt": "Der schnelle braune", "completion": " Fuchs springt.", "language": "de", "group": "fox"],
            ["text": "A cat sat."],
        ]
        let train = dir.appendingPathComponent("train.jsonl"), q = dir.appendingPathComponent("queries.jsonl")
        func lines(_ rows: [[String: Any]]) throws -> String {
            try rows.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }.joined(separator: "\n")
        }
        try lines(rows).write(to: train, atomically: true, encoding: .utf8)
        try lines(queries).write(to: q, atomically: true, encoding: .utf8)
        return (train, q)
    }

    func score(_ dir: URL, _ train: URL, _ queries: URL, options: [String] = ["--per-module", "--per-token"]) throws -> URL {
        let scores = dir.appendingPathComponent("scores" + options.joined())
        let r = try Influence.run(
            [
                "scores", "--model", Influence.fixtureModel.path, "--strategy", "ekfac", "--train", train.path,
                "--queries", queries.path, "--out", scores.path,
            ] + options)
        #expect(r.exitCode == 0, "\(r.standardError)")
        return scores
    }

    @Test func theReportShowsTheDocumentTotalsOfTheScoreFilesWithHeatMapsThatAddUp() throws {
        let dir = Influence.temporaryDirectory()
        let (train, queries) = try writeData(dir)
        let scores = try score(dir, train, queries)
        // run.json records what report needs.
        let record = try JSONValue(parsing: Data(contentsOf: scores.appendingPathComponent("run.json")))
        #expect(record["model"]?.stringValue == Influence.fixtureModel.standardizedFileURL.path)
        #expect(record["fisher"]?.stringValue == "sampled" && record["per_token"]?.boolValue == true)
        #expect(record["started"]?.stringValue != nil && record["data"]?.stringValue != nil)

        let html = dir.appendingPathComponent("report.html")
        // No --model: the one run.json names.
        let r = try Influence.run([
            "report", "--scores", scores.path, "--train", train.path, "--queries", queries.path, "--bootstrap", "0",
            "--out", html.path,
        ])
        #expect(r.exitCode == 0, "\(r.standardError)")
        #expect(r.standardOutput.contains("wrote \(html.path)"))
        let text = try String(contentsOf: html, encoding: .utf8)
        let json = try JSONValue(parsing: Data(contentsOf: dir.appendingPathComponent("report.json")))

        // The oracle: document totals from document_scores.safetensors, written by scores.
        let totals = try SafeTensorsFile(contentsOf: scores.appendingPathComponent("document_scores.safetensors")).tensor(named: "all_modules", as: Float.self)
        #expect(totals.shape == [3, 4])
        let ids = ["short", "long", "german", "umlaut"]
        for q in 0..<3 {
            let entry = json["queries"]![q]!
            let supporting = entry["supporting"]!.arrayValue!, opposing = entry["opposing"]!.arrayValue!
            let expectedUp = (0..<4).filter { totals[q, $0] > 0 }.sorted { totals[q, $0] > totals[q, $1] }
            let expectedDown = (0..<4).filter { totals[q, $0] < 0 }.sorted { totals[q, $0] < totals[q, $1] }
            #expect(supporting.map { $0["document"]!.intValue! } == expectedUp)
            #expect(opposing.map { $0["document"]!.intValue! } == expectedDown)
            for e in supporting + opposing {
                let d = e["document"]!.intValue!
                #expect(Float(e["score"]!.doubleValue!) == totals[q, d])
                #expect(e["id"]?.stringValue == ids[d])
                // The card of (q, d) shows the same score, exactly in data-value.
                let card = try #require(text.range(of: "data-query=\"\(q)\" data-document=\"\(d)\""))
                let tail = text[card.upperBound...]
                let value = try #require(tail.range(of: "data-value=\""))
                let end = tail[value.upperBound...].firstIndex(of: "\"")!
                #expect(Float(String(tail[value.upperBound..<end])) == totals[q, d])
                // Heat map: the tokens' values (titles) add up to the document's score.
                let body = tail[tail.range(of: "<div class=\"text\">")!.upperBound..<tail.range(of: "</div>")!.lowerBound]
                let titles = body.components(separatedBy: "title=\"").dropFirst().map { Double($0.prefix { $0 != "\"" })! }
                #expect(!titles.isEmpty)
                let sum = titles.reduce(0, +), magnitude = titles.map(abs).reduce(0, +)
                #expect(abs(sum - Double(totals[q, d])) <= 1e-3 * magnitude + 1e-6, "query \(q), document \(d): \(sum) vs \(totals[q, d])")
            }
            // The layer profile lists the tracked modules of the run.
            if !supporting.isEmpty {
                #expect(entry["layer_profile"]?["modules"]?.arrayValue?.count == record["modules"]?.arrayValue?.count)
            }
        }
        // Queries of one group in two languages get the grid; the umlaut is shown whole.
        #expect(text.contains("id=\"crosslingual\""))
        #expect(json["crosslingual"]?.arrayValue?.count == 1)
        #expect(text.contains("Ü") || text.contains("Br"))
        // Four documents are too few for a power law: the report says so instead of a number.
        #expect(text.contains("No power-law fit"))
        #expect(!text.contains("NaN") && !text.contains("nan "))
        // The facts of the run.
        #expect(text.contains("true Fisher (labels sampled from the model)"))
        #expect(json["facts"]?["strategy"]?.stringValue?.contains("ekfac") == true)
    }

    @Test func scoresAndDataThatDoNotBelongTogetherAreRefusedByName() throws {
        let dir = Influence.temporaryDirectory()
        let (train, queries) = try writeData(dir)
        let scores = try score(dir, train, queries)
        let html = dir.appendingPathComponent("r.html")
        func report(_ arguments: [String]) throws -> CommandResult {
            try Influence.run(["report", "--scores", scores.path, "--queries", queries.path, "--out", html.path] + arguments)
        }
        // Fewer rows than were scored.
        let fewer = try report(["--train", train.path, "--max-examples", "2"])
        #expect(fewer.exitCode != 0 && fewer.standardError.contains("do not belong together"), "\(fewer.standardError)")
        // As many rows, other text.
        let other = dir.appendingPathComponent("other.jsonl")
        try String(contentsOf: train, encoding: .utf8).replacingOccurrences(of: "cat", with: "dog").write(to: other, atomically: true, encoding: .utf8)
        let changed = try report(["--train", other.path])
        #expect(changed.exitCode != 0 && changed.standardError.contains("other rows"), "\(changed.standardError)")
        #expect(!FileManager.default.fileExists(atPath: html.path))
        // Another model (one weight changed): the weights' fingerprint differs from run.json's.
        let otherModel = dir.appendingPathComponent("other-model")
        try FileManager.default.copyItem(at: Influence.fixtureModel, to: otherModel)
        let weights = otherModel.appendingPathComponent("model.safetensors")
        var bytes = try Data(contentsOf: weights)
        bytes[bytes.count - 2] ^= 0x01  // a low mantissa bit of the last weight
        try bytes.write(to: weights)
        let otherWeights = try report(["--train", train.path, "--model", otherModel.path])
        #expect(otherWeights.exitCode != 0 && otherWeights.standardError.contains("another model"), "\(otherWeights.standardError)")
        // Scores that keep only the top rows.
        let top = try score(dir, train, queries, options: ["--top-k", "1"])
        let topOnly = try Influence.run(["report", "--scores", top.path, "--train", train.path, "--queries", queries.path, "--out", html.path])
        #expect(topOnly.exitCode != 0 && topOnly.standardError.contains("--top-k"), "\(topOnly.standardError)")
        // An output that is not HTML.
        let wrong = try Influence.run([
            "report", "--scores", scores.path, "--queries", queries.path, "--train", train.path,
            "--out", dir.appendingPathComponent("r.txt").path,
        ])
        #expect(wrong.exitCode != 0 && wrong.standardError.contains(".html"))
    }
}
