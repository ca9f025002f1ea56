/// Training documents cut into rows a model can take: a document longer than the context
/// becomes several chunks, each scored as a training row, and a document's influence is the sum
/// over its chunks.
///
/// Chunks of a document of n tokens, for a chunk length L ≥ 2, start every L − 1 tokens:
///
/// ```
/// chunk k = tokens [k(L − 1), k(L − 1) + L)
/// ```
/// so consecutive chunks share one token, which is the last target of one chunk and the first
/// context token of the next. Every token after the document's first is then predicted exactly
/// once, and the sum of the chunks' next-token losses is the document's (each chunk seeing at
/// most L − 1 tokens of context). A document of at most L tokens is one chunk.
public struct DocumentChunks: Sendable, Equatable {
    /// The rows: every chunk of every document, in document order.
    public var sequences: [[Int]]
    /// The document of each row.
    public var documentOfRow: [Int]
    /// The identifier of each document: its `id` field, else its row number in the file.
    public var documentIDs: [String]
    /// The rows of each document, `rowRanges[d] = first..<end`.
    public var rowRanges: [Range<Int>]
    /// The chunk length L (the model's context, or less).
    public let length: Int
    /// L − 1: where consecutive chunks start.
    public var stride: Int { length - 1 }

    /// The number of documents (at most the number of rows).
    public var documentCount: Int { documentIDs.count }
    /// Whether some document became several rows.
    public var splitsDocuments: Bool { sequences.count > documentIDs.count }

    /// The tokens of document `d`, put back together from its chunks.
    public func tokens(ofDocument d: Int) -> [Int] {
        let rows = rowRanges[d]
        guard let first = rows.first else { return [] }
        var tokens = sequences[first]
        for row in rows.dropFirst() { tokens += sequences[row].dropFirst() }
        return tokens
    }

    /// Where row `row` starts in its document's tokens: k·(L − 1) for the document's k-th chunk.
    public func offset(ofRow row: Int) -> Int { (row - rowRanges[documentOfRow[row]].lowerBound) * stride }

    /// Tokens per document.
    public var tokenCounts: [Int] {
        rowRanges.map { rows in rows.isEmpty ? 0 : rows.reduce(0) { $0 + sequences[$1].count } - (rows.count - 1) }
    }

    /// Cuts `documents` into chunks of at most `length` tokens.
    ///
    /// - Precondition: `length ≥ 2` and one identifier per document.
    public init(_ documents: [[Int]], ids: [String], length: Int) {
        precondition(length >= 2, "chunks need at least two tokens, got a length of \(length)")
        precondition(ids.count == documents.count, "\(ids.count) identifiers for \(documents.count) documents")
        self.length = length
        documentIDs = ids
        sequences = []
        documentOfRow = []
        rowRanges = []
        for (d, tokens) in documents.enumerated() {
            let first = sequences.count
            if tokens.count <= length {
                sequences.append(tokens)
            } else {
                var start = 0
                while start + 1 < tokens.count {
                    sequences.append(Array(tokens[start..<Swift.min(tokens.count, start + length)]))
                    start += length - 1
                }
            }
            documentOfRow += Array(repeating: d, count: sequences.count - first)
            rowRanges.append(first..<sequences.count)
        }
    }
}
