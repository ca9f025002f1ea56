import Foundation

/// A tokenizer.json that cannot be read, parsed, understood or written.
///
/// The description names the file, the field (a dotted path such as `model.merges[12]`) and
/// what was expected:
///
///     tokenizer.json: model.merges[12]: "Ġt hex" names the token "hex", which is not in model.vocab
public struct TokenizerFileError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The class of problem, for callers and tests that react to it rather than to the message.
    public enum Kind: Sendable, Equatable {
        /// The file could not be read.
        case unreadable
        /// The file is not valid JSON.
        case notJSON
        /// A required field is absent.
        case missingField
        /// A field holds the wrong kind of JSON value.
        case wrongType
        /// A field asks for something this library does not implement (another model type,
        /// a normaliser, dropout, …).
        case unsupported
        /// A field's value is inconsistent (unknown token, duplicate id, malformed merge).
        case invalidValue
        /// The file could not be written.
        case unwritable
    }

    /// The class of problem.
    public var kind: Kind
    /// The path of the file, or a caller-given name for JSON that came from memory.
    public var file: String
    /// The dotted path of the field, `nil` when the problem concerns the whole file.
    public var field: String?
    /// What is wrong and what was expected.
    public var message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - kind: the class of problem.
    ///   - file: the file's path, or a name for JSON that came from memory.
    ///   - field: the dotted path of the field (e.g. `model.merges[12]`), or nil for the whole file.
    ///   - message: what is wrong and what was expected.
    public init(_ kind: Kind, file: String, field: String?, message: String) {
        self.kind = kind
        self.file = file
        self.field = field
        self.message = message
    }

    /// `file: field: message`, or `file: message` when no field is named.
    public var description: String {
        if let field {
            return "\(file): \(field): \(message)"
        }
        return "\(file): \(message)"
    }

    /// The same text as ``description``, for Foundation's `localizedDescription`.
    public var errorDescription: String? { description }
}
