import Datasets
import Foundation
import _TestSupport
import Formats
import Testing
import Tokenizers

/// The tiny GPT-2 fixture of the ModelIO tests: its tokenizer, and the ids Hugging Face
/// `tokenizers` gave for some texts (written by scripts/fixtures/make_gpt2_fixtures.py).
enum TinyGPT2Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../ModelIOTests/Fixtures").standardizedFileURL

    static func tokenizer() throws -> BytePairTokenizer {
        try BytePairTokenizer(contentsOf: directory.appendingPathComponent("tiny-gpt2/tokenizer.json"))
    }

    /// (text, Hugging Face ids) pairs.
    static func referenceEncodings() throws -> [(text: String, ids: [Int])] {
        let data = try Data(contentsOf: directory.appendingPathComponent("tokenization.json"))
        guard case let .array(entries) = try JSONValue(parsing: data) else { throw DatasetError.empty(path: "tokenization.json") }
        return entries.compactMap { entry in
            guard let text = entry["text"]?.stringValue, case let .array(ids)? = entry["ids"] else { return nil }
            return (text, ids.compactMap(\.intValue))
        }
    }
}

/// Writes JSON Lines text (one row per element, joined by newlines) to a temporary file.
func jsonLinesFile(_ rows: [String], in directory: TemporaryDirectory, name: String = "data.jsonl") throws -> URL {
    try directory.write(rows.joined(separator: "\n") + "\n", to: name)
}

@Suite("Text datasets from JSON Lines")
struct TextDatasetTests {
    @Test func textRowsAreEncodedAsHuggingFaceDoes() throws {
        let references = try TinyGPT2Fixture.referenceEncodings()
        #expect(references.count >= 5)
        let directory = try TemporaryDirectory()
        let rows = try references.map { try JSONValue.object(["text": .string($0.text)]).serialized() }
        let dataset = try TextDataset.load(jsonLines: try jsonLinesFile(rows, in: directory), tokenizer: try TinyGPT2Fixture.tokenizer())
        #expect(dataset.count == references.count)
        for (i, reference) in references.enumerated() {
            #expect(dataset.sequences[i] == reference.ids, "\(reference.text.debugDescription)")
            #expect(dataset.texts[i] == reference.text)
        }
    }

    @Test func idRowsAreReadAsTheyAreAndMetadataIsKept() throws {
        let directory = try TemporaryDirectory()
        let url = try jsonLinesFile(
            [
                #"{"input_ids": [5, 0, 383], "source": "de/anekdoten", "language": "de"}"#,
                "",
                #"{"input_ids": [], "n": 3, "score": 0.5, "flag": true, "tags": ["a", 1]}"#,
                #"{"input_ids": [7.0]}"#,
            ], in: directory)
        let dataset = try TextDataset.load(jsonLines: url, tokenizer: nil, vocabularySize: 384)
        #expect(dataset.sequences == [[5, 0, 383], [], [7]])
        #expect(dataset.texts == ["", "", ""])
        #expect(
            dataset.metadata == [
                ["source": "de/anekdoten", "language": "de"],
                ["n": "3", "score": "0.5", "flag": "true", "tags": #"["a",1]"#],
                [:],
            ])
    }

    @Test func maximumLengthTruncatesIdAndTextRows() throws {
        let directory = try TemporaryDirectory()
        let hello = try #require(try TinyGPT2Fixture.referenceEncodings().first { $0.text == "Hello, world!" })
        let url = try jsonLinesFile([#"{"input_ids": [1, 2, 3, 4, 5, 6]}"#, #"{"input_ids": [1, 2]}"#, #"{"text": "Hello, world!"}"#], in: directory)
        let dataset = try TextDataset.load(jsonLines: url, tokenizer: try TinyGPT2Fixture.tokenizer(), maximumLength: 4)
        #expect(dataset.sequences == [[1, 2, 3, 4], [1, 2], Array(hello.ids.prefix(4))])
        #expect(dataset.texts[2] == "Hello, world!", "the text is kept whole")
    }

    @Test func writtenDocumentsLoadBackWithTheirSourceAndLanguage() throws {
        let directory = try TemporaryDirectory()
        let documents = [
            Document(text: "Hello, world!", source: "fortunes", language: "en"),
            Document(text: "Über den Wolken\n\"zitiert\"", source: "de/anekdoten", language: "de"),
        ]
        let url = directory.file("corpus.jsonl")
        try TextDataset.write(documents: documents, to: url)
        let tokenizer = try TinyGPT2Fixture.tokenizer()
        let dataset = try TextDataset.load(jsonLines: url, tokenizer: tokenizer)
        #expect(dataset.texts == documents.map(\.text))
        #expect(dataset.metadata == documents.map { ["source": $0.source, "language": $0.language] })
        #expect(dataset.sequences == documents.map { tokenizer.encode($0.text) })
    }

    // MARK: Errors naming file and line

    @Test func idsAtOrAboveTheVocabularySizeAreRejected() throws {
        let directory = try TemporaryDirectory()
        let url = try jsonLinesFile([#"{"input_ids": [0, 383]}"#, #"{"input_ids": [12, 384, 3]}"#], in: directory)
        let error = #expect(throws: DatasetError.self) { try TextDataset.load(jsonLines: url, tokenizer: nil, vocabularySize: 384) }
        guard case let .malformedRow(path, line, reason)? = error else {
            Issue.record("expected malformedRow, got \(String(describing: error))")
            return
        }
        #expect(path == url.path && line == 2 && reason.contains("384"))
    }

    /// Each bad row is on line 3, after a good row and an empty line (counted as editors do).
    @Test(arguments: [
        (#"{"source": "x"}"#, "needs \"text\" or \"input_ids\""),
        (#"{"input_ids": "1 2 3"}"#, "input_ids must be an array"),
        (#"{"input_ids": [1, "2"]}"#, "input_ids[1]"),
        (#"{"input_ids": [1, 2.5]}"#, "input_ids[1]"),
        (#"{"input_ids": [-1]}"#, "input_ids[0]"),
        (#"{"input_ids": [1, null]}"#, "input_ids[1]"),
        (#"{"text": 42}"#, "text must be a string"),
        (#"{"text": "no tokenizer was given"}"#, "needs a tokenizer"),
    ])
    func malformedRowsThrowNamingFileAndLine(row: String, reason expectedReason: String) throws {
        let directory = try TemporaryDirectory()
        let url = try jsonLinesFile([#"{"input_ids": [1]}"#, "   ", row], in: directory)
        let error = #expect(throws: DatasetError.self) { try TextDataset.load(jsonLines: url, tokenizer: nil) }
        guard case let .malformedRow(path, line, reason)? = error else {
            Issue.record("expected malformedRow, got \(String(describing: error))")
            return
        }
        #expect(path == url.path && line == 3)
        #expect(reason.contains(expectedReason), "reason: \(reason)")
        #expect("\(error!)".hasPrefix("\(url.path):3: "))
    }

    @Test func aLineThatIsNotJSONThrowsNamingFileAndLine() throws {
        let directory = try TemporaryDirectory()
        let url = try jsonLinesFile([#"{"input_ids": [1]}"#, #"{"input_ids": [2"#], in: directory)
        let error = #expect(throws: JSONLinesError.self) { try TextDataset.load(jsonLines: url, tokenizer: nil) }
        guard case let .invalidJSON(path, line, _)? = error else {
            Issue.record("expected invalidJSON, got \(String(describing: error))")
            return
        }
        #expect(path == url.path && line == 2)
    }

    @Test func aMissingFileThrowsNamingIt() throws {
        let directory = try TemporaryDirectory()
        let url = directory.file("absent.jsonl")
        #expect(throws: DatasetError.missingFile(path: url.path)) { try TextDataset.load(jsonLines: url, tokenizer: nil) }
    }
}
