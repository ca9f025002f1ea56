/// The best documents for one query, best first, with their scores.
///
/// Ordered by score, highest first; equal scores by the lower document number first.
public struct Candidates: Sendable, Equatable {
    /// Document numbers (row indices of the training set), best first.
    public var documents: [Int]
    /// `scores[i]` is the score of `documents[i]`; non-increasing.
    public var scores: [Double]

    /// - Precondition: `documents` and `scores` have the same length.
    public init(documents: [Int], scores: [Double]) {
        precondition(
            documents.count == scores.count,
            "\(documents.count) documents but \(scores.count) scores")
        self.documents = documents
        self.scores = scores
    }

    /// The number of candidates.
    public var count: Int { documents.count }
}
