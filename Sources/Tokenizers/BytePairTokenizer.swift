/// A byte-level BPE tokenizer compatible with Hugging Face `tokenizers` as used by GPT-2.
///
/// Encoding cuts the text at added tokens (`<|endoftext|>`, matched verbatim and never split),
/// splits the rest with GPT-2's pattern (`ByteLevelPreTokenizer`), and turns each piece's UTF-8
/// bytes into tokens by applying the learnt merges, lowest rank first. Decoding concatenates the
/// tokens' bytes and reads them as UTF-8, replacing invalid sequences with U+FFFD.
///
///     let tokenizer = try BytePairTokenizer(contentsOf: url)
///     let ids = tokenizer.encode("Hello world<|endoftext|>")   // e.g. [15496, 995, 50256]
///     tokenizer.decode(ids)                                     // "Hello world<|endoftext|>"
///     tokenizer.decode(ids, skippingSpecialTokens: true)        // "Hello world"
///
/// A tokenizer is a value; copies share a cache of encoded pieces, which is safe to use from
/// several threads at once.
public struct BytePairTokenizer: Sendable {
    /// Everything a tokenizer is made of, as read from a file or produced by training.
    struct Definition: Sendable {
        /// The model's vocabulary (`model.vocab`).
        var vocabulary: [(token: String, id: Int)]
        /// The merges in rank order, as ids: `left + right` is the token `merged`.
        var merges: [(left: Int, right: Int, merged: Int)]
        var addedTokens: [AddedToken]
        var unknownID: Int?
        var fusesUnknown = false
        var ignoresMerges = false
        var preTokenization: PreTokenization
        /// Ids put around every encoding by a `TemplateProcessing` post-processor.
        var templatePrefix: [Int] = []
        var templateSuffix: [Int] = []
        /// The sections written back unchanged by `save(to:)`.
        var preTokenizerJSON: JSONValue
        var postProcessorJSON: JSONValue
        var decoderJSON: JSONValue
    }

    let definition: Definition
    /// Token text by id; `nil` for ids that no token uses.
    let tokensByID: [String?]
    let idsByToken: [String: Int]
    /// The bytes each id decodes to.
    let bytesByID: [[UInt8]]
    let isSpecialByID: [Bool]
    let model: BytePairModel
    let matcher: AddedTokenMatcher

    init(_ definition: Definition) {
        self.definition = definition
        var largestID = -1
        for entry in definition.vocabulary { largestID = max(largestID, entry.id) }
        for token in definition.addedTokens { largestID = max(largestID, token.id) }

        var tokensByID = [String?](repeating: nil, count: largestID + 1)
        var idsByToken: [String: Int] = [:]
        idsByToken.reserveCapacity(definition.vocabulary.count + definition.addedTokens.count)
        for (token, id) in definition.vocabulary {
            tokensByID[id] = token
            idsByToken[token] = id
        }
        var isSpecialByID = [Bool](repeating: false, count: largestID + 1)
        for token in definition.addedTokens {
            tokensByID[token.id] = token.content
            idsByToken[token.content] = token.id
            isSpecialByID[token.id] = token.isSpecial
        }
        // Hugging Face's ByteLevel decoder maps a token's characters back to bytes when all of
        // them are in the byte alphabet, and otherwise keeps the token's own UTF-8.
        self.bytesByID = tokensByID.map { token in
            guard let token else { return [] }
            return ByteLevelAlphabet.decoded(token) ?? Array(token.utf8)
        }
        self.tokensByID = tokensByID
        self.idsByToken = idsByToken
        self.isSpecialByID = isSpecialByID

        var byteTokenIDs = [Int32](repeating: -1, count: 256)
        for (token, id) in definition.vocabulary {
            if let bytes = ByteLevelAlphabet.decoded(token), bytes.count == 1 {
                byteTokenIDs[Int(bytes[0])] = Int32(id)
            }
        }
        var merges: [UInt64: UInt64] = [:]
        merges.reserveCapacity(definition.merges.count)
        for (rank, merge) in definition.merges.enumerated() {
            // A pair listed twice keeps its last rank, as in Hugging Face's hash map.
            merges[BytePairModel.pairKey(Int32(merge.left), Int32(merge.right))] =
                UInt64(rank) << 32 | UInt64(merge.merged)
        }
        var wholePieceIDs: [[UInt8]: Int32]?
        if definition.ignoresMerges {
            wholePieceIDs = [:]
            for (token, id) in definition.vocabulary {
                if let bytes = ByteLevelAlphabet.decoded(token) { wholePieceIDs?[bytes] = Int32(id) }
            }
        }
        self.model = BytePairModel(
            byteTokenIDs: byteTokenIDs, merges: merges, unknownID: definition.unknownID.map(Int32.init),
            fusesUnknown: definition.fusesUnknown, wholePieceIDs: wholePieceIDs)
        self.matcher = AddedTokenMatcher(definition.addedTokens)
    }

    // MARK: Vocabulary

    /// One more than the largest id: the number of rows an embedding table needs.
    public var vocabularySize: Int { tokensByID.count }

    /// The id of a token written in the byte-level alphabet (`"Ġthe"`), or of an added token.
    public func id(of token: String) -> Int? {
        idsByToken[token]
    }

    /// The token with an id, in the byte-level alphabet, or `nil` if no token has it.
    public func token(for id: Int) -> String? {
        tokensByID.indices.contains(id) ? tokensByID[id] : nil
    }

    /// The added tokens (special or not), in id order.
    public var addedTokens: [AddedToken] {
        definition.addedTokens.sorted { $0.id < $1.id }
    }

    /// The special tokens, such as `<|endoftext|>`, in id order.
    public var specialTokens: [AddedToken] {
        addedTokens.filter(\.isSpecial)
    }

    /// The merges in rank order, as pairs of tokens in the byte-level alphabet.
    public var merges: [(left: String, right: String)] {
        definition.merges.map { (tokensByID[$0.left] ?? "", tokensByID[$0.right] ?? "") }
    }

    // MARK: Encoding and decoding

    /// The token ids of a text.
    ///
    /// Added tokens are matched first (the longest at the leftmost position), the text between
    /// them is pre-tokenised and each piece is encoded with the merges; a `TemplateProcessing`
    /// post-processor's special tokens, if the file has one, are put around the result.
    ///
    /// - Complexity: O(n) in the length of the text for pieces already in the cache; a new
    ///   piece of k bytes costs O(k²) (O(k log k) above 48 bytes).
    public func encode(_ text: String) -> [Int] {
        var ids = definition.templatePrefix
        ids.reserveCapacity(text.utf8.count / 3 + ids.count + definition.templateSuffix.count)
        var text = text
        text.withUTF8 { buffer in
            if matcher.isEmpty {
                appendOrdinaryIDs(of: buffer, to: &ids)
                return
            }
            for segment in matcher.segments(of: buffer) {
                switch segment {
                case .token(let id):
                    ids.append(id)
                case .text(let range):
                    appendOrdinaryIDs(of: UnsafeBufferPointer(rebasing: buffer[range]), to: &ids)
                }
            }
        }
        ids.append(contentsOf: definition.templateSuffix)
        return ids
    }

    private func appendOrdinaryIDs(of text: UnsafeBufferPointer<UInt8>, to ids: inout [Int]) {
        definition.preTokenization.forEachPiece(of: text) { piece in
            model.appendIDs(of: piece, to: &ids)
        }
    }

    /// The tokens of a text in the byte-level alphabet (`["Hello", "Ġworld"]`).
    public func tokens(of text: String) -> [String] {
        encode(text).map { tokensByID[$0] ?? "" }
    }

    /// The text of a sequence of ids.
    ///
    /// The tokens' bytes are concatenated and read as UTF-8; byte sequences that are not valid
    /// UTF-8 (a multi-byte character cut between ids) become U+FFFD. Ids that no token has are
    /// skipped, as Hugging Face does.
    ///
    /// - Parameter skippingSpecialTokens: whether special tokens such as `<|endoftext|>` are
    ///   left out.
    public func decode(_ ids: [Int], skippingSpecialTokens: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids where bytesByID.indices.contains(id) {
            if skippingSpecialTokens && isSpecialByID[id] { continue }
            bytes.append(contentsOf: bytesByID[id])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
