import Foundation

/// The BPE model proper: turns one pre-tokenised piece into token ids.
///
/// The piece starts as one symbol per unit of its alphabet: per byte for byte-level BPE (GPT-2,
/// Llama 3, Qwen2: the ByteLevel pre-tokenizer has mapped each byte to a character, whose token
/// is looked up), per Unicode scalar for SentencePiece-style BPE (Llama 2, Mistral). A scalar
/// without a token becomes, with byte fallback, the `<0xXX>` tokens of its UTF-8 bytes, else
/// the unknown token (one per run of such scalars when `fusesUnknown`), else nothing. Then,
/// repeatedly, the adjacent pair with the lowest merge rank (the earliest merge learnt) is
/// replaced by its merged token, the leftmost such pair first, until no adjacent pair has a
/// merge. This is the order in which Hugging Face `tokenizers` applies merges, and it gives the
/// same result as GPT-2's `encoder.py`, which merges every occurrence of the lowest-ranked pair
/// at once.
///
/// Reference: Sennrich, Haddow and Birch, "Neural Machine Translation of Rare Words with
/// Subword Units" (ACL 2016).
struct BytePairModel: Sendable {
    /// What the symbols of a piece start as.
    enum Alphabet: Sendable {
        /// One symbol per byte (byte-level BPE).
        case bytes
        /// One symbol per Unicode scalar (SentencePiece-style BPE).
        case scalars
    }

    var alphabet: Alphabet = .bytes
    /// The id of each byte's single-character token, or -1 when the vocabulary lacks it
    /// (`.bytes`).
    var byteTokenIDs: [Int32]
    /// The ids of the tokens that are one scalar (`.scalars`); below U+0080 also in
    /// `asciiTokenIDs`.
    var scalarTokenIDs: [UInt32: Int32] = [:]
    var asciiTokenIDs = [Int32](repeating: -1, count: 128)
    /// The ids of the tokens `<0x00>`…`<0xFF>` (-1 when missing), when the file asks for
    /// byte fallback (`.scalars`).
    var byteFallbackIDs: [Int32]?
    /// `left << 32 | right` → `rank << 32 | merged`, with ids and ranks below 2³¹.
    var merges: [UInt64: UInt64]
    /// The token for units missing from the vocabulary; without one they are dropped.
    var unknownID: Int32?
    /// Whether consecutive unknown units become a single unknown token.
    var fusesUnknown: Bool
    /// Whole pieces that are looked up before any merge (`ignore_merges`), or `nil`.
    var wholePieceIDs: [[UInt8]: Int32]?

    let cache = PieceCache()

    /// Words with more symbols than this are merged with a heap instead of linear scans.
    static let heapThreshold = 48
    /// Pieces longer than this many bytes are not cached (Hugging Face's limit too): the
    /// SentencePiece layouts without a pre-tokenizer make each text one piece.
    static let longestCachedPiece = 256

    @inline(__always)
    static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Appends the ids of one piece to `ids`.
    func appendIDs(of piece: UnsafeBufferPointer<UInt8>, to ids: inout [Int]) {
        if piece.count == 1, wholePieceIDs == nil {
            let id = alphabet == .bytes ? byteTokenIDs[Int(piece[0])] : piece[0] < 0x80 ? asciiTokenIDs[Int(piece[0])] : -1
            if id >= 0 {
                ids.append(Int(id))
                return
            }
        }
        let key = Array(piece)
        if let cached = cache.value(for: key) {
            for id in cached { ids.append(Int(id)) }
            return
        }
        let symbols = tokenIDs(of: key)
        if key.count <= Self.longestCachedPiece {
            cache.store(symbols, for: key)
        }
        for id in symbols { ids.append(Int(id)) }
    }

    /// The ids of one piece, without the cache.
    func tokenIDs(of piece: [UInt8]) -> [Int32] {
        if let whole = wholePieceIDs?[piece] {
            return [whole]
        }
        var symbols = alphabet == .bytes ? byteSymbols(of: piece) : scalarSymbols(of: piece)
        if symbols.count > Self.heapThreshold {
            mergeWithHeap(&symbols)
        } else {
            mergeByScanning(&symbols)
        }
        return symbols
    }

    /// The initial symbols of a byte-level piece: one per byte.
    private func byteSymbols(of piece: [UInt8]) -> [Int32] {
        var symbols: [Int32] = []
        symbols.reserveCapacity(piece.count)
        var previousWasUnknown = false
        for byte in piece {
            let id = byteTokenIDs[Int(byte)]
            if id >= 0 {
                symbols.append(id)
                previousWasUnknown = false
            } else if let unknownID {
                if !(fusesUnknown && previousWasUnknown) {
                    symbols.append(unknownID)
                }
                previousWasUnknown = true
            }
        }
        return symbols
    }

    /// The initial symbols of a character-level piece: one per scalar, with byte fallback or
    /// the unknown token for scalars without a token.
    ///
    /// As in Hugging Face's `merge_word`, a pending unknown token is written when the next
    /// known scalar (or the end) comes, so with a partial byte fallback the bytes of a later
    /// scalar can precede it.
    private func scalarSymbols(of piece: [UInt8]) -> [Int32] {
        var symbols: [Int32] = []
        symbols.reserveCapacity(piece.count)
        var pendingUnknown = false
        piece.withUnsafeBufferPointer { text in
            var index = 0
            while index < text.count {
                let (value, length) = text.scalarValue(at: index)
                defer { index += length }
                let id = value < 0x80 ? asciiTokenIDs[Int(value)] : scalarTokenIDs[value] ?? -1
                if id >= 0 {
                    if pendingUnknown, let unknownID { symbols.append(unknownID) }
                    pendingUnknown = false
                    symbols.append(id)
                    continue
                }
                if let byteFallbackIDs,
                    (index..<(index + length)).allSatisfy({ byteFallbackIDs[Int(text[$0])] >= 0 })
                {
                    for offset in index..<(index + length) { symbols.append(byteFallbackIDs[Int(text[offset])]) }
                    continue
                }
                guard let unknownID else { continue }
                if pendingUnknown && !fusesUnknown { symbols.append(unknownID) }
                pendingUnknown = true
            }
        }
        if pendingUnknown, let unknownID { symbols.append(unknownID) }
        return symbols
    }

    /// Applies the merges to a short word: O(n²) but with no allocation beyond the rank list.
    func mergeByScanning(_ symbols: inout [Int32]) {
        guard symbols.count > 1 else { return }
        // ranks[k] describes the pair (symbols[k], symbols[k + 1]).
        var ranks = [UInt64](repeating: .max, count: symbols.count - 1)
        for k in ranks.indices {
            ranks[k] = merges[Self.pairKey(symbols[k], symbols[k + 1])] ?? .max
        }
        while true {
            var best = UInt64.max
            var bestIndex = -1
            for k in ranks.indices where ranks[k] < best {  // strict: the leftmost wins ties
                best = ranks[k]
                bestIndex = k
            }
            guard bestIndex >= 0 else { return }
            symbols[bestIndex] = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
            symbols.remove(at: bestIndex + 1)
            ranks.remove(at: bestIndex)
            if bestIndex > 0 {
                ranks[bestIndex - 1] = merges[Self.pairKey(symbols[bestIndex - 1], symbols[bestIndex])] ?? .max
            }
            if bestIndex < ranks.count {
                ranks[bestIndex] = merges[Self.pairKey(symbols[bestIndex], symbols[bestIndex + 1])] ?? .max
            }
        }
    }

    /// Applies the merges to a long word in O(n log n): a doubly linked list of symbols and a
    /// min-heap of `rank << 32 | position` candidates, checked for staleness when popped.
    func mergeWithHeap(_ symbols: inout [Int32]) {
        let count = symbols.count
        var next = Array(1...count)  // `count` marks the end
        var previous = Array(-1..<(count - 1))
        var alive = [Bool](repeating: true, count: count)
        var heap = BinaryHeap<UInt64>()
        let rankMask: UInt64 = 0xFFFF_FFFF_0000_0000  // keeps the rank, drops the merged id
        func rank(_ position: Int) -> UInt64? {
            let successor = next[position]
            guard successor < count else { return nil }
            return merges[Self.pairKey(symbols[position], symbols[successor])]
        }
        for position in 0..<(count - 1) {
            if let entry = rank(position) {
                heap.push(entry & rankMask | UInt64(position))
            }
        }
        while let top = heap.pop() {
            let position = Int(top & 0xFFFF_FFFF)
            guard alive[position], let entry = rank(position), entry >> 32 == top >> 32 else {
                continue  // stale: the pair at this position has changed since it was pushed
            }
            let right = next[position]
            symbols[position] = Int32(truncatingIfNeeded: entry & 0xFFFF_FFFF)
            alive[right] = false
            next[position] = next[right]
            if next[right] < count {
                previous[next[right]] = position
            }
            if previous[position] >= 0, let left = rank(previous[position]) {
                heap.push(left & rankMask | UInt64(previous[position]))
            }
            if let here = rank(position) {
                heap.push(here & rankMask | UInt64(position))
            }
        }
        var merged: [Int32] = []
        var position = 0
        while position < count {
            merged.append(symbols[position])
            position = next[position]
        }
        symbols = merged
    }
}

/// Remembers the ids of pieces already encoded, shared by copies of a tokenizer.
///
/// Bounded: when full it is emptied and fills again with the pieces in current use.
final class PieceCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [[UInt8]: [Int32]] = [:]
    let capacity: Int

    init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    func value(for key: [UInt8]) -> [Int32]? {
        lock.lock()
        defer { lock.unlock() }
        return entries[key]
    }

    func store(_ value: [Int32], for key: [UInt8]) {
        lock.lock()
        defer { lock.unlock() }
        if entries.count >= capacity {
            entries.removeAll(keepingCapacity: true)
        }
        entries[key] = value
    }
}
