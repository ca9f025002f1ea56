/// How a text becomes word terms, for indexes of kind ``TermKind/words``.
///
/// A *word character* is a Unicode scalar whose general category is a letter (`Lu`, `Ll`,
/// `Lt`, `Lm`, `Lo`), a mark (`Mn`, `Mc`, `Me`, so that a combining accent stays inside the
/// word of its letter) or a decimal digit (`Nd`). Every other scalar — spaces, punctuation
/// including `'` and `_`, symbols, other numbers such as `²` or `½`, controls — separates
/// words. A word is a maximal run of word characters, lower-cased with the standard library's
/// `String.lowercased()` (Unicode's default full lowercase mapping, without locale tailoring, so
/// `"İ"` becomes `"i̇"` and `"ΣΑΣ"` becomes `"σασ"`). Texts are not normalised: words are
/// compared as Swift `String`s, that is up to canonical equivalence, so a precomposed `"é"` and
/// `"e"` + U+0301 are the same term.
///
///     WordTerms.words(in: "Don't STOP—it's 42nd_street, café!")
///     // ["don", "t", "stop", "it", "s", "42nd", "street", "café"]
public enum WordTerms {
    /// The words of `text`, in order, repeats included.
    ///
    /// - Complexity: O(n) in the length of `text`.
    public static func words(in text: String) -> [String] {
        var words: [String] = []
        forEachWord(in: text) { words.append($0) }
        return words
    }

    /// Whether `scalar` belongs to words (a letter, a mark or a decimal digit).
    public static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 {
            // ASCII: only letters and digits; no mark or other letter lives here.
            return (value >= 0x61 && value <= 0x7A) || (value >= 0x41 && value <= 0x5A) || (value >= 0x30 && value <= 0x39)
        }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber:
            return true
        default:
            return false
        }
    }

    /// Calls `body` with each word of `text`, in order.
    ///
    /// Words are gathered as UTF-8 bytes in one reused buffer; an all-ASCII word (the common
    /// case) is lower-cased byte by byte, any other through `String.lowercased()`.
    static func forEachWord(in text: String, _ body: (String) -> Void) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        var isASCII = true
        func finishWord() {
            guard !bytes.isEmpty else { return }
            if isASCII {
                for position in bytes.indices where bytes[position] >= 0x41 && bytes[position] <= 0x5A {
                    bytes[position] += 0x20
                }
                body(String(decoding: bytes, as: UTF8.self))
            } else {
                body(String(decoding: bytes, as: UTF8.self).lowercased())
            }
            bytes.removeAll(keepingCapacity: true)
            isASCII = true
        }
        for scalar in text.unicodeScalars {
            if isWordCharacter(scalar) {
                if scalar.isASCII {
                    bytes.append(UInt8(scalar.value))
                } else {
                    isASCII = false
                    UTF8.encode(scalar) { bytes.append($0) }
                }
            } else {
                finishWord()
            }
        }
        finishWord()
    }
}
