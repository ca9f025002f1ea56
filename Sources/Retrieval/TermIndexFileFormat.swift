/// The layout of a term index file (version 1). All integers are little-endian.
///
/// | offset | size | field |
/// | --- | --- | --- |
/// | 0 | 8 | magic, the ASCII bytes `TFIDFIDX` |
/// | 8 | 4 | version, `UInt32` = 1 |
/// | 12 | 4 | term kind, `UInt32`: 0 token ids, 1 words |
/// | 16 | 8 | C, document count, `UInt64` ≤ 2³¹ − 1 |
/// | 24 | 8 | V, term count, `UInt64` ≤ P |
/// | 32 | 8 | P, posting count (distinct (term, document) pairs), `UInt64` |
/// | 40 | 8 | F, fingerprint length in bytes, `UInt64` |
/// | 48 | 8 | T, term section length in bytes, `UInt64` |
/// | 56 | F | fingerprint, UTF-8 |
/// | 56 + F | T | terms, ascending. Token ids: V × `Int64`. Words: V × `UInt32` byte lengths (each ≥ 1), then the V words' UTF-8 bytes one after another |
/// | 56 + F + T | 4V | n_t per term, `UInt32`, each in 1…C, summing to P |
/// | 56 + F + T + 4V | 4P | postings: each term's n_t document numbers in turn, `UInt32`, strictly increasing, < C |
/// | 56 + F + T + 4V + 4P | 8 | FNV-1a 64 of all preceding bytes, `UInt64` |
///
/// so the file has exactly 64 + F + T + 4V + 4P bytes, with T = 8V for token ids and
/// T = 4V + Σ word lengths for words. Terms are strictly increasing (`Int64` order for ids,
/// Swift `String` order for words — which also rules out two canonically equivalent words).
enum TermIndexFileFormat {
    static let magic: [UInt8] = Array("TFIDFIDX".utf8)
    static let version: UInt32 = 1
    static let headerSize = 56
    static let checksumSize = 8

    /// FNV-1a, 64 bits (offset basis 0xcbf29ce484222325, prime 0x100000001b3), of `bytes`.
    ///
    /// Every step is a bijection of the state for a given byte, so changing any single byte
    /// always changes the checksum; it detects accidents, not forgeries — the loader validates
    /// the structure regardless.
    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
