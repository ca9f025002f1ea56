/// Why a pattern cannot be compiled: a construct this engine does not implement, or a pattern
/// that is not well formed.
///
///     (?<=a)b: lookbehind "(?<=" at character 0 is not supported
public struct RegularExpressionError: Error, Equatable, CustomStringConvertible {
    /// Whether the pattern is valid but uses something not implemented, or is not a valid pattern.
    public enum Kind: Sendable, Equatable {
        /// Valid Oniguruma syntax that this engine does not implement (backreferences,
        /// lookbehind, possessive quantifiers, named groups, …).
        case unsupported
        /// Not a valid pattern (an unbalanced parenthesis, a range out of order, …).
        case invalid
    }

    /// Whether the construct is unsupported or the pattern invalid.
    public var kind: Kind
    /// The construct as written in the pattern, such as `(?<=` or `\1`.
    public var construct: String
    /// The position of the construct, counted in Unicode scalars from the start of the pattern.
    public var offset: Int
    /// What is wrong, naming the construct and its position.
    public var message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - kind: unsupported construct or invalid pattern.
    ///   - construct: the construct as written in the pattern.
    ///   - offset: its position in Unicode scalars from the start of the pattern.
    ///   - message: the full message, naming the construct and its position.
    public init(_ kind: Kind, construct: String, offset: Int, message: String) {
        self.kind = kind
        self.construct = construct
        self.offset = offset
        self.message = message
    }

    /// The message alone, without the pattern.
    public var description: String { message }
}
