import Foundation
import _TestSupport
import Testing
import Formats

@Suite("JSONLinesWriter")
struct JSONLinesWriterTests {
    let directory: TemporaryDirectory
    init() throws { directory = try TemporaryDirectory() }

    @Test func writtenRecordsReadBackEqual() throws {
        let records: [[String: JSONValue]] = [
            ["text": "first line\nwith a break", "label": 0],
            ["text": "ünïcödé \"quoted\"", "label": 1, "extra": ["nested": [1.5, true, nil]]],
            [:],
        ]
        let url = directory.file("out.jsonl")
        try JSONLines.write(records, to: url)
        #expect(try JSONLines.readObjects(from: url) == records)
    }

    @Test func eachRecordIsOneCompactLineWithSortedKeys() throws {
        let url = directory.file("out.jsonl")
        try JSONLines.write(to: url) { writer in
            try writer.append(["b": 2, "a": "x"])
            try writer.append(["z": [1, 2]])
            #expect(writer.recordCount == 2)
        }
        #expect(try String(contentsOf: url, encoding: .utf8) == "{\"a\":\"x\",\"b\":2}\n{\"z\":[1,2]}\n")
    }

    @Test func anUnencodableRecordNamesItsLineAndLeavesTheOldFile() throws {
        let url = try directory.write(Array("{\"old\":true}\n".utf8), to: "out.jsonl")
        let error = #expect(throws: JSONLinesError.self) {
            try JSONLines.write([["ok": 1], ["loss": .number(.nan)]], to: url)
        }
        guard case .unencodableRecord(let path, let line, _)? = error else {
            Issue.record("expected unencodableRecord, got \(String(describing: error))")
            return
        }
        #expect(path == url.path && line == 2)
        #expect(try String(contentsOf: url, encoding: .utf8) == "{\"old\":true}\n")
        #expect(try directory.contents() == ["out.jsonl"])
    }
}
