/// A token matched verbatim in the input before pre-tokenisation, such as `<|endoftext|>`.
///
/// Added tokens are never split and never merged with their neighbours: the text between two of
/// them is encoded on its own. This mirrors the `added_tokens` entries of a Hugging Face
/// tokenizer.json.
public struct AddedToken: Sendable, Hashable {
    /// The exact text that is matched.
    public var content: String
    /// The token's id.
    public var id: Int
    /// Whether the token is a control token (end of text, padding, …) that decoding can skip.
    public var isSpecial: Bool
    /// Whether whitespace before a match is absorbed into the token (`lstrip`).
    public var stripsLeft: Bool
    /// Whether whitespace after a match is absorbed into the token (`rstrip`).
    public var stripsRight: Bool
    /// Whether the token is matched in normalised text (`normalized`): tokens with `false` are
    /// matched first, in the raw text; the others afterwards, in the normalised text between
    /// those, in their normalised form.
    public var isNormalized: Bool

    /// Creates an added token with the fields of a tokenizer.json `added_tokens` entry.
    ///
    /// - Parameters:
    ///   - content: the exact text to match.
    ///   - id: the token's id in the vocabulary.
    ///   - isSpecial: whether it is a control token that decoding can skip (`special`).
    ///   - stripsLeft: whether whitespace before a match is absorbed (`lstrip`).
    ///   - stripsRight: whether whitespace after a match is absorbed (`rstrip`).
    ///   - isNormalized: whether it is matched in normalised text (`normalized`); nil takes Hugging Face's default, `!isSpecial`.
    public init(
        content: String, id: Int, isSpecial: Bool = true, stripsLeft: Bool = false,
        stripsRight: Bool = false, isNormalized: Bool? = nil
    ) {
        self.content = content
        self.id = id
        self.isSpecial = isSpecial
        self.stripsLeft = stripsLeft
        self.stripsRight = stripsRight
        // Hugging Face's default: special tokens are matched in the raw text.
        self.isNormalized = isNormalized ?? !isSpecial
    }
}

/// Finds added tokens in UTF-8 text and cuts the text around them.
///
/// Like Hugging Face `tokenizers`, it matches the tokens with `isNormalized == false` in the
/// raw text first and then, in the normalised text left between those, the others (in their
/// normalised form: under Llama 2's legacy normalizer `"New York"` is looked for as
/// `"▁New▁York"`); each pass takes, at the leftmost position where some token matches, the
/// longest token that matches there.
struct AddedTokenMatcher: Sendable {
    /// One part of the input: ordinary text (a byte range) or an added token's id with the
    /// range it covers (its text and any whitespace it strips).
    enum Segment: Equatable {
        case text(Range<Int>)
        case token(Int, Range<Int>)
    }

    /// The two passes: raw text for non-normalised tokens, normalised text for the others.
    enum Pass {
        case raw
        case normalized
    }

    private struct Candidate: Sendable {
        var bytes: [UInt8]
        var id: Int
        var stripsLeft: Bool
        var stripsRight: Bool
    }

    /// For each pass, the candidates indexed by their first byte, longest first; `nil` when the
    /// pass has no token.
    private var raw: [[Candidate]]?
    private var normalized: [[Candidate]]?

    var isEmpty: Bool { raw == nil && normalized == nil }

    /// - Parameter normalization: the normalizer whose output the normalised tokens are
    ///   matched in; their content is normalised with it too.
    init(_ tokens: [AddedToken], normalization: TextNormalization = TextNormalization()) {
        func table(_ tokens: [AddedToken], normalizing: Bool) -> [[Candidate]]? {
            var byFirstByte = [[Candidate]](repeating: [], count: 256)
            var isEmpty = true
            for token in tokens {
                let content = normalizing ? normalization.normalized(token.content) : token.content
                let bytes = Array(content.utf8)
                guard !bytes.isEmpty else { continue }
                byFirstByte[Int(bytes[0])].append(
                    Candidate(
                        bytes: bytes, id: token.id, stripsLeft: token.stripsLeft,
                        stripsRight: token.stripsRight))
                isEmpty = false
            }
            guard !isEmpty else { return nil }
            for byte in 0..<256 {
                byFirstByte[byte].sort { $0.bytes.count > $1.bytes.count }
            }
            return byFirstByte
        }
        raw = table(tokens.filter { !$0.isNormalized }, normalizing: false)
        normalized = table(tokens.filter(\.isNormalized), normalizing: !normalization.isEmpty)
    }

    /// Whether a pass has any token to look for.
    func hasTokens(in pass: Pass) -> Bool {
        (pass == .raw ? raw : normalized) != nil
    }

    /// The text of `buffer` cut by both passes, for text that needs no normalisation.
    ///
    /// Empty text segments are left out.
    func segments(of buffer: UnsafeBufferPointer<UInt8>) -> [Segment] {
        var segments = segments(of: buffer, pass: .raw)
        guard let normalized else { return segments }
        var next: [Segment] = []
        for segment in segments {
            guard case .text(let range) = segment else {
                next.append(segment)
                continue
            }
            split(range, of: buffer, candidates: normalized, into: &next)
        }
        segments = next
        return segments
    }

    /// The text of `buffer` cut at the tokens of one pass. Empty text segments are left out.
    func segments(of buffer: UnsafeBufferPointer<UInt8>, pass: Pass) -> [Segment] {
        guard let candidates = pass == .raw ? raw : normalized else {
            return buffer.isEmpty ? [] : [.text(0..<buffer.count)]
        }
        var segments: [Segment] = []
        split(0..<buffer.count, of: buffer, candidates: candidates, into: &segments)
        return segments
    }

    private func split(
        _ range: Range<Int>, of buffer: UnsafeBufferPointer<UInt8>,
        candidates: [[Candidate]], into segments: inout [Segment]
    ) {
        var textStart = range.lowerBound
        var position = range.lowerBound
        while position < range.upperBound {
            let list = candidates[Int(buffer[position])]
            guard !list.isEmpty,
                let match = list.first(where: { matches($0.bytes, buffer, at: position, end: range.upperBound) })
            else {
                position += 1
                continue
            }
            var matchStart = position
            var matchEnd = position + match.bytes.count
            if match.stripsLeft {
                while matchStart > textStart,
                    let previous = scalarStart(before: matchStart, in: buffer, notBefore: textStart),
                    buffer.scalarCategory(at: previous).category == .whitespace
                {
                    matchStart = previous
                }
            }
            if match.stripsRight {
                while matchEnd < range.upperBound {
                    let next = buffer.scalarCategory(at: matchEnd)
                    guard next.category == .whitespace else { break }
                    matchEnd += next.length
                }
            }
            if matchStart > textStart {
                segments.append(.text(textStart..<matchStart))
            }
            segments.append(.token(match.id, matchStart..<matchEnd))
            textStart = matchEnd
            position = matchEnd
        }
        if textStart < range.upperBound {
            segments.append(.text(textStart..<range.upperBound))
        }
    }

    private func matches(
        _ token: [UInt8], _ buffer: UnsafeBufferPointer<UInt8>, at position: Int, end: Int
    ) -> Bool {
        guard end - position >= token.count else { return false }
        for offset in 1..<token.count where buffer[position + offset] != token[offset] {
            return false
        }
        return true
    }

    /// The start of the scalar that ends at `index`, if it starts at or after `lowerBound`.
    private func scalarStart(
        before index: Int, in buffer: UnsafeBufferPointer<UInt8>, notBefore lowerBound: Int
    ) -> Int? {
        var start = index - 1
        while start > lowerBound && buffer[start] & 0xC0 == 0x80 {
            start -= 1
        }
        return start >= lowerBound ? start : nil
    }
}
