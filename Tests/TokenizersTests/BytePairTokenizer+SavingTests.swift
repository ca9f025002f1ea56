import Foundation
import Testing
import Tokenizers

@Suite struct BytePairTokenizerSavingTests {
    @Test func aSavedTokenizerLoadsAndEncodesIdentically() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for original in [try Fixtures.tokenizer(), try Fixtures.gpt2StyleTokenizer()] {
            let file = directory.appendingPathComponent("tokenizer.json")
            try original.save(to: file)
            let loaded = try BytePairTokenizer(contentsOf: file)
            #expect(loaded.vocabularySize == original.vocabularySize)
            #expect(loaded.merges.map { [$0.left, $0.right] } == original.merges.map { [$0.left, $0.right] })
            #expect(loaded.addedTokens == original.addedTokens)
            for sample in try Fixtures.samples().samples {
                #expect(loaded.encode(sample.text) == original.encode(sample.text))
            }
        }
    }

    @Test func savingWritesMergesAsStringsAndTheVocabularyInIDOrder() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("tokenizer.json")
        try Fixtures.tokenizer().save(to: file)
        let text = try String(contentsOf: file, encoding: .utf8)
        #expect(text.contains("\"merges\": [\n      \"e n\",\n"))
        #expect(text.contains("\"vocab\": {\n      \"<|endoftext|>\": 0,\n      \"!\": 1,\n"))
    }

    @Test func savingReplacesTheFileAndLeavesNoTemporaryFile() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("tokenizer.json")
        try Data("old contents".utf8).write(to: file)
        try Fixtures.tokenizer().save(to: file)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["tokenizer.json"])
        #expect(try BytePairTokenizer(contentsOf: file).vocabularySize == 1000)
    }

    @Test func savingIntoAMissingDirectoryNamesTheFile() throws {
        let file = URL(fileURLWithPath: "/nonexistent-directory/tokenizer.json")
        let error = try #require(throws: TokenizerFileError.self) { try Fixtures.tokenizer().save(to: file) }
        #expect(error.kind == .unwritable)
        #expect(error.description.hasPrefix("/nonexistent-directory/tokenizer.json: "))
    }
}

/// Writes tokenizers saved by this library, with the ids they give, for
/// scripts/fixtures/check_saved_tokenizers.py to load with Hugging Face `tokenizers`.
@Suite struct SavedTokenizerExport {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TOKENIZERS_EXPORT_DIRECTORY"] != nil))
    func exportSavedTokenizersWithTheirEncodings() throws {
        let directory = URL(
            fileURLWithPath: try #require(ProcessInfo.processInfo.environment["TOKENIZERS_EXPORT_DIRECTORY"]))
        let corpus = try Fixtures.corpus()
        let texts = try Fixtures.samples().samples.map(\.text) + corpus.prefix(50)
        let tokenizers: [(String, BytePairTokenizer)] = [
            ("trained", BytePairTrainer(vocabularySize: 1500, specialTokens: ["<|endoftext|>", "<pad>"]).train(on: corpus)),
            (
                "trained-prefix-space",
                BytePairTrainer(vocabularySize: 600, minimumFrequency: 3, addsPrefixSpace: true).train(on: corpus)
            ),
            ("resaved-gpt2-style", try Fixtures.gpt2StyleTokenizer()),
        ]
        for (name, tokenizer) in tokenizers {
            try tokenizer.save(to: directory.appendingPathComponent("\(name).json"))
            let encodings = texts.map { ["text": $0, "ids": tokenizer.encode($0)] as [String: Any] }
            try JSONSerialization.data(withJSONObject: encodings)
                .write(to: directory.appendingPathComponent("\(name)-encodings.json"))
        }
    }
}
