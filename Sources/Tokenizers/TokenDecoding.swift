/// What a tokenizer.json's `decoder` does to the token strings of some ids: each step maps the
/// list of strings to a new list, and the last list is concatenated (Hugging Face's
/// `decode_chain`).
///
/// Llama 2's legacy layout is `[replace("▁" → " "), byteFallback, fuse, strip(" ", 1, 0)]`:
/// `["▁Hello", "<0xE2>", "<0x82>", "<0xAC>"]` → `[" Hello", "€"]` → `" Hello€"` →
/// `"Hello€"`. Without a decoder the tokens are joined with spaces, as Hugging Face does.
struct TokenDecoding: Sendable {
    enum Step: Sendable {
        /// `ByteLevel`: the bytes of all tokens, read as UTF-8 (invalid sequences → U+FFFD). A
        /// token with a character outside the byte alphabet contributes its own UTF-8.
        case byteLevel
        /// `Metaspace`: `▁` → space in every token, except that when the prepend scheme is not
        /// `never` the first token loses its `▁`s.
        case metaspace(replacement: Unicode.Scalar, removesFromFirst: Bool)
        /// `Replace`: every match of the pattern in each token becomes the content.
        case replace(RegularExpression, String)
        /// `ByteFallback`: runs of `<0xXX>` tokens become the text of their bytes, or one U+FFFD
        /// per byte when the run is not valid UTF-8.
        case byteFallback
        /// `Fuse`: all tokens become one.
        case fuse
        /// `Strip`: up to `start` leading and `stop` trailing `content` scalars are removed from
        /// each token.
        case strip(content: Unicode.Scalar, start: Int, stop: Int)
    }

    var steps: [Step]
    /// Whether there is no decoder, so the tokens are joined with spaces.
    var joinsWithSpaces = false

    /// Whether the decoder is a lone `ByteLevel`, which `BytePairTokenizer` decodes from its
    /// table of bytes per id without building strings.
    var isByteLevelOnly: Bool {
        guard steps.count == 1, case .byteLevel = steps[0] else { return false }
        return !joinsWithSpaces
    }

    /// The text of a list of tokens.
    func decode(_ tokens: [String]) -> String {
        if joinsWithSpaces {
            return tokens.joined(separator: " ")
        }
        var tokens = tokens
        for step in steps {
            tokens = Self.apply(step, to: tokens)
        }
        return tokens.joined()
    }

    private static func apply(_ step: Step, to tokens: [String]) -> [String] {
        switch step {
        case .byteLevel:
            var bytes: [UInt8] = []
            for token in tokens {
                bytes += ByteLevelAlphabet.decoded(token) ?? Array(token.utf8)
            }
            return [String(decoding: bytes, as: UTF8.self)]
        case .metaspace(let replacement, let removesFromFirst):
            return tokens.enumerated().map { index, token in
                var result = String.UnicodeScalarView()
                for scalar in token.unicodeScalars {
                    if scalar != replacement {
                        result.append(scalar)
                    } else if !(index == 0 && removesFromFirst) {
                        result.append(" ")
                    }
                }
                return String(result)
            }
        case .replace(let regex, let content):
            let contentBytes = Array(content.utf8)
            return tokens.map { token in
                var token = token
                let bytes = token.withUTF8 { TextNormalization.replacing(regex, with: contentBytes, in: $0) }
                return String(decoding: bytes, as: UTF8.self)
            }
        case .byteFallback:
            var result: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let text = String(validating: pending, as: UTF8.self) {
                    result.append(text)
                } else {
                    result += Array(repeating: "\u{FFFD}", count: pending.count)
                }
                pending.removeAll()
            }
            for token in tokens {
                if let byte = fallbackByte(token) {
                    pending.append(byte)
                } else {
                    flush()
                    result.append(token)
                }
            }
            flush()
            return result
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                let scalars = Array(token.unicodeScalars)
                var lower = 0
                while lower < min(start, scalars.count) && scalars[lower] == content { lower += 1 }
                var upper = scalars.count
                while scalars.count - upper < stop && upper > lower && scalars[upper - 1] == content {
                    upper -= 1
                }
                var result = String.UnicodeScalarView()
                result.append(contentsOf: scalars[lower..<upper])
                return String(result)
            }
        }
    }

    /// The byte of a `<0xXX>` token (six bytes, two hexadecimal digits), else `nil`.
    static func fallbackByte(_ token: String) -> UInt8? {
        let utf8 = Array(token.utf8)
        guard utf8.count == 6, utf8[0] == 0x3C, utf8[1] == 0x30, utf8[2] == 0x78, utf8[5] == 0x3E else { return nil }
        // Rust's u8::from_str_radix, which Hugging Face uses, also accepts a leading "+".
        let digits = String(decoding: utf8[3..<5], as: UTF8.self)
        let unsigned = digits.hasPrefix("+") ? String(digits.dropFirst()) : digits
        guard !unsigned.isEmpty, unsigned.utf8.allSatisfy({ isHexadecimal($0) }) else { return nil }
        return UInt8(unsigned, radix: 16)
    }

    private static func isHexadecimal(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
    }
}
