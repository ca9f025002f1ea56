import Foundation
import Testing

/// `influence tokenize` against Hugging Face `tokenizers` on the committed fixtures of the
/// Tokenizers tests (scripts/fixtures/make_tokenizer_family_fixtures.py).
@Suite("influence tokenize", .serialized)
struct TokenizeCommandTests {
    static let fixtures = Influence.packageRoot.appendingPathComponent("Tests/TokenizersTests/Fixtures")

    struct Samples: Decodable {
        struct Kind: Decodable {
            struct Sample: Decodable { var ids: [Int]; var tokens: [String] }
            var file: String
            var samples: [Sample]
        }
        var texts: [String]
        var kinds: [String: Kind]
    }

    @Test(arguments: ["llama3", "qwen2", "legacy", "metaspace"])
    func idsAndTokensAreHuggingFaces(kind: String) throws {
        let samples = try JSONDecoder().decode(Samples.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("fortune-family-samples.json")))
        let k = try #require(samples.kinds[kind])
        let dir = Influence.temporaryDirectory()
        let rows = dir.appendingPathComponent("rows.jsonl")
        try samples.texts.map { "{\"text\": \(String(decoding: try JSONEncoder().encode($0), as: UTF8.self))}" }.joined(separator: "\n")
            .write(to: rows, atomically: true, encoding: .utf8)
        let r = try Influence.run(["tokenize", "--tokenizer", Self.fixtures.appendingPathComponent(k.file).path, "--data", rows.path])
        #expect(r.exitCode == 0, "\(r.standardError)")
        let lines = r.standardOutput.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == samples.texts.count)
        for (i, line) in lines.enumerated() {
            let row = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            #expect(row["input_ids"] as? [Int] == k.samples[i].ids, "\(kind) text \(i) \(samples.texts[i].debugDescription)")
            #expect(row["tokens"] as? [String] == k.samples[i].tokens, "\(kind) text \(i)")
        }
    }

    @Test func promptAndCompletionGetTheTemplateOnceAndAnUnknownComponentIsNamed() throws {
        let dir = Influence.temporaryDirectory()
        let rows = dir.appendingPathComponent("rows.jsonl")
        try "{\"prompt\": \"The meaning of life is\", \"completion\": \" to love.\"}\n".write(to: rows, atomically: true, encoding: .utf8)
        let tokenizer = Self.fixtures.appendingPathComponent("fortune-llama3-style.json")
        let r = try Influence.run(["tokenize", "--tokenizer", tokenizer.path, "--data", rows.path])
        #expect(r.exitCode == 0, "\(r.standardError)")
        let row = try JSONSerialization.jsonObject(with: Data(r.standardOutput.utf8)) as! [String: Any]
        let tokens = try #require(row["tokens"] as? [String])
        #expect(tokens.first == "<|begin_of_text|>" && tokens.filter { $0 == "<|begin_of_text|>" }.count == 1, "\(tokens)")
        // A normalizer the library does not implement is named with its field.
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: tokenizer)) as! [String: Any]
        object["normalizer"] = ["type": "BertNormalizer", "lowercase": true]
        let broken = dir.appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: object).write(to: broken)
        let bad = try Influence.run(["tokenize", "--tokenizer", broken.path, "--data", rows.path])
        #expect(bad.exitCode == 1 && bad.standardError.contains("normalizer") && bad.standardError.contains("BertNormalizer"), "\(bad.standardError)")
    }
}
