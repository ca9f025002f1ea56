import Foundation
import Testing
import Tokenizers

@Suite struct PatternSplitterTests {
    /// Pieces of the GPT-2, Llama 3 and Qwen2 patterns, as Hugging Face's `Split` gives them.
    @Test(arguments: ["gpt2", "llama3", "qwen2"])
    func modelPatternsSplitEverySampleAsTheReference(name: String) throws {
        let family = try Fixtures.family()
        let regex = try RegularExpression(try #require(family.patterns[name]))
        let expected = try #require(family.pieces[name])
        for (text, pieces) in zip(family.texts, expected) {
            #expect(regex.split(text).map(String.init) == pieces, "\(name): \(text.debugDescription)")
        }
    }

    /// The engine running GPT-2's pattern gives the hand-written splitter's pieces.
    @Test func theEngineAgreesWithTheHandWrittenGPT2Splitter() throws {
        let regex = try RegularExpression(try #require(Fixtures.family().patterns["gpt2"]))
        let handWritten = ByteLevelPreTokenizer()
        let texts = try Fixtures.corpus() + Fixtures.family().texts + Fixtures.samples().samples.map(\.text)
        var differing: [String] = []
        for text in texts {
            let pieces = regex.split(text).map { ByteLevelAlphabet.encoded(Array($0.utf8)) }
            if pieces != handWritten.pieces(of: text) { differing.append(text) }
        }
        #expect(differing.isEmpty, "\(differing.count) of \(texts.count) texts differ, first: \(differing.first.debugDescription)")
    }

    static func behavior(_ name: String) throws -> SplitDelimiterBehavior {
        let names: [String: SplitDelimiterBehavior] = [
            "removed": .removed, "isolated": .isolated, "merged_with_previous": .mergedWithPrevious,
            "merged_with_next": .mergedWithNext, "contiguous": .contiguous,
        ]
        return try #require(names[name], "behaviour \(name)")
    }

    @Test func everyBehaviourSplitsAsTheReference() throws {
        for testCase in try Fixtures.family().splitCases where testCase.pattern != "Digits" && testCase.pattern != "Punctuation" {
            let regex =
                testCase.pattern.hasPrefix("String:")
                ? RegularExpression(matchingLiteral: String(testCase.pattern.dropFirst("String:".count)))
                : try RegularExpression(testCase.pattern)
            let pieces = regex.split(testCase.text, behavior: try Self.behavior(testCase.behavior), inverted: testCase.invert)
            #expect(
                pieces.map(String.init) == testCase.pieces,
                "\(testCase.pattern) \(testCase.behavior) invert \(testCase.invert): \(testCase.text.debugDescription)")
        }
    }

    @Test func behavioursOfTheDocumentationExample() {
        let dash = RegularExpression(matchingLiteral: "-")
        func pieces(_ behavior: SplitDelimiterBehavior) -> [String] {
            dash.split("a-b--c", behavior: behavior).map(String.init)
        }
        #expect(pieces(.removed) == ["a", "b", "c"])
        #expect(pieces(.isolated) == ["a", "-", "b", "-", "-", "c"])
        #expect(pieces(.mergedWithPrevious) == ["a-", "b-", "-", "c"])
        #expect(pieces(.mergedWithNext) == ["a", "-b", "-", "-c"])
        #expect(pieces(.contiguous) == ["a", "-", "b", "--", "c"])
    }

    /// A SentencePiece-style file whose pre-tokenizer is replaced, so that `pieces(of:)` shows
    /// the pre-tokenizer's pieces as plain text.
    func tokenizer(preTokenizer: [String: Any]) throws -> BytePairTokenizer {
        try BytePairTokenizer(
            json: Fixtures.json("fortune-sentencepiece-metaspace.json") { $0["pre_tokenizer"] = preTokenizer })
    }

    @Test func digitsAndPunctuationPreTokenizersSplitAsTheReference() throws {
        for testCase in try Fixtures.family().splitCases {
            let preTokenizer: [String: Any]
            switch testCase.pattern {
            case "Digits":
                preTokenizer = ["type": "Digits", "individual_digits": testCase.behavior == "individual"]
            case "Punctuation":
                let behavior = try Self.behavior(testCase.behavior).rawValue
                preTokenizer = ["type": "Punctuation", "behavior": behavior]
            default:
                continue
            }
            let tokenizer = try tokenizer(preTokenizer: preTokenizer)
            #expect(tokenizer.pieces(of: testCase.text) == testCase.pieces, "\(testCase.pattern) \(testCase.behavior)")
        }
    }

    @Test func aSequenceOfPreTokenizersAppliesThemInOrder() throws {
        let tokenizer = try tokenizer(preTokenizer: [
            "type": "Sequence",
            "pretokenizers": [
                ["type": "Split", "pattern": ["String": " "], "behavior": "Removed", "invert": false],
                ["type": "Digits", "individual_digits": true],
            ],
        ])
        #expect(tokenizer.pieces(of: "ab 12 c3") == ["ab", "1", "2", "c", "3"])
    }

    @Test func metaspaceWithSplitCutsBeforeEachReplacement() throws {
        let tokenizer = try tokenizer(preTokenizer: [
            "type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true,
        ])
        #expect(tokenizer.pieces(of: "Hello  world") == ["▁Hello", "▁", "▁world"])
        #expect(tokenizer.pieces(of: " x") == ["▁x"])
    }
}
