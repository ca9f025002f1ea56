import Foundation
import Testing
import Tokenizers

/// Decoded pieces: the text each id adds, for per-token heat maps.
@Suite("Decoded pieces per token")
struct BytePairTokenizerPiecesTests {
    static let texts = ["Über die Brücke gehen wir, 3 € für 🍕!", "A cat sat on the mat.\n\t-- Anonymous", "日本語のテキスト", "  two  spaces"]

    @Test(arguments: ["fortune-bpe.json", "fortune-sentencepiece-metaspace.json", "fortune-sentencepiece-legacy.json"])
    func piecesJoinedAreTheDecodedTextAndCoverEveryIdOnce(file: String) throws {
        let tokenizer = try BytePairTokenizer(contentsOf: Fixtures.url(file))
        let special = try #require(tokenizer.specialTokens.first)
        for text in Self.texts {
            // A special token in the middle and at the end.
            let ids = tokenizer.encode(text, addingSpecialTokens: false) + [special.id] + tokenizer.encode(" again", addingSpecialTokens: false) + [special.id]
            let pieces = tokenizer.decodedPieces(ids)
            // Every id in exactly one piece, in order.
            #expect(pieces.first?.ids.lowerBound == 0 && pieces.last?.ids.upperBound == ids.count)
            #expect(zip(pieces, pieces.dropFirst()).allSatisfy { $0.ids.upperBound == $1.ids.lowerBound && !$0.ids.isEmpty })
            // Special ids are pieces of their own; the others joined are the decoded text without them.
            #expect(pieces.filter(\.isSpecial).map(\.ids) == ids.indices.filter { ids[$0] == special.id }.map { $0..<($0 + 1) })
            #expect(pieces.filter(\.isSpecial).allSatisfy { $0.text == special.content })
            #expect(pieces.filter { !$0.isSpecial }.map(\.text).joined() == tokenizer.decode(ids, skippingSpecialTokens: true), "\(file): \(text)")
            // No piece carries a replacement character for a character split between ids.
            #expect(!pieces.contains { $0.text.contains("\u{FFFD}") }, "\(file): \(pieces.map(\.text))")
        }
    }

    @Test func aCharacterSplitBetweenByteLevelIdsIsOnePiece() throws {
        let tokenizer = try Fixtures.tokenizer()
        let ids = tokenizer.encode("🍕", addingSpecialTokens: false)
        // The fixture has no merge for the four bytes of 🍕: they are several ids, shown as one piece.
        #expect(ids.count > 1)
        let pieces = tokenizer.decodedPieces(ids)
        #expect(pieces.count == 1 && pieces[0].ids == 0..<ids.count && pieces[0].text.contains("🍕"))
    }
}
