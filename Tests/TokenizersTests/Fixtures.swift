import Foundation
import Testing
import Tokenizers

/// The reference files made by scripts/fixtures/make_tokenizer_fixtures.py with Hugging Face
/// `tokenizers`, and helpers to derive variants of them.
enum Fixtures {
    struct SampleFile: Decodable {
        var samples: [Sample]
        var invalidUTF8: [InvalidDecode]
    }

    struct Sample: Decodable {
        var text: String
        var pieces: [String]
        var ids: [Int]
        var tokens: [String]
        var decoded: String
        var decodedSkippingSpecialTokens: String
        var prefixSpaceIDs: [Int]
        var prefixSpaceDecoded: String
    }

    struct InvalidDecode: Decodable {
        var bytes: [UInt8]
        var ids: [Int]
        var decoded: String
    }

    static func url(_ name: String) throws -> URL {
        let directory = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return directory.appendingPathComponent(name)
    }

    /// The byte-level BPE trained by `tokenizers` (1000 ids, merges as pairs).
    static func tokenizer() throws -> BytePairTokenizer {
        try BytePairTokenizer(contentsOf: url("fortune-bpe.json"))
    }

    /// The same model in GPT-2's layout: merges as "a b" strings, add_prefix_space true.
    static func gpt2StyleTokenizer() throws -> BytePairTokenizer {
        try BytePairTokenizer(contentsOf: url("fortune-bpe-gpt2-style.json"))
    }

    static func samples() throws -> SampleFile {
        try JSONDecoder().decode(SampleFile.self, from: Data(contentsOf: url("fortune-samples.json")))
    }

    /// The texts the reference tokenizer was trained on.
    static func corpus() throws -> [String] {
        try JSONDecoder().decode([String].self, from: Data(contentsOf: url("fortune-corpus.json")))
    }

    /// The reference tokenizer.json as a mutable JSON object.
    static func document() throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url("fortune-bpe.json")))
        return try #require(object as? [String: Any])
    }

    /// The reference tokenizer.json after `change`, as data.
    static func json(_ change: (inout [String: Any]) throws -> Void) throws -> Data {
        var document = try document()
        try change(&document)
        return try JSONSerialization.data(withJSONObject: document)
    }

    /// The reference document's model section after `change`.
    static func modelJSON(_ change: (inout [String: Any]) throws -> Void) throws -> Data {
        try json { document in
            var model = try #require(document["model"] as? [String: Any])
            try change(&model)
            document["model"] = model
        }
    }

    /// The reference document with its merges list changed.
    static func mergesJSON(_ change: (inout [Any]) -> Void) throws -> Data {
        try modelJSON { model in
            var merges = try #require(model["merges"] as? [Any])
            change(&merges)
            model["merges"] = merges
        }
    }

    /// A fresh, empty directory for files a test writes.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("TokenizersTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
