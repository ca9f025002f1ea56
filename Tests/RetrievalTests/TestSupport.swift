import Foundation
import _TestSupport
import Retrieval

/// SplitMix64 (Steele, Lea, Flood 2014): a small seeded generator, so every random test
/// sees the same data on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum TestSupport {
    /// A fresh directory under the system's temporary directory; the caller removes it.
    static func temporaryDirectory() throws -> URL {
        TestTemporaryRoot.directory("RetrievalTests")
    }

    /// `documentCount` documents of `length` token ids drawn uniformly from `0..<vocabularySize`.
    static func randomDocuments(count documentCount: Int, length: Int, vocabularySize: Int, seed: UInt64) -> [[Int]] {
        var generator = SplitMix64(seed: seed)
        return (0..<documentCount).map { _ in (0..<length).map { _ in Int.random(in: 0..<vocabularySize, using: &generator) } }
    }

    /// Every document's score straight from the definition, with sets and the paper's expression
    /// of the IDF — an oracle independent of the index.
    static func referenceScores(documents: [Set<Int>], query: [Int]) -> [Double] {
        let c = Double(documents.count)
        let terms = Set(query)
        var idf: [Int: Double] = [:]
        for term in terms {
            let n = Double(documents.filter { $0.contains(term) }.count)
            idf[term] = log((c - n + 0.5) / (n + 0.5) + 1)
        }
        return documents.map { document in terms.sorted().reduce(0.0) { document.contains($1) ? $0 + idf[$1]! : $0 } }
    }

    /// The `count` best documents of dense `scores` by a full sort: higher score, then lower number.
    static func bestBySorting(_ scores: [Double], count: Int) -> Candidates {
        let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }.prefix(count)
        return Candidates(documents: Array(order), scores: order.map { scores[$0] })
    }

    /// FNV-1a 64 of `bytes`, written out again from its definition (not the module's copy).
    static func fnv1a64<Bytes: Sequence>(_ bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        return hash
    }

    /// `bytes` with its last 8 bytes replaced by the FNV-1a 64 of the others, little-endian.
    static func withFixedChecksum(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= 8 else { return bytes }
        var fixed = bytes
        let checksum = fnv1a64(bytes.dropLast(8))
        for shift in 0..<8 { fixed[bytes.count - 8 + shift] = UInt8(truncatingIfNeeded: checksum >> (8 * UInt64(shift))) }
        return fixed
    }

    /// Little-endian integer of `width` bytes at `offset`.
    static func readInteger(_ bytes: [UInt8], at offset: Int, width: Int) -> UInt64 {
        (0..<width).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }

    /// `bytes` with the little-endian integer of `width` bytes at `offset` replaced by `value`.
    static func writingInteger(_ value: UInt64, into bytes: [UInt8], at offset: Int, width: Int) -> [UInt8] {
        var bytes = bytes
        for shift in 0..<width { bytes[offset + shift] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(shift))) }
        return bytes
    }
}
