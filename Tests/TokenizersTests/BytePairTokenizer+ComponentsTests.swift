import Foundation
import Testing
import Tokenizers

@Suite struct BytePairTokenizerComponentsTests {
    static let llama3 = "fortune-llama3-style.json"
    static let qwen2 = "fortune-qwen2-style.json"
    static let legacy = "fortune-sentencepiece-legacy.json"
    static let metaspace = "fortune-sentencepiece-metaspace.json"

    func loadingError(_ data: Data) -> TokenizerFileError? {
        do {
            _ = try BytePairTokenizer(json: data, file: "file.json")
            return nil
        } catch {
            return error as? TokenizerFileError
        }
    }

    static let llama3Split: [String: Any] = [
        "type": "Split", "pattern": ["Regex": "(?<=a)b"], "behavior": "Isolated", "invert": false,
    ]

    /// A component or construct that is not implemented names itself and its field.
    @Test func unsupportedComponentsAreNamed() throws {
        let cases: [(Data, field: String, named: String)] = [
            (try Fixtures.json(Self.legacy) { $0["normalizer"] = ["type": "Lowercase"] }, "normalizer", "\"Lowercase\""),
            (
                try Fixtures.json(Self.legacy) { document in
                    document["normalizer"] = [
                        "type": "Sequence", "normalizers": [["type": "Prepend", "prepend": "▁"], ["type": "StripAccents"]],
                    ]
                }, "normalizer.normalizers[1]", "\"StripAccents\""
            ),
            (
                try Fixtures.json(Self.llama3) { document in
                    document["pre_tokenizer"] = [
                        "type": "Sequence", "pretokenizers": [["type": "Whitespace"], ["type": "ByteLevel"]],
                    ]
                }, "pre_tokenizer.pretokenizers[0].type", "\"Whitespace\""
            ),
            (
                try Fixtures.json(Self.llama3) { document in
                    document["pre_tokenizer"] = [
                        "type": "Sequence", "pretokenizers": [Self.llama3Split, ["type": "ByteLevel", "use_regex": false]],
                    ]
                }, "pre_tokenizer.pretokenizers[0].pattern.Regex", "lookbehind \"(?<=\""
            ),
            (
                try Fixtures.json(Self.legacy) { document in
                    document["decoder"] = ["type": "Sequence", "decoders": [["type": "ByteFallback"], ["type": "WordPiece"]]]
                }, "decoder.decoders[1]", "\"WordPiece\""
            ),
            (
                try Fixtures.json(Self.llama3) { document in
                    document["post_processor"] = [
                        "type": "Sequence", "processors": [["type": "ByteLevel"], ["type": "RobertaProcessing"]],
                    ]
                }, "post_processor.processors[1].type", "\"RobertaProcessing\""
            ),
            (
                try Fixtures.json(Self.metaspace) { $0["decoder"] = ["type": "ByteLevel"] }, "pre_tokenizer",
                "ByteLevel decoder"
            ),
            (
                try Fixtures.json(Self.qwen2) { document in
                    document = Fixtures.setting(true, at: ["model", "byte_fallback"], in: document)
                }, "model.byte_fallback", "byte fallback"
            ),
            (
                try Fixtures.json(Self.llama3) { document in
                    document["pre_tokenizer"] = [
                        "type": "Sequence", "pretokenizers": [["type": "ByteLevel"], ["type": "Digits"]],
                    ]
                }, "pre_tokenizer.pretokenizers[1]", "ByteLevel must be the last"
            ),
        ]
        for (data, field, named) in cases {
            let error = try #require(loadingError(data), "field \(field)")
            #expect(error.kind == .unsupported, "\(field): \(error)")
            #expect(error.field == field, "\(error)")
            #expect(error.message.contains(named), "\(error)")
            #expect(error.description.hasPrefix("file.json: \(field): "), "\(error)")
        }
    }

    @Test func invalidComponentValuesAreNamed() throws {
        let cases: [(Data, field: String)] = [
            (
                try Fixtures.json(Self.llama3) { document in
                    var split = Self.llama3Split
                    split["pattern"] = ["Regex": "(ab"]
                    document["pre_tokenizer"] = [
                        "type": "Sequence", "pretokenizers": [split, ["type": "ByteLevel", "use_regex": false]],
                    ]
                }, "pre_tokenizer.pretokenizers[0].pattern.Regex"
            ),
            (
                try Fixtures.json(Self.llama3) { document in
                    var split = Self.llama3Split
                    split["pattern"] = ["Regex": "a"]
                    split["behavior"] = "Sideways"
                    document["pre_tokenizer"] = split
                }, "pre_tokenizer.behavior"
            ),
            (
                try Fixtures.json(Self.metaspace) { document in
                    document = Fixtures.setting("sometimes", at: ["pre_tokenizer", "prepend_scheme"], in: document)
                }, "pre_tokenizer.prepend_scheme"
            ),
            (
                try Fixtures.json(Self.metaspace) { document in
                    document = Fixtures.setting("__", at: ["pre_tokenizer", "replacement"], in: document)
                }, "pre_tokenizer.replacement"
            ),
            (
                try Fixtures.json(Self.legacy) { document in
                    document["decoder"] = ["type": "Strip", "content": "ab", "start": 1, "stop": 0]
                }, "decoder.content"
            ),
            (
                try Fixtures.json(Self.legacy) { document in
                    document["normalizer"] = ["type": "Replace", "pattern": ["Glob": "*"], "content": ""]
                }, "normalizer.pattern"
            ),
        ]
        for (data, field) in cases {
            let error = try #require(loadingError(data), "field \(field)")
            #expect(error.kind == .invalidValue, "\(field): \(error)")
            #expect(error.field == field, "\(error)")
        }
    }

    @Test func aMissingPreTokenizerMakesEachTextOnePiece() throws {
        let tokenizer = try BytePairTokenizer(contentsOf: Fixtures.url(Self.legacy))
        #expect(tokenizer.pieces(of: "Hello big world") == ["▁Hello▁big▁world"])
    }

    @Test func aRegexReplaceNormalizerReplacesEveryMatch() throws {
        let tokenizer = try BytePairTokenizer(
            json: Fixtures.json(Self.legacy) { document in
                document["normalizer"] = [
                    "type": "Sequence",
                    "normalizers": [
                        ["type": "Replace", "pattern": ["Regex": " {2,}"], "content": " "],
                        ["type": "Prepend", "prepend": "▁"],
                        ["type": "Replace", "pattern": ["String": " "], "content": "▁"],
                    ],
                ]
            })
        #expect(tokenizer.pieces(of: "a    b  c d") == ["▁a▁b▁c▁d"])
        #expect(tokenizer.pieces(of: "") == [])
    }

    @Test(arguments: ["NFC", "NFD", "NFKC", "NFKD"])
    func unicodeNormalizersGiveTheReferenceForms(form: String) throws {
        // Qwen2's split and ByteLevel pieces, concatenated, are the normalised text.
        let tokenizer = try BytePairTokenizer(
            json: Fixtures.json(Self.qwen2) { document in
                document["normalizer"] = ["type": form]
                document["added_tokens"] = []
            })
        let family = try Fixtures.family()
        let expected = try #require(family.normalForms[form])
        for (text, normalized) in zip(family.texts, expected) {
            let bytes = tokenizer.pieces(of: text).flatMap { ByteLevelAlphabet.decoded($0) ?? [] }
            #expect(
                Array(normalized.utf8) == bytes, "\(form): \(text.debugDescription)")
        }
    }

    @Test func decodersComposeInOrder() throws {
        let tokenizer = try BytePairTokenizer(
            json: Fixtures.json(Self.legacy) { document in
                document["decoder"] = [
                    "type": "Sequence",
                    "decoders": [
                        ["type": "Replace", "pattern": ["String": "▁"], "content": " "],
                        ["type": "ByteFallback"], ["type": "Fuse"],
                        ["type": "Strip", "content": " ", "start": 1, "stop": 1],
                    ],
                ]
            })
        // A run of byte tokens that is not UTF-8 gives one U+FFFD per byte.
        let ids = ["▁a", "<0xE2>", "<0x82>", "<0xAC>", "▁b", "<0xE2>", "<0x82>", "▁"].compactMap { tokenizer.id(of: $0) }
        #expect(ids.count == 8)
        #expect(tokenizer.decode(ids) == "a€ b\u{FFFD}\u{FFFD}")
    }

    @Test func withoutADecoderTokensAreJoinedWithSpaces() throws {
        let tokenizer = try BytePairTokenizer(json: Fixtures.json(Self.legacy) { $0["decoder"] = NSNull() })
        let ids = ["▁a", "<0x41>"].compactMap { tokenizer.id(of: $0) }
        #expect(tokenizer.decode(ids) == "▁a <0x41>")
    }

    @Test func templatesInASequenceOfPostProcessorsWrapEachOther() throws {
        let template: [String: Any] = [
            "type": "TemplateProcessing",
            "single": [
                ["SpecialToken": ["id": "<s>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]],
                ["SpecialToken": ["id": "</s>", "type_id": 0]],
            ],
            "pair": [],
            "special_tokens": [
                "<s>": ["id": "<s>", "ids": [1], "tokens": ["<s>"]], "</s>": ["id": "</s>", "ids": [2], "tokens": ["</s>"]],
            ],
        ]
        let tokenizer = try BytePairTokenizer(
            json: Fixtures.json(Self.legacy) { document in
                document["post_processor"] = ["type": "Sequence", "processors": [template, ["type": "ByteLevel"], template]]
            })
        let plain = try BytePairTokenizer(json: Fixtures.json(Self.legacy) { $0["post_processor"] = NSNull() })
        #expect(tokenizer.encode("hi") == [1, 1] + plain.encode("hi") + [2, 2])
        #expect(tokenizer.decode(tokenizer.encode("hi"), skippingSpecialTokens: true) == "hi")
    }
}
