import Foundation
import Testing
import Tokenizers

@Suite struct RegularExpressionTests {
    /// The matches of a pattern in a text, as strings.
    func matches(_ pattern: String, _ text: String) throws -> [String] {
        try RegularExpression(pattern).matches(in: text).map(String.init)
    }

    @Test func alternativesAreTriedInOrderAtTheLeftmostPosition() throws {
        #expect(try matches("a|ab", "xaby") == ["a"])
        #expect(try matches("ab|a", "xaby") == ["ab"])
        #expect(try matches("b|ab", "ab") == ["ab"])  // leftmost beats the earlier alternative
        #expect(try matches("(a|ab)(c|bcd)", "abcd") == ["abcd"])
    }

    @Test func greedyQuantifiersBacktrack() throws {
        #expect(try matches("a*ab", "aaab") == ["aaab"])
        #expect(try matches(#"\p{L}+b"#, "aaab aab") == ["aaab", "aab"])
        #expect(try matches("(?:ab)*a", "ababab") == ["ababa"])
        #expect(try matches(#"\s+(?!\S)"#, "a   b") == ["  "])
        #expect(try matches("x*y", String(repeating: "x", count: 1_000)) == [])
    }

    @Test func lazyQuantifiersTakeTheFewestRepetitions() throws {
        #expect(try matches("a+?", "aaa") == ["a", "a", "a"])
        #expect(try matches("a+?b", "aaab") == ["aaab"])
        #expect(try matches("a{2,3}?", "aaaaa") == ["aa", "aa"])
        #expect(try matches("(?:ab)*?c", "ababc") == ["ababc"])
        #expect(try matches("a??b", "ab") == ["ab"])
    }

    @Test func quantifierBoundsAreRespected() throws {
        #expect(try matches("a{2,3}", "aaaaaaa") == ["aaa", "aaa"])
        #expect(try matches("a{2}", "aaaaa") == ["aa", "aa"])
        #expect(try matches("a{2,}", "a aa aaaaa") == ["aa", "aaaaa"])
        #expect(try matches("a{,2}b", "aaab") == ["aab"])
        #expect(try matches(#"\p{N}{1,3}"#, "1234567") == ["123", "456", "7"])
        #expect(try matches("(?:ab){2}", "ababab") == ["abab"])
        #expect(try matches("(?:ab){1,2}c", "abababc") == ["ababc"])
        // A brace that does not make an interval is a literal.
        #expect(try matches("x{a}", "x{a}") == ["x{a}"])
        #expect(try matches("x{1,2", "x{1,2") == ["x{1,2"])
    }

    @Test func lookaheadDoesNotConsume() throws {
        #expect(try matches(#"\w+(?=,)"#, "one, two, three") == ["one", "two"])
        #expect(try matches(#"(?!ab)\w\w"#, "ab ac ba") == ["ac", "ba"])
        #expect(try matches(#"\s+(?=\S)"#, "a   b") == ["   "])
        #expect(try matches("a(?=b)|a", "ab ac") == ["a", "a"])
    }

    @Test func caseInsensitiveGroupsFoldCase() throws {
        #expect(try matches("(?i:abc)", "ABC aBc abx") == ["ABC", "aBc"])
        #expect(try matches("(?i:'s|'t|'re)", "IT'S 'Re 'ſ") == ["'S", "'Re", "'ſ"])
        #expect(try matches("(?i:k+)", "kK\u{212A}") == ["kK\u{212A}"])
        #expect(try matches("(?i:σ+)", "Σσς") == ["Σσς"])
        #expect(try matches("(?i:[a-c]+)", "AbC") == ["AbC"])
        #expect(try matches("(?i:[^a]+)", "aAbB") == ["bB"])
        // The option ends with its group; an isolated (?i) runs to the end of the group.
        #expect(try matches("(?i:a)b", "AB Ab") == ["Ab"])
        #expect(try matches("a(?i)b|c", "aB C aC") == ["aB", "aC"])  // a(?i:b|c)
        #expect(try matches("(?i:a(?-i:b)c)", "AbC ABC") == ["AbC"])
    }

    @Test func classesSupportNegationRangesEscapesAndNesting() throws {
        #expect(try matches(#"[^\s\p{L}\p{N}]+"#, "Hi, there! 1+2") == [",", "!", "+"])
        #expect(try matches(#"[a-c\d]+"#, "abc123 xyz d4") == ["abc123", "4"])
        #expect(try matches(#"[\x{4e00}-\x{9fff}]+"#, "漢字 and かな") == ["漢字"])
        #expect(try matches(#"[-a]+|[b-]+"#, "a-a b-b") == ["a-a", "b-b"])
        #expect(try matches(#"[a-z&&[^aeiou]]+"#, "hello") == ["h", "ll"])
        #expect(try matches(#"[[a-c][x-z]]+"#, "abxyz def") == ["abxyz"])
        #expect(try matches(#"[\r\n]+"#, "a\r\n\nb") == ["\r\n\n"])
    }

    @Test func escapesAndShorthandsMatchTheirScalars() throws {
        #expect(try matches(#"\t\n\r\f\v"#, "\t\n\r\u{0C}\u{0B}") == ["\t\n\r\u{0C}\u{0B}"])
        #expect(try matches(#"\u00e9|\x41|\x{1F600}"#, "é A 😀") == ["é", "A", "😀"])
        #expect(try matches(#"\d+"#, "١٢٣ 123 ²") == ["١٢٣", "123"])
        #expect(try matches(#"\w+"#, "a_b·c") == ["a_b", "c"])
        #expect(try matches(#"\.\*\+\?\(\)\[\]\{\}\|\\"#, #".*+?()[]{}|\"#) == [#".*+?()[]{}|\"#])
    }

    @Test func whitespaceIsTheUnicodeWhiteSpaceProperty() throws {
        let spaces = "\u{9}\u{A}\u{B}\u{C}\u{D} \u{85}\u{A0}\u{1680}\u{2000}\u{200A}\u{2028}\u{2029}\u{202F}\u{205F}\u{3000}"
        #expect(try matches(#"\s+"#, spaces) == [spaces])
        for other in ["\u{1C}", "\u{1D}", "\u{1E}", "\u{1F}", "\u{200B}", "\u{FEFF}"] {
            #expect(try matches(#"\s"#, other) == [], "U+\(String(other.unicodeScalars.first!.value, radix: 16))")
        }
    }

    @Test func generalCategoriesAreRecognisedByShortAndLongName() throws {
        #expect(try matches(#"\p{Lu}\p{Ll}+"#, "Hello ΑΒγδ") == ["Hello", "Βγδ"])
        #expect(try matches(#"\P{L}+"#, "ab12 cd!") == ["12 ", "!"])
        #expect(try matches(#"\p{^L}+"#, "ab12") == ["12"])
        #expect(try matches(#"\p{Letter}+|\p{Number}+"#, "ab12") == ["ab", "12"])
        #expect(try matches(#"\p{Nl}+"#, "Ⅻ1") == ["Ⅻ"])
        #expect(try matches(#"\p{Mn}"#, "e\u{301}") == ["\u{301}"])
        #expect(try matches(#"\p{Sc}"#, "$5") == ["$"])
        #expect(try matches(#"\p{Zs}"#, "a b") == [" "])
        #expect(try matches(#"\p{Cf}"#, "a\u{200D}") == ["\u{200D}"])
        #expect(try matches(#"\p{Pd}"#, "a-b") == ["-"])
    }

    @Test func dotAndAnchorsFollowOniguruma() throws {
        #expect(try matches(".+", "ab\ncd") == ["ab", "cd"])
        #expect(try matches("(?m:.+)", "ab\ncd") == ["ab\ncd"])
        #expect(try matches(#"^\w+"#, "ab cd\nef gh") == ["ab", "ef"])
        #expect(try matches(#"\w+$"#, "ab cd\nef gh") == ["cd", "gh"])
        #expect(try matches(#"\A\w+|\w+\z"#, "ab cd ef") == ["ab", "ef"])
        #expect(try matches(#"\w+\Z"#, "ab cd\n") == ["cd"])
    }

    @Test func emptyMatchesAreFoundOnceAtEachPosition() throws {
        #expect(try RegularExpression("x*").matches(in: "ab").count == 3)
        #expect(try matches("a*", "baaac") == ["", "aaa", ""])
        #expect(try matches("(a*)*b", "aab") == ["aab"])
        #expect(try matches("(a|)+b", "aab") == ["aab"])
    }

    @Test func aLiteralPatternMatchesVerbatim() {
        let literal = RegularExpression(matchingLiteral: "a.b")
        #expect(literal.matches(in: "a.b axb a.b").map(String.init) == ["a.b", "a.b"])
    }

    /// Matches and pieces that Hugging Face `tokenizers` (Oniguruma) gives for small patterns.
    @Test func matchesTheReferenceEngineOnEverySmallPattern() throws {
        for testCase in try Fixtures.family().regexCases {
            let regex = try RegularExpression(testCase.pattern)
            let nonEmpty = regex.matches(in: testCase.text).filter { !$0.isEmpty }.map(String.init)
            #expect(nonEmpty == testCase.matches, "pattern \(testCase.pattern) on \(testCase.text.debugDescription)")
            #expect(
                regex.split(testCase.text).map(String.init) == testCase.pieces,
                "pattern \(testCase.pattern) on \(testCase.text.debugDescription)")
        }
    }

    static let unsupported: [(pattern: String, construct: String)] = [
        (#"(a)\1"#, #"\1"#),
        ("(?<=a)b", "(?<="),
        ("(?<!a)b", "(?<!"),
        ("a*+", "a*+"),
        ("a++", "a++"),
        ("a?+", "a?+"),
        ("a{2}{3}", "a{2}{"),
        ("(?<name>a)", "(?<"),
        ("(?P<name>a)", "(?P"),
        ("(?'name'a)", "(?'"),
        ("(?>a)", "(?>"),
        (#"\k<name>"#, #"\k"#),
        (#"\g<1>"#, #"\g"#),
        (#"\bword\b"#, #"\b"#),
        (#"\G"#, #"\G"#),
        (#"a\Kb"#, #"\K"#),
        (#"\R"#, #"\R"#),
        (#"\X"#, #"\X"#),
        ("[[:alpha:]]", "[:alpha:]"),
        (#"\p{Greek}"#, #"\p{Greek}"#),
        ("(?x) a b", "(?x"),
        ("(?~a)", "(?~"),
        ("(?(1)a|b)", "(?("),
        (#"\q"#, #"\q"#),
        (#"\x{41 42}"#, #"\x{41"#),
    ]

    @Test(arguments: unsupported)
    func unsupportedConstructsAreNamed(pattern: String, construct: String) throws {
        let error = try #require(throws: RegularExpressionError.self) { try RegularExpression(pattern) }
        #expect(error.kind == .unsupported, "\(pattern): \(error)")
        #expect(error.construct.hasSuffix(construct) || error.construct.hasPrefix(construct), "\(pattern): \(error)")
        #expect(error.message.contains("is not supported"), "\(pattern): \(error)")
    }

    static let malformed: [String] = [
        "(ab", "ab)", "[ab", "*a", "a|*", "a{3,2}", #"\x{110000}"#, #"\p{L"#, "a\\", "[b-a]", #"[a-\d]"#, "(?=a)*",
        "(?i", "a{200000}",
    ]

    @Test(arguments: malformed)
    func malformedPatternsAreInvalid(pattern: String) throws {
        let error = try #require(throws: RegularExpressionError.self) { try RegularExpression(pattern) }
        #expect(error.kind == .invalid, "\(pattern): \(error)")
        #expect(error.message.contains("at character"), "\(pattern): \(error)")
    }

    @Test func deeplyNestedPatternsAreRefusedNotOverflowed() throws {
        let deep = String(repeating: "(", count: 10_000) + "a" + String(repeating: ")", count: 10_000)
        let error = try #require(throws: RegularExpressionError.self) { try RegularExpression(deep) }
        #expect(error.kind == .unsupported)
        #expect(error.message.contains("nested deeper than"))
        let nested = String(repeating: "(?:", count: 100) + "a" + String(repeating: ")", count: 100)
        #expect(try RegularExpression(nested).matches(in: "aa").count == 2)
    }

    @Test func errorsGiveThePositionOfTheConstruct() throws {
        let error = try #require(throws: RegularExpressionError.self) { try RegularExpression("abc(?<=x)") }
        #expect(error.offset == 3)
        #expect(error.description == #"lookbehind "(?<=" at character 3 is not supported"#)
    }
}
