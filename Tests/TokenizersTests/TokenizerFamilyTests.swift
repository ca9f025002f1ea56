import Foundation
import Testing
import Tokenizers

/// The Llama-3-, Qwen2- and SentencePiece-style tokenizers trained by Hugging Face `tokenizers`
/// (scripts/fixtures/make_tokenizer_family_fixtures.py), against what `tokenizers` gives.
@Suite struct TokenizerFamilyTests {
    static let kinds = ["llama3", "qwen2", "legacy", "metaspace"]

    func reference(_ kind: String) throws -> (tokenizer: BytePairTokenizer, kind: Fixtures.Kind, texts: [String]) {
        let family = try Fixtures.family()
        let reference = try #require(family.kinds[kind])
        return (try BytePairTokenizer(contentsOf: Fixtures.url(reference.file)), reference, family.texts)
    }

    @Test(arguments: kinds)
    func encodesEverySampleToTheReferenceIDsAndTokens(kind: String) throws {
        let (tokenizer, reference, texts) = try reference(kind)
        #expect(tokenizer.vocabularySize == reference.vocabularySize)
        for (text, expected) in zip(texts, reference.samples) {
            #expect(tokenizer.encode(text) == expected.ids, "\(kind): \(text.debugDescription)")
            #expect(tokenizer.tokens(of: text) == expected.tokens, "\(kind): \(text.debugDescription)")
        }
    }

    @Test(arguments: kinds)
    func decodesEverySampleAsTheReference(kind: String) throws {
        let (tokenizer, reference, texts) = try reference(kind)
        for (text, expected) in zip(texts, reference.samples) {
            #expect(tokenizer.decode(expected.ids) == expected.decoded, "\(kind): \(text.debugDescription)")
            #expect(
                tokenizer.decode(expected.ids, skippingSpecialTokens: true) == expected.decodedSkippingSpecialTokens,
                "\(kind): \(text.debugDescription)")
        }
    }

    @Test(arguments: kinds)
    func encodesTheWholeCorpusToTheReferenceIDs(kind: String) throws {
        let (tokenizer, reference, _) = try reference(kind)
        let corpus = try Fixtures.corpus()
        #expect(corpus.count == reference.corpusHashes.count)
        var differing: [Int] = []
        for (index, (text, hash)) in zip(corpus, reference.corpusHashes).enumerated()
        where Fixtures.hash(tokenizer.encode(text)) != hash {
            differing.append(index)
        }
        #expect(differing.isEmpty, "\(kind): texts \(differing.prefix(10)) of \(corpus.count) encode differently")
    }

    /// The same files with a field changed (byte fallback off, another prepend scheme, …).
    @Test(arguments: kinds)
    func variantsEncodeAndDecodeAsTheReference(kind: String) throws {
        let (original, reference, texts) = try reference(kind)
        for (name, variant) in reference.variants.sorted(by: { $0.key < $1.key }) {
            let data = try Fixtures.json(reference.file) { document in
                for change in variant.changes {
                    document = Fixtures.setting(change.value.object, at: change.path[...], in: document)
                }
            }
            let tokenizer = try BytePairTokenizer(json: data, file: "\(kind)-\(name).json")
            if let ids = variant.ids {
                for (text, expected) in zip(texts, ids) {
                    #expect(tokenizer.encode(text) == expected, "\(kind) \(name): \(text.debugDescription)")
                }
            }
            if let decoded = variant.decoded {
                for (text, expected) in zip(texts, decoded) {
                    #expect(
                        tokenizer.decode(original.encode(text)) == expected, "\(kind) \(name): \(text.debugDescription)")
                }
            }
        }
    }

    @Test func byteFallbackAndUnknownTokensAreUsedForCharactersOutsideTheVocabulary() throws {
        let (tokenizer, _, _) = try reference("legacy")
        // "𝔘" (U+1D518) is not in the vocabulary: its four UTF-8 bytes become byte tokens.
        let tokens = tokenizer.tokens(of: "𝔘")
        #expect(tokens == ["<s>", "▁", "<0xF0>", "<0x9D>", "<0x94>", "<0x98>"])
        #expect(tokenizer.decode(tokenizer.encode("𝔘 x"), skippingSpecialTokens: true) == "𝔘 x")
        let withoutFallback = try BytePairTokenizer(
            json: Fixtures.json("fortune-sentencepiece-legacy.json") { document in
                document = Fixtures.setting(false, at: ["model", "byte_fallback"], in: document)
            })
        #expect(withoutFallback.tokens(of: "𝔘𝔘") == ["<s>", "▁", "<unk>"])  // fused
    }

    @Test func prependSchemeFirstOnlyPrependsAtTheStartOfTheText() throws {
        let (tokenizer, _, _) = try reference("metaspace")
        #expect(tokenizer.pieces(of: "<s>Hello") == ["Hello"])
        #expect(tokenizer.pieces(of: "Hello</s> world") == ["▁Hello", "▁world"])
        let (legacy, _, _) = try reference("legacy")
        // The legacy normalizer prepends to every stretch between added tokens.
        #expect(legacy.pieces(of: "<s>Hello") == ["▁Hello"])
        #expect(legacy.pieces(of: "Hello</s> world") == ["▁Hello", "▁▁world"])
    }

    @Test func normalisedAddedTokensAreMatchedInTheirNormalisedForm() throws {
        let (legacy, _, _) = try reference("legacy")
        let id = try #require(legacy.id(of: "New York"))
        #expect(legacy.encode("I love New York").contains(id))
        #expect(legacy.token(for: id) == "▁New▁York")
        let (qwen, _, _) = try reference("qwen2")
        let amelie = try #require(qwen.id(of: "Ame\u{301}lie"))
        // Written in NFD in the file, matched after NFC in both spellings.
        #expect(qwen.encode("Am\u{E9}lie").filter { $0 == amelie }.count == 1)
        #expect(qwen.encode("Ame\u{301}lie").filter { $0 == amelie }.count == 1)
    }

    @Test(arguments: kinds)
    func aSavedTokenizerLoadsAgainAndEncodesIdentically(kind: String) throws {
        let (tokenizer, reference, texts) = try reference(kind)
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("tokenizer.json")
        try tokenizer.save(to: file)
        let loaded = try BytePairTokenizer(contentsOf: file)
        #expect(loaded.vocabularySize == tokenizer.vocabularySize)
        #expect(loaded.addedTokens == tokenizer.addedTokens)
        for (text, expected) in zip(texts, reference.samples) {
            #expect(loaded.encode(text) == expected.ids, "\(kind): \(text.debugDescription)")
            #expect(loaded.decode(expected.ids) == expected.decoded, "\(kind): \(text.debugDescription)")
        }
        // The sections are written as they were read.
        let saved = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        let original = try Fixtures.document(reference.file)
        for key in ["normalizer", "pre_tokenizer", "post_processor", "decoder"] {
            #expect(
                NSDictionary(dictionary: ["value": saved[key] ?? NSNull()])
                    .isEqual(to: ["value": original[key] ?? NSNull()]), "\(kind): \(key)")
        }
    }
}

extension TokenizerFamilyTests {
    /// Encodes the installed fortunes with each family tokenizer; run with TOKENIZERS_BENCHMARK=1.
    /// With TOKENIZERS_BENCHMARK_OUTPUT set to a directory, also writes the FNV-1a hash of the
    /// ids of every text, to compare with Hugging Face `tokenizers` on the same texts.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TOKENIZERS_BENCHMARK"] != nil))
    func benchmarkEncodingTheFortuneCorpusWithEachFamily() throws {
        let texts = FortuneCorpus.texts()
        try #require(!texts.isEmpty, "install fortunes, fortunes-de and fortunes-es")
        let bytes = texts.reduce(0) { $0 + $1.utf8.count }
        let output = ProcessInfo.processInfo.environment["TOKENIZERS_BENCHMARK_OUTPUT"]
        let clock = ContinuousClock()
        for kind in Self.kinds {
            let tokenizer = try reference(kind).tokenizer
            var encodings: [[Int]] = []
            encodings.reserveCapacity(texts.count)
            let elapsed = clock.measure {
                for text in texts { encodings.append(tokenizer.encode(text)) }
            }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            let tokens = encodings.reduce(0) { $0 + $1.count }
            print(
                "encode \(kind): \(texts.count) texts, \(bytes) bytes, \(tokens) tokens in \(seconds) s "
                    + "(\(Double(bytes) / seconds / 1e6) MB/s)")
            if let output {
                try JSONSerialization.data(withJSONObject: encodings.map(Fixtures.hash))
                    .write(to: URL(fileURLWithPath: output).appendingPathComponent("\(kind)-hashes.json"))
            }
        }
    }
}

/// Writes the family tokenizers re-saved by this library, with the ids they give, for
/// scripts/fixtures/check_saved_tokenizers.py to load with Hugging Face `tokenizers`.
@Suite struct SavedFamilyTokenizerExport {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TOKENIZERS_EXPORT_DIRECTORY"] != nil))
    func exportSavedTokenizersWithTheirEncodings() throws {
        let directory = URL(
            fileURLWithPath: try #require(ProcessInfo.processInfo.environment["TOKENIZERS_EXPORT_DIRECTORY"]))
        let family = try Fixtures.family()
        let texts = family.texts + (try Fixtures.corpus().prefix(50))
        for (name, kind) in family.kinds.sorted(by: { $0.key < $1.key }) {
            let tokenizer = try BytePairTokenizer(contentsOf: Fixtures.url(kind.file))
            try tokenizer.save(to: directory.appendingPathComponent("resaved-\(name).json"))
            let encodings = texts.map { ["text": $0, "ids": tokenizer.encode($0)] as [String: Any] }
            try JSONSerialization.data(withJSONObject: encodings)
                .write(to: directory.appendingPathComponent("resaved-\(name)-encodings.json"))
        }
    }
}
