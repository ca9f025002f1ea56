import Foundation
import Retrieval
import Testing

@Suite struct TermIndexScoringTests {
    /// The hand-computed example. C = 4 documents:
    ///
    ///     D0 = [1, 2, 2]   terms {1, 2}
    ///     D1 = [2, 3]      terms {2, 3}
    ///     D2 = [3, 3, 3]   terms {3}
    ///     D3 = [4, 2]      terms {2, 4}
    ///
    /// n_1 = 1, n_2 = 3, n_3 = 2, n_4 = 1, and IDF = log((C − n + 0.5)/(n + 0.5) + 1) = log(5 / (n + 0.5)):
    ///
    ///     IDF(1) = IDF(4) = log(3.5/1.5 + 1) = log(10/3) = 1.2039728043259361
    ///     IDF(2)          = log(1.5/3.5 + 1) = log(10/7) = 0.3566749439387324
    ///     IDF(3)          = log(2.5/2.5 + 1) = log(2)    = 0.6931471805599453
    ///
    /// Query [3, 1, 1, 5] (token 1 twice, token 5 in no document), distinct terms {1, 3}:
    ///
    ///     score(D0) = IDF(1) = 1.2039728043259361
    ///     score(D1) = IDF(3) = 0.6931471805599453
    ///     score(D2) = IDF(3) = 0.6931471805599453
    ///     score(D3) = 0
    ///
    /// Query [2, 4]:
    ///
    ///     score(D0) = score(D1) = IDF(2) = 0.3566749439387324,  score(D2) = 0,
    ///     score(D3) = IDF(2) + IDF(4) = 1.5606477482646686
    ///
    /// 5/1.5 and 10/3 are the same real number, so both round to the same Double; likewise 5/3.5
    /// and 10/7 — the comparisons below are exact.
    static let index = TermIndex(tokenDocuments: TermIndexTests.documents)

    @Test func scoresMatchTheHandComputedExample() {
        let idf1 = log(10.0 / 3.0), idf2 = log(10.0 / 7.0), idf3 = log(2.0)
        #expect(abs(idf1 - 1.2039728043259361) < 1e-15 && abs(idf2 - 0.3566749439387324) < 1e-15 && abs(idf3 - 0.6931471805599453) < 1e-15)
        #expect(Self.index.scores(forTokens: [3, 1, 1, 5]) == [idf1, idf3, idf3, 0])
        #expect(Self.index.scores(forTokens: [2, 4]) == [idf2, idf2, 0, idf2 + idf1])
        #expect(abs((idf2 + idf1) - 1.5606477482646686) < 1e-15)
        #expect(Self.index.scores(forTokens: []) == [0, 0, 0, 0])
    }

    @Test func candidatesOfTheHandComputedExampleAreBestFirstWithTiesByLowerDocument() {
        let idf1 = log(10.0 / 3.0), idf2 = log(10.0 / 7.0), idf3 = log(2.0)
        #expect(
            Self.index.candidates(forTokens: [3, 1, 1, 5], count: .count(3))
                == Candidates(documents: [0, 1, 2], scores: [idf1, idf3, idf3]))
        #expect(
            Self.index.candidates(forTokens: [2, 4], count: .count(4))
                == Candidates(documents: [3, 0, 1, 2], scores: [idf2 + idf1, idf2, idf2, 0]))
        // The tie between D0 and D1 is cut by the lower number.
        #expect(Self.index.candidates(forTokens: [2, 4], count: .count(2)).documents == [3, 0])
    }

    @Test func aTermRepeatedInTheQueryCountsOnce() {
        #expect(Self.index.scores(forTokens: [1, 1, 1, 3, 3]) == Self.index.scores(forTokens: [1, 3]))
        #expect(Self.index.scores(forTokens: [3, 1]) == Self.index.scores(forTokens: [1, 3]))
        // A document containing the query term three times (D2) scores what one occurrence gives.
        #expect(Self.index.scores(forTokens: [3])[2] == log(2.0))
    }

    @Test func documentsWithoutSharedTermsFillTheListInDocumentOrder() {
        let index = TermIndex(tokenDocuments: [[9], [1], [9], [1], [2]])
        // Only D1 and D3 contain token 1; the rest of K = 4 are the lowest-numbered of score 0.
        let result = index.candidates(forTokens: [1], count: .count(4))
        #expect(result.documents == [1, 3, 0, 2])
        #expect(result.scores[2] == 0 && result.scores[3] == 0)
        #expect(index.candidates(forTokens: [77], count: .count(2)) == Candidates(documents: [0, 1], scores: [0, 0]))
    }

    @Test func aCountAboveTheCollectionGivesEveryDocument() {
        #expect(Self.index.candidates(forTokens: [2], count: .count(100)).documents == [0, 1, 3, 2])
        #expect(Self.index.candidates(forTokens: [2], count: .fraction(1)).count == 4)
    }

    @Test func aFractionOfTheCollectionIsRoundedUp() {
        // 30% of 4 documents is 1.2, rounded up to 2.
        #expect(Self.index.candidates(forTokens: [2, 4], count: .fraction(0.3)).documents == [3, 0])
        #expect(Self.index.candidates(forTokens: [2, 4], count: .fraction(0.01)).documents == [3])
    }

    @Test(arguments: [1, 2, 5, 17, 60, 299, 300])
    func topKEqualsAFullSortOfTheDenseScores(k: Int) {
        // Few distinct ids make many equal scores, so the tie rule is exercised hard.
        let documents = TestSupport.randomDocuments(count: 300, length: 4, vocabularySize: 12, seed: UInt64(k))
        let index = TermIndex(tokenDocuments: documents)
        var generator = SplitMix64(seed: 99)
        for _ in 0..<20 {
            let query = (0..<Int.random(in: 0...5, using: &generator)).map { _ in Int.random(in: 0..<14, using: &generator) }
            let scores = index.scores(forTokens: query)
            #expect(
                index.candidates(forTokens: query, count: .count(k)) == TestSupport.bestBySorting(scores, count: k),
                "query \(query)")
        }
    }

    @Test func denseScoresMatchAReferenceWrittenFromTheDefinition() {
        let documents = TestSupport.randomDocuments(count: 200, length: 15, vocabularySize: 40, seed: 5)
        let index = TermIndex(tokenDocuments: documents)
        let sets = documents.map(Set.init)
        let queries = TestSupport.randomDocuments(count: 25, length: 8, vocabularySize: 45, seed: 6)
        for query in queries {
            let expected = TestSupport.referenceScores(documents: sets, query: query)
            let observed = index.scores(forTokens: query)
            for document in documents.indices {
                let error = abs(observed[document] - expected[document])
                #expect(
                    error <= 1e-12 * max(1, expected[document]),
                    "query \(query), document \(document): expected \(expected[document]), observed \(observed[document])")
            }
        }
    }

    @Test func theBatchGivesWhatSingleQueriesGiveOnAnyNumberOfThreads() {
        let documents = TestSupport.randomDocuments(count: 500, length: 10, vocabularySize: 100, seed: 8)
        let index = TermIndex(tokenDocuments: documents)
        let queries = TestSupport.randomDocuments(count: 37, length: 6, vocabularySize: 110, seed: 9) + [[]]
        let single = queries.map { index.candidates(forTokens: $0, count: .count(25)) }
        for threads in [1, 2, 3, 8] {
            #expect(index.candidates(forTokenQueries: queries, count: .count(25), threadCount: threads) == single, "\(threads) threads")
        }
        #expect(index.candidates(forTokenQueries: [[Int]](), count: .count(3), threadCount: 4) == [])
    }
}
