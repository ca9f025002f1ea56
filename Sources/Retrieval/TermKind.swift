/// What the terms of a ``TermIndex`` are.
///
/// The raw value is the one stored in index files.
public enum TermKind: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    /// Token ids: a document is a sequence of `Int`s and each distinct id is a term.
    case tokenIDs = 0
    /// The lower-cased words of a text, cut by ``WordTerms/words(in:)``.
    case words = 1

    /// `token ids` or `words`, for messages.
    public var description: String {
        switch self {
        case .tokenIDs: return "token ids"
        case .words: return "words"
        }
    }
}
