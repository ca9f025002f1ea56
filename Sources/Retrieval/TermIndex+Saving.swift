import Foundation
import Formats

extension TermIndex {
    /// Writes the index to one file, atomically, with the caller's fingerprint of the documents.
    ///
    /// The layout is ``TermIndexFileFormat`` (little-endian, magic `TFIDFIDX`, version 1). The
    /// bytes are assembled in memory, checksummed, and written to a temporary file in the
    /// destination's directory, which is `fsync`ed and renamed over the destination.
    ///
    /// - Parameters:
    ///   - url: the destination.
    ///   - fingerprint: any text identifying the documents (a hash of the training set, say);
    ///     ``load(contentsOf:)`` returns it, so the caller can refuse an index of other data.
    /// - Throws: ``RetrievalFileError`` of kind `.unwritable` naming the file.
    /// - Complexity: O(file size) time and memory.
    public func save(to url: URL, fingerprint: String) throws {
        let bytes = encoded(fingerprint: fingerprint)
        try writeAtomically(to: url) { output in try output.write(bytes) }
    }

    /// The bytes of the index file.
    func encoded(fingerprint: String) -> [UInt8] {
        let fingerprintBytes = Array(fingerprint.utf8)
        let termBytes: Int
        switch termKind {
        case .tokenIDs: termBytes = 8 * termCount
        case .words: termBytes = 4 * termCount + words.reduce(0) { $0 + $1.utf8.count }
        }
        let size =
            TermIndexFileFormat.headerSize + fingerprintBytes.count + termBytes + 4 * termCount + 4 * postingCount
            + TermIndexFileFormat.checksumSize
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        bytes.append(contentsOf: TermIndexFileFormat.magic)
        bytes.appendLittleEndian(TermIndexFileFormat.version)
        bytes.appendLittleEndian(termKind.rawValue)
        for count in [documentCount, termCount, postingCount, fingerprintBytes.count, termBytes] {
            bytes.appendLittleEndian(UInt64(count))
        }
        bytes.append(contentsOf: fingerprintBytes)
        switch termKind {
        case .tokenIDs:
            for id in tokenIDs { bytes.appendLittleEndian(UInt64(bitPattern: Int64(id))) }
        case .words:
            for word in words { bytes.appendLittleEndian(UInt32(word.utf8.count)) }
            for word in words { bytes.append(contentsOf: word.utf8) }
        }
        for term in 0..<termCount { bytes.appendLittleEndian(UInt32(offsets[term + 1] - offsets[term])) }
        if UInt32(1).littleEndian == 1 {
            // The in-memory Int32s are already the file's little-endian UInt32s (all are ≥ 0).
            postings.withUnsafeBytes { bytes.append(contentsOf: $0) }
        } else {
            for document in postings { bytes.appendLittleEndian(UInt32(document)) }
        }
        let checksum = bytes.withUnsafeBytes { TermIndexFileFormat.checksum($0) }
        bytes.appendLittleEndian(checksum)
        assert(bytes.count == size)
        return bytes
    }
}

extension Array where Element == UInt8 {
    /// Appends the little-endian bytes of `value`.
    mutating func appendLittleEndian<Value: FixedWidthInteger>(_ value: Value) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
