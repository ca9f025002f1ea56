import Foundation
import _TestSupport
import Testing
import Formats

@Suite("JSONLinesReader")
struct JSONLinesReaderTests {
    let directory: TemporaryDirectory
    init() throws { directory = try TemporaryDirectory() }

    func readAll(_ text: String, chunkSize: Int = 1 << 20, name: String = "data.jsonl") throws -> [(Int, [String: JSONValue])] {
        let url = try directory.write(Array(text.utf8), to: name)
        let reader = try JSONLinesReader(contentsOf: url, chunkSize: chunkSize)
        var records: [(Int, [String: JSONValue])] = []
        try reader.forEachObject { records.append(($0, $1)) }
        return records
    }

    @Test func yieldsOneObjectPerNonEmptyLineWithItsLineNumber() throws {
        let text = "{\"id\": 1, \"text\": \"a\"}\n\n   \n{\"id\": 2, \"tags\": [\"x\", null]}\r\n{\"id\": 3}"
        let records = try readAll(text)
        #expect(records.map(\.0) == [1, 4, 5])
        #expect(records.map { $0.1["id"]?.intValue } == [1, 2, 3])
        #expect(records[1].1["tags"] == ["x", nil])
        #expect(records[0].1["text"]?.stringValue == "a")
    }

    @Test func tinyChunksGiveTheSameRecordsAsOneLargeRead() throws {
        var text = "\u{FEFF}"
        for i in 0..<500 { text += "{\"i\": \(i), \"s\": \"\(String(repeating: "é", count: i % 37))\"}\n" }
        for chunkSize in [1, 3, 7, 64, 4096] {
            let records = try readAll(text, chunkSize: chunkSize)
            #expect(records.count == 500)
            #expect(records.map { $0.1["i"]?.intValue } == (0..<500).map { $0 })
            #expect(records.last?.1["s"]?.stringValue == String(repeating: "é", count: 499 % 37))
        }
    }

    @Test func invalidJSONNamesTheFileAndLine() throws {
        let url = try directory.write(Array("{\"a\": 1}\n{\"a\": 2}\n\n{\"a\": ,}\n".utf8), to: "broken.jsonl")
        let reader = try JSONLinesReader(contentsOf: url)
        #expect(try reader.nextObject()?["a"] == 1)
        #expect(try reader.nextObject()?["a"] == 2)
        let error = #expect(throws: JSONLinesError.self) { try reader.nextObject() }
        guard case .invalidJSON(let path, let line, _)? = error else {
            Issue.record("expected invalidJSON, got \(String(describing: error))")
            return
        }
        #expect(path == url.path && line == 4)
        #expect(error?.description.contains("broken.jsonl:4:") == true)
    }

    @Test func aLineThatIsNotAnObjectNamesTheFileAndLine() throws {
        let url = try directory.write(Array("{}\n[1, 2]\n".utf8), to: "array.jsonl")
        let error = #expect(throws: JSONLinesError.self) { try JSONLines.readObjects(from: url) }
        #expect(error == .notAnObject(path: url.path, line: 2, found: "array"))
        #expect(error?.description.contains("array.jsonl:2:") == true)
    }

    @Test func aMissingFileNamesThePath() throws {
        let url = directory.file("absent.jsonl")
        let error = #expect(throws: JSONLinesError.self) { try JSONLinesReader(contentsOf: url) }
        #expect(error?.description.contains(url.path) == true)
    }

    @Test func emptyFileHasNoRecords() throws {
        #expect(try readAll("").isEmpty)
        #expect(try readAll("\n\n").isEmpty)
    }
}
