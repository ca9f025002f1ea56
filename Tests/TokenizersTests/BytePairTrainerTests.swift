import Foundation
import Testing
import Tokenizers

@Suite struct BytePairTrainerTests {
    func mergeList(_ tokenizer: BytePairTokenizer) -> [String] {
        tokenizer.merges.map { "\($0.left) \($0.right)" }
    }

    /// "aaab aaab" has the pieces "aaab" and "Ġaaab". Pair counts: (a,a) 4, (a,b) 2, (Ġ,a) 1,
    /// so "a a" comes first. Then (aa,a) and (a,b) both have 2; (a,b) has the smaller ids
    /// (byte tokens precede merged ones), so it wins. Then (aa,ab) 2; (Ġ,aaab) has only 1.
    @Test func firstMergesOnATinyCorpusAreTheHandCountedOnes() {
        let trainer = BytePairTrainer(vocabularySize: 1000, minimumFrequency: 2)
        #expect(mergeList(trainer.train(on: ["aaab aaab"])) == ["a a", "a b", "aa ab"])
        let everyPair = BytePairTrainer(vocabularySize: 1000, minimumFrequency: 1)
        #expect(mergeList(everyPair.train(on: ["aaab aaab"])) == ["a a", "a b", "aa ab", "Ġ aaab"])
    }

    @Test func specialTokensTakeTheLowestIDsAndBytesFollowInAlphabetOrder() {
        let trainer = BytePairTrainer(vocabularySize: 300, specialTokens: ["<|endoftext|>", "<pad>"])
        let tokenizer = trainer.train(on: ["hello hello hello"])
        #expect(tokenizer.id(of: "<|endoftext|>") == 0)
        #expect(tokenizer.id(of: "<pad>") == 1)
        #expect(tokenizer.id(of: "!") == 2)
        #expect(tokenizer.id(of: "ÿ") == 2 + 187)
        #expect(tokenizer.id(of: "Ā") == 2 + 188)
        #expect(tokenizer.id(of: "Ń") == 2 + 255)
        #expect(tokenizer.specialTokens.map(\.content) == ["<|endoftext|>", "<pad>"])
    }

    @Test func specialTokensInTheTextAreBoundariesNotText() {
        let trainer = BytePairTrainer(vocabularySize: 1000, specialTokens: ["<|endoftext|>"])
        let tokenizer = trainer.train(on: Array(repeating: "<|endoftext|>ab<|endoftext|>", count: 10))
        #expect(mergeList(tokenizer) == ["a b"])
        #expect(tokenizer.encode("ab<|endoftext|>") == [tokenizer.id(of: "ab")!, 0])
    }

    @Test func trainingStopsAtTheVocabularySize() throws {
        let tokenizer = BytePairTrainer(vocabularySize: 400, specialTokens: ["<|endoftext|>"]).train(on: try Fixtures.corpus())
        #expect(tokenizer.vocabularySize == 400)
        #expect(tokenizer.merges.count == 400 - 257)
    }

    @Test func trainingStopsWhenNoPairIsFrequentEnough() {
        let tokenizer = BytePairTrainer(vocabularySize: 1000, minimumFrequency: 3).train(on: ["ab ab cd cd cd"])
        #expect(mergeList(tokenizer) == ["c d", "Ġ cd"])
        #expect(tokenizer.vocabularySize == 256 + 2)
    }

    @Test func trainingIsDeterministicAndIgnoresTextOrder() throws {
        let corpus = try Array(Fixtures.corpus().prefix(200))
        let trainer = BytePairTrainer(vocabularySize: 600, specialTokens: ["<|endoftext|>"])
        let first = mergeList(trainer.train(on: corpus))
        #expect(mergeList(trainer.train(on: corpus)) == first)
        #expect(mergeList(trainer.train(on: corpus.reversed())) == first)
    }

    /// The reference tokenizer was trained by Hugging Face `tokenizers` on the same texts.
    @Test func reproducesTheReferenceTrainersMergesAndVocabulary() throws {
        let reference = try Fixtures.tokenizer()
        let trainer = BytePairTrainer(vocabularySize: 1000, minimumFrequency: 2, specialTokens: ["<|endoftext|>"])
        let trained = trainer.train(on: try Fixtures.corpus())
        let expected = mergeList(reference)
        let observed = mergeList(trained)
        let firstDifference = zip(expected, observed).enumerated().first { $1.0 != $1.1 }?.offset
        #expect(observed == expected, "first difference at merge \(firstDifference.map(String.init) ?? "(lengths)")")
        #expect(trained.vocabularySize == reference.vocabularySize)
        for id in 0..<reference.vocabularySize {
            #expect(trained.token(for: id) == reference.token(for: id))
        }
    }

    @Test func aTrainedTokenizerSavedAndLoadedEncodesIdentically() throws {
        let corpus = try Fixtures.corpus()
        let trained = BytePairTrainer(vocabularySize: 700, specialTokens: ["<|endoftext|>"]).train(on: corpus)
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("trained.json")
        try trained.save(to: file)
        let loaded = try BytePairTokenizer(contentsOf: file)
        for text in corpus.prefix(100) + (try Fixtures.samples().samples.map(\.text)) {
            let ids = trained.encode(text)
            #expect(loaded.encode(text) == ids)
            #expect(trained.decode(ids) == text)
        }
    }

    @Test func aPrefixSpaceTrainerEncodesTheFirstWordLikeTheOthers() {
        let trainer = BytePairTrainer(vocabularySize: 300, specialTokens: ["<|endoftext|>"], addsPrefixSpace: true)
        let tokenizer = trainer.train(on: Array(repeating: "hello", count: 5))
        #expect(tokenizer.tokens(of: "hello") == ["Ġhello"])
        #expect(tokenizer.tokens(of: "hello hello") == ["Ġhello", "Ġhello"])
    }

    /// Trains on the installed fortunes (about 1 MB) to 4096 ids; run with TOKENIZERS_BENCHMARK=1.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TOKENIZERS_BENCHMARK"] != nil))
    func benchmarkTrainingOnAMegabyteOfFortunes() throws {
        var texts: [String] = []
        var bytes = 0
        for text in FortuneCorpus.texts() where bytes < 1_000_000 {
            texts.append(text)
            bytes += text.utf8.count
        }
        try #require(bytes >= 1_000_000, "install fortunes, fortunes-de and fortunes-es")
        let trainer = BytePairTrainer(vocabularySize: 4096, specialTokens: ["<|endoftext|>"])
        let clock = ContinuousClock()
        var tokenizer: BytePairTokenizer?
        let elapsed = clock.measure { tokenizer = trainer.train(on: texts) }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        print("train: \(texts.count) texts, \(bytes) bytes to \(tokenizer?.vocabularySize ?? 0) ids in \(seconds) s")
    }
}
