/// A BPE tokenizer compatible with Hugging Face `tokenizers`: byte-level BPE as used by GPT-2,
/// Llama 3 and Qwen2, and SentencePiece-style BPE over characters with byte fallback as used by
/// Llama 2, Mistral and TinyLlama.
///
/// Encoding cuts the text at added tokens (`<|endoftext|>`, `<s>`, matched verbatim and never
/// split), normalises the rest (`normalizer`), splits it into pieces (`pre_tokenizer`: GPT-2's
/// pattern, a regex `Split`, `Metaspace`, or nothing), turns each piece into tokens by applying
/// the learnt merges, lowest rank first, and puts a `TemplateProcessing` post-processor's
/// special tokens around the result. Decoding runs the file's `decoder` on the token strings
/// (for byte-level BPE: concatenates the tokens' bytes and reads them as UTF-8, replacing
/// invalid sequences with U+FFFD).
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
        var normalizerJSON: JSONValue = .null
        var normalization = TextNormalization()
        var decoding = TokenDecoding(steps: [.byteLevel])
        /// Bytes for byte-level BPE, Unicode scalars for SentencePiece-style BPE.
        var alphabet = BytePairModel.Alphabet.bytes
        /// Whether scalars without a token become their `<0xXX>` byte tokens (`.scalars` only).
        var usesByteFallback = false
    }

    /// The tables a tokenizer is made of, shared by its copies, so that copying a tokenizer
    /// (as closures over it do, once per piece) costs one reference count.
    final class Storage: Sendable {
        let definition: Definition
        /// Token text by id, as Hugging Face's `id_to_token` gives it; `nil` for ids that no token
        /// uses.
        let tokensByID: [String?]
        /// Ids by the UTF-8 of their token (exact bytes, not canonical equivalence).
        let idsByToken: [[UInt8]: Int]
        /// The bytes each id decodes to, when the decoder is a lone ByteLevel.
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
            var idsByToken: [[UInt8]: Int] = [:]
            idsByToken.reserveCapacity(definition.vocabulary.count + definition.addedTokens.count)
            for (token, id) in definition.vocabulary {
                tokensByID[id] = token
                idsByToken[Array(token.utf8)] = id
            }
            var isSpecialByID = [Bool](repeating: false, count: largestID + 1)
            for token in definition.addedTokens {
                // Hugging Face keeps a normalised token under its normalised content ("▁New▁York"
                // under Llama 2's legacy normalizer), which is what its id decodes to.
                let normalizes = token.isNormalized && !definition.normalization.isEmpty
                tokensByID[token.id] = normalizes ? definition.normalization.normalized(token.content) : token.content
                idsByToken[Array(token.content.utf8)] = token.id
                isSpecialByID[token.id] = token.isSpecial
            }
            // Hugging Face's ByteLevel decoder maps a token's characters back to bytes when all of
            // them are in the byte alphabet, and otherwise keeps the token's own UTF-8.
            self.bytesByID =
                definition.decoding.isByteLevelOnly
                ? tokensByID.map { token in
                    guard let token else { return [] }
                    return ByteLevelAlphabet.decoded(token) ?? Array(token.utf8)
                } : []
            self.tokensByID = tokensByID
            self.idsByToken = idsByToken
            self.isSpecialByID = isSpecialByID

            var merges: [UInt64: UInt64] = [:]
            merges.reserveCapacity(definition.merges.count)
            for (rank, merge) in definition.merges.enumerated() {
                // A pair listed twice keeps its last rank, as in Hugging Face's hash map.
                merges[BytePairModel.pairKey(Int32(merge.left), Int32(merge.right))] =
                    UInt64(rank) << 32 | UInt64(merge.merged)
            }
            var model = BytePairModel(
                byteTokenIDs: [Int32](repeating: -1, count: 256), merges: merges,
                unknownID: definition.unknownID.map(Int32.init), fusesUnknown: definition.fusesUnknown,
                wholePieceIDs: nil)
            model.alphabet = definition.alphabet
            switch definition.alphabet {
            case .bytes:
                for (token, id) in definition.vocabulary {
                    if let bytes = ByteLevelAlphabet.decoded(token), bytes.count == 1 {
                        model.byteTokenIDs[Int(bytes[0])] = Int32(id)
                    }
                }
            case .scalars:
                for (token, id) in definition.vocabulary {
                    let scalars = token.unicodeScalars
                    guard scalars.count == 1, let scalar = scalars.first else { continue }
                    model.scalarTokenIDs[scalar.value] = Int32(id)
                    if scalar.isASCII { model.asciiTokenIDs[Int(scalar.value)] = Int32(id) }
                }
                if definition.usesByteFallback {
                    model.byteFallbackIDs = (0..<256).map { byte in
                        idsByToken[Array(BytePairTokenizer.byteFallbackToken(UInt8(byte)).utf8)].map(Int32.init) ?? -1
                    }
                }
            }
            if definition.ignoresMerges {
                var wholePieceIDs: [[UInt8]: Int32] = [:]
                for (token, id) in definition.vocabulary {
                    switch definition.alphabet {
                    case .bytes:
                        if let bytes = ByteLevelAlphabet.decoded(token) { wholePieceIDs[bytes] = Int32(id) }
                    case .scalars:
                        wholePieceIDs[Array(token.utf8)] = Int32(id)
                    }
                }
                model.wholePieceIDs = wholePieceIDs
            }
            self.model = model
            self.matcher = AddedTokenMatcher(definition.addedTokens, normalization: definition.normalization)
        }
    }

    let storage: Storage

    init(_ definition: Definition) {
        self.storage = Storage(definition)
    }

    var definition: Definition { storage.definition }
    var tokensByID: [String?] { storage.tokensByID }
    var idsByToken: [[UInt8]: Int] { storage.idsByToken }
    var bytesByID: [[UInt8]] { storage.bytesByID }
    var isSpecialByID: [Bool] { storage.isSpecialByID }
    var model: BytePairModel { storage.model }
    var matcher: AddedTokenMatcher { storage.matcher }

    /// The token a byte falls back to: `<0x41>` for 0x41.
    static func byteFallbackToken(_ byte: UInt8) -> String {
        let hex = String(byte, radix: 16, uppercase: true)
        return "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
    }

    // MARK: Vocabulary

    /// One more than the largest id: the number of rows an embedding table needs.
    public var vocabularySize: Int { storage.tokensByID.count }

    /// The id of a vocabulary token, as written in the file (`"Ġthe"` for byte-level BPE,
    /// `"▁the"` for SentencePiece-style BPE), or of an added token.
    public func id(of token: String) -> Int? {
        storage.idsByToken[Array(token.utf8)]
    }

    /// The token with an id, as written in the vocabulary, or `nil` if no token has it.
    public func token(for id: Int) -> String? {
        storage.tokensByID.indices.contains(id) ? storage.tokensByID[id] : nil
    }

    /// The added tokens (special or not), in id order.
    public var addedTokens: [AddedToken] {
        storage.definition.addedTokens.sorted { $0.id < $1.id }
    }

    /// The special tokens, such as `<|endoftext|>`, in id order.
    public var specialTokens: [AddedToken] {
        addedTokens.filter(\.isSpecial)
    }

    /// The merges in rank order, as pairs of vocabulary tokens.
    public var merges: [(left: String, right: String)] {
        storage.definition.merges.map { (storage.tokensByID[$0.left] ?? "", storage.tokensByID[$0.right] ?? "") }
    }

    // MARK: Encoding and decoding

    /// The token ids of a text.
    ///
    /// Added tokens are matched first (the longest at the leftmost position; non-normalised
    /// ones in the raw text, then normalised ones in the normalised text), the text between
    /// them is normalised and pre-tokenised and each piece is encoded with the merges; a
    /// `TemplateProcessing` post-processor's special tokens, if the file has one, are put
    /// around the result, as Hugging Face's `encode` does with `add_special_tokens=True`.
    ///
    /// - Parameter addingSpecialTokens: false leaves out the post-processor's tokens (Hugging
    ///   Face's `add_special_tokens=False`), as for text that continues other text.
    /// - Complexity: O(n) in the length of the text for pieces already in the cache; a new
    ///   piece of k bytes costs O(k²) (O(k log k) above 48 bytes).
    public func encode(_ text: String, addingSpecialTokens: Bool = true) -> [Int] {
        var ids = addingSpecialTokens ? storage.definition.templatePrefix : []
        ids.reserveCapacity(text.utf8.count / 3 + ids.count + storage.definition.templateSuffix.count)
        forEachSegment(of: text) { piece, startsText in
            appendOrdinaryIDs(of: piece, startsText: startsText, to: &ids)
        } addedToken: { id, _ in
            ids.append(id)
        }
        if addingSpecialTokens { ids.append(contentsOf: storage.definition.templateSuffix) }
        return ids
    }

    /// Calls `ordinary` with each normalised stretch of text between added tokens (and whether
    /// it starts the text) and `addedToken` with each added token's id and the text it matched,
    /// in order.
    private func forEachSegment(
        of text: String, ordinary: (UnsafeBufferPointer<UInt8>, Bool) -> Void,
        addedToken: (Int, UnsafeBufferPointer<UInt8>) -> Void
    ) {
        var text = text
        text.withUTF8 { buffer in
            if storage.matcher.isEmpty && storage.definition.normalization.isEmpty {
                ordinary(buffer, true)
                return
            }
            func normalizedSegments(_ normalized: UnsafeBufferPointer<UInt8>, startsText: Bool) {
                guard storage.matcher.hasTokens(in: .normalized) else {
                    ordinary(normalized, startsText)
                    return
                }
                for segment in storage.matcher.segments(of: normalized, pass: .normalized) {
                    switch segment {
                    case .token(let id, let range):
                        addedToken(id, UnsafeBufferPointer(rebasing: normalized[range]))
                    case .text(let range):
                        ordinary(
                            UnsafeBufferPointer(rebasing: normalized[range]), startsText && range.lowerBound == 0)
                    }
                }
            }
            for segment in storage.matcher.segments(of: buffer, pass: .raw) {
                switch segment {
                case .token(let id, let range):
                    addedToken(id, UnsafeBufferPointer(rebasing: buffer[range]))
                case .text(let range):
                    let raw = UnsafeBufferPointer(rebasing: buffer[range])
                    if storage.definition.normalization.isEmpty {
                        normalizedSegments(raw, startsText: range.lowerBound == 0)
                    } else {
                        storage.definition.normalization.normalized(raw).withUnsafeBufferPointer {
                            normalizedSegments($0, startsText: range.lowerBound == 0)
                        }
                    }
                }
            }
        }
    }

    private func appendOrdinaryIDs(of text: UnsafeBufferPointer<UInt8>, startsText: Bool, to ids: inout [Int]) {
        storage.definition.preTokenization.forEachPiece(of: text, startsText: startsText) { piece in
            storage.model.appendIDs(of: piece, to: &ids)
        }
    }

    /// The tokens of a text, as Hugging Face's `encoding.tokens` lists them: vocabulary strings
    /// (`["Hello", "Ġworld"]`, `["▁Hello", "<0xE2>"]`), and for an added token the text it
    /// matched (with any whitespace it stripped, and normalised if it is a normalised token).
    public func tokens(of text: String, addingSpecialTokens: Bool = true) -> [String] {
        var tokens = addingSpecialTokens ? storage.definition.templatePrefix.map { storage.tokensByID[$0] ?? "" } : []
        var ids: [Int] = []
        forEachSegment(of: text) { piece, startsText in
            ids.removeAll(keepingCapacity: true)
            appendOrdinaryIDs(of: piece, startsText: startsText, to: &ids)
            tokens += ids.map { storage.tokensByID[$0] ?? "" }
        } addedToken: { _, matched in
            tokens.append(String(decoding: matched, as: UTF8.self))
        }
        if addingSpecialTokens { tokens += storage.definition.templateSuffix.map { storage.tokensByID[$0] ?? "" } }
        return tokens
    }

    /// The pieces that the model encodes one at a time: the text between added tokens,
    /// normalised and pre-tokenised, each piece as the model reads it (in the byte-level
    /// alphabet for byte-level BPE, `"Ġworld"`; with `▁` for spaces after Metaspace).
    ///
    /// For a file without normalizer these are the pieces of Hugging Face's
    /// `pre_tokenizer.pre_tokenize_str` on each stretch of text between added tokens.
    public func pieces(of text: String) -> [String] {
        var pieces: [String] = []
        forEachSegment(of: text) { stretch, startsText in
            storage.definition.preTokenization.forEachPiece(of: stretch, startsText: startsText) { piece in
                switch storage.definition.alphabet {
                case .bytes: pieces.append(ByteLevelAlphabet.encoded(piece))
                case .scalars: pieces.append(String(decoding: piece, as: UTF8.self))
                }
            }
        } addedToken: { _, _ in
        }
        return pieces
    }

    /// The text of a sequence of ids.
    ///
    /// The ids' tokens go through the file's decoder. For byte-level BPE their bytes are
    /// concatenated and read as UTF-8; byte sequences that are not valid UTF-8 (a multi-byte
    /// character cut between ids) become U+FFFD. For SentencePiece-style BPE `▁` becomes a
    /// space and `<0xXX>` tokens their bytes. Ids that no token has are skipped, as Hugging Face
    /// does.
    ///
    /// - Parameter skippingSpecialTokens: whether special tokens such as `<|endoftext|>` are
    ///   left out.
    public func decode(_ ids: [Int], skippingSpecialTokens: Bool = false) -> String {
        guard storage.definition.decoding.isByteLevelOnly else {
            var tokens: [String] = []
            tokens.reserveCapacity(ids.count)
            for id in ids where storage.tokensByID.indices.contains(id) {
                if skippingSpecialTokens && storage.isSpecialByID[id] { continue }
                if let token = storage.tokensByID[id] { tokens.append(token) }
            }
            return storage.definition.decoding.decode(tokens)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids where storage.bytesByID.indices.contains(id) {
            if skippingSpecialTokens && storage.isSpecialByID[id] { continue }
            bytes.append(contentsOf: storage.bytesByID[id])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
