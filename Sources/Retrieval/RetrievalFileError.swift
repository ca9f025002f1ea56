import Foundation

/// A term index file or candidate file that cannot be read, is malformed, or cannot be written.
///
/// The description names the file, the line (candidate files) or field (index files) and what
/// was expected:
///
///     index.tfidf: header.termCount: 4611686018427387904 is more than the file of 412 bytes can hold
///     candidates.jsonl:3: candidates[2]: 1200 is outside the documents 0..<1000
public struct RetrievalFileError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// The class of problem, for callers that react differently to each.
    public enum Kind: Sendable, Equatable {
        /// The file could not be opened or read.
        case unreadable
        /// The file is not of the expected format (wrong magic, not JSON, a field of the wrong type).
        case malformed
        /// The file is of a version or term kind this library does not read.
        case unsupported
        /// A value is out of range or inconsistent with the declared counts, or the file is truncated.
        case invalidValue
        /// The index was built over other documents: its fingerprint differs from the expected one.
        case fingerprintMismatch
        /// The file could not be written.
        case unwritable
    }

    /// What kind of problem it is.
    public var kind: Kind
    /// The path of the file.
    public var file: String
    /// The 1-based line of a candidate file, `nil` for index files and for whole-file problems.
    public var line: Int?
    /// The field (`header.documentCount`, `postings[12][3]`, `scores[4]`), `nil` when the
    /// problem concerns the whole file or line.
    public var field: String?
    /// What is wrong and what was expected.
    public var message: String

    /// An error about `file`, with the line and field where known.
    ///
    /// - Parameters:
    ///   - kind: the class of problem.
    ///   - file: the path of the file.
    ///   - line: the 1-based line of a candidate file, or nil.
    ///   - field: the field at fault, or nil for the whole file or line.
    ///   - message: what is wrong and what was expected.
    public init(_ kind: Kind, file: String, line: Int? = nil, field: String? = nil, message: String) {
        self.kind = kind
        self.file = file
        self.line = line
        self.field = field
        self.message = message
    }

    /// `file[:line][: field]: message`, as in the examples above.
    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        if let field { text += ": \(field)" }
        return text + ": " + message
    }

    /// The same text as ``description``, for `LocalizedError`.
    public var errorDescription: String? { description }
}
