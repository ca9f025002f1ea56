/// The syntax tree of a pattern, as `RegexParser` reads it and `RegexCompiler` compiles it.
///
/// Case-insensitivity and the dot-all option are resolved by the parser: a literal under
/// `(?i)` is already the class of its case variants, a `.` already the class it stands for.
indirect enum RegexNode: Sendable {
    /// Matches the empty string.
    case empty
    /// One scalar, compared exactly.
    case scalar(UInt32)
    /// One scalar of a class.
    case scalarClass(ScalarClass)
    case sequence([RegexNode])
    /// The alternatives, tried in order.
    case alternation([RegexNode])
    /// `body{minimum,maximum}`; `maximum == nil` is unbounded. Greedy quantifiers try the most
    /// repetitions first, lazy ones the fewest.
    case repetition(RegexNode, minimum: Int, maximum: Int?, greedy: Bool)
    /// `(?=body)` or, negated, `(?!body)`: a zero-width test of what follows.
    case lookahead(RegexNode, negated: Bool)
    case anchor(RegexAnchor)

    /// Whether the node can match the empty string.
    var isNullable: Bool {
        switch self {
        case .empty, .lookahead, .anchor: return true
        case .scalar, .scalarClass: return false
        case .sequence(let items): return items.allSatisfy(\.isNullable)
        case .alternation(let alternatives): return alternatives.contains { $0.isNullable }
        case .repetition(let body, let minimum, _, _): return minimum == 0 || body.isNullable
        }
    }

    /// The node as a class when it matches exactly one scalar, which repetitions compile to a
    /// single loop instruction.
    var singleScalarClass: ScalarClass? {
        switch self {
        case .scalar(let value): return .scalars([value])
        case .scalarClass(let scalarClass): return scalarClass
        default: return nil
        }
    }

    /// A class that contains every scalar a non-empty match can start with (more is allowed),
    /// or `nil` when the node can match the empty string.
    var firstScalars: ScalarClass? {
        switch self {
        case .empty, .lookahead, .anchor: return nil
        case .scalar(let value): return .scalars([value])
        case .scalarClass(let scalarClass): return scalarClass
        case .alternation(let alternatives):
            var members: [ScalarClass] = []
            for alternative in alternatives {
                guard let first = alternative.firstScalars else { return nil }
                members.append(first)
            }
            return .union(members)
        case .repetition(let body, let minimum, _, _):
            return minimum == 0 ? nil : body.firstScalars
        case .sequence(let items):
            // Leading zero-width items (anchors, lookaheads) only restrict the match, and nullable
            // items let the next one start it too.
            var members: [ScalarClass] = []
            for item in items {
                switch item {
                case .anchor, .lookahead, .empty:
                    continue
                default:
                    if let first = item.firstScalars {
                        members.append(first)
                        return .union(members)
                    }
                    guard let first = item.nullableFirstScalars else { return nil }
                    members.append(first)
                }
            }
            return nil
        }
    }

    /// The scalars that a non-empty match of a nullable node can start with, or `nil` if
    /// unknown.
    private var nullableFirstScalars: ScalarClass? {
        switch self {
        case .repetition(let body, _, _, _): return body.firstScalars ?? body.nullableFirstScalars
        case .alternation(let alternatives):
            var members: [ScalarClass] = []
            for alternative in alternatives {
                if case .empty = alternative { continue }
                guard let first = alternative.firstScalars ?? alternative.nullableFirstScalars else { return nil }
                members.append(first)
            }
            return .union(members)
        default: return nil
        }
    }
}

/// The zero-width assertions of a pattern.
enum RegexAnchor: Int32, Sendable {
    /// `^`: at the start of the text or after a newline (Oniguruma's `^` is always per line).
    case lineStart
    /// `$`: at the end of the text or before a newline.
    case lineEnd
    /// `\A`: at the start of the text.
    case textStart
    /// `\z`: at the end of the text.
    case textEnd
    /// `\Z`: at the end of the text or before a final newline.
    case textEndBeforeNewline
}
