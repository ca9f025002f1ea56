import Foundation
import Retrieval
import Testing

@Suite struct CandidateFileTests {
    @Test func writtenCandidatesReadBackExactly() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("candidates.jsonl")
        let lists = [
            Candidates(documents: [3, 0, 1], scores: [log(10.0 / 3.0) + log(10.0 / 7.0), log(10.0 / 7.0), 1e-7]),
            Candidates(documents: [], scores: []),
            Candidates(documents: [2, 4], scores: [1e300, Double.leastNonzeroMagnitude]),
            Candidates(documents: [0], scores: [0]),
        ]
        try CandidateFile.write(lists, to: file)
        #expect(try CandidateFile.read(contentsOf: file, documentCount: 5, queryCount: 4) == lists)
        let text = try String(contentsOf: file, encoding: .utf8)
        #expect(text.hasPrefix("{\"query_index\":0,\"candidates\":[3,0,1],\"scores\":[1.5606477482646686,0.3566749439387324,1e-07]}\n"))
        #expect(text.split(separator: "\n").count == 4)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["candidates.jsonl"])
    }

    @Test func candidatesOfAnIndexRoundTripThroughTheStreamingWriter() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("candidates.jsonl")
        let index = TermIndex(tokenDocuments: TestSupport.randomDocuments(count: 500, length: 20, vocabularySize: 200, seed: 12))
        let queries = TestSupport.randomDocuments(count: 30, length: 10, vocabularySize: 200, seed: 13)
        let lists = index.candidates(forTokenQueries: queries, count: .fraction(0.05))
        try CandidateFile.write(to: file) { writer in
            for list in lists { try writer.append(list) }
            #expect(writer.recordCount == 30)
        }
        #expect(try CandidateFile.read(contentsOf: file, documentCount: 500) == lists)
    }

    @Test func readingAcceptsOtherJSONLayoutsAndLineEndings() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("candidates.jsonl")
        try Data(
            "{ \"scores\": [2, 1.5], \"candidates\": [1, 0], \"query_index\": 0, \"extra\": true }\r\n{\"query_index\":1,\"candidates\":[],\"scores\":[]}".utf8
        )
        .write(to: file)
        #expect(
            try CandidateFile.read(contentsOf: file, documentCount: 2)
                == [Candidates(documents: [1, 0], scores: [2, 1.5]), Candidates(documents: [], scores: [])])
    }

    @Test(
        arguments: [
            (#"{"query_index":2,"candidates":[0],"scores":[1]}"#, 2, "query_index"),
            (#"{"query_index":0,"query_index":0,"candidates":[0],"scores":[1]}"#, 2, "query_index"),
            (#"{"query_index":0,"candidates":[0],"scores":[1e999]}"#, 2, "scores[0]"),
            (#"{"query_index":0,"candidates":[99999999999999999999],"scores":[1]}"#, 2, "candidates[0]"),
            (#"{"query_index":0,"candidates":[0],"scores":[1],"nested":[[[{"a":[1,{"b":null}]}]]]} x"#, 2, nil),
            (#"{"query_index":0,"candidates":[0,7],"scores":[1,1]}"#, 2, "candidates[1]"),
            (#"{"query_index":0,"candidates":[-1],"scores":[1]}"#, 2, "candidates[0]"),
            (#"{"query_index":0,"candidates":[2,1,2],"scores":[3,2,1]}"#, 2, "candidates[2]"),
            (#"{"query_index":0,"candidates":[0,1],"scores":[1]}"#, 2, "scores"),
            (#"{"query_index":0,"candidates":[0,1],"scores":[1,2]}"#, 2, "scores[1]"),
            (#"{"query_index":0,"candidates":[1.5],"scores":[1]}"#, 2, "candidates[0]"),
            (#"{"query_index":0,"candidates":[0],"scores":["high"]}"#, 2, "scores[0]"),
            (#"{"query_index":0,"candidates":[0]}"#, 2, "scores"),
            (#"{"query_index":0,"candidates":[0],"scores":[1]"#, 2, nil),
            ("", 2, nil),
            ("[1, 2, 3]", 2, nil),
        ] as [(String, Int, String?)])
    func aBadRecordIsNamedByFileLineAndField(record: String, line: Int, field: String?) throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("candidates.jsonl")
        let good = #"{"query_index":0,"candidates":[3,1],"scores":[2,1]}"#
        // The bad record is the second line; an empty one is only bad when something follows it.
        let text =
            record.isEmpty
            ? good + "\n\n" + good.replacingOccurrences(of: "\":0", with: "\":1") + "\n"
            : good + "\n" + record.replacingOccurrences(of: "\"query_index\":0", with: "\"query_index\":1") + "\n"
        try Data(text.utf8).write(to: file)
        let error = try #require(throws: RetrievalFileError.self, "\(record)") { try CandidateFile.read(contentsOf: file, documentCount: 5) }
        #expect(error.line == line, "\(error)")
        #expect(error.description.hasPrefix("\(file.path):\(line): "), "\(error)")
        if let field { #expect(error.field == field, "\(error)") }
    }

    @Test func theNumberOfRecordsMustMatchTheQueries() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("candidates.jsonl")
        try CandidateFile.write([Candidates(documents: [0], scores: [1])], to: file)
        let error = try #require(throws: RetrievalFileError.self) { try CandidateFile.read(contentsOf: file, documentCount: 1, queryCount: 2) }
        #expect(error.description == "\(file.path): 1 records, expected one for each of 2 queries")
        #expect(throws: RetrievalFileError.self) { try CandidateFile.read(contentsOf: directory.appendingPathComponent("missing.jsonl"), documentCount: 1) }
    }

    @Test func aFileMadeForOtherDataIsRefusedByItsDataMember() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("candidates.jsonl")
        let lists = [Candidates(documents: [1, 0], scores: [2, 1]), Candidates(documents: [0], scores: [0.5])]
        try CandidateFile.write(lists, to: file, data: "train:ab\"c/queries:12")
        let text = try String(contentsOf: file, encoding: .utf8)
        #expect(text.hasPrefix("{\"query_index\":0,\"candidates\":[1,0],\"scores\":[2.0,1.0],\"data\":\"train:ab\\\"c/queries:12\"}\n"))
        #expect(try CandidateFile.read(contentsOf: file, documentCount: 2, data: "train:ab\"c/queries:12") == lists)
        #expect(try CandidateFile.read(contentsOf: file, documentCount: 2) == lists)
        let error = try #require(throws: RetrievalFileError.self) {
            try CandidateFile.read(contentsOf: file, documentCount: 2, data: "train:other/queries:12")
        }
        #expect(error.kind == .fingerprintMismatch && error.line == 1 && error.field == "data", "\(error)")
        // A hand-written file without the member is taken as it is.
        try CandidateFile.write(lists, to: file)
        #expect(try CandidateFile.read(contentsOf: file, documentCount: 2, data: "anything") == lists)
    }
}
