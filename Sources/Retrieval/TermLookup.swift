/// The map from a term (a token id or a word) to its term number in an index.
///
/// Token ids in `0..<denseLimit` — every tokenizer vocabulary — are looked up in an array
/// indexed by id, which is several times faster than hashing when building over millions of
/// tokens; other ids (negative or huge) go to a dictionary. Words are hashed as `String`s.
struct TermLookup: Sendable {
    /// Ids below this go to the dense table (16 MiB of `Int32` at most).
    static let denseLimit = 1 << 22

    /// `dense[id]` is the term number of `id`, or -1.
    private(set) var dense: [Int32] = []
    private var sparse: [Int: Int32] = [:]
    private var wordNumbers: [String: Int32] = [:]

    init() {}

    /// The lookup of an index whose terms are `tokenIDs` (term number = position).
    ///
    /// The dense table is used only up to a size proportional to the number of terms, so that a
    /// few very large ids (or a hostile file) cannot make it allocate megabytes for nothing.
    init(tokenIDs: [Int]) {
        let denseBound = Swift.min(Self.denseLimit, 64 * tokenIDs.count + 65_536)
        let largest = tokenIDs.last(where: { $0 >= 0 && $0 < denseBound }) ?? -1
        dense = [Int32](repeating: -1, count: largest + 1)
        for (number, id) in tokenIDs.enumerated() {
            if id >= 0 && id <= largest {
                dense[id] = Int32(number)
            } else {
                sparse[id] = Int32(number)
            }
        }
    }

    /// The lookup of an index whose terms are `words` (term number = position).
    init(words: [String]) {
        wordNumbers.reserveCapacity(words.count)
        for (number, word) in words.enumerated() { wordNumbers[word] = Int32(number) }
    }

    /// The term number of token `id`, or nil.
    @inline(__always)
    func number(ofToken id: Int) -> Int32? {
        if id >= 0 && id < dense.count {
            let number = dense[id]
            return number >= 0 ? number : nil
        }
        return sparse[id]
    }

    /// The term number of `word`, or nil.
    func number(ofWord word: String) -> Int32? { wordNumbers[word] }

    /// The term number of token `id`, giving it `next` when it has none yet.
    ///
    /// - Returns: the number and whether it was new.
    @inline(__always)
    mutating func number(ofToken id: Int, assigning next: Int32) -> (number: Int32, isNew: Bool) {
        if id >= 0 && id < Self.denseLimit {
            if id >= dense.count {
                // Grow geometrically so that ids arriving in increasing order cost amortised O(1).
                let newCount = Swift.min(Self.denseLimit, Swift.max(id + 1, 2 * dense.count, 1024))
                dense.append(contentsOf: repeatElement(-1, count: newCount - dense.count))
            }
            let number = dense[id]
            if number >= 0 { return (number, false) }
            dense[id] = next
            return (next, true)
        }
        if let number = sparse[id] { return (number, false) }
        sparse[id] = next
        return (next, true)
    }

    /// The term number of `word`, giving it `next` when it has none yet.
    mutating func number(ofWord word: String, assigning next: Int32) -> (number: Int32, isNew: Bool) {
        if let number = wordNumbers[word] { return (number, false) }
        wordNumbers[word] = next
        return (next, true)
    }
}
