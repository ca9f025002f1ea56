/// What a `Split` pre-tokenizer does with the parts of the text that match its pattern (Hugging
/// Face's `SplitDelimiterBehavior`; the raw values are the names tokenizer.json uses).
///
/// For the delimiter `-` in `"a-b--c"`: removed → `a b c`; isolated → `a - b - - c`;
/// mergedWithPrevious → `a- b- - c`; mergedWithNext → `a -b - -c`; contiguous → `a - b -- c`.
public enum SplitDelimiterBehavior: String, Sendable, CaseIterable {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"
}

/// Cuts text at the matches of a pattern, as Hugging Face's `NormalizedString::split` does.
///
/// The text is first divided into alternating parts: the matches found by
/// `RegularExpression.forEachMatch` and the text between them (with `inverted`, the roles swap).
/// The behaviour then removes matches, keeps them alone, or merges each with its neighbour, and
/// empty pieces are dropped.
struct PatternSplitter: Sendable {
    var regex: RegularExpression
    var behavior: SplitDelimiterBehavior
    var inverted: Bool

    /// Calls `body` with the byte range of each non-empty piece of UTF-8 text, in order.
    func forEachPiece(of text: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        if behavior == .isolated {
            // Matches and the text between them are all pieces: no need to collect them first.
            var previous = 0
            regex.forEachMatch(in: text) { match in
                if match.lowerBound > previous { body(previous..<match.lowerBound) }
                if !match.isEmpty { body(match) }
                previous = match.upperBound
            }
            if previous < text.count { body(previous..<text.count) }
            return
        }
        for (range, remove) in pieces(of: text) where !remove && !range.isEmpty {
            body(range)
        }
    }

    /// The parts of the text, each with whether it is a match (before `inverted` is applied).
    private func parts(of text: UnsafeBufferPointer<UInt8>) -> [(range: Range<Int>, isMatch: Bool)] {
        var parts: [(range: Range<Int>, isMatch: Bool)] = []
        var previous = 0
        regex.forEachMatch(in: text) { match in
            if match.lowerBound > previous { parts.append((previous..<match.lowerBound, inverted)) }
            parts.append((match, !inverted))
            previous = match.upperBound
        }
        if previous < text.count { parts.append((previous..<text.count, inverted)) }
        return parts
    }

    /// The pieces after applying the behaviour, each with whether it is removed.
    private func pieces(of text: UnsafeBufferPointer<UInt8>) -> [(range: Range<Int>, remove: Bool)] {
        let parts = parts(of: text)
        var pieces: [(range: Range<Int>, remove: Bool)] = []
        switch behavior {
        case .isolated:
            pieces = parts.map { ($0.range, false) }
        case .removed:
            pieces = parts.map { ($0.range, $0.isMatch) }
        case .contiguous:
            // Consecutive parts of the same kind become one piece.
            var previousWasMatch = false
            for part in parts {
                if part.isMatch == previousWasMatch, let last = pieces.indices.last {
                    pieces[last].range = pieces[last].range.lowerBound..<part.range.upperBound
                } else {
                    pieces.append((part.range, false))
                }
                previousWasMatch = part.isMatch
            }
        case .mergedWithPrevious:
            var previousWasMatch = false
            for part in parts {
                if part.isMatch && !previousWasMatch, let last = pieces.indices.last {
                    pieces[last].range = pieces[last].range.lowerBound..<part.range.upperBound
                } else {
                    pieces.append((part.range, false))
                }
                previousWasMatch = part.isMatch
            }
        case .mergedWithNext:
            // The same from the end: a match joins the piece after it.
            var previousWasMatch = false
            for part in parts.reversed() {
                if part.isMatch && !previousWasMatch, let last = pieces.indices.last {
                    pieces[last].range = part.range.lowerBound..<pieces[last].range.upperBound
                } else {
                    pieces.append((part.range, false))
                }
                previousWasMatch = part.isMatch
            }
            pieces.reverse()
        }
        return pieces
    }
}
