import Datasets
import Testing
import Tokenizers

@Suite("Language-modelling chunks and splits")
struct LanguageModelingDataTests {
    static let documents = [
        "Hello, world!", "Über den Wolken muß die Freiheit wohl grenzenlos sein.",
        "¿Dónde está la biblioteca? Mañana.", "short", "Don't panic — it's only 42.",
    ]

    @Test(arguments: [4, 7, 16])
    func chunksAreFullAndTileAPrefixOfTheJoinedStream(length: Int) throws {
        let tokenizer = try TinyGPT2Fixture.tokenizer()
        let endOfText = try #require(tokenizer.id(of: "<|endoftext|>"))
        let chunks = LanguageModelingData.chunkedStream(documents: Self.documents, tokenizer: tokenizer, endOfText: endOfText, length: length)
        // The joined stream built from the Hugging Face ids of the fixture where it has them.
        let reference = Dictionary(try TinyGPT2Fixture.referenceEncodings().map { ($0.text, $0.ids) }, uniquingKeysWith: { a, _ in a })
        let stream = Self.documents.flatMap { (reference[$0] ?? tokenizer.encode($0)) + [endOfText] }
        #expect(chunks.allSatisfy { $0.count == length })
        #expect(chunks.count == stream.count / length, "only the last partial chunk may be dropped")
        #expect(chunks.flatMap { $0 } == Array(stream.prefix(chunks.count * length)))
        #expect(stream.filter { $0 == endOfText }.count == Self.documents.count)
    }

    @Test func withoutAnEndOfTextTokenDocumentsAreJustConcatenated() throws {
        let tokenizer = try TinyGPT2Fixture.tokenizer()
        let chunks = LanguageModelingData.chunkedStream(documents: ["Hello, world!", "Hello, world!"], tokenizer: tokenizer, endOfText: nil, length: 5)
        let hello = tokenizer.encode("Hello, world!")
        #expect(chunks.flatMap { $0 } == Array((hello + hello).prefix(chunks.count * 5)))
        #expect(chunks.count == 2 * hello.count / 5)
    }

    @Test func tooFewTokensForOneChunkGiveNoChunks() throws {
        let chunks = LanguageModelingData.chunkedStream(documents: ["a"], tokenizer: try TinyGPT2Fixture.tokenizer(), endOfText: 0, length: 50)
        #expect(chunks.isEmpty)
    }

    /// Every k-th example (k = round(1 / fraction), at least 2) goes to validation.
    @Test(arguments: [
        (10, 0.2, [4, 9]),
        (8, 0.25, [3, 7]),
        (10, 0.1, [9]),
        (9, 0.5, [1, 3, 5, 7]),
        (9, 0.9, [1, 3, 5, 7]),
        (10, 0.0, []),
        (1, 0.5, []),
        (5, 0.3, [2]),
    ])
    func splitSendsEveryKthExampleToValidation(count: Int, fraction: Double, validation: [Int]) {
        let examples = Array(0..<count)
        let split = LanguageModelingData.split(examples, validationFraction: fraction)
        #expect(split.validation == validation)
        #expect(split.train == examples.filter { !validation.contains($0) }, "train keeps the rest in order")
    }

    @Test func splitFractionIsApproximatelyHonouredOnManyExamples() {
        let split = LanguageModelingData.split(Array(0..<1000), validationFraction: 0.05)
        #expect(split.validation.count == 50 && split.train.count == 950)
        #expect(Set(split.train).isDisjoint(with: split.validation))
    }
}
