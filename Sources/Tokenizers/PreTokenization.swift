/// A pipeline of pre-tokenisation steps: what a tokenizer.json's `pre_tokenizer` does to the
/// (normalised) text between added tokens before the model sees it, piece by piece.
///
/// A single `ByteLevel` is `[prefixSpace?, gpt2Split?]`; Llama 3 and Qwen2 are
/// `[split(their pattern)]` followed by a `ByteLevel` without regex; the newer SentencePiece
/// layout is `[metaspace]`; the legacy one has no step (each text is one piece).
struct PreTokenization: Sendable {
    enum Step: Sendable {
        /// Put a space before a piece that does not start with one (ByteLevel's
        /// `add_prefix_space`).
        case prefixSpace
        /// Split each piece with GPT-2's pattern, by the hand-written splitter.
        case gpt2Split
        /// Split each piece at the matches of a pattern (`Split`, `Digits`, `Punctuation`).
        case split(PatternSplitter)
        /// Replace spaces by `▁`, maybe prepend one, maybe split before each (`Metaspace`).
        case metaspace(MetaspaceStep)
    }

    var steps: [Step]

    /// Calls `body` with each non-empty piece of the UTF-8 text in `buffer`, in order.
    ///
    /// The pieces are views into `buffer`, or into temporary copies that a step rewrote.
    ///
    /// - Parameter startsText: whether `buffer` begins at the start of the text being encoded;
    ///   Metaspace's `prepend_scheme: "first"` only adds `▁` there.
    func forEachPiece(
        of buffer: UnsafeBufferPointer<UInt8>, startsText: Bool = true,
        _ body: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        run(buffer, from: 0, startsText: startsText, body)
    }

    private func run(
        _ piece: UnsafeBufferPointer<UInt8>, from stepIndex: Int, startsText: Bool,
        _ body: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        guard !piece.isEmpty else { return }
        guard stepIndex < steps.count else {
            body(piece)
            return
        }
        switch steps[stepIndex] {
        case .prefixSpace:
            guard piece[0] != 0x20 else {
                run(piece, from: stepIndex + 1, startsText: startsText, body)
                return
            }
            var prefixed = [UInt8](repeating: 0x20, count: piece.count + 1)
            prefixed.withUnsafeMutableBufferPointer { target in
                _ = UnsafeMutableBufferPointer(rebasing: target[1...]).initialize(from: piece)
            }
            prefixed.withUnsafeBufferPointer { run($0, from: stepIndex + 1, startsText: startsText, body) }
        case .gpt2Split:
            ByteLevelPreTokenizer.splitGPT2(piece) { range in
                run(
                    UnsafeBufferPointer(rebasing: piece[range]), from: stepIndex + 1,
                    startsText: startsText && range.lowerBound == 0, body)
            }
        case .split(let splitter):
            splitter.forEachPiece(of: piece) { range in
                run(
                    UnsafeBufferPointer(rebasing: piece[range]), from: stepIndex + 1,
                    startsText: startsText && range.lowerBound == 0, body)
            }
        case .metaspace(let metaspace):
            let rewritten = metaspace.rewritten(piece, startsText: startsText)
            rewritten.withUnsafeBufferPointer { text in
                guard let splitter = metaspace.splitter else {
                    run(text, from: stepIndex + 1, startsText: startsText, body)
                    return
                }
                splitter.forEachPiece(of: text) { range in
                    run(
                        UnsafeBufferPointer(rebasing: text[range]), from: stepIndex + 1,
                        startsText: startsText && range.lowerBound == 0, body)
                }
            }
        }
    }
}

/// The `Metaspace` pre-tokenizer of SentencePiece-style files: every space (U+0020) becomes the
/// replacement character (`▁`, U+2581), a `▁` is put before the piece according to the prepend
/// scheme unless it already starts with one, and with `split` the piece is cut before each `▁`
/// (`"▁Hello▁world"` → `"▁Hello"`, `"▁world"`).
///
/// `prepend_scheme: "first"` prepends only to the piece at the very start of the text, so in
/// `"<s>Hello"` the text after the added token gets no `▁`, while `"Hello</s> world"` becomes
/// `"▁Hello"`, `</s>`, `"▁world"` (the space itself turned into `▁`).
struct MetaspaceStep: Sendable {
    enum PrependScheme: String, Sendable {
        case always
        case first
        case never
    }

    var replacement: Unicode.Scalar
    var prependScheme: PrependScheme
    var splits: Bool
    /// Cuts before each replacement character, when `splits`.
    let splitter: PatternSplitter?
    private let replacementBytes: [UInt8]

    init(replacement: Unicode.Scalar, prependScheme: PrependScheme, splits: Bool) {
        self.replacement = replacement
        self.prependScheme = prependScheme
        self.splits = splits
        self.replacementBytes = Array(String(replacement).utf8)
        self.splitter =
            splits
            ? PatternSplitter(
                regex: RegularExpression(matchingLiteral: String(replacement)), behavior: .mergedWithNext,
                inverted: false)
            : nil
    }

    /// The piece with spaces replaced and, by the prepend scheme, a replacement put first.
    func rewritten(_ piece: UnsafeBufferPointer<UInt8>, startsText: Bool) -> [UInt8] {
        var text: [UInt8] = []
        text.reserveCapacity(piece.count + piece.count / 2 + replacementBytes.count)
        for byte in piece {
            if byte == 0x20 {
                text.append(contentsOf: replacementBytes)
            } else {
                text.append(byte)
            }
        }
        let prepends: Bool
        switch prependScheme {
        case .always: prepends = true
        case .first: prepends = startsText
        case .never: prepends = false
        }
        if prepends && !text.starts(with: replacementBytes) {
            text.insert(contentsOf: replacementBytes, at: 0)
        }
        return text
    }
}
