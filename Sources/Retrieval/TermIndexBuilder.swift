/// Builds a ``TermIndex`` from documents added one at a time.
///
/// Each document is reduced to its distinct terms as it arrives: a term's number is found in a
/// table indexed by token id (or a dictionary of words), and a per-term "last document seen"
/// stamp drops repeats without any per-document set. The distinct term numbers of all
/// documents go into one flat `[Int32]`; ``build()`` then counts n_t, orders the terms and
/// scatters the document numbers into their postings (a counting sort), so documents come out
/// ascending without sorting. Memory is O(distinct (term, document) pairs + terms + documents),
/// twice the final postings at the peak.
///
/// ```swift
/// var builder = TermIndexBuilder(termKind: .tokenIDs)
/// for document in stream { builder.add(tokens: document) }
/// let index = builder.build()
/// ```
public struct TermIndexBuilder: Sendable {
    /// What the terms are; fixes which `add` may be called.
    public let termKind: TermKind
    /// How many documents have been added; the next one gets this number.
    public private(set) var documentCount = 0

    private var lookup = TermLookup()
    /// Per term number (in order of first appearance): its token id or word.
    private var tokenIDs: [Int] = []
    private var words: [String] = []
    /// Per term number: n_t so far.
    private var documentFrequencies: [Int32] = []
    /// Per term number: the last document that contained it, -1 before any.
    private var lastDocument: [Int32] = []
    /// The distinct term numbers of each document, documents one after another.
    private var documentTerms: [Int32] = []
    /// `documentTerms[documentEnds[d − 1]..<documentEnds[d]]` are document d's.
    private var documentEnds: [Int] = []

    /// An empty builder for terms of `termKind`: token ids (``add(tokens:)``) or words (``add(text:)``).
    public init(termKind: TermKind = .tokenIDs) {
        self.termKind = termKind
    }

    /// Adds a document of token ids; repeated ids count once.
    ///
    /// - Precondition: the builder is of kind ``TermKind/tokenIDs`` and has fewer than 2³¹ − 1 documents.
    @inlinable
    public mutating func add<Tokens: Sequence>(tokens: Tokens) where Tokens.Element == Int {
        // Forwarded as an array (no copy when it already is one) to code specialised here, so
        // that callers in other modules do not run it generically, element by element.
        add(tokenArray: Array(tokens))
    }

    @usableFromInline
    mutating func add(tokenArray tokens: [Int]) {
        precondition(termKind == .tokenIDs, "add(tokens:) on a builder of \(termKind); use add(text:)")
        let document = startDocument()
        for id in tokens {
            let (number, isNew) = lookup.number(ofToken: id, assigning: nextTermNumber())
            if isNew {
                tokenIDs.append(id)
                appendTerm()
            }
            record(number, in: document)
        }
        finishDocument()
    }

    /// Adds a text as the document of its lower-cased words (``WordTerms/words(in:)``); repeats count once.
    ///
    /// - Precondition: the builder is of kind ``TermKind/words`` and has fewer than 2³¹ − 1 documents.
    public mutating func add(text: String) {
        precondition(termKind == .words, "add(text:) on a builder of \(termKind); use add(tokens:)")
        let document = startDocument()
        WordTerms.forEachWord(in: text) { word in
            let (number, isNew) = lookup.number(ofWord: word, assigning: nextTermNumber())
            if isNew {
                words.append(word)
                appendTerm()
            }
            record(number, in: document)
        }
        finishDocument()
    }

    /// The index of the documents added so far.
    ///
    /// - Complexity: O(pairs + terms · log terms).
    public func build() -> TermIndex {
        let termCount = documentFrequencies.count
        // Term numbers in ascending order of key, and each first-seen number's rank in that order.
        var order = Array(0..<Int32(termCount))
        switch termKind {
        case .tokenIDs: order.sort { tokenIDs[Int($0)] < tokenIDs[Int($1)] }
        case .words: order.sort { words[Int($0)] < words[Int($1)] }
        }
        var rank = [Int32](repeating: 0, count: termCount)
        for (position, number) in order.enumerated() { rank[Int(number)] = Int32(position) }

        var offsets = [Int](repeating: 0, count: termCount + 1)
        for (position, number) in order.enumerated() {
            offsets[position + 1] = offsets[position] + Int(documentFrequencies[Int(number)])
        }
        var postings = [Int32](repeating: 0, count: documentTerms.count)
        var cursor = Array(offsets.dropLast())
        postings.withUnsafeMutableBufferPointer { postings in
            cursor.withUnsafeMutableBufferPointer { cursor in
                rank.withUnsafeBufferPointer { rank in
                    documentTerms.withUnsafeBufferPointer { terms in
                        var start = 0
                        for (document, end) in documentEnds.enumerated() {
                            for position in start..<end {
                                let term = Int(rank[Int(terms[position])])
                                postings[cursor[term]] = Int32(document)
                                cursor[term] += 1
                            }
                            start = end
                        }
                    }
                }
            }
        }
        return TermIndex(
            termKind: termKind, documentCount: documentCount,
            tokenIDs: termKind == .tokenIDs ? order.map { tokenIDs[Int($0)] } : [],
            words: termKind == .words ? order.map { words[Int($0)] } : [],
            offsets: offsets, postings: postings)
    }

    private mutating func startDocument() -> Int32 {
        precondition(documentCount < Int(Int32.max), "a term index holds at most \(Int32.max) documents")
        return Int32(documentCount)
    }

    private mutating func finishDocument() {
        documentEnds.append(documentTerms.count)
        documentCount += 1
    }

    private func nextTermNumber() -> Int32 {
        precondition(documentFrequencies.count < Int(Int32.max), "a term index holds at most \(Int32.max) terms")
        return Int32(documentFrequencies.count)
    }

    private mutating func appendTerm() {
        documentFrequencies.append(0)
        lastDocument.append(-1)
    }

    @inline(__always)
    private mutating func record(_ number: Int32, in document: Int32) {
        let term = Int(number)
        if lastDocument[term] != document {
            lastDocument[term] = document
            documentFrequencies[term] += 1
            documentTerms.append(number)
        }
    }
}
