/// A regular expression with Oniguruma's syntax and matching rules, for the `Split`
/// pre-tokenizers and `Replace` normalizers and decoders of a tokenizer.json.
///
/// Matching backtracks over the Unicode scalars of UTF-8 text: at the leftmost position where
/// the pattern matches, alternatives are tried left to right and quantifiers are greedy (or
/// lazy) with backtracking, so the result is Oniguruma's, which is what Hugging Face
/// `tokenizers` uses. `\s` is the Unicode `White_Space` property, `\p{L}`, `\p{N}`, … the
/// general categories, and `(?i)` compares scalars by simple case folding.
///
///     let regex = try RegularExpression(#"(?i:'s|'t)|\p{L}+|\s+"#)
///     regex.matches(in: "IT'S here")     // ["IT", "'S", " ", "here"]
///
/// See `RegexParser` for the syntax that is supported and what is refused. The pattern is
/// compiled once, into a program that `RegexMatcher` runs; a value is immutable and can be
/// used from several threads.
public struct RegularExpression: Sendable {
    /// The pattern as written.
    public let pattern: String
    let program: RegexProgram

    /// Compiles a pattern.
    ///
    /// - Throws: `RegularExpressionError`, of kind `.unsupported` for a construct this engine
    ///   does not implement (naming it), `.invalid` for a malformed pattern.
    public init(_ pattern: String) throws {
        self.pattern = pattern
        self.program = try RegexCompiler.compile(RegexParser.parse(pattern), pattern: pattern)
    }

    /// A regular expression that matches `literal` verbatim (a `{"String": …}` pattern).
    public init(matchingLiteral literal: String) {
        self.init(node: .sequence(literal.unicodeScalars.map { .scalar($0.value) }), pattern: literal)
    }

    /// A regular expression for an already-built tree.
    init(node: RegexNode, pattern: String) {
        self.pattern = pattern
        do {
            self.program = try RegexCompiler.compile(node, pattern: pattern)
        } catch {
            // Only an oversized unrolled repetition can fail, and the trees built here have none.
            preconditionFailure("the built pattern \(pattern) does not compile: \(error)")
        }
    }

    /// The matches in a text, left to right, as Oniguruma's iterator finds them: after a match
    /// the search resumes at its end, and an empty match right where the previous match ended
    /// is skipped.
    public func matches(in text: String) -> [Substring] {
        var text = text
        var ranges: [Range<Int>] = []
        text.withUTF8 { buffer in
            forEachMatch(in: buffer) { ranges.append($0) }
        }
        return ranges.map { Self.substring(of: text, $0) }
    }

    /// The pieces of a text cut at the pattern's matches, as Hugging Face's `Split`
    /// pre-tokenizer makes them (empty pieces left out).
    ///
    /// - Parameters:
    ///   - behavior: what becomes of the matches (`isolated`: they are pieces of their own).
    ///   - inverted: whether the pattern describes the pieces rather than the delimiters.
    public func split(
        _ text: String, behavior: SplitDelimiterBehavior = .isolated, inverted: Bool = false
    ) -> [Substring] {
        var text = text
        var ranges: [Range<Int>] = []
        let splitter = PatternSplitter(regex: self, behavior: behavior, inverted: inverted)
        text.withUTF8 { buffer in
            splitter.forEachPiece(of: buffer) { ranges.append($0) }
        }
        return ranges.map { Self.substring(of: text, $0) }
    }

    private static func substring(of text: String, _ range: Range<Int>) -> Substring {
        let utf8 = text.utf8
        let lower = utf8.index(utf8.startIndex, offsetBy: range.lowerBound)
        let upper = utf8.index(lower, offsetBy: range.count)
        return text[lower..<upper]
    }

    /// Calls `body` with the byte range of each match in UTF-8 text, in order.
    func forEachMatch(in text: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        var matcher = RegexMatcher(program)
        var searchStart = 0
        var previousEnd: Int?
        while searchStart <= text.count, let match = matcher.firstMatch(in: text, from: searchStart) {
            if match.isEmpty && match.upperBound == previousEnd {
                // No empty match where the last one ended: move on by one scalar.
                searchStart += searchStart < text.count ? utf8Length(lead: text[searchStart]) : 1
                continue
            }
            body(match)
            searchStart = match.upperBound
            previousEnd = match.upperBound
        }
    }
}
