import Foundation
import Formats
import Tokenizers

/// Token sequences read from JSON Lines, one example per row, in file order.
///
/// A row is `{"text": "..."}` (encoded with the model's tokenizer) or `{"input_ids": [...]}`;
/// other keys are kept as strings in ``metadata`` (a document's source, say).
public struct TextDataset: Sendable {
    /// The token ids of each row, in file order (empty for text rows read without encoding).
    public var sequences: [[Int]]
    /// The text of each row (empty for rows given as ids).
    public var texts: [String]
    /// Each row's other keys as strings; JSON values other than strings in their serialised form.
    public var metadata: [[String: String]]
    /// The number of rows.
    public var count: Int { sequences.count }

    /// Creates a data set from token sequences.
    ///
    /// - Parameters:
    ///   - sequences: the token ids of each row.
    ///   - texts: the text of each row; nil gives empty texts.
    ///   - metadata: the other keys of each row; nil gives empty dictionaries.
    public init(sequences: [[Int]], texts: [String]? = nil, metadata: [[String: String]]? = nil) {
        self.sequences = sequences
        self.texts = texts ?? Array(repeating: "", count: sequences.count)
        self.metadata = metadata ?? Array(repeating: [:], count: sequences.count)
    }

    /// Reads a JSON Lines file.
    ///
    /// - Parameters:
    ///   - tokenizer: required when a row has `text`.
    ///   - maximumLength: truncate longer sequences to this many tokens (a model's context length).
    ///   - vocabularySize: when given, every id must be below it.
    /// - Throws: ``DatasetError`` naming the file and line of a row that is not usable, or a
    ///   `JSONLinesError` for a line that is not a JSON object.
    ///   - encodesText: when false, text rows keep their text and get no ids (to train a
    ///     tokenizer on them first).
    public static func load(
        jsonLines url: URL, tokenizer: BytePairTokenizer?, maximumLength: Int? = nil,
        vocabularySize: Int? = nil, encodesText: Bool = true
    ) throws -> TextDataset {
        guard FileManager.default.fileExists(atPath: url.path) else { throw DatasetError.missingFile(path: url.path) }
        var dataset = TextDataset(sequences: [])
        let reader = try JSONLinesReader(contentsOf: url)
        try reader.forEachObject { line, row in
            var ids: [Int]
            var text = ""
            if let value = row["input_ids"] {
                guard let array = value.arrayValue else {
                    throw DatasetError.malformedRow(path: url.path, line: line, reason: "input_ids must be an array of integers")
                }
                ids = try array.enumerated().map { i, v in
                    guard let id = v.intValue, id >= 0 else {
                        throw DatasetError.malformedRow(path: url.path, line: line, reason: "input_ids[\(i)] is not a non-negative integer")
                    }
                    return id
                }
            } else if let value = row["text"] {
                guard let s = value.stringValue else {
                    throw DatasetError.malformedRow(path: url.path, line: line, reason: "text must be a string, got \(value.typeName)")
                }
                text = s
                if encodesText {
                    guard let tokenizer else {
                        throw DatasetError.malformedRow(
                            path: url.path, line: line, reason: "a text row needs a tokenizer (tokenizer.json in the model directory)")
                    }
                    ids = tokenizer.encode(s)
                } else {
                    ids = []
                }
            } else {
                throw DatasetError.malformedRow(path: url.path, line: line, reason: "a row needs \"text\" or \"input_ids\"")
            }
            if let vocabularySize, let bad = ids.first(where: { $0 >= vocabularySize }) {
                throw DatasetError.malformedRow(path: url.path, line: line, reason: "token id \(bad) is not below the vocabulary size \(vocabularySize)")
            }
            if let maximumLength, ids.count > maximumLength { ids = Array(ids.prefix(maximumLength)) }
            var extra: [String: String] = [:]
            for (key, value) in row where key != "text" && key != "input_ids" {
                extra[key] = try value.stringValue ?? value.serialized()
            }
            dataset.sequences.append(ids)
            dataset.texts.append(text)
            dataset.metadata.append(extra)
        }
        if dataset.count == 0 { throw DatasetError.empty(path: url.path) }
        return dataset
    }

    /// Writes documents as `{"text": ..., "source": ..., "language": ...}` rows, atomically.
    public static func write(documents: [Document], to url: URL) throws {
        try JSONLines.write(
            documents.map { d -> [String: JSONValue] in
                ["text": .string(d.text), "source": .string(d.source), "language": .string(d.language)]
            }, to: url)
    }
}

/// Problems with a dataset, naming the file and line.
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    case missingFile(path: String)
    case malformedRow(path: String, line: Int, reason: String)
    case empty(path: String)

    /// A one-line message that starts with the file's path (and `:line` for a malformed row).
    public var description: String {
        switch self {
        case let .missingFile(path): return "\(path) does not exist"
        case let .malformedRow(path, line, reason): return "\(path):\(line): \(reason)"
        case let .empty(path): return "\(path) holds no examples"
        }
    }
}
