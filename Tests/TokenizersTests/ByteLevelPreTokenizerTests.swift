import Testing
import Tokenizers

@Suite struct ByteLevelPreTokenizerTests {
    /// Pieces in plain text (not the byte-level alphabet), worked out from GPT-2's pattern.
    static let handPicked: [(text: String, pieces: [String])] = [
        ("", []),
        ("hello world", ["hello", " world"]),
        ("a  b", ["a", " ", " b"]),
        ("hello   ", ["hello", "   "]),
        ("  hello", [" ", " hello"]),
        ("\n\nfoo", ["\n", "\n", "foo"]),
        ("x\t\t y", ["x", "\t\t", " y"]),
        ("don't", ["don", "'t"]),
        ("I'm here", ["I", "'m", " here"]),
        ("they'll we've you're he'd", ["they", "'ll", " we", "'ve", " you", "'re", " he", "'d"]),
        ("IT'S", ["IT", "'", "S"]),
        ("?'s", ["?'", "s"]),
        ("123456", ["123456"]),
        ("abc123def", ["abc", "123", "def"]),
        ("1²३", ["1²३"]),
        ("e\u{301}", ["e", "\u{301}"]),
        ("Grüße, 世界!", ["Grüße", ",", " 世界", "!"]),
        ("a 😀😀 b", ["a", " 😀😀", " b"]),
        ("x \n y", ["x", " \n", " y"]),
    ]

    @Test(arguments: handPicked)
    func splitsLikeGPT2sPattern(text: String, pieces: [String]) {
        let expected = pieces.map { ByteLevelAlphabet.encoded(Array($0.utf8)) }
        #expect(ByteLevelPreTokenizer().pieces(of: text) == expected)
    }

    @Test func matchesTheReferencePiecesOfEverySample() throws {
        for sample in try Fixtures.samples().samples {
            #expect(ByteLevelPreTokenizer().pieces(of: sample.text) == sample.pieces, "text: \(sample.text.debugDescription)")
        }
    }

    @Test func whitespaceIsTheUnicodeWhiteSpaceProperty() {
        let splitter = ByteLevelPreTokenizer()
        // NEL, NBSP, ideographic space and line separator are whitespace: they separate "!"s.
        for space in ["\u{85}", "\u{A0}", "\u{3000}", "\u{2028}", "\u{2009}"] {
            #expect(splitter.pieces(of: "!\(space)!").count == 3, "U+\(String(space.unicodeScalars.first!.value, radix: 16))")
        }
        // The information separators U+001C…U+001F and zero-width space are not.
        for other in ["\u{1C}", "\u{1F}", "\u{200B}"] {
            #expect(splitter.pieces(of: "!\(other)!").count == 1, "U+\(String(other.unicodeScalars.first!.value, radix: 16))")
        }
    }

    @Test func prefixSpaceIsAddedOnlyWhenMissing() {
        let splitter = ByteLevelPreTokenizer(addsPrefixSpace: true)
        #expect(splitter.pieces(of: "hello") == ["Ġhello"])
        #expect(splitter.pieces(of: " hello") == ["Ġhello"])
        #expect(splitter.pieces(of: "") == [])
    }

    @Test func withoutTheRegexTheTextIsOnePiece() {
        let splitter = ByteLevelPreTokenizer(usesRegex: false)
        #expect(splitter.pieces(of: "a b\nc") == ["aĠbĊc"])
    }
}
