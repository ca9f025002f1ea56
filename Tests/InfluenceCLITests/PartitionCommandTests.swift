import Foundation
import Testing

/// `--partition i/n` and `influence merge`: a job array's parts, joined, write the bytes one
/// process writes; a merge refuses parts that are missing or of another run.
@Suite("influence fit and scores in parts, and merge", .serialized)
struct PartitionCommandTests {
    func rows(_ dir: URL) throws -> (train: URL, queries: URL) {
        try Influence.writeRows(
            dir, texts: ["Hello, world!", "Don't panic.", "Über den Wolken.", "A cat sat on the mat.", "Two cats.", "Nothing is certain.", "Der Hund bellt."],
            queryLines: ["{\"prompt\": \"A cat\", \"completion\": \" sat.\"}", "{\"text\": \"Hello there!\"}"])
    }

    func run(_ arguments: [String]) throws -> CommandResult {
        let r = try Influence.run(arguments)
        try #require(r.exitCode == 0, "influence \(arguments.joined(separator: " ")): \(r.standardError)")
        return r
    }

    @Test func ekfacInThreePartsAndTwoMergesIsOneProcessFit() throws {
        let dir = Influence.temporaryDirectory()
        let (train, queries) = try rows(dir)
        let whole = dir.appendingPathComponent("whole"), parts = dir.appendingPathComponent("parts")
        let fit = ["fit", "--model", Influence.fixtureModel.path, "--data", train.path, "--strategy", "ekfac", "--batch-size", "2"]
        _ = try run(fit + ["--out", whole.path])
        // Round one: covariances. A merge before every part has run names the missing one.
        for i in [2, 0] { _ = try run(fit + ["--out", parts.path, "--partition", "\(i)/3"]) }
        let early = try Influence.run(["merge", "--out", parts.path])
        #expect(early.exitCode == 1 && early.standardError.contains("1/3"), "\(early.standardError)")
        _ = try run(fit + ["--out", parts.path, "--partition", "1/3"])
        #expect(try run(["merge", "--out", parts.path]).standardOutput.contains("run every part again"))
        // Round two: Λ in the merged eigenbases.
        for i in [1, 2, 0] { _ = try run(fit + ["--out", parts.path, "--partition", "\(i)/3"]) }
        #expect(try run(["merge", "--out", parts.path]).standardOutput.contains("fitted ekfac factors"))
        let expected = try Data(contentsOf: whole.appendingPathComponent("factors.safetensors"))
        #expect(try Data(contentsOf: parts.appendingPathComponent("factors.safetensors")) == expected)
        let left = try FileManager.default.contentsOfDirectory(atPath: parts.path).filter { !$0.hasPrefix(".") }
        #expect(left == ["factors.safetensors"], "partial files and the plan are gone: \(left)")

        // Scores in two parts, merged: the same files as one process.
        let scores = ["scores", "--model", Influence.fixtureModel.path, "--factors", whole.path, "--train", train.path, "--queries", queries.path, "--self"]
        let one = dir.appendingPathComponent("scores-whole"), split = dir.appendingPathComponent("scores-parts")
        _ = try run(scores + ["--out", one.path, "--batch-size", "2"])
        for i in [1, 0] { _ = try run(scores + ["--out", split.path, "--batch-size", "2", "--partition", "\(i)/2"]) }
        _ = try run(["merge", "--out", split.path])
        for file in ["pairwise_scores.safetensors", "self_scores.safetensors", "summary.json"] {
            #expect(try Data(contentsOf: split.appendingPathComponent(file)) == Data(contentsOf: one.appendingPathComponent(file)), "\(file)")
        }
    }

    @Test func partsOfAnotherRunAreRefused() throws {
        let dir = Influence.temporaryDirectory()
        let (train, _) = try rows(dir)
        let parts = dir.appendingPathComponent("parts")
        let fit = ["fit", "--model", Influence.fixtureModel.path, "--data", train.path, "--strategy", "kfac", "--out", parts.path]
        _ = try run(fit + ["--batch-size", "2", "--partition", "0/2"])
        let other = try Influence.run(fit + ["--batch-size", "3", "--partition", "1/2"])
        #expect(other.exitCode != 0 && other.standardError.contains("another job array"), "\(other.standardError)")
        let bad = try Influence.run(fit + ["--batch-size", "2", "--partition", "2/2"])
        #expect(bad.exitCode == 64 && bad.standardError.contains("0 ≤ I < N"), "\(bad.standardError)")
        let nothing = try Influence.run(["merge", "--out", dir.appendingPathComponent("empty").path])
        #expect(nothing.exitCode == 64 && nothing.standardError.contains("partition.json is missing"), "\(nothing.standardError)")
        // A hostile plan: an absurd number of parts, or not a plan at all.
        let hostile = dir.appendingPathComponent("hostile")
        try FileManager.default.createDirectory(at: hostile, withIntermediateDirectories: true)
        for text in [
            "{\"command\": \"fit\", \"arguments\": [], \"directory\": \"/\", \"parts\": 1e300}", "[1, 2]",
            "{\"command\": \"train\", \"arguments\": [], \"directory\": \"/\", \"parts\": 2}",
        ] {
            try text.write(to: hostile.appendingPathComponent("partition.json"), atomically: true, encoding: .utf8)
            let r = try Influence.run(["merge", "--out", hostile.path])
            #expect(r.exitCode == 64 && r.standardError.contains("partition.json"), "\(text): \(r.standardError)")
        }
    }
}
