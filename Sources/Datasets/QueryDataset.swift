import Foundation
import Formats
import Tokenizers

/// Query rows read from JSON Lines: `{"text": ...}`, `{"input_ids": [...]}`, or
/// `{"prompt": ..., "completion": ...}`, for which only the completion is measured
/// (−log p(completion | prompt)).
public struct QueryDataset: Sendable {
    /// The tokens of each query: the prompt's, then the completion's.
    public var sequences: [[Int]]
    /// The number of prompt tokens of each query (0 measures the whole sequence).
    public var promptLengths: [Int]
    /// The text of each query (empty for rows given as ids).
    public var texts: [String]
    /// The prompt and completion texts of each query given as such (nil for other rows).
    public var parts: [(prompt: String, completion: String)?]
    /// The row's other keys as strings (`language`, `group`, ...); JSON values other than strings
    /// in their serialised form.
    public var metadata: [[String: String]]
    /// The number of queries.
    public var count: Int { sequences.count }

    /// Creates a query set from parallel arrays, one element per query.
    ///
    /// - Parameters:
    ///   - sequences: the tokens of each query, prompt first.
    ///   - promptLengths: the number of prompt tokens of each query (0 measures the whole sequence).
    ///   - texts: the text of each query.
    ///   - parts: the prompt and completion texts; nil gives nil for every query.
    ///   - metadata: the other keys of each row; nil gives an empty dictionary for every query.
    public init(
        sequences: [[Int]] = [], promptLengths: [Int] = [], texts: [String] = [], parts: [(prompt: String, completion: String)?]? = nil,
        metadata: [[String: String]]? = nil
    ) {
        self.sequences = sequences
        self.promptLengths = promptLengths
        self.texts = texts
        self.parts = parts ?? Array(repeating: nil, count: sequences.count)
        self.metadata = metadata ?? Array(repeating: [:], count: sequences.count)
    }

    /// The first `count` queries.
    public func prefix(_ count: Int) -> QueryDataset {
        QueryDataset(
            sequences: Array(sequences.prefix(count)), promptLengths: Array(promptLengths.prefix(count)), texts: Array(texts.prefix(count)),
            parts: Array(parts.prefix(count)), metadata: Array(metadata.prefix(count)))
    }

    /// Reads a JSON Lines file of queries.
    ///
    /// - Parameters:
    ///   - tokenizer: required for text, prompt and completion rows.
    ///   - contextLength: a query longer than this is an error (a query is never truncated: its
    ///     completion would be cut).
    ///   - vocabularySize: every id must be below it.
    /// - Throws: ``DatasetError`` naming the file and line of a row that is not usable.
    public static func load(jsonLines url: URL, tokenizer: BytePairTokenizer?, contextLength: Int, vocabularySize: Int) throws -> QueryDataset {
        guard FileManager.default.fileExists(atPath: url.path) else { throw DatasetError.missingFile(path: url.path) }
        var rows = QueryDataset()
        let reader = try JSONLinesReader(contentsOf: url)
        try reader.forEachObject { line, row in
            func fail(_ reason: String) -> DatasetError { .malformedRow(path: url.path, line: line, reason: reason) }
            func encode(_ key: String) throws -> [Int] {
                guard let text = row[key]?.stringValue else { throw fail("\"\(key)\" must be a string") }
                guard let tokenizer else { throw fail("text queries need the model's tokenizer.json") }
                return tokenizer.encode(text)
            }
            var ids: [Int], prompt = 0, text = ""
            var parts: (prompt: String, completion: String)? = nil
            if row["prompt"] != nil || row["completion"] != nil {
                // The completion is encoded without the tokenizer's template (a BOS belongs before the prompt only).
                let p = try encode("prompt")
                guard let completionText = row["completion"]?.stringValue else { throw fail("\"completion\" must be a string") }
                let c = tokenizer.map { $0.encode(completionText, addingSpecialTokens: false) } ?? []
                ids = p + c
                prompt = p.count
                text = (row["prompt"]?.stringValue ?? "") + completionText
                parts = (row["prompt"]?.stringValue ?? "", completionText)
                if c.isEmpty { throw fail("the completion is empty") }
            } else if let array = row["input_ids"]?.arrayValue {
                ids = try array.map { v in
                    guard let id = v.intValue, id >= 0 else { throw fail("input_ids must be non-negative integers") }
                    return id
                }
            } else if row["text"] != nil {
                ids = try encode("text")
                text = row["text"]?.stringValue ?? ""
            } else {
                throw fail("a query needs \"text\", \"input_ids\" or \"prompt\" and \"completion\"")
            }
            if let bad = ids.first(where: { $0 >= vocabularySize }) {
                throw fail("token id \(bad) is not below the vocabulary size \(vocabularySize)")
            }
            if ids.count > contextLength { throw fail("the query has \(ids.count) tokens, more than the context length \(contextLength)") }
            if ids.count < 2 { throw fail("a query needs at least two tokens") }
            rows.sequences.append(ids)
            rows.promptLengths.append(prompt)
            rows.texts.append(text)
            rows.parts.append(parts)
            var extra: [String: String] = [:]
            for (key, value) in row where !["text", "input_ids", "prompt", "completion"].contains(key) {
                extra[key] = try value.stringValue ?? value.serialized()
            }
            rows.metadata.append(extra)
        }
        if rows.sequences.isEmpty { throw DatasetError.empty(path: url.path) }
        return rows
    }
}
