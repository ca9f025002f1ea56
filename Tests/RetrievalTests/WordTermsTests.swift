import Foundation
import Retrieval
import Testing

@Suite struct WordTermsTests {
    @Test func wordsAreRunsOfLettersMarksAndDigitsLowerCased() {
        #expect(WordTerms.words(in: "Don't STOP—it's 42nd_street, café!") == ["don", "t", "stop", "it", "s", "42nd", "street", "café"])
        #expect(WordTerms.words(in: "") == [])
        #expect(WordTerms.words(in: "  ...\n\t ") == [])
        #expect(WordTerms.words(in: "a-b a.b a@b") == ["a", "b", "a", "b", "a", "b"])
        #expect(WordTerms.words(in: "x² ½ Ⅻ 3") == ["x", "3"])  // No, Nl: not decimal digits
    }

    @Test func wordsAreUnicodeAware() {
        #expect(WordTerms.words(in: "ΚΑΛΗΜΕΡΑ κόσμε, Мир! 東京タワー") == ["καλημερα", "κόσμε", "мир", "東京タワー"])
        #expect(WordTerms.words(in: "Straße ÉCOLE") == ["straße", "école"])
        // U+0301 COMBINING ACUTE ACCENT is a mark, so it stays in its word.
        #expect(WordTerms.words(in: "CAFE\u{301} bar") == ["cafe\u{301}", "bar"])
        // Arabic-Indic digits are decimal digits.
        #expect(WordTerms.words(in: "abc١٢٣") == ["abc١٢٣"])
        #expect(WordTerms.words(in: "emoji😀here") == ["emoji", "here"])
        // The standard library's full lowercase mapping, without locale or final-sigma rules.
        #expect(WordTerms.words(in: "ΣΑΣ İ ǅ").map { Array($0.unicodeScalars) } == [["σ", "α", "σ"], ["i", "\u{307}"], ["ǆ"]])
    }

    @Test func aWordIndexScoresTextQueriesByTheirWords() {
        let index = TermIndex(texts: ["The cat sat.", "A dog; the DOG barked", "Cats and dogs", "café"])
        #expect(index.termKind == .words)
        #expect(index.indexedWords == ["a", "and", "barked", "café", "cat", "cats", "dog", "dogs", "sat", "the"])
        #expect(index.documentFrequency(ofWord: "the") == 2)
        #expect(index.documentFrequency(ofWord: "dog") == 1)  // twice in document 1, once counted
        #expect(index.documents(containingWord: "the") == [0, 1])
        let idf = { (n: Double) in log(5 / (n + 0.5)) }
        #expect(index.scores(forText: "DOG, the dog!") == [idf(2), idf(2) + idf(1), 0, 0])
        #expect(index.candidates(forText: "cat", count: .count(2)) == Candidates(documents: [0, 1], scores: [idf(1), 0]))
        // Canonically equivalent spellings are one term.
        #expect(index.documents(containingWord: "cafe\u{301}") == [3])
        #expect(index.candidates(forText: "CAFE\u{301}", count: .count(1)).documents == [3])
        #expect(index.candidates(forTextQueries: ["cats", "the"], count: .count(1), threadCount: 2).map(\.documents) == [[2], [0]])
    }

    @Test func theBuilderAddsTextsOneAtATime() {
        var builder = TermIndexBuilder(termKind: .words)
        for text in ["b a", "c", "a a"] { builder.add(text: text) }
        let index = builder.build()
        #expect(index == TermIndex(texts: ["b a", "c", "a a"]))
        #expect(index.documents(containingWord: "a") == [0, 2])
    }
}
