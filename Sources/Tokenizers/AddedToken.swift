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
    /// Whether the token is matched in normalised text (`normalized`); with no normaliser this
    /// only decides which tokens are matched first: those with `false`, then the others.
    public var isNormalized: Bool

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
/// Like Hugging Face `tokenizers`, it matches the tokens with `isNormalized == false` first and
/// then, in the text left between those, the others; each pass takes, at the leftmost position
/// where some token matches, the longest token that matches there.
struct AddedTokenMatcher: Sendable {
    /// One part of the input: ordinary text (a byte range) or an added token's id.
    enum Segment: Equatable {
        case text(Range<Int>)
        case token(Int)
    }

    private struct Candidate: Sendable {
        var bytes: [UInt8]
        var id: Int
        var stripsLeft: Bool
        var stripsRight: Bool
    }

    /// For each pass, the candidates indexed by their first byte, longest first.
    private var passes: [[[Candidate]]]

    var isEmpty: Bool { passes.isEmpty }

    init(_ tokens: [AddedToken]) {
        var passes: [[[Candidate]]] = []
        for normalized in [false, true] {
            var byFirstByte = [[Candidate]](repeating: [], count: 256)
            var isEmpty = true
            for token in tokens where token.isNormalized == normalized && !token.content.isEmpty {
                let bytes = Array(token.content.utf8)
                byFirstByte[Int(bytes[0])].append(
                    Candidate(
                        bytes: bytes, id: token.id, stripsLeft: token.stripsLeft,
                        stripsRight: token.stripsRight))
                isEmpty = false
            }
            guard !isEmpty else { continue }
            for byte in 0..<256 {
                byFirstByte[byte].sort { $0.bytes.count > $1.bytes.count }
            }
            passes.append(byFirstByte)
        }
        self.passes = passes
    }

    /// The text of `buffer` cut into ordinary text and added tokens, in order.
    ///
    /// Empty text segments are left out.
    func segments(of buffer: UnsafeBufferPointer<UInt8>) -> [Segment] {
        var segments: [Segment] = buffer.isEmpty ? [] : [.text(0..<buffer.count)]
        for candidates in passes {
            var next: [Segment] = []
            for segment in segments {
                guard case .text(let range) = segment else {
                    next.append(segment)
                    continue
                }
                split(range, of: buffer, candidates: candidates, into: &next)
            }
            segments = next
        }
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
            segments.append(.token(match.id))
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
