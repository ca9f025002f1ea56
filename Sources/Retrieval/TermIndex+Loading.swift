import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension TermIndex {
    /// Reads an index written by ``save(to:fingerprint:)``, and the fingerprint saved with it.
    ///
    /// The file is treated as hostile. Before anything is allocated from a declared count, the
    /// counts in the header must add up to exactly the file's size; then the checksum must
    /// match; then every part is checked against the declared counts: the fingerprint and words
    /// must be UTF-8, terms strictly increasing, each n_t in 1…C and their sum P, each posting
    /// below C and strictly increasing within its term. Memory is bounded by a small multiple of
    /// the file size.
    ///
    /// One count cannot be checked against the file: C, since documents without terms leave no
    /// trace in the postings. A file may claim up to 2³¹ − 1 documents, and scoring allocates
    /// 8 · C bytes per thread, so a caller should compare ``documentCount`` with the size of its
    /// training set, or use ``init(contentsOf:expectingFingerprint:documentCount:)``.
    ///
    /// - Returns: the index and the fingerprint given when it was saved.
    /// - Throws: ``RetrievalFileError`` naming the file, the field (`header.termCount`,
    ///   `postings[12][3]`) and what is wrong: `.unreadable`, `.malformed` (not an index file),
    ///   `.unsupported` (another version or term kind), `.invalidValue` (truncated, corrupted or
    ///   inconsistent).
    public static func load(contentsOf url: URL) throws -> (index: TermIndex, fingerprint: String) {
        let bytes = try readWholeFile(url)
        return try bytes.withUnsafeBytes { try decode($0, file: url.path) }
    }

    /// Reads an index and checks that it was built over the caller's documents: saved with the
    /// fingerprint `expectedFingerprint` and, when `documentCount` is given, over that many.
    ///
    /// - Throws: what ``load(contentsOf:)`` throws, or ``RetrievalFileError`` of kind
    ///   `.fingerprintMismatch` naming both fingerprints (or both counts) when the index was
    ///   built over other data.
    public init(contentsOf url: URL, expectingFingerprint expectedFingerprint: String, documentCount: Int? = nil) throws {
        let (index, fingerprint) = try Self.load(contentsOf: url)
        guard fingerprint == expectedFingerprint else {
            throw RetrievalFileError(
                .fingerprintMismatch, file: url.path, field: "fingerprint",
                message: "the index was built over documents with fingerprint \"\(fingerprint)\", expected \"\(expectedFingerprint)\"")
        }
        if let documentCount, index.documentCount != documentCount {
            throw RetrievalFileError(
                .fingerprintMismatch, file: url.path, field: "header.documentCount",
                message: "the index was built over \(index.documentCount) documents, expected \(documentCount)")
        }
        self = index
    }

    /// Decodes the bytes of an index file; see ``TermIndexFileFormat``.
    static func decode(_ bytes: UnsafeRawBufferPointer, file: String) throws -> (index: TermIndex, fingerprint: String) {
        func invalid(_ field: String?, _ message: String) -> RetrievalFileError {
            RetrievalFileError(.invalidValue, file: file, field: field, message: message)
        }
        let size = bytes.count
        let magic = TermIndexFileFormat.magic
        guard bytes.prefix(magic.count).elementsEqual(magic.prefix(size)) else {
            throw RetrievalFileError(.malformed, file: file, field: "magic", message: "not a term index file: it does not start with \"TFIDFIDX\"")
        }
        let minimumSize = TermIndexFileFormat.headerSize + TermIndexFileFormat.checksumSize
        guard size >= minimumSize else {
            throw invalid(nil, "truncated: \(size) bytes, a term index file has at least \(minimumSize)")
        }
        var reader = ByteReader(bytes: bytes, file: file)
        reader.offset = magic.count
        let version = try reader.uint32("header.version")
        guard version == TermIndexFileFormat.version else {
            throw RetrievalFileError(
                .unsupported, file: file, field: "header.version",
                message: "version \(version); this library reads version \(TermIndexFileFormat.version)")
        }
        let kindValue = try reader.uint32("header.termKind")
        guard let termKind = TermKind(rawValue: kindValue) else {
            throw RetrievalFileError(
                .unsupported, file: file, field: "header.termKind",
                message: "term kind \(kindValue); expected 0 (token ids) or 1 (words)")
        }
        // Each count is first bounded by the file size, so that the arithmetic below cannot overflow.
        func count(_ field: String, atMost limit: Int) throws -> Int {
            let value = try reader.uint64(field)
            guard value <= UInt64(limit) else { throw invalid(field, "\(value) is more than the file of \(size) bytes can hold") }
            return Int(value)
        }
        let documentCount = try reader.uint64("header.documentCount")
        guard documentCount <= UInt64(Int32.max) else {
            throw invalid("header.documentCount", "\(documentCount) documents; an index holds at most \(Int32.max)")
        }
        let documents = Int(documentCount)
        let termCount = try count("header.termCount", atMost: size / 4)
        let postingCount = try count("header.postingCount", atMost: size / 4)
        let fingerprintLength = try count("header.fingerprintLength", atMost: size)
        let termBytes = try count("header.termBytes", atMost: size)
        guard termCount <= postingCount else {
            throw invalid("header.termCount", "\(termCount) terms but \(postingCount) postings; every term is in at least one document")
        }
        guard postingCount == 0 || documents > 0 else {
            throw invalid("header.postingCount", "\(postingCount) postings in a collection of 0 documents")
        }
        switch termKind {
        case .tokenIDs:
            guard termBytes == 8 * termCount else {
                throw invalid("header.termBytes", "\(termBytes) bytes for \(termCount) token ids, expected \(8 * termCount)")
            }
        case .words:
            guard termBytes >= 5 * termCount else {
                throw invalid("header.termBytes", "\(termBytes) bytes cannot hold \(termCount) lengths and non-empty words")
            }
        }
        let declaredSize = minimumSize + fingerprintLength + termBytes + 4 * termCount + 4 * postingCount
        guard declaredSize == size else {
            throw invalid(
                "header",
                "the counts (fingerprint \(fingerprintLength) bytes, terms \(termBytes) bytes, \(termCount) terms, "
                    + "\(postingCount) postings) make a file of \(declaredSize) bytes, but it has \(size)"
                    + (declaredSize > size ? " (truncated?)" : ""))
        }

        let storedChecksum = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: size - 8, as: UInt64.self))
        let checksum = TermIndexFileFormat.checksum(UnsafeRawBufferPointer(rebasing: bytes[..<(size - 8)]))
        guard storedChecksum == checksum else {
            throw invalid("checksum", "stored \(hex(storedChecksum)), computed \(hex(checksum)); the file is corrupted")
        }

        let fingerprintBytes = try reader.bytes(fingerprintLength, "fingerprint")
        guard let fingerprint = String(validating: fingerprintBytes, as: UTF8.self) else {
            throw invalid("fingerprint", "not valid UTF-8")
        }

        var tokenIDs: [Int] = []
        var words: [String] = []
        switch termKind {
        case .tokenIDs:
            tokenIDs.reserveCapacity(termCount)
            for term in 0..<termCount {
                let id = Int64(bitPattern: try reader.uint64("terms[\(term)]"))
                guard let value = Int(exactly: id) else { throw invalid("terms[\(term)]", "token id \(id) does not fit in Int") }
                if let previous = tokenIDs.last, previous >= value {
                    throw invalid("terms[\(term)]", "token id \(value) does not come after \(previous); terms must be strictly increasing")
                }
                tokenIDs.append(value)
            }
        case .words:
            var lengths: [Int] = []
            lengths.reserveCapacity(termCount)
            var remaining = termBytes - 4 * termCount
            for term in 0..<termCount {
                let length = Int(try reader.uint32("terms[\(term)].length"))
                guard length >= 1 && length <= remaining else {
                    throw invalid(
                        "terms[\(term)].length", length == 0 ? "an empty word" : "\(length) bytes, but only \(remaining) are left in the term section")
                }
                remaining -= length
                lengths.append(length)
            }
            guard remaining == 0 else { throw invalid("header.termBytes", "\(remaining) bytes of the term section belong to no word") }
            words.reserveCapacity(termCount)
            for (term, length) in lengths.enumerated() {
                let wordBytes = try reader.bytes(length, "terms[\(term)]")
                guard let word = String(validating: wordBytes, as: UTF8.self) else {
                    throw invalid("terms[\(term)]", "not valid UTF-8")
                }
                if let previous = words.last, !(previous < word) {
                    throw invalid(
                        "terms[\(term)]", "\(word.debugDescription) does not come after \(previous.debugDescription); terms must be strictly increasing")
                }
                words.append(word)
            }
        }

        var offsets = [Int](repeating: 0, count: termCount + 1)
        for term in 0..<termCount {
            let frequency = Int(try reader.uint32("documentFrequencies[\(term)]"))
            guard frequency >= 1 && frequency <= documents else {
                throw invalid("documentFrequencies[\(term)]", "\(frequency) documents; expected 1...\(documents)")
            }
            guard frequency <= postingCount - offsets[term] else {
                throw invalid("documentFrequencies[\(term)]", "the frequencies so far add up to more than the \(postingCount) postings")
            }
            offsets[term + 1] = offsets[term] + frequency
        }
        guard offsets[termCount] == postingCount else {
            throw invalid("documentFrequencies", "they add up to \(offsets[termCount]), not to the \(postingCount) postings")
        }

        let postingBytes = try reader.bytes(4 * postingCount, "postings")
        var postings = [Int32](repeating: 0, count: postingCount)
        postings.withUnsafeMutableBytes { $0.copyMemory(from: postingBytes) }
        if UInt32(1).littleEndian != 1 {
            for position in postings.indices { postings[position] = Int32(littleEndian: postings[position]) }
        }
        try postings.withUnsafeBufferPointer { postings in
            for term in 0..<termCount {
                var previous: Int64 = -1
                for position in offsets[term]..<offsets[term + 1] {
                    let document = Int64(UInt32(bitPattern: postings[position]))
                    guard document < Int64(documents) && document > previous else {
                        let field = "postings[\(term)][\(position - offsets[term])]"
                        if document >= Int64(documents) {
                            throw invalid(field, "document \(document) is outside 0..<\(documents)")
                        }
                        throw invalid(field, "document \(document) does not come after \(previous); postings must be strictly increasing")
                    }
                    previous = document
                }
            }
        }
        try reader.expectOffset(size - TermIndexFileFormat.checksumSize)
        let index = TermIndex(
            termKind: termKind, documentCount: documents, tokenIDs: tokenIDs, words: words,
            offsets: offsets, postings: postings)
        return (index, fingerprint)
    }
}

private func hex(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 16 - digits.count) + digits
}

/// Reads little-endian fields from a buffer, every read checked against its end.
private struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let file: String
    var offset = 0

    init(bytes: UnsafeRawBufferPointer, file: String) {
        self.bytes = bytes
        self.file = file
    }

    private func truncated(_ field: String, _ count: Int) -> RetrievalFileError {
        RetrievalFileError(
            .invalidValue, file: file, field: field,
            message: "truncated: \(count) bytes needed at offset \(offset), the file has \(bytes.count)")
    }

    mutating func bytes(_ count: Int, _ field: String) throws -> UnsafeRawBufferPointer {
        guard count >= 0 && count <= bytes.count - offset else { throw truncated(field, count) }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    mutating func uint32(_ field: String) throws -> UInt32 {
        UInt32(littleEndian: try bytes(4, field).loadUnaligned(as: UInt32.self))
    }

    mutating func uint64(_ field: String) throws -> UInt64 {
        UInt64(littleEndian: try bytes(8, field).loadUnaligned(as: UInt64.self))
    }

    /// Checks that the sections ended where the header said.
    func expectOffset(_ expected: Int) throws {
        guard offset == expected else {
            throw RetrievalFileError(.invalidValue, file: file, message: "the sections end at offset \(offset), expected \(expected)")
        }
    }
}

/// The bytes of the regular file at `url`.
///
/// - Throws: ``RetrievalFileError`` of kind `.unreadable` naming the file.
func readWholeFile(_ url: URL) throws -> [UInt8] {
    let path = url.path
    func failure(_ message: String) -> RetrievalFileError { RetrievalFileError(.unreadable, file: path, message: message) }
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { throw failure("cannot open: \(errnoText())") }
    defer { close(descriptor) }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else { throw failure("cannot examine: \(errnoText())") }
    guard (status.st_mode & S_IFMT) == S_IFREG else { throw failure("not a regular file") }
    let size = Int(status.st_size)
    var bytes = [UInt8](repeating: 0, count: size)
    var filled = 0
    try bytes.withUnsafeMutableBytes { buffer in
        while filled < size {
            let result = read(descriptor, buffer.baseAddress! + filled, size - filled)
            if result < 0 {
                if errno == EINTR { continue }
                throw failure("cannot read: \(errnoText())")
            }
            if result == 0 { break }  // The file shrank while being read.
            filled += result
        }
    }
    bytes.removeLast(size - filled)
    return bytes
}
