import Foundation
import Retrieval
import Testing

@Suite struct TermIndexSavingTests {
    @Test func aSavedIndexLoadsEqualWithItsFingerprint() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("index.tfidf")
        let indexes = [
            TermIndex(tokenDocuments: TestSupport.randomDocuments(count: 400, length: 30, vocabularySize: 300, seed: 3)),
            TermIndex(tokenDocuments: [[-3, 1 << 50], [], [7]]),
            TermIndex(tokenDocuments: [[Int]]()),
            TermIndex(texts: ["Hello world", "", "naïve café, 東京 — hello"]),
        ]
        for (number, index) in indexes.enumerated() {
            let fingerprint = "sha256:\(number)-ünïcode"
            try index.save(to: file, fingerprint: fingerprint)
            let (loaded, loadedFingerprint) = try TermIndex.load(contentsOf: file)
            #expect(loaded == index, "index \(number)")
            #expect(loadedFingerprint == fingerprint)
            #expect(loaded.termKind == index.termKind)
        }
        // The loaded index answers as the original does.
        let original = indexes[0]
        try original.save(to: file, fingerprint: "")
        let loaded = try TermIndex.load(contentsOf: file).index
        let queries = TestSupport.randomDocuments(count: 10, length: 12, vocabularySize: 320, seed: 4)
        #expect(loaded.candidates(forTokenQueries: queries, count: .count(50)) == original.candidates(forTokenQueries: queries, count: .count(50)))
        let words = try TermIndex.load(
            contentsOf: {
                try indexes[3].save(to: file, fingerprint: "w"); return file
            }()
        ).index
        #expect(words.scores(forText: "HELLO") == indexes[3].scores(forText: "hello"))
    }

    @Test func theFileStartsWithTheDocumentedHeader() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("index.tfidf")
        try TermIndex(tokenDocuments: TermIndexTests.documents).save(to: file, fingerprint: "fp")
        let bytes = [UInt8](try Data(contentsOf: file))
        #expect(Array(bytes[0..<8]) == Array("TFIDFIDX".utf8))
        let field = { (offset: Int, width: Int) in TestSupport.readInteger(bytes, at: offset, width: width) }
        #expect(field(8, 4) == 1 && field(12, 4) == 0)  // version 1, token ids
        #expect(field(16, 8) == 4 && field(24, 8) == 4 && field(32, 8) == 7)  // C, V, P
        #expect(field(40, 8) == 2 && field(48, 8) == 32)  // F, T = 8V
        #expect(Array(bytes[56..<58]) == Array("fp".utf8))
        #expect((0..<4).map { field(58 + 8 * $0, 8) } == [1, 2, 3, 4])  // token ids
        #expect((0..<4).map { field(90 + 4 * $0, 4) } == [1, 3, 2, 1])  // n_t
        #expect((0..<7).map { field(106 + 4 * $0, 4) } == [0, 0, 1, 3, 1, 2, 3])  // postings
        #expect(bytes.count == 64 + 2 + 32 + 16 + 28)
        #expect(field(bytes.count - 8, 8) == TestSupport.fnv1a64(bytes.dropLast(8)))
    }

    @Test func savingReplacesTheFileAndLeavesNoTemporaryFile() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("index.tfidf")
        try Data("old contents".utf8).write(to: file)
        try TermIndex(tokenDocuments: [[1]]).save(to: file, fingerprint: "x")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["index.tfidf"])
        #expect(try TermIndex.load(contentsOf: file).index == TermIndex(tokenDocuments: [[1]]))
    }

    @Test func savingIntoAMissingDirectoryNamesTheFile() throws {
        let file = URL(fileURLWithPath: "/nonexistent-directory/index.tfidf")
        let error = try #require(throws: RetrievalFileError.self) { try TermIndex(tokenDocuments: [[1]]).save(to: file, fingerprint: "") }
        #expect(error.kind == .unwritable)
        #expect(error.description.hasPrefix("/nonexistent-directory/index.tfidf: "))
    }
}
