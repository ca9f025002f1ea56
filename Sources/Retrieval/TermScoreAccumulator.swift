/// Scratch space for scoring one query after another: a dense score per document and the
/// list of documents the current query touched.
///
/// Only the touched documents are reset between queries, so a batch costs O(postings visited)
/// per query plus the selection, not O(C) for clearing.
struct TermScoreAccumulator {
    /// `[documentCount]`; 0 for documents sharing no term with the current query.
    private(set) var scores: [Double]
    /// The documents with a positive score, in the order they were first reached.
    private var touched: [Int32] = []

    init(documentCount: Int) {
        scores = [Double](repeating: 0, count: documentCount)
    }

    /// Adds IDF(t) to the score of every document containing each term of `terms`.
    ///
    /// - Parameter terms: distinct term numbers of `index`, ascending; the sums are formed in
    ///   this order, so they do not depend on the query's word order.
    mutating func accumulate(terms: [Int32], in index: TermIndex) {
        scores.withUnsafeMutableBufferPointer { scores in
            index.postings.withUnsafeBufferPointer { postings in
                for term in terms {
                    let term = Int(term)
                    let weight = index.inverseDocumentFrequencies[term]
                    for position in index.offsets[term]..<index.offsets[term + 1] {
                        let document = Int(postings[position])
                        // IDF > 0 always, so a zero score means "not reached yet".
                        if scores[document] == 0 { touched.append(Int32(document)) }
                        scores[document] += weight
                    }
                }
            }
        }
    }

    /// The `count` best documents of the current query, best first (higher score, then lower
    /// document number), and resets the scores for the next query.
    ///
    /// If fewer than `count` documents have a positive score, the rest are the lowest-numbered
    /// documents of score 0, which is what the tie rule gives.
    ///
    /// - Complexity: O(T log count) for T touched documents, plus O(C) only when T < count.
    mutating func best(count: Int) -> Candidates {
        precondition(count >= 0 && count <= scores.count, "candidate count \(count) outside 0...\(scores.count)")
        var entries: [ScoredDocument]
        if touched.count <= count {
            entries = touched.map { ScoredDocument(score: scores[Int($0)], document: $0) }
            entries.sort(by: ScoredDocument.isBetter)
            var document = 0
            while entries.count < count {
                if scores[document] == 0 { entries.append(ScoredDocument(score: 0, document: Int32(document))) }
                document += 1
            }
        } else {
            entries = selectBest(count: count)
        }
        for document in touched { scores[Int(document)] = 0 }
        touched.removeAll(keepingCapacity: true)
        return Candidates(documents: entries.map { Int($0.document) }, scores: entries.map(\.score))
    }

    /// The dense scores of the current query, after which the accumulator is reset.
    mutating func takeScores() -> [Double] {
        let result = scores
        for document in touched { scores[Int(document)] = 0 }
        touched.removeAll(keepingCapacity: true)
        return result
    }

    /// The `count` best touched documents, sorted, through a heap of size `count` whose root is
    /// the worst entry kept.
    private func selectBest(count: Int) -> [ScoredDocument] {
        guard count > 0 else { return [] }
        var heap = touched.prefix(count).map { ScoredDocument(score: scores[Int($0)], document: $0) }
        // The heap is ordered so that each parent is worse than (or equal to) its children.
        func siftDown(_ start: Int) {
            var parent = start
            while true {
                let left = 2 * parent + 1
                guard left < heap.count else { return }
                var worse = left
                let right = left + 1
                if right < heap.count && ScoredDocument.isBetter(heap[left], heap[right]) { worse = right }
                guard ScoredDocument.isBetter(heap[parent], heap[worse]) else { return }
                heap.swapAt(parent, worse)
                parent = worse
            }
        }
        for position in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(position) }
        for document in touched.dropFirst(count) {
            let entry = ScoredDocument(score: scores[Int(document)], document: document)
            if ScoredDocument.isBetter(entry, heap[0]) {
                heap[0] = entry
                siftDown(0)
            }
        }
        heap.sort(by: ScoredDocument.isBetter)
        return heap
    }
}

/// A document and its score, ordered best first.
struct ScoredDocument {
    var score: Double
    var document: Int32

    /// Whether `a` ranks before `b`: a higher score, or the same score and a lower document number.
    @inline(__always)
    static func isBetter(_ a: ScoredDocument, _ b: ScoredDocument) -> Bool {
        a.score > b.score || (a.score == b.score && a.document < b.document)
    }
}
