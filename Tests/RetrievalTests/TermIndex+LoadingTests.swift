import Foundation
import Retrieval
import Testing

/// A saved index is treated as hostile input: every damaged file must give a
/// `RetrievalFileError` naming the file, or load an index that is exactly what the file says.
@Suite struct TermIndexLoadingTests {
    /// A small index with ids and one with words, and their files' bytes.
    static func samples() throws -> [(index: TermIndex, fingerprint: String, bytes: [UInt8])] {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("sample.tfidf")
        var documents = TestSupport.randomDocuments(count: 12, length: 6, vocabularySize: 20, seed: 31)
        documents[3] += [-7, 1 << 33]
        let ids = TermIndex(tokenDocuments: documents)
        let words = TermIndex(texts: ["the quick brown fox", "jumps over", "the lazy dog", "", "naïve café 東京", "over the top"])
        return try [(ids, "sha256:0123456789abcdef"), (words, "fingerprint ✓")].map { index, fingerprint in
            try index.save(to: file, fingerprint: fingerprint)
            return (index, fingerprint, [UInt8](try Data(contentsOf: file)))
        }
    }

    /// Loads `bytes` from a file; nil when loading threw a `RetrievalFileError` naming the file.
    /// Any other error fails the test.
    static func load(_ bytes: [UInt8], in directory: URL) throws -> (index: TermIndex, fingerprint: String)? {
        let file = directory.appendingPathComponent("damaged.tfidf")
        try Data(bytes).write(to: file)
        do {
            return try TermIndex.load(contentsOf: file)
        } catch let error as RetrievalFileError {
            #expect(error.file == file.path)
            #expect(error.description.hasPrefix(file.path + ": "))
            return nil
        }
    }

    @Test func corruptedBytesAreRejectedOrLoadCorrectly() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var generator = SplitMix64(seed: 20_231_001)
        for sample in try Self.samples() {
            var rejected = 0, changed = 0
            for _ in 0..<400 {
                var bytes = sample.bytes
                for _ in 0..<Int.random(in: 1...3, using: &generator) {
                    let position = Int.random(in: 0..<bytes.count, using: &generator)
                    bytes[position] ^= UInt8.random(in: 1...255, using: &generator)
                }
                if bytes == sample.bytes { continue }  // Two changes of one byte undid each other.
                if let loaded = try Self.load(bytes, in: directory) {
                    #expect(loaded.index == sample.index && loaded.fingerprint == sample.fingerprint)
                } else {
                    rejected += 1
                }
                changed += 1
            }
            // The checksum catches every one- to three-byte change here.
            #expect(rejected == changed)
        }
    }

    /// Corruption that keeps the checksum right, as a hostile writer would: the structural checks
    /// alone must stop it. An accepted file must be exactly what the loaded index saves.
    @Test func corruptionWithAValidChecksumIsRejectedOrLoadsWhatTheFileSays() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var generator = SplitMix64(seed: 77)
        for sample in try Self.samples() {
            var accepted = 0
            for trial in 0..<1500 {
                var bytes = sample.bytes
                for _ in 0..<Int.random(in: 1...2, using: &generator) {
                    // Half the trials aim at the header, where the counts are.
                    let range = trial % 2 == 0 ? 0..<56 : 0..<(bytes.count - 8)
                    let position = Int.random(in: range, using: &generator)
                    bytes[position] = trial % 3 == 0 ? 0xFF : UInt8.random(in: 0...255, using: &generator)
                }
                bytes = TestSupport.withFixedChecksum(bytes)
                guard let loaded = try Self.load(bytes, in: directory) else { continue }
                accepted += 1
                let resaved = directory.appendingPathComponent("resaved.tfidf")
                try loaded.index.save(to: resaved, fingerprint: loaded.fingerprint)
                #expect([UInt8](try Data(contentsOf: resaved)) == bytes, "trial \(trial)")
                // And it can be queried without trouble, unless it claims so many (empty) documents
                // that the dense scores would not fit: the one count a file cannot be checked on.
                guard loaded.index.documentCount <= 1_000_000 else { continue }
                let count = Candidates.Count.count(max(1, loaded.index.documentCount))
                switch loaded.index.termKind {
                case .tokenIDs: _ = loaded.index.candidates(forTokenQueries: [[0, 1, 2, 3, -7], [19]], count: count)
                case .words: _ = loaded.index.candidates(forTextQueries: ["the fox", "café"], count: count)
                }
            }
            // Some changes (a posting moved within its gap, a fingerprint letter) are valid files, so
            // both branches above are exercised (46 and 55 of 1500 with this seed).
            #expect(accepted > 0 && accepted < 1500)
        }
    }

    @Test func everyTruncationAndAnyExtensionIsRejected() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for sample in try Self.samples() {
            for length in 0..<sample.bytes.count {
                #expect(try Self.load(Array(sample.bytes.prefix(length)), in: directory) == nil, "length \(length)")
                // Truncated with a fresh checksum, too.
                #expect(
                    try Self.load(TestSupport.withFixedChecksum(Array(sample.bytes.prefix(length))), in: directory) == nil,
                    "length \(length), fixed checksum")
            }
            #expect(try Self.load(sample.bytes + [0], in: directory) == nil)
            #expect(try Self.load(TestSupport.withFixedChecksum(sample.bytes + [0, 0, 0, 0]), in: directory) == nil)
            #expect(try Self.load(sample.bytes, in: directory) != nil)
        }
    }

    /// Each lie in a header or section, with a correct checksum, and the field the error must name.
    @Test func lyingFieldsAreNamedInTheError() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("lie.tfidf")
        // Token ids [1, 2, 3, 4] with n = [1, 3, 2, 1], postings [0 | 0 1 3 | 1 2 | 3]; see the saving tests.
        try TermIndex(tokenDocuments: TermIndexTests.documents).save(to: file, fingerprint: "fp")
        let good = [UInt8](try Data(contentsOf: file))
        let terms = 58, frequencies = 90, postings = 106
        let cases: [(name: String, offset: Int, width: Int, value: UInt64, field: String?, kind: RetrievalFileError.Kind)] = [
            ("version", 8, 4, 2, "header.version", .unsupported),
            ("term kind", 12, 4, 9, "header.termKind", .unsupported),
            ("document count beyond Int32", 16, 8, 1 << 31, "header.documentCount", .invalidValue),
            ("huge term count", 24, 8, UInt64.max, "header.termCount", .invalidValue),
            ("term count 2^60", 24, 8, 1 << 60, "header.termCount", .invalidValue),
            ("huge posting count", 32, 8, 1 << 62, "header.postingCount", .invalidValue),
            ("posting count one more", 32, 8, 8, "header", .invalidValue),
            ("huge fingerprint", 40, 8, UInt64.max - 7, "header.fingerprintLength", .invalidValue),
            ("term bytes not 8V", 48, 8, 31, "header.termBytes", .invalidValue),
            ("terms not increasing", terms + 8, 8, 1, "terms[1]", .invalidValue),
            ("zero frequency", frequencies, 4, 0, "documentFrequencies[0]", .invalidValue),
            ("frequency above C", frequencies + 4, 4, 5, "documentFrequencies[1]", .invalidValue),
            // n = [1, 4, 2, 1] reaches P = 7 after three terms, leaving none for the fourth.
            ("frequencies beyond the postings", frequencies + 4, 4, 4, "documentFrequencies[3]", .invalidValue),
            ("zero last frequency", frequencies + 12, 4, 0, "documentFrequencies[3]", .invalidValue),
            ("frequencies short of P", frequencies + 8, 4, 1, "documentFrequencies", .invalidValue),
            ("posting outside the documents", postings + 4 * 3, 4, 4, "postings[1][2]", .invalidValue),
            ("negative posting", postings + 4 * 3, 4, 0xFFFF_FFFF, "postings[1][2]", .invalidValue),
            ("postings not increasing", postings + 4 * 2, 4, 0, "postings[1][1]", .invalidValue),
            ("fingerprint not UTF-8", 56, 1, 0xC3, "fingerprint", .invalidValue),
        ]
        for lie in cases {
            let bytes = TestSupport.withFixedChecksum(TestSupport.writingInteger(lie.value, into: good, at: lie.offset, width: lie.width))
            try Data(bytes).write(to: file)
            let error = try #require(throws: RetrievalFileError.self, "\(lie.name)") { try TermIndex.load(contentsOf: file) }
            #expect(error.field == lie.field, "\(lie.name): \(error)")
            #expect(error.kind == lie.kind, "\(lie.name): \(error)")
            #expect(error.description.hasPrefix(file.path + ": "), "\(lie.name): \(error)")
        }
        // Without the fixed checksum the change is reported as corruption.
        try Data(TestSupport.writingInteger(5, into: good, at: postings, width: 4)).write(to: file)
        let corrupted = try #require(throws: RetrievalFileError.self) { try TermIndex.load(contentsOf: file) }
        #expect(corrupted.field == "checksum")
    }

    @Test func lyingWordSectionsAreNamedInTheError() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("words.tfidf")
        // Words "ab", "b", "c" (fingerprint empty): lengths at 56, 60, 64, then "abbc" at 68.
        try TermIndex(texts: ["ab b", "c"]).save(to: file, fingerprint: "")
        let good = [UInt8](try Data(contentsOf: file))
        let cases: [(name: String, offset: Int, width: Int, value: UInt64, field: String)] = [
            ("empty word", 56, 4, 0, "terms[0].length"),
            ("word beyond the section", 60, 4, 9, "terms[1].length"),
            ("lengths short of the section", 56, 4, 1, "header.termBytes"),
            ("words not increasing", 68, 1, UInt64(UInt8(ascii: "c")), "terms[1]"),
            ("word not UTF-8", 71, 1, 0xFF, "terms[2]"),
            ("term bytes too small", 48, 8, 14, "header.termBytes"),
        ]
        for lie in cases {
            let bytes = TestSupport.withFixedChecksum(TestSupport.writingInteger(lie.value, into: good, at: lie.offset, width: lie.width))
            try Data(bytes).write(to: file)
            let error = try #require(throws: RetrievalFileError.self, "\(lie.name)") { try TermIndex.load(contentsOf: file) }
            #expect(error.field == lie.field, "\(lie.name): \(error)")
        }
        // Two spellings of one word (precomposed and decomposed é) are one term, so a file with both
        // is refused. Words "cafaa", "cafe\u{301}" (5 and 6 bytes from offset 64); the first becomes "caf\u{E9}".
        try TermIndex(texts: ["cafaa cafe\u{301}"]).save(to: file, fingerprint: "")
        var twins = [UInt8](try Data(contentsOf: file))
        #expect(Array(twins[64..<69]) == Array("cafaa".utf8))
        twins.replaceSubrange(64..<69, with: Array("caf\u{E9}".utf8))
        try Data(TestSupport.withFixedChecksum(twins)).write(to: file)
        let error = try #require(throws: RetrievalFileError.self) { try TermIndex.load(contentsOf: file) }
        #expect(error.field == "terms[1]", "\(error)")
    }

    @Test func otherFilesAreRefusedByName() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("missing.tfidf")
        let error = try #require(throws: RetrievalFileError.self) { try TermIndex.load(contentsOf: missing) }
        #expect(error.kind == .unreadable && error.description.hasPrefix(missing.path + ": "))
        #expect(throws: RetrievalFileError.self) { try TermIndex.load(contentsOf: directory) }
        let text = directory.appendingPathComponent("text.tfidf")
        try Data("{\"not\": \"an index\"} and some more bytes to pass 64".utf8).write(to: text)
        let magic = try #require(throws: RetrievalFileError.self) { try TermIndex.load(contentsOf: text) }
        #expect(magic.kind == .malformed && magic.field == "magic")
    }

    @Test func anIndexOfOtherDocumentsIsRefusedByItsFingerprint() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("index.tfidf")
        let index = TermIndex(tokenDocuments: [[1, 2], [3]])
        try index.save(to: file, fingerprint: "train-v1")
        #expect(try TermIndex(contentsOf: file, expectingFingerprint: "train-v1") == index)
        let error = try #require(throws: RetrievalFileError.self) { try TermIndex(contentsOf: file, expectingFingerprint: "train-v2") }
        #expect(error.kind == .fingerprintMismatch)
        #expect(error.description.contains("\"train-v1\"") && error.description.contains("\"train-v2\""))
        #expect(try TermIndex(contentsOf: file, expectingFingerprint: "train-v1", documentCount: 2) == index)
        let count = try #require(throws: RetrievalFileError.self) {
            try TermIndex(contentsOf: file, expectingFingerprint: "train-v1", documentCount: 3)
        }
        #expect(count.description == "\(file.path): header.documentCount: the index was built over 2 documents, expected 3")
    }
}
