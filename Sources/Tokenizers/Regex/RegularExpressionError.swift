/// Why a pattern cannot be compiled: a construct this engine does not implement, or a pattern
/// that is not well formed.
///
///     (?<=a)b: lookbehind "(?<=" at character 0 is not supported
public struct RegularExpressionError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Valid Oniguruma syntax that this engine does not implement (backreferences,
        /// lookbehind, possessive quantifiers, named groups, …).
        case unsupported
        /// Not a valid pattern (an unbalanced parenthesis, a range out of order, …).
        case invalid
    }

    public var kind: Kind
    /// The construct as written in the pattern, such as `(?<=` or `\1`.
    public var construct: String
    /// The position of the construct, counted in Unicode scalars from the start of the pattern.
    public var offset: Int
    /// What is wrong, naming the construct and its position.
    public var message: String

    public init(_ kind: Kind, construct: String, offset: Int, message: String) {
        self.kind = kind
        self.construct = construct
        self.offset = offset
        self.message = message
    }

    public var description: String { message }
}
