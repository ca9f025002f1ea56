import Foundation
import Retrieval
import Testing

@Suite struct TermIndexTests {
    /// The collection of the hand-computed example (see TermIndex+ScoringTests).
    static let documents: [[Int]] = [[1, 2, 2], [2, 3], [3, 3, 3], [4, 2]]

    @Test func postingsListEachDocumentOnceInAscendingOrder() {
        let index = TermIndex(tokenDocuments: Self.documents)
        #expect(index.termKind == .tokenIDs)
        #expect(index.documentCount == 4)
        #expect(index.indexedTokenIDs == [1, 2, 3, 4])
        #expect(index.termCount == 4)
        #expect(index.documents(containingToken: 1) == [0])
        #expect(index.documents(containingToken: 2) == [0, 1, 3])
        #expect(index.documents(containingToken: 3) == [1, 2])
        #expect(index.documents(containingToken: 4) == [3])
        #expect(index.documents(containingToken: 5) == [])
        // Document 0 holds token 2 twice and document 2 token 3 three times: presence is binary.
        #expect(index.documentFrequency(ofToken: 2) == 3)
        #expect(index.documentFrequency(ofToken: 3) == 2)
        #expect(index.documentFrequency(ofToken: 99) == 0)
        #expect(index.postingCount == 1 + 3 + 2 + 1)
    }

    @Test func repeatsInsideADocumentDoNotChangeTheIndex() {
        let repeated = TermIndex(tokenDocuments: Self.documents)
        let deduplicated = TermIndex(tokenDocuments: Self.documents.map { Array(Set($0)).sorted() })
        #expect(repeated == deduplicated)
    }

    @Test func emptyDocumentsAndAnEmptyCollectionAreAllowed() {
        let index = TermIndex(tokenDocuments: [[], [7], []])
        #expect(index.documentCount == 3)
        #expect(index.documents(containingToken: 7) == [1])
        let empty = TermIndex(tokenDocuments: [[Int]]())
        #expect(empty.documentCount == 0)
        #expect(empty.termCount == 0)
        #expect(empty.candidates(forTokens: [1, 2], count: .fraction(0.5)) == Candidates(documents: [], scores: []))
        #expect(empty.scores(forTokens: [1]) == [])
    }

    @Test func negativeAndHugeIdsAreTermsLikeAnyOther() {
        let big = 1 << 40
        let index = TermIndex(tokenDocuments: [[-5, big, 3], [big], [3, 5_000_000]])
        #expect(index.indexedTokenIDs == [-5, 3, 5_000_000, big])
        #expect(index.documents(containingToken: big) == [0, 1])
        #expect(index.documents(containingToken: -5) == [0])
        #expect(index.documents(containingToken: 5_000_000) == [2])
        #expect(index.candidates(forTokens: [big, -5], count: .count(1)).documents == [0])
    }

    @Test func theBuilderAddsDocumentsOneAtATime() {
        var builder = TermIndexBuilder(termKind: .tokenIDs)
        for document in Self.documents { builder.add(tokens: document[...]) }
        #expect(builder.documentCount == 4)
        #expect(builder.build() == TermIndex(tokenDocuments: Self.documents))
    }

    @Test func postingsMatchADirectScanOfRandomDocuments() {
        let documents = TestSupport.randomDocuments(count: 300, length: 20, vocabularySize: 50, seed: 11)
        let index = TermIndex(tokenDocuments: documents)
        for id in 0..<50 {
            let expected = documents.indices.filter { documents[$0].contains(id) }
            #expect(index.documents(containingToken: id) == expected, "token \(id)")
            #expect(index.documentFrequency(ofToken: id) == expected.count)
        }
        #expect(index.postingCount == documents.reduce(0) { $0 + Set($1).count })
    }

    @Test func idfMatchesThePapersExpression() {
        for c in [1, 2, 7, 100, 1_000_003] {
            for n in Set([0, 1, c / 2, c]) {
                let paper = log((Double(c) - Double(n) + 0.5) / (Double(n) + 0.5) + 1)
                let idf = TermIndex.inverseDocumentFrequency(documentFrequency: n, documentCount: c)
                #expect(abs(idf - paper) <= 1e-15 * max(1, abs(paper)), "C \(c), n \(n): \(idf) vs \(paper)")
                #expect(idf > 0, "C \(c), n \(n)")
            }
        }
    }

    /// Not timed: 20 000 documents of 100 tokens from 4096 ids build and answer queries.
    @Test func twentyThousandRandomDocumentsBuildAndQuery() {
        let documents = TestSupport.randomDocuments(count: 20_000, length: 100, vocabularySize: 4096, seed: 2023)
        let index = TermIndex(tokenDocuments: documents)
        #expect(index.documentCount == 20_000)
        #expect(index.termCount == 4096)
        let queries = TestSupport.randomDocuments(count: 8, length: 100, vocabularySize: 4096, seed: 7)
        let results = index.candidates(forTokenQueries: queries, count: .fraction(0.01), threadCount: 2)
        #expect(results.count == 8)
        for (query, result) in zip(queries, results) {
            #expect(result.count == 200)
            #expect(result == TestSupport.bestBySorting(index.scores(forTokens: query), count: 200))
        }
    }

    /// Measures build, query, save and load times for README; run with RETRIEVAL_BENCHMARK=1.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["RETRIEVAL_BENCHMARK"] != nil))
    func benchmark() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        for documentCount in [20_000, 100_000] {
            let documents = TestSupport.randomDocuments(count: documentCount, length: 100, vocabularySize: 4096, seed: 1)
            let queries = TestSupport.randomDocuments(count: 100, length: 100, vocabularySize: 4096, seed: 2)
            var index = TermIndex(tokenDocuments: [[Int]]())
            let build = seconds { index = TermIndex(tokenDocuments: documents) }
            let dense = seconds { for query in queries { _ = index.scores(forTokens: query) } }
            let top100 = seconds { _ = index.candidates(forTokenQueries: queries, count: .count(100)) }
            let tenPercent = seconds { _ = index.candidates(forTokenQueries: queries, count: .fraction(0.1)) }
            let twoThreads = seconds { _ = index.candidates(forTokenQueries: queries, count: .count(100), threadCount: 2) }
            let file = directory.appendingPathComponent("index-\(documentCount).tfidf")
            let save = try seconds { try index.save(to: file, fingerprint: "benchmark") }
            let load = try seconds { _ = try TermIndex.load(contentsOf: file) }
            let size = try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int ?? 0
            print(
                "RETRIEVAL_BENCHMARK C=\(documentCount) pairs=\(index.postingCount) build=\(build)s "
                    + "dense/query=\(dense / 100 * 1000)ms top100/query=\(top100 / 100 * 1000)ms "
                    + "top10%/query=\(tenPercent / 100 * 1000)ms top100/query(2 threads)=\(twoThreads / 100 * 1000)ms "
                    + "save=\(save)s load=\(load)s file=\(size) bytes")
        }
    }
}
