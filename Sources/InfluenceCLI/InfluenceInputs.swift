import Datasets
import Formats
import Foundation
import Influence
import ModelIO
import NeuralNetworks
import TensorCore
import Tokenizers

/// Module-name shortcuts: `mlp` and `attention` for GPT-2 models.
func expandModulePatterns(_ text: String?) -> [String] {
    guard let text, !text.isEmpty else { return [] }
    return text.split(separator: ",").flatMap { part -> [String] in
        switch part.trimmingCharacters(in: .whitespaces) {
        case "mlp": return ["transformer.h.*.mlp.c_fc", "transformer.h.*.mlp.c_proj", "layers.*"]
        case "attention": return ["transformer.h.*.attn.c_attn", "transformer.h.*.attn.c_proj"]
        case let p: return [p]
        }
    }
}

/// Query rows: `{"text"}`, `{"input_ids"}`, or `{"prompt", "completion"}` (only the completion is measured).
struct QueryRows {
    var sequences: [[Int]]
    var promptLengths: [Int]
    var texts: [String]

    static func load(_ url: URL, tokenizer: BytePairTokenizer?, contextLength: Int, vocabularySize: Int) throws -> QueryRows {
        guard FileManager.default.fileExists(atPath: url.path) else { throw CommandFailure("\(url.path) does not exist") }
        var rows = QueryRows(sequences: [], promptLengths: [], texts: [])
        let reader = try JSONLinesReader(contentsOf: url)
        try reader.forEachObject { line, row in
            func encode(_ key: String) throws -> [Int] {
                guard let text = row[key]?.stringValue else { throw CommandFailure("\(url.path):\(line): \"\(key)\" must be a string") }
                guard let tokenizer else { throw CommandFailure("\(url.path):\(line): text queries need the model's tokenizer.json") }
                return tokenizer.encode(text)
            }
            var ids: [Int], prompt = 0, text = ""
            if row["prompt"] != nil || row["completion"] != nil {
                let p = try encode("prompt"), c = try encode("completion")
                ids = p + c
                prompt = p.count
                text = (row["prompt"]?.stringValue ?? "") + (row["completion"]?.stringValue ?? "")
                if c.isEmpty { throw CommandFailure("\(url.path):\(line): the completion is empty") }
            } else if let array = row["input_ids"]?.arrayValue {
                ids = try array.map { v in
                    guard let id = v.intValue, id >= 0 else { throw CommandFailure("\(url.path):\(line): input_ids must be non-negative integers") }
                    return id
                }
            } else if row["text"] != nil {
                ids = try encode("text")
                text = row["text"]?.stringValue ?? ""
            } else {
                throw CommandFailure("\(url.path):\(line): a query needs \"text\", \"input_ids\" or \"prompt\" and \"completion\"")
            }
            if let bad = ids.first(where: { $0 >= vocabularySize }) {
                throw CommandFailure("\(url.path):\(line): token id \(bad) is not below the vocabulary size \(vocabularySize)")
            }
            if ids.count > contextLength {
                throw CommandFailure("\(url.path):\(line): the query has \(ids.count) tokens, more than the context length \(contextLength)")
            }
            if ids.count < 2 { throw CommandFailure("\(url.path):\(line): a query needs at least two tokens") }
            rows.sequences.append(ids)
            rows.promptLengths.append(prompt)
            rows.texts.append(text)
        }
        if rows.sequences.isEmpty { throw CommandFailure("\(url.path) holds no queries") }
        return rows
    }
}

/// Loads the language-modelling task of `fit` and `scores`.
func languageModelingTask(model: URL, train: URL, queries: URL?, maximumExamples: Int?) throws
    -> (task: LanguageModelingTask<Float>, trainTexts: [String], queryTexts: [String]) {
    guard case let .gpt2(gpt2, tokenizer) = try ModelDirectory.load(from: model, as: Float.self) else {
        throw CommandFailure("\(model.path) is not a GPT-2 model; fit and scores work on language models")
    }
    let c = gpt2.configuration
    var training = try TextDataset.load(jsonLines: train, tokenizer: tokenizer, maximumLength: c.contextLength, vocabularySize: c.vocabularySize)
    if let maximumExamples, training.count > maximumExamples {
        training = TextDataset(sequences: Array(training.sequences.prefix(maximumExamples)), texts: Array(training.texts.prefix(maximumExamples)))
    }
    var query = QueryRows(sequences: [], promptLengths: [], texts: [])
    if let queries { query = try QueryRows.load(queries, tokenizer: tokenizer, contextLength: c.contextLength, vocabularySize: c.vocabularySize) }
    let task = LanguageModelingTask(model: gpt2, training: training.sequences, queries: query.sequences, queryPromptLengths: query.promptLengths)
    return (task, training.texts, query.texts)
}

/// A progress reporter for the engine's (stage, done, total) callbacks.
final class StageProgress {
    private var bars: [String: ProgressBarAdapter] = [:]
    func update(_ stage: String, _ done: Int, _ total: Int) {
        let bar = bars[stage] ?? ProgressBarAdapter(label: stage, total: total)
        bars[stage] = bar
        bar.update(done)
    }
}
