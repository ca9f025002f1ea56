import Dispatch

/// Scoring documents against queries: the modified BM25 of Grosse et al. (2023, §3.2.1).
///
///     score(Q, D) = Σ_{t ∈ distinct(Q), t ∈ D} IDF(t)
///     IDF(t)      = log((C − n_t + 0.5) / (n_t + 0.5) + 1)
///
/// Term presence is binary on both sides: a term repeated in the query or in a document counts
/// once. Query terms that no document contains contribute nothing. The IDFs of a query's
/// terms are added in ascending term order (token id, or `String` order of words), so a
/// score does not depend on the order of the query's tokens.
extension TermIndex {
    /// The score of every document for a query of token ids.
    ///
    /// - Parameter query: token ids; order and repeats do not matter.
    /// - Returns: `[documentCount]`, 0 for documents sharing no token with the query.
    /// - Precondition: the index is of kind ``TermKind/tokenIDs``.
    /// - Complexity: O(C + Σ n_t over the query's distinct terms).
    @inlinable
    public func scores<Tokens: Sequence>(forTokens query: Tokens) -> [Double] where Tokens.Element == Int {
        scores(forTerms: termNumbers(ofTokens: Array(query)))
    }

    /// The score of every document for a text query, by its words (``WordTerms/words(in:)``).
    ///
    /// - Returns: `[documentCount]`.
    /// - Precondition: the index is of kind ``TermKind/words``.
    public func scores(forText query: String) -> [Double] {
        scores(forTerms: termNumbers(ofText: query))
    }

    /// The best K documents for a query of token ids: highest score first, equal scores by the
    /// lower document number.
    ///
    /// When fewer than K documents share a token with the query, the list is completed with the
    /// lowest-numbered documents of score 0.
    ///
    /// - Returns: K = `count.resolved(documentCount:)` candidates.
    /// - Precondition: the index is of kind ``TermKind/tokenIDs``.
    /// - Complexity: O(Σ n_t + T log K) for T documents with a positive score.
    @inlinable
    public func candidates<Tokens: Sequence>(forTokens query: Tokens, count: Candidates.Count) -> Candidates
    where Tokens.Element == Int {
        candidates(forTerms: [termNumbers(ofTokens: Array(query))], count: count, threadCount: 1)[0]
    }

    /// The best K documents for a text query, by its words; ordered as ``candidates(forTokens:count:)``.
    ///
    /// - Precondition: the index is of kind ``TermKind/words``.
    public func candidates(forText query: String, count: Candidates.Count) -> Candidates {
        candidates(forTerms: [termNumbers(ofText: query)], count: count, threadCount: 1)[0]
    }

    /// The best K documents for each of many queries of token ids, in query order.
    ///
    /// The same as calling ``candidates(forTokens:count:)`` per query, with one score buffer
    /// per thread reused across queries.
    ///
    /// - Parameters:
    ///   - queries: `[queryCount][tokens]`.
    ///   - threadCount: threads to share the queries among (at least 1).
    /// - Returns: `[queryCount]` candidate lists.
    @inlinable
    public func candidates<Queries: Sequence>(forTokenQueries queries: Queries, count: Candidates.Count, threadCount: Int = 1)
        -> [Candidates]
    where Queries.Element: Sequence, Queries.Element.Element == Int {
        candidates(forTerms: queries.map { termNumbers(ofTokens: Array($0)) }, count: count, threadCount: threadCount)
    }

    /// The best K documents for each of many text queries, in query order.
    ///
    /// - Returns: `[queryCount]` candidate lists.
    public func candidates<Queries: Sequence>(forTextQueries queries: Queries, count: Candidates.Count, threadCount: Int = 1)
        -> [Candidates]
    where Queries.Element == String {
        candidates(forTerms: queries.map { termNumbers(ofText: $0) }, count: count, threadCount: threadCount)
    }

    /// The score of every document for a query of distinct, ascending term numbers.
    @usableFromInline
    func scores(forTerms terms: [Int32]) -> [Double] {
        var accumulator = TermScoreAccumulator(documentCount: documentCount)
        accumulator.accumulate(terms: terms, in: self)
        return accumulator.takeScores()
    }

    /// The distinct term numbers of a token query that are in the index, ascending.
    ///
    /// The public generic methods are `@inlinable` and come here with an array, so this runs
    /// specialised code whatever module the query comes from.
    @usableFromInline
    func termNumbers(ofTokens query: [Int]) -> [Int32] {
        precondition(termKind == .tokenIDs, "a token-id query against an index of \(termKind); check termKind")
        var numbers: [Int32] = []
        for id in query {
            if let number = lookup.number(ofToken: id) { numbers.append(number) }
        }
        return Self.distinctSorted(numbers)
    }

    /// The distinct term numbers of a text query's words that are in the index, ascending.
    func termNumbers(ofText query: String) -> [Int32] {
        precondition(termKind == .words, "a text query against an index of \(termKind); check termKind")
        var numbers: [Int32] = []
        WordTerms.forEachWord(in: query) { word in
            if let number = lookup.number(ofWord: word) { numbers.append(number) }
        }
        return Self.distinctSorted(numbers)
    }

    private static func distinctSorted(_ numbers: [Int32]) -> [Int32] {
        var numbers = numbers
        numbers.sort()
        var kept = 0
        for position in numbers.indices where kept == 0 || numbers[position] != numbers[kept - 1] {
            numbers[kept] = numbers[position]
            kept += 1
        }
        numbers.removeLast(numbers.count - kept)
        return numbers
    }

    /// The candidates of queries given as distinct, ascending term numbers.
    ///
    /// Queries are dealt to the threads round-robin (query q to thread q mod threadCount), each
    /// thread with its own ``TermScoreAccumulator``; every result slot is written by one thread.
    @usableFromInline
    func candidates(forTerms queries: [[Int32]], count: Candidates.Count, threadCount: Int) -> [Candidates] {
        precondition(threadCount >= 1, "threadCount must be at least 1, got \(threadCount)")
        let k = count.resolved(documentCount: documentCount)
        let workers = Swift.min(threadCount, queries.count)
        if workers <= 1 {
            var accumulator = TermScoreAccumulator(documentCount: documentCount)
            return queries.map { terms in
                accumulator.accumulate(terms: terms, in: self)
                return accumulator.best(count: k)
            }
        }
        return [Candidates](unsafeUninitializedCapacity: queries.count) { buffer, initializedCount in
            let results = ResultSlots(buffer: buffer)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                var accumulator = TermScoreAccumulator(documentCount: documentCount)
                for query in stride(from: worker, to: queries.count, by: workers) {
                    accumulator.accumulate(terms: queries[query], in: self)
                    results.buffer.initializeElement(at: query, to: accumulator.best(count: k))
                }
            }
            initializedCount = queries.count
        }
    }
}

/// The result array of a threaded batch, shared by the threads: each slot is initialised by
/// exactly one of them (query q by thread q mod threadCount), and the array is read only after
/// `concurrentPerform` has returned, so there is no data race.
private struct ResultSlots: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Candidates>
}
