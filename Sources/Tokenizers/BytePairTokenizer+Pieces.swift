extension BytePairTokenizer {
    /// A stretch of decoded text and the ids it comes from.
    public struct DecodedPiece: Sendable, Equatable {
        /// The text the piece adds to the decoded text before it; for a special token, its content.
        public var text: String
        /// Indices into the ids decoded.
        public var ids: Range<Int>
        /// A special token (its content as text), which a reader of the text does not see.
        public var isSpecial: Bool
    }

    /// The text of `ids` cut at id boundaries, for showing a value per token: each piece is the
    /// text one id adds to the decoded text of those before it. When an id's text is not complete
    /// on its own (a multi-byte character split between byte-level ids, or a decoder that joins
    /// ids), the piece covers the ids up to the one that completes it. Special tokens are their own
    /// pieces and add nothing to the text around them; the ordinary pieces joined give
    /// `decode(ids, skippingSpecialTokens: true)`.
    public func decodedPieces(_ ids: [Int]) -> [DecodedPiece] {
        var pieces: [DecodedPiece] = []
        var ordinary: [Int] = []
        var shown: [Unicode.Scalar] = []
        var start = 0
        func flush(to end: Int, decoded: [Unicode.Scalar]) {
            guard end > start else { return }
            var text = String.UnicodeScalarView()
            text.append(contentsOf: decoded[Swift.min(shown.count, decoded.count)...])
            pieces.append(DecodedPiece(text: String(text), ids: start..<end, isSpecial: false))
            shown = decoded
            start = end
        }
        for (i, id) in ids.enumerated() {
            if storage.isSpecialByID.indices.contains(id) && storage.isSpecialByID[id] {
                // What came before and is still incomplete ends here.
                if start < i { flush(to: i, decoded: Array(decode(ordinary).unicodeScalars)) }
                pieces.append(DecodedPiece(text: token(for: id) ?? "", ids: i..<(i + 1), isSpecial: true))
                start = i + 1
                continue
            }
            ordinary.append(id)
            let decoded = Array(decode(ordinary).unicodeScalars)
            // A decoder that rewrites earlier text (rare) gives the piece what its length adds.
            if decoded.last != "\u{FFFD}" { flush(to: i + 1, decoded: decoded) }
        }
        if start < ids.count { flush(to: ids.count, decoded: Array(decode(ordinary).unicodeScalars)) }
        return pieces
    }
}
