/// Learns a byte-level BPE vocabulary from texts, as Hugging Face's `BpeTrainer` does.
///
/// Training splits every text at the special tokens, pre-tokenises the rest like GPT-2
/// (`ByteLevelPreTokenizer`) and counts each distinct piece. Every piece starts as a sequence
/// of its bytes; then, until the vocabulary is full, the most frequent adjacent pair of tokens
/// (counted over all pieces, weighted by their frequency) is merged into a new token.
///
/// Ids: the special tokens first (0, 1, … in the order given), then the 256 byte tokens in the
/// order of their characters' code points in the byte-level alphabet (`!` first, `Ń` last),
/// then the merged tokens in the order they are made.
///
/// Ties: among pairs of equal frequency the one whose (left id, right id) is smallest,
/// compared left id first, is merged first. This is Hugging Face's rule too, so both produce
/// the same merges from the same pieces. One difference: Hugging Face counts special tokens
/// that occur in the training text as ordinary text, whereas here they are boundaries and never
/// counted, as when encoding.
///
/// Pair counts are updated incrementally: merging a pair only touches the pieces that contain
/// it (an index from pair to pieces is kept), and a max-heap with lazy re-insertion of stale
/// counts picks the next pair.
///
/// Reference: Sennrich, Haddow and Birch, "Neural Machine Translation of Rare Words with
/// Subword Units" (ACL 2016); Radford et al. (2019) for the byte-level variant.
public struct BytePairTrainer: Sendable {
    /// The number of tokens to end with: special tokens, 256 byte tokens and merged tokens.
    /// A size below the special and byte tokens' count learns no merge.
    public var vocabularySize: Int
    /// The least frequency a pair needs to be merged; training stops before the vocabulary is
    /// full when no pair is that frequent.
    public var minimumFrequency: Int
    /// Tokens such as `<|endoftext|>`, given the lowest ids and matched verbatim.
    public var specialTokens: [String]
    /// Whether the pre-tokenizer puts a space before text that does not start with one.
    public var addsPrefixSpace: Bool

    /// Creates a trainer; nothing is learnt until ``train(on:)``.
    ///
    /// - Parameters:
    ///   - vocabularySize: the number of tokens to end with, special and byte tokens included.
    ///   - minimumFrequency: the least count a pair needs to be merged (must not be negative).
    ///   - specialTokens: tokens given ids 0, 1, … in this order and treated as boundaries in the training text (none may be empty).
    ///   - addsPrefixSpace: whether a space is put before text that does not start with one.
    public init(
        vocabularySize: Int, minimumFrequency: Int = 2, specialTokens: [String] = [],
        addsPrefixSpace: Bool = false
    ) {
        self.vocabularySize = vocabularySize
        self.minimumFrequency = minimumFrequency
        self.specialTokens = specialTokens
        self.addsPrefixSpace = addsPrefixSpace
    }

    /// A tokenizer trained on `texts`.
    ///
    /// - Complexity: O(total length) to count the pieces, then for each merge time
    ///   proportional to the length of the pieces that contain the merged pair.
    public func train(on texts: some Sequence<String>) -> BytePairTokenizer {
        precondition(minimumFrequency >= 0, "minimumFrequency must not be negative, got \(minimumFrequency)")
        precondition(!specialTokens.contains(""), "special tokens must not be empty")

        // Ids of the special tokens, then of the byte tokens.
        var tokens: [String] = []
        var tokenBytes: [[UInt8]] = []
        var idsByToken: [String: Int] = [:]
        func addToken(_ token: String, bytes: [UInt8]) -> Int {
            if let id = idsByToken[token] { return id }
            tokens.append(token)
            tokenBytes.append(bytes)
            idsByToken[token] = tokens.count - 1
            return tokens.count - 1
        }
        var addedTokens: [AddedToken] = []
        for special in specialTokens where idsByToken[special] == nil {
            let id = addToken(special, bytes: Array(special.utf8))
            addedTokens.append(AddedToken(content: special, id: id, isSpecial: true, isNormalized: false))
        }
        var byteTokenIDs = [Int32](repeating: 0, count: 256)
        let alphabetOrder = (0..<256).sorted { ByteLevelAlphabet.scalars[$0].value < ByteLevelAlphabet.scalars[$1].value }
        for byte in alphabetOrder {
            let id = addToken(String(ByteLevelAlphabet.scalars[byte]), bytes: [UInt8(byte)])
            byteTokenIDs[byte] = Int32(id)
        }

        let preTokenization = PreTokenization(steps: ByteLevelPreTokenizer(addsPrefixSpace: addsPrefixSpace).steps)
        let pieces = Self.countPieces(texts, matcher: AddedTokenMatcher(addedTokens), preTokenization: preTokenization)
        var words = pieces.map { piece in piece.bytes.map { byteTokenIDs[Int($0)] } }
        let counts = pieces.map(\.count)

        var state = PairStatistics(words: words, counts: counts)
        var merges: [(left: Int, right: Int, merged: Int)] = []
        let threshold = max(minimumFrequency, 1)
        while tokens.count < vocabularySize, let best = state.mostFrequentPair() {
            guard best.count >= threshold else { break }
            let (left, right) = PairStatistics.split(best.pair)
            let bytes = tokenBytes[Int(left)] + tokenBytes[Int(right)]
            // An existing token is reused when another merge path already made the same bytes.
            let merged = addToken(ByteLevelAlphabet.encoded(bytes), bytes: bytes)
            merges.append((Int(left), Int(right), merged))
            state.merge(best.pair, into: Int32(merged), words: &words, counts: counts)
        }

        let byteLevel: [(key: String, value: JSONValue)] = [
            ("type", .string("ByteLevel")), ("add_prefix_space", .bool(addsPrefixSpace)),
            ("trim_offsets", .bool(true)), ("use_regex", .bool(true)),
        ]
        return BytePairTokenizer(
            BytePairTokenizer.Definition(
                vocabulary: tokens.enumerated().map { ($1, $0) },
                merges: merges,
                addedTokens: addedTokens,
                unknownID: nil,
                preTokenization: preTokenization,
                preTokenizerJSON: .object(byteLevel),
                postProcessorJSON: .object([
                    ("type", .string("ByteLevel")), ("add_prefix_space", .bool(true)),
                    ("trim_offsets", .bool(false)), ("use_regex", .bool(true)),
                ]),
                decoderJSON: .object([
                    ("type", .string("ByteLevel")), ("add_prefix_space", .bool(true)),
                    ("trim_offsets", .bool(true)), ("use_regex", .bool(true)),
                ])))
    }

    /// The distinct pieces of the texts with their frequencies, special tokens left out.
    static func countPieces(
        _ texts: some Sequence<String>, matcher: AddedTokenMatcher, preTokenization: PreTokenization
    ) -> [(bytes: [UInt8], count: Int)] {
        var counts: [[UInt8]: Int] = [:]
        for var text in texts {
            text.withUTF8 { buffer in
                func count(_ range: Range<Int>) {
                    preTokenization.forEachPiece(of: UnsafeBufferPointer(rebasing: buffer[range])) { piece in
                        counts[Array(piece), default: 0] += 1
                    }
                }
                if matcher.isEmpty {
                    count(0..<buffer.count)
                    return
                }
                for case .text(let range) in matcher.segments(of: buffer) {
                    count(range)
                }
            }
        }
        return counts.map { ($0.key, $0.value) }
    }
}

/// Pair frequencies over the pieces, an index from each pair to the pieces that contain it,
/// and a queue ordered by frequency, kept up to date as merges rewrite the pieces.
struct PairStatistics {
    /// Frequency of each adjacent pair `left << 32 | right`, summed over pieces × piece counts.
    private var counts: [UInt64: Int] = [:]
    /// The pieces in which each pair occurs or occurred (stale entries are skipped).
    private var occurrences: [UInt64: [Int32]] = [:]
    private var queue = BinaryHeap<MergeCandidate>()
    /// For each piece, the last merge that visited it, to visit each piece once per merge.
    private var lastVisit: [Int]
    private var mergeCount = 0

    static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    static func split(_ key: UInt64) -> (left: Int32, right: Int32) {
        (Int32(bitPattern: UInt32(key >> 32)), Int32(bitPattern: UInt32(key & 0xFFFF_FFFF)))
    }

    init(words: [[Int32]], counts wordCounts: [Int]) {
        lastVisit = [Int](repeating: -1, count: words.count)
        for (index, word) in words.enumerated() where word.count > 1 {
            for position in 0..<(word.count - 1) {
                let pair = Self.key(word[position], word[position + 1])
                counts[pair, default: 0] += wordCounts[index]
                note(pair, occursIn: Int32(index))
            }
        }
        for (pair, count) in counts {
            queue.push(MergeCandidate(count: count, pair: pair))
        }
    }

    private mutating func note(_ pair: UInt64, occursIn word: Int32) {
        if occurrences[pair]?.last != word {
            occurrences[pair, default: []].append(word)
        }
    }

    /// The pair with the highest current frequency, ties broken by the smaller pair; `nil`
    /// when no pair is left.
    mutating func mostFrequentPair() -> (pair: UInt64, count: Int)? {
        while let top = queue.pop() {
            let current = counts[top.pair] ?? 0
            if top.count == current {
                return (top.pair, top.count)
            }
            // Stale. A count that went up was pushed again when it changed; one that went down
            // goes back in with its current value.
            if current > 0 && top.count > current {
                queue.push(MergeCandidate(count: current, pair: top.pair))
            }
        }
        return nil
    }

    /// Replaces every occurrence of `pair` by `merged`, left to right without overlaps, in the
    /// pieces that contain it, and updates the counts, the index and the queue.
    mutating func merge(_ pair: UInt64, into merged: Int32, words: inout [[Int32]], counts wordCounts: [Int]) {
        let (left, right) = Self.split(pair)
        var changes: [UInt64: Int] = [:]
        let visit = mergeCount
        mergeCount += 1
        for index in occurrences[pair] ?? [] where lastVisit[Int(index)] != visit {
            lastVisit[Int(index)] = visit
            let weight = wordCounts[Int(index)]
            // Taken out of the array so that rewriting it in place does not copy it.
            var word = words[Int(index)]
            words[Int(index)] = []
            defer { words[Int(index)] = word }
            var read = 0
            var written = 0
            let length = word.count
            while read < length {
                guard read + 1 < length, word[read] == left, word[read + 1] == right else {
                    word[written] = word[read]
                    written += 1
                    read += 1
                    continue
                }
                changes[pair, default: 0] -= weight
                if written > 0 {
                    let previous = word[written - 1]  // already rewritten, maybe a merged token
                    changes[Self.key(previous, left), default: 0] -= weight
                    let added = Self.key(previous, merged)
                    changes[added, default: 0] += weight
                    note(added, occursIn: index)
                }
                if read + 2 < length {
                    let next = word[read + 2]
                    changes[Self.key(right, next), default: 0] -= weight
                    let added = Self.key(merged, next)
                    changes[added, default: 0] += weight
                    note(added, occursIn: index)
                }
                word[written] = merged
                written += 1
                read += 2
            }
            word.removeLast(length - written)
        }
        occurrences[pair] = nil
        for (changed, delta) in changes where delta != 0 {
            let updated = (counts[changed] ?? 0) + delta
            counts[changed] = updated > 0 ? updated : nil
            if delta > 0 {
                queue.push(MergeCandidate(count: updated, pair: changed))
            }
        }
    }
}

/// A candidate merge, ordered so that the one to make first is the smallest: the higher count,
/// then the smaller pair.
struct MergeCandidate: Comparable {
    var count: Int
    var pair: UInt64

    static func < (a: MergeCandidate, b: MergeCandidate) -> Bool {
        a.count != b.count ? a.count > b.count : a.pair < b.pair
    }
}
