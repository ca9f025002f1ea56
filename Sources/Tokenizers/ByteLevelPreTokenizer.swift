/// Splits text into the pieces that byte-level BPE encodes one at a time, as GPT-2 does.
///
/// The split follows GPT-2's pattern, tried in this order at each position:
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// It is implemented by hand over the UTF-8 bytes rather than with a regular expression: each
/// alternative is a run of one `ScalarCategory`, optionally led by one space (U+0020). The only
/// subtle rule is `\s+(?!\S)`: a run of two or more whitespace scalars followed by a
/// non-whitespace one stops before its last scalar, which then leads the next piece (a space
/// joins the following word, any other whitespace stands alone). So `"a  b"` splits into
/// `"a"`, `" "`, `" b"` and `"\n\nfoo"` into `"\n"`, `"\n"`, `"foo"`.
///
/// With `addsPrefixSpace`, a space is put before text that does not start with one, so that
/// the first word is encoded like the others (`"hello"` as `" hello"`).
///
/// Reference: Radford et al., "Language Models are Unsupervised Multitask Learners" (2019),
/// section 2.2, and the ByteLevel pre-tokenizer of Hugging Face `tokenizers`.
public struct ByteLevelPreTokenizer: Sendable, Equatable {
    /// Whether a space is put before text that does not already start with one.
    public var addsPrefixSpace: Bool
    /// Whether the text is split with GPT-2's pattern; when `false` each text is one piece.
    public var usesRegex: Bool

    /// Creates the pre-tokenizer; the defaults are GPT-2's (no prefix space, split with its pattern).
    public init(addsPrefixSpace: Bool = false, usesRegex: Bool = true) {
        self.addsPrefixSpace = addsPrefixSpace
        self.usesRegex = usesRegex
    }

    /// The pieces of a text, written in the byte-level alphabet, as Hugging Face's
    /// `ByteLevel().pre_tokenize_str(text)` lists them.
    ///
    ///     ByteLevelPreTokenizer().pieces(of: "I'm  here") == ["I", "'m", "Ġ", "Ġhere"]
    public func pieces(of text: String) -> [String] {
        var result: [String] = []
        var text = text
        text.withUTF8 { buffer in
            forEachPiece(of: buffer) { piece in
                result.append(ByteLevelAlphabet.encoded(piece))
            }
        }
        return result
    }

    /// The same split as a sequence of steps.
    var steps: [PreTokenization.Step] {
        (addsPrefixSpace ? [.prefixSpace] : []) + (usesRegex ? [.gpt2Split] : [])
    }

    /// Calls `body` with each piece of the UTF-8 text in `buffer`, in order.
    func forEachPiece(
        of buffer: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        PreTokenization(steps: steps).forEachPiece(of: buffer, body)
    }

    /// Calls `body` with the byte range of each piece of GPT-2's pattern in `text`.
    ///
    /// - Complexity: O(n) in the number of bytes.
    static func splitGPT2(_ text: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        let end = text.count
        var start = 0
        while start < end {
            let lead = text[start]

            // 's|'t|'re|'ve|'m|'ll|'d (ASCII apostrophe, lower case only).
            if lead == 0x27, start + 1 < end {
                let first = text[start + 1]
                if first == 0x73 || first == 0x74 || first == 0x6D || first == 0x64 {  // s t m d
                    body(start..<start + 2)
                    start += 2
                    continue
                }
                if start + 2 < end {
                    let second = text[start + 2]
                    if (first == 0x72 && second == 0x65) || (first == 0x76 && second == 0x65)
                        || (first == 0x6C && second == 0x6C)  // re ve ll
                    {
                        body(start..<start + 3)
                        start += 3
                        continue
                    }
                }
            }

            //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+ : a run of one category, maybe after a space.
            var (category, length) = text.scalarCategory(at: start)
            var runStart = start
            if lead == 0x20, start + 1 < end {
                let next = text.scalarCategory(at: start + 1)
                if next.category != .whitespace {
                    (category, length) = next
                    runStart = start + 1
                }
            }
            if category != .whitespace {
                var stop = runStart + length
                while stop < end {
                    let next = text.scalarCategory(at: stop)
                    guard next.category == category else { break }
                    stop += next.length
                }
                body(start..<stop)
                start = stop
                continue
            }

            // \s+(?!\S) | \s+ : a whitespace run; before a non-space it leaves its last scalar.
            var stop = start + length
            var lastStart = start
            while stop < end {
                let next = text.scalarCategory(at: stop)
                guard next.category == .whitespace else { break }
                lastStart = stop
                stop += next.length
            }
            if stop < end && lastStart > start {
                stop = lastStart
            }
            body(start..<stop)
            start = stop
        }
    }
}
