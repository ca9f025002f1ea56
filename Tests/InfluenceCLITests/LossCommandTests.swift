import Formats
import Foundation
import TensorCore
import Testing

@Suite("influence loss", .serialized)
struct LossCommandTests {
    /// The token ids and per-token losses recorded from transformers (make_gpt2_fixtures.py),
    /// read back from the reference file through the loss command's own input format.
    @Test func summedLossesMatchTransformers() throws {
        let reference = try SafeTensorsFile(
            contentsOf: Influence.fixtureModel.deletingLastPathComponent()
                .appendingPathComponent("reference.safetensors"))
        let ids = try reference.integers(named: "input_ids"), mask = try reference.integers(named: "attention_mask")
        let tokenLosses = try reference.tensor(named: "token_losses", as: Double.self)
        let time = ids.count / 2
        // Each row without its padding, and the sum of its next-token losses.
        let rows = (0..<2).map { b in (0..<time).filter { mask[b * time + $0] == 1 }.map { ids[b * time + $0] } }
        let expected = (0..<2).map { b in tokenLosses.sliced(along: 0, b..<(b + 1)).sum().scalar }
        let dir = Influence.temporaryDirectory()
        let data = dir.appendingPathComponent("rows.jsonl")
        try rows.map { "{\"input_ids\": \($0)}" }.joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        let r = try Influence.run(["loss", "--model", Influence.fixtureModel.path, "--data", data.path, "--batch-size", "1"])
        #expect(r.exitCode == 0, "\(r.standardError)")
        let lines = r.standardOutput.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(lines.count == 2)
        for (i, line) in lines.enumerated() {
            #expect(line["index"] as? Int == i)
            #expect(line["tokens"] as? Int == rows[i].count - 1)
            let loss = line["loss"] as! Double
            #expect(abs(loss - expected[i]) <= 1e-4 * abs(expected[i]), "row \(i): \(loss) vs \(expected[i])")
        }
        // Batching with padding gives the same numbers.
        let batched = try Influence.run(["loss", "--model", Influence.fixtureModel.path, "--data", data.path, "--batch-size", "2"])
        let batchedLosses = batched.standardOutput.split(separator: "\n").map {
            (try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["loss"] as! Double
        }
        for (a, b) in zip(batchedLosses, lines.map { $0["loss"] as! Double }) { #expect(abs(a - b) <= 1e-5 * abs(b)) }
    }

    @Test func malformedRowNamesFileAndLine() throws {
        let dir = Influence.temporaryDirectory()
        let data = dir.appendingPathComponent("bad.jsonl")
        try "{\"text\": \"fine\"}\n{\"neither\": 1}\n".write(to: data, atomically: true, encoding: .utf8)
        let r = try Influence.run(["loss", "--model", Influence.fixtureModel.path, "--data", data.path])
        #expect(r.exitCode == 1)
        #expect(r.standardError == "Error: \(data.path):2: a row needs \"text\" or \"input_ids\"\n")
    }

    @Test func tokenIdsBeyondTheVocabularyAreRejected() throws {
        let dir = Influence.temporaryDirectory()
        let data = dir.appendingPathComponent("ids.jsonl")
        try "{\"input_ids\": [1, 2, 384]}\n".write(to: data, atomically: true, encoding: .utf8)
        let r = try Influence.run(["loss", "--model", Influence.fixtureModel.path, "--data", data.path])
        #expect(r.exitCode == 1)
        #expect(r.standardError.contains("\(data.path):1: token id 384 is not below the vocabulary size 384"))
    }
}
