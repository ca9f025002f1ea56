import Foundation
import Testing
import Tokenizers

@Suite struct BytePairTokenizerLoadingTests {
    /// The error thrown when reading `data` as if it were the file `file.json`.
    func loadingError(_ data: Data) -> TokenizerFileError? {
        do {
            _ = try BytePairTokenizer(json: data, file: "file.json")
            return nil
        } catch {
            return error as? TokenizerFileError
        }
    }

    @Test func mergesAsStringsAndAsPairsReadTheSame() throws {
        let pairs = try Fixtures.tokenizer()
        let strings = try BytePairTokenizer(
            json: Fixtures.modelJSON({ model in
                let merges = try #require(model["merges"] as? [[String]])
                model["merges"] = merges.map { $0.joined(separator: " ") }
            }))
        #expect(strings.merges.map { [$0.left, $0.right] } == pairs.merges.map { [$0.left, $0.right] })
        for sample in try Fixtures.samples().samples {
            #expect(strings.encode(sample.text) == sample.ids)
        }
    }

    @Test func aGPT2SplitFollowedByByteLevelEncodesLikeByteLevel() throws {
        let tokenizer = try BytePairTokenizer(
            json: Fixtures.json { document in
                document["pre_tokenizer"] = [
                    "type": "Sequence",
                    "pretokenizers": [
                        [
                            "type": "Split", "pattern": ["Regex": BytePairTokenizerLoadingTests.gpt2Pattern],
                            "behavior": "Isolated", "invert": false,
                        ],
                        ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false],
                    ],
                ]
            })
        for sample in try Fixtures.samples().samples {
            #expect(tokenizer.encode(sample.text) == sample.ids, "text: \(sample.text.debugDescription)")
        }
    }

    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    @Test func aTemplatePostProcessorPutsItsSpecialTokensAround() throws {
        let tokenizer = try BytePairTokenizer(
            json: Fixtures.json { document in
                document["post_processor"] = [
                    "type": "TemplateProcessing",
                    "single": [
                        ["SpecialToken": ["id": "<|endoftext|>", "type_id": 0]],
                        ["Sequence": ["id": "A", "type_id": 0]],
                        ["SpecialToken": ["id": "<|endoftext|>", "type_id": 0]],
                    ],
                    "pair": [["Sequence": ["id": "A", "type_id": 0]]],
                    "special_tokens": ["<|endoftext|>": ["id": "<|endoftext|>", "ids": [0], "tokens": ["<|endoftext|>"]]],
                ]
            })
        let plain = try Fixtures.tokenizer()
        #expect(tokenizer.encode("hello world") == [0] + plain.encode("hello world") + [0])
        #expect(tokenizer.decode(tokenizer.encode("hello"), skippingSpecialTokens: true) == "hello")
    }

    @Test func aMissingModelIsNamed() throws {
        let error = try #require(loadingError(Fixtures.json { $0["model"] = nil }))
        #expect(error.kind == .missingField)
        #expect(error.field == "model")
        #expect(error.description == "file.json: model: required field is missing")
    }

    @Test func aWordPieceModelIsUnsupported() throws {
        let error = try #require(loadingError(Fixtures.modelJSON({ $0["type"] = "WordPiece" })))
        #expect(error.kind == .unsupported)
        #expect(error.field == "model.type")
        #expect(error.description.contains("\"WordPiece\""))
        #expect(error.description.hasPrefix("file.json: "))
    }

    @Test(arguments: [
        ("abc", "not two tokens separated by one space"),
        ("a  b", "not two tokens separated by one space"),
        ("a b c", "not two tokens separated by one space"),
    ])
    func aMalformedMergeStringIsNamed(entry: String, message: String) throws {
        let data = try Fixtures.mergesJSON { $0[3] = entry }
        let error = try #require(loadingError(data))
        #expect(error.kind == .invalidValue)
        #expect(error.field == "model.merges[3]")
        #expect(error.message.contains(message))
    }

    @Test func aMergeOfTheWrongShapeIsNamed() throws {
        for entry in [["a"], ["a", "b", "c"], 42] as [Any] {
            let data = try Fixtures.mergesJSON { $0[7] = entry }
            let error = try #require(loadingError(data))
            #expect(error.field == "model.merges[7]")
        }
    }

    @Test func aMergeOfAnUnknownTokenIsNamed() throws {
        let data = try Fixtures.mergesJSON { $0[5] = ["Ġ", "notAToken"] }
        let error = try #require(loadingError(data))
        #expect(error.kind == .invalidValue)
        #expect(error.field == "model.merges[5]")
        #expect(error.message.contains("\"notAToken\""))
        #expect(error.message.contains("model.vocab"))
    }

    @Test func aMergeIntoAnUnknownTokenIsNamed() throws {
        let data = try Fixtures.modelJSON { $0["merges"] = [["q", "q"]] }
        let error = try #require(loadingError(data))
        #expect(error.field == "model.merges[0]")
        #expect(error.message.contains("merges into \"qq\""))
    }

    @Test func textThatIsNotJSONIsReportedWithItsPosition() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("broken.json")
        try Data("{\n  \"model\": {\"vocab\": [1, 2,]}\n}".utf8).write(to: file)
        do {
            _ = try BytePairTokenizer(contentsOf: file)
            Issue.record("expected an error")
        } catch let error as TokenizerFileError {
            #expect(error.kind == .notJSON)
            #expect(error.file == file.path)
            #expect(error.description.hasPrefix(file.path + ": is not valid JSON"))
            #expect(error.message.contains("line 2"))
        }
    }

    @Test func aMissingFileIsReported() throws {
        let file = URL(fileURLWithPath: "/nonexistent/tokenizer.json")
        let error = try #require(throws: TokenizerFileError.self) { try BytePairTokenizer(contentsOf: file) }
        #expect(error.kind == .unreadable)
        #expect(error.description.hasPrefix("/nonexistent/tokenizer.json: cannot be read"))
    }

    @Test func fieldsOfTheWrongTypeAreNamed() throws {
        var error = try #require(loadingError(Fixtures.modelJSON({ $0["vocab"] = ["a", "b"] })))
        #expect(error.kind == .wrongType)
        #expect(error.field == "model.vocab")
        error = try #require(loadingError(Fixtures.modelJSON({ $0["vocab"] = ["a": "1"] })))
        #expect(error.field == "model.vocab.a")
        error = try #require(loadingError(Data("[1, 2]".utf8)))
        #expect(error.kind == .wrongType)
        #expect(error.field == nil)
    }

    @Test func inconsistentVocabulariesAreNamed() throws {
        let duplicateID = try Fixtures.modelJSON { model in
            var vocabulary = model["vocab"] as? [String: Int] ?? [:]
            vocabulary["newToken"] = 5
            model["vocab"] = vocabulary
        }
        var error = try #require(loadingError(duplicateID))
        #expect(error.kind == .invalidValue)
        #expect(error.field == "model.vocab.newToken" || error.message.contains("newToken"))
        let conflictingID = try Fixtures.json { document in
            document["added_tokens"] = [["id": 7, "content": "<|endoftext|>", "special": true]]
        }
        error = try #require(loadingError(conflictingID))
        #expect(error.field == "added_tokens[0].id")
        let takenID = try Fixtures.json { document in
            document["added_tokens"] = [["id": 5, "content": "<new>", "special": true]]
        }
        error = try #require(loadingError(takenID))
        #expect(error.field == "added_tokens[0].id")
        #expect(error.message == "id 5 is the id of \"%\" in model.vocab")
    }

    @Test func unsupportedFeaturesAreNamed() throws {
        let cases: [(Data, String)] = [
            (try Fixtures.json { $0["normalizer"] = ["type": "BertNormalizer"] }, "normalizer"),
            (try Fixtures.json { $0["truncation"] = ["max_length": 512] }, "truncation"),
            (try Fixtures.json { $0["pre_tokenizer"] = ["type": "Whitespace"] }, "pre_tokenizer.type"),
            (try Fixtures.json { $0["pre_tokenizer"] = NSNull() }, "pre_tokenizer"),
            (try Fixtures.json { $0["decoder"] = ["type": "WordPiece"] }, "decoder"),
            (try Fixtures.json { $0["post_processor"] = ["type": "BertProcessing"] }, "post_processor.type"),
            (try Fixtures.modelJSON({ $0["dropout"] = 0.1 }), "model.dropout"),
            (try Fixtures.modelJSON({ $0["continuing_subword_prefix"] = "##" }), "model.continuing_subword_prefix"),
            (try Fixtures.modelJSON({ $0["byte_fallback"] = true }), "model.byte_fallback"),
            (
                try Fixtures.json { $0["added_tokens"] = [["id": 0, "content": "<|endoftext|>", "single_word": true]] },
                "added_tokens[0].single_word"
            ),
        ]
        for (data, field) in cases {
            let error = try #require(loadingError(data), "field \(field)")
            #expect(error.kind == .unsupported, "field \(field): \(error)")
            #expect(error.field == field, "\(error)")
        }
    }

    @Test func emptySubwordAffixesAreAcceptedAsAbsent() throws {
        // transformers writes "" where tokenizers writes null.
        let tokenizer = try BytePairTokenizer(
            json: Fixtures.modelJSON({ model in
                model["continuing_subword_prefix"] = ""
                model["end_of_word_suffix"] = ""
            }))
        #expect(tokenizer.encode("hello world") == (try Fixtures.tokenizer()).encode("hello world"))
    }
}
