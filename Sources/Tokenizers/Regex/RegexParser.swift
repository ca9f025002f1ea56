/// Reads a pattern in Oniguruma's syntax (as Hugging Face `tokenizers` compiles it) into a
/// `RegexNode` tree.
///
/// Supported: alternation `|`; groups `(…)` (nothing is captured), `(?:…)`, option groups
/// `(?i:…)`, `(?-i:…)`, `(?m:…)` and the isolated form `(?i)` that runs to the end of the
/// enclosing group; comments `(?#…)`; lookahead `(?=…)`, `(?!…)`; classes `[…]` with `^`,
/// ranges, escapes, nested classes and `&&`; `.`; `\s \S \d \D \w \W \h \H`,
/// `\p{…}`/`\P{…}`/`\p{^…}` for general categories (`L`, `Lu`, `Letter`, … and `Any`,
/// `Assigned`); `\t \n \r \f \v \a \e`, `\xHH`, `\x{H…}`, `\uHHHH`, `\0oo`, `\o{…}`;
/// quantifiers `? * + {m} {m,} {m,n} {,n}`, greedy or lazy (`??`, `*?`, …); anchors
/// `^ $ \A \z \Z`. A `{` that does not start an interval is a literal, as in Oniguruma.
///
/// Refused with `RegularExpressionError.Kind.unsupported`, naming the construct:
/// backreferences, lookbehind, named groups, atomic groups, possessive quantifiers, stacked
/// quantifiers, absent operators, conditionals, subexpression calls, `\b \B \G \K \R \X`,
/// POSIX brackets, code point sequences `\x{41 42}`, other Unicode properties (scripts, binary
/// properties) and other options.
struct RegexParser {
    let scalars: [Unicode.Scalar]
    var position = 0
    /// How many groups and classes enclose the current position.
    var depth = 0

    /// Groups and classes nested deeper than this are refused, so that a hostile pattern cannot
    /// exhaust the stack of the recursive parser, compiler and matcher.
    static let maximumDepth = 256

    /// The largest repetition bound accepted (Oniguruma refuses larger ones too).
    static let maximumRepetition = 100_000

    struct Options {
        var caseInsensitive = false
        /// Oniguruma's `m` (Ruby syntax): `.` also matches a newline.
        var dotMatchesNewline = false
    }

    init(_ pattern: String) {
        self.scalars = Array(pattern.unicodeScalars)
    }

    /// Parses the whole pattern.
    static func parse(_ pattern: String) throws -> RegexNode {
        var parser = RegexParser(pattern)
        let node = try parser.parseAlternation(Options())
        if parser.position < parser.scalars.count {
            // Only an unmatched ")" stops the top-level alternation early.
            throw parser.invalid(")", "unmatched \")\"")
        }
        return node
    }

    // MARK: Errors

    func unsupported(_ construct: String, _ what: String, at offset: Int? = nil) -> RegularExpressionError {
        let offset = offset ?? max(position - construct.unicodeScalars.count, 0)
        return RegularExpressionError(
            .unsupported, construct: construct, offset: offset,
            message: "\(what) \"\(construct)\" at character \(offset) is not supported")
    }

    func invalid(_ construct: String, _ what: String, at offset: Int? = nil) -> RegularExpressionError {
        let offset = offset ?? max(position - construct.unicodeScalars.count, 0)
        return RegularExpressionError(
            .invalid, construct: construct, offset: offset, message: "\(what) at character \(offset)")
    }

    // MARK: Scanning

    var isAtEnd: Bool { position >= scalars.count }

    func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        position + offset < scalars.count ? scalars[position + offset] : nil
    }

    mutating func advance() -> Unicode.Scalar {
        defer { position += 1 }
        return scalars[position]
    }

    mutating func consume(_ scalar: Unicode.Scalar) -> Bool {
        guard peek() == scalar else { return false }
        position += 1
        return true
    }

    func text(_ range: Range<Int>) -> String {
        var string = ""
        string.unicodeScalars.append(contentsOf: scalars[max(range.lowerBound, 0)..<min(range.upperBound, scalars.count)])
        return string
    }

    // MARK: Alternation, sequence, quantifiers

    private mutating func parseAlternation(_ options: Options) throws -> RegexNode {
        var alternatives = [try parseSequence(options)]
        while consume("|") {
            alternatives.append(try parseSequence(options))
        }
        return alternatives.count == 1 ? alternatives[0] : .alternation(alternatives)
    }

    private mutating func parseSequence(_ options: Options) throws -> RegexNode {
        var items: [RegexNode] = []
        var options = options
        while let next = peek(), next != "|", next != ")" {
            let start = position
            if next == "(", peek(1) == "?", let isolated = try isolatedOptions(options) {
                // `(?i)` applies to the rest of the enclosing group, alternatives included.
                options = isolated
                items.append(try parseAlternation(options))
                break
            }
            guard let atom = try parseAtom(options) else { continue }
            items.append(try parseQuantifiers(of: atom, start: start))
        }
        switch items.count {
        case 0: return .empty
        case 1: return items[0]
        default: return .sequence(items)
        }
    }

    private mutating func parseQuantifiers(of atom: RegexNode, start: Int) throws -> RegexNode {
        guard let (minimum, maximum, isInterval) = try parseQuantifier() else { return atom }
        let quantifierStart = position
        switch atom {
        case .anchor, .lookahead:
            throw invalid(text(start..<position), "a quantifier has no target")
        default:
            break
        }
        var greedy = true
        if consume("?") {
            greedy = false
        } else if !isInterval, peek() == "+" {
            position += 1
            throw unsupported(text(start..<position), "the possessive quantifier")
        }
        if let next = peek(), next == "?" || next == "*" || next == "+" || (next == "{" && intervalAhead()) {
            throw unsupported(
                text(start..<(position + 1)), "a quantifier applied to a quantifier", at: quantifierStart)
        }
        return .repetition(atom, minimum: minimum, maximum: maximum, greedy: greedy)
    }

    /// Reads `?`, `*`, `+` or an interval at the current position.
    private mutating func parseQuantifier() throws -> (Int, Int?, isInterval: Bool)? {
        switch peek() {
        case "?": position += 1; return (0, 1, false)
        case "*": position += 1; return (0, nil, false)
        case "+": position += 1; return (1, nil, false)
        case "{":
            guard let (minimum, maximum, length) = interval(at: position) else { return nil }
            let start = position
            position += length
            if let maximum, maximum < minimum {
                throw invalid(text(start..<position), "the interval's upper bound is below its lower bound", at: start)
            }
            if minimum > Self.maximumRepetition || (maximum ?? 0) > Self.maximumRepetition {
                throw invalid(text(start..<position), "the repetition bound exceeds \(Self.maximumRepetition)", at: start)
            }
            return (minimum, maximum, true)
        default:
            return nil
        }
    }

    private func intervalAhead() -> Bool {
        interval(at: position) != nil
    }

    /// An interval `{m}`, `{m,}`, `{m,n}` or `{,n}` at `start`, with its length; `nil` when the
    /// text there is not one (then `{` is a literal).
    private func interval(at start: Int) -> (Int, Int?, Int)? {
        var index = start + 1
        func number() -> Int? {
            var value: Int?
            while index < scalars.count, ("0"..."9").contains(scalars[index]) {
                value = min((value ?? 0) * 10 + Int(scalars[index].value - 0x30), Int(Int32.max))
                index += 1
            }
            return value
        }
        let lower = number()
        var upper: Int?
        var hasComma = false
        if index < scalars.count, scalars[index] == "," {
            hasComma = true
            index += 1
            upper = number()
        }
        guard index < scalars.count, scalars[index] == "}" else { return nil }
        if lower == nil && upper == nil { return nil }
        let length = index + 1 - start
        if !hasComma { return (lower ?? 0, lower, length) }
        return (lower ?? 0, upper, length)
    }

    // MARK: Atoms

    /// The next atom, or `nil` for a construct that matches nothing and is skipped (a comment).
    private mutating func parseAtom(_ options: Options) throws -> RegexNode? {
        let start = position
        let scalar = advance()
        switch scalar {
        case "(":
            return try parseGroup(options, start: start)
        case "[":
            return .scalarClass(try parseClassBody(options, start: start))
        case ".":
            return .scalarClass(options.dotMatchesNewline ? .any : .notNewline)
        case "^":
            return .anchor(.lineStart)
        case "$":
            return .anchor(.lineEnd)
        case "\\":
            return try parseEscape(options, start: start)
        case "?", "*", "+":
            throw invalid(String(scalar), "the quantifier \"\(scalar)\" has no target", at: start)
        case "{" where interval(at: start) != nil:
            throw invalid("{", "the interval has no target", at: start)
        default:
            return literal(scalar.value, options)
        }
    }

    func literal(_ value: UInt32, _ options: Options) -> RegexNode {
        guard options.caseInsensitive else { return .scalar(value) }
        let variants = CaseFolding.equivalents(of: value)
        return variants.count > 1 ? .scalarClass(.scalars(variants)) : .scalar(value)
    }

    /// `(?i)`-style options that apply to the rest of the group, or `nil` if the group at the
    /// current position is another kind. Consumes the construct when it is one.
    private mutating func isolatedOptions(_ options: Options) throws -> Options? {
        var index = position + 2
        while index < scalars.count, "imx-".unicodeScalars.contains(scalars[index]) {
            index += 1
        }
        guard index > position + 2, index < scalars.count, scalars[index] == ")" else { return nil }
        let start = position
        position += 2
        let result = try parseOptionLetters(options, start: start)
        guard consume(")") else { throw invalid(text(start..<position), "an unterminated option group", at: start) }
        return result
    }

    /// Reads option letters `i`, `m`, `-` (after `(?`) and returns the resulting options.
    private mutating func parseOptionLetters(_ options: Options, start: Int) throws -> Options {
        var result = options
        var turningOn = true
        while let letter = peek(), letter != ":", letter != ")" {
            position += 1
            switch letter {
            case "-": turningOn = false
            case "i": result.caseInsensitive = turningOn
            case "m": result.dotMatchesNewline = turningOn
            case "x": throw unsupported(text(start..<position), "the extended-syntax option")
            default: throw unsupported(text(start..<position), "the option")
            }
        }
        return result
    }

    /// Enters a group or class.
    mutating func descend(start: Int) throws {
        depth += 1
        if depth > Self.maximumDepth {
            throw RegularExpressionError(
                .unsupported, construct: text(start..<(start + 1)), offset: start,
                message: "groups and classes nested deeper than \(Self.maximumDepth) levels (at character \(start)) "
                    + "are not supported")
        }
    }

    private mutating func parseGroup(_ options: Options, start: Int) throws -> RegexNode? {
        try descend(start: start)
        defer { depth -= 1 }
        var groupOptions = options
        var lookahead: Bool?  // negated?
        if consume("?") {
            let kind = peek()
            switch kind {
            case ":":
                position += 1
            case "=", "!":
                position += 1
                lookahead = kind == "!"
            case "#":
                while let next = peek(), next != ")" { position += 1 }
                guard consume(")") else { throw invalid("(?#", "an unterminated comment", at: start) }
                return nil
            case "<":
                if peek(1) == "=" || peek(1) == "!" {
                    position += 2
                    throw unsupported(text(start..<position), "lookbehind")
                }
                position += 1
                throw unsupported(text(start..<position), "a named group")
            case "'", "P":
                position += 1
                throw unsupported(text(start..<position), "a named group")
            case ">":
                position += 1
                throw unsupported(text(start..<position), "an atomic group")
            case "~":
                position += 1
                throw unsupported(text(start..<position), "the absent operator")
            case "(":
                position += 1
                throw unsupported(text(start..<position), "a conditional group")
            case let letter? where "imx-".unicodeScalars.contains(letter):
                groupOptions = try parseOptionLetters(options, start: start)
                guard consume(":") else { throw invalid(text(start..<position), "an unterminated option group", at: start) }
            case .some:
                position += 1
                throw unsupported(text(start..<position), "the group kind")
            case nil:
                throw invalid("(?", "an unterminated group", at: start)
            }
        }
        let body = try parseAlternation(groupOptions)
        guard consume(")") else { throw invalid("(", "unmatched \"(\"", at: start) }
        if let negated = lookahead {
            return .lookahead(body, negated: negated)
        }
        return body
    }
}
