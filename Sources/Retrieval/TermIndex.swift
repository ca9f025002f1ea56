import Foundation

/// An inverted index over a collection of documents: for each term, the documents containing it.
///
/// It is the candidate filter of Grosse et al. (2023, §3.2.1): before influence scores are
/// computed for a query, the training documents are ranked by a modified BM25 with binary term
/// presence and only the best are kept (see ``candidates(forTokens:count:)``).
///
/// Documents are numbered `0..<documentCount` in the order they were added. Terms are token ids
/// (``TermKind/tokenIDs``) or lower-cased words (``TermKind/words``, cut by ``WordTerms``). Only
/// whether a term occurs in a document is recorded, not how often, so the index holds one entry
/// per distinct (term, document) pair:
///
///     postings(t) = the documents containing t, ascending      n_t = |postings(t)|
///
/// Storage: the postings of all terms in one `[Int32]` array (4 bytes per pair), term `t`'s
/// being `postings[offsets[t]..<offsets[t + 1]]`, with terms numbered in ascending order of
/// their id (or word); plus per term its key, offset and IDF.
///
/// ```swift
/// let index = TermIndex(tokenDocuments: trainingTokenIDs)        // [[Int]]
/// let best = index.candidates(forTokens: queryIDs, count: .fraction(0.1))
/// try index.save(to: url, fingerprint: datasetHash)
/// let (loaded, fingerprint) = try TermIndex.load(contentsOf: url)
/// ```
public struct TermIndex: Sendable {
    /// What the terms are.
    public let termKind: TermKind
    /// C, the number of documents.
    public let documentCount: Int
    /// The token id of each term number, ascending (``TermKind/tokenIDs``; empty otherwise).
    let tokenIDs: [Int]
    /// The word of each term number, ascending by `String` ordering (``TermKind/words``; empty otherwise).
    let words: [String]
    /// `offsets[t]..<offsets[t + 1]` is the range of term `t` in `postings`; `termCount + 1` entries.
    let offsets: [Int]
    /// Document numbers, ascending within each term.
    let postings: [Int32]
    /// IDF(t) of each term number.
    let inverseDocumentFrequencies: [Double]
    let lookup: TermLookup

    /// An index from its parts, which the caller has checked (the builder, the loader).
    init(termKind: TermKind, documentCount: Int, tokenIDs: [Int], words: [String], offsets: [Int], postings: [Int32]) {
        self.termKind = termKind
        self.documentCount = documentCount
        self.tokenIDs = tokenIDs
        self.words = words
        self.offsets = offsets
        self.postings = postings
        let termCount = offsets.count - 1
        inverseDocumentFrequencies = (0..<termCount).map {
            Self.inverseDocumentFrequency(documentFrequency: offsets[$0 + 1] - offsets[$0], documentCount: documentCount)
        }
        lookup = termKind == .tokenIDs ? TermLookup(tokenIDs: tokenIDs) : TermLookup(words: words)
    }

    /// Indexes documents of token ids; document `i` is the `i`-th element.
    ///
    /// - Parameter documents: `[documentCount][tokens]`; any `Int` may be an id, repeats count once.
    /// - Complexity: O(total number of tokens) expected time, O(distinct (term, document) pairs)
    ///   memory. See ``TermIndexBuilder`` to add documents one at a time.
    @inlinable
    public init<Documents: Sequence>(tokenDocuments documents: Documents)
    where Documents.Element: Sequence, Documents.Element.Element == Int {
        var builder = TermIndexBuilder(termKind: .tokenIDs)
        for document in documents { builder.add(tokens: document) }
        self = builder.build()
    }

    /// Indexes texts by their lower-cased words (``WordTerms/words(in:)``); document `i` is the `i`-th text.
    public init<Texts: Sequence>(texts: Texts) where Texts.Element == String {
        var builder = TermIndexBuilder(termKind: .words)
        for text in texts { builder.add(text: text) }
        self = builder.build()
    }

    /// The number of distinct terms.
    public var termCount: Int { offsets.count - 1 }

    /// The number of distinct (term, document) pairs, Σ_t n_t.
    public var postingCount: Int { postings.count }

    /// The indexed token ids, ascending (empty for a word index).
    public var indexedTokenIDs: [Int] { tokenIDs }

    /// The indexed words, ascending by `String` ordering (empty for a token-id index).
    public var indexedWords: [String] { words }

    /// IDF(t) = log((C − n_t + 0.5) / (n_t + 0.5) + 1), the weight of a term in n_t of C documents.
    ///
    /// The expression is evaluated in its equal, shorter form
    ///
    ///     IDF(t) = log((C + 1) / (n_t + 0.5))        (natural logarithm)
    ///
    /// which rounds once less. It is positive for every 0 ≤ n_t ≤ C, so a document's score is
    /// positive exactly when it shares a term with the query.
    public static func inverseDocumentFrequency(documentFrequency: Int, documentCount: Int) -> Double {
        precondition(
            documentFrequency >= 0 && documentFrequency <= documentCount,
            "document frequency \(documentFrequency) outside 0...\(documentCount)")
        return Foundation.log(Double(documentCount + 1) / (Double(documentFrequency) + 0.5))
    }

    /// The term number of token `id`, nil when no document contains it.
    func termNumber(ofToken id: Int) -> Int? {
        precondition(termKind == .tokenIDs, "token lookup in an index of \(termKind)")
        return lookup.number(ofToken: id).map(Int.init)
    }

    /// The term number of `word` (already a word term: lower-cased, no separators), nil when absent.
    func termNumber(ofWord word: String) -> Int? {
        precondition(termKind == .words, "word lookup in an index of \(termKind)")
        return lookup.number(ofWord: word).map(Int.init)
    }

    /// n_t: how many documents contain token `id` (0 when none).
    ///
    /// - Precondition: the index is of kind ``TermKind/tokenIDs``.
    public func documentFrequency(ofToken id: Int) -> Int {
        termNumber(ofToken: id).map { offsets[$0 + 1] - offsets[$0] } ?? 0
    }

    /// n_t: how many documents contain `word`, a word term as ``WordTerms`` makes them (0 when none).
    ///
    /// - Precondition: the index is of kind ``TermKind/words``.
    public func documentFrequency(ofWord word: String) -> Int {
        termNumber(ofWord: word).map { offsets[$0 + 1] - offsets[$0] } ?? 0
    }

    /// The documents containing token `id`, ascending.
    public func documents(containingToken id: Int) -> [Int] {
        termNumber(ofToken: id).map { postings[offsets[$0]..<offsets[$0 + 1]].map(Int.init) } ?? []
    }

    /// The documents containing `word`, ascending.
    public func documents(containingWord word: String) -> [Int] {
        termNumber(ofWord: word).map { postings[offsets[$0]..<offsets[$0 + 1]].map(Int.init) } ?? []
    }
}

extension TermIndex: Equatable {
    /// Indexes are equal when they have the same kind, documents, terms and postings.
    public static func == (lhs: TermIndex, rhs: TermIndex) -> Bool {
        lhs.termKind == rhs.termKind && lhs.documentCount == rhs.documentCount && lhs.tokenIDs == rhs.tokenIDs
            && lhs.words == rhs.words && lhs.offsets == rhs.offsets && lhs.postings == rhs.postings
    }
}
