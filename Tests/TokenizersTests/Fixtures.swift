import Foundation
import _TestSupport
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

    /// fortune-family-samples.json, made by scripts/fixtures/make_tokenizer_family_fixtures.py.
    struct FamilyFile: Decodable {
        var texts: [String]
        var patterns: [String: String]
        /// Hugging Face's `Split` pieces of every text, by pattern name.
        var pieces: [String: [[String]]]
        var kinds: [String: Kind]
        /// Hugging Face's NFC, NFD, NFKC and NFKD of every text.
        var normalForms: [String: [String]]
        var regexCases: [RegexCase]
        var splitCases: [SplitCase]
    }

    /// One tokenizer of the family fixtures with the reference results for every text.
    struct Kind: Decodable {
        var file: String
        var vocabularySize: Int
        var samples: [Encoding]
        /// FNV-1a (64-bit) of the ids of every text of fortune-corpus.json, in hexadecimal.
        var corpusHashes: [String]
        var variants: [String: Variant]
    }

    struct Encoding: Decodable {
        var ids: [Int]
        var tokens: [String]
        var decoded: String
        var decodedSkippingSpecialTokens: String
    }

    /// The same file with some fields changed, and the ids (or decodings) it gives.
    struct Variant: Decodable {
        var changes: [Change]
        var ids: [[Int]]?
        var decoded: [String]?
    }

    struct Change: Decodable {
        var path: [String]
        var value: JSONScalar
    }

    /// A JSON value that is null, a boolean or a string.
    enum JSONScalar: Decodable {
        case null
        case bool(Bool)
        case string(String)

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else {
                self = .string(try container.decode(String.self))
            }
        }

        var object: Any {
            switch self {
            case .null: return NSNull()
            case .bool(let value): return value
            case .string(let value): return value
            }
        }
    }

    struct RegexCase: Decodable {
        var pattern: String
        var text: String
        /// Hugging Face's `Split(pattern, "isolated")` pieces.
        var pieces: [String]
        /// The non-empty matches (`Split(pattern, "removed", invert=True)`).
        var matches: [String]
    }

    struct SplitCase: Decodable {
        /// A pattern, or "Digits" / "Punctuation" for those pre-tokenizers.
        var pattern: String
        var behavior: String
        var invert: Bool
        var text: String
        var pieces: [String]
    }

    static func family() throws -> FamilyFile {
        try JSONDecoder().decode(FamilyFile.self, from: Data(contentsOf: url("fortune-family-samples.json")))
    }

    /// A family fixture's tokenizer.json as a mutable JSON object.
    static func document(_ name: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url(name)))
        return try #require(object as? [String: Any])
    }

    /// A family fixture's tokenizer.json with `change` made to it, as data.
    static func json(_ name: String, _ change: (inout [String: Any]) throws -> Void) throws -> Data {
        var document = try document(name)
        try change(&document)
        return try JSONSerialization.data(withJSONObject: document)
    }

    /// `document` with the value at a path of keys set.
    static func setting(_ value: Any, at path: ArraySlice<String>, in document: [String: Any]) -> [String: Any] {
        var document = document
        guard let key = path.first else { return document }
        if path.count == 1 {
            document[key] = value
        } else {
            document[key] = setting(value, at: path.dropFirst(), in: document[key] as? [String: Any] ?? [:])
        }
        return document
    }

    /// FNV-1a (64-bit) of a list of ids, as the fixture script computes it.
    static func hash(_ ids: [Int]) -> String {
        var value: UInt64 = 0xCBF2_9CE4_8422_2325
        for id in ids {
            value ^= UInt64(id)
            value = value &* 0x100_0000_01B3
        }
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
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
        TestTemporaryRoot.directory("TokenizersTests")
    }
}
