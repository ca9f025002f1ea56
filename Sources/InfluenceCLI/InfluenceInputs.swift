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
func languageModelingTask(gpt2: GPT2LanguageModel<Float>, tokenizer: BytePairTokenizer?, train: URL, queries: URL?, maximumExamples: Int?,
                          maximumQueries: Int?) throws -> (task: LanguageModelingTask<Float>, trainTexts: [String], queryTexts: [String]) {
    let c = gpt2.configuration
    var training = try TextDataset.load(jsonLines: train, tokenizer: tokenizer, maximumLength: c.contextLength, vocabularySize: c.vocabularySize)
    if let maximumExamples, training.count > maximumExamples {
        training = TextDataset(sequences: Array(training.sequences.prefix(maximumExamples)), texts: Array(training.texts.prefix(maximumExamples)))
    }
    var query = QueryRows(sequences: [], promptLengths: [], texts: [])
    if let queries { query = try QueryRows.load(queries, tokenizer: tokenizer, contextLength: c.contextLength, vocabularySize: c.vocabularySize) }
    if let maximumQueries, query.sequences.count > maximumQueries {
        query = QueryRows(sequences: Array(query.sequences.prefix(maximumQueries)), promptLengths: Array(query.promptLengths.prefix(maximumQueries)),
                          texts: Array(query.texts.prefix(maximumQueries)))
    }
    let task = LanguageModelingTask(model: gpt2, training: training.sequences, queries: query.sequences, queryPromptLengths: query.promptLengths)
    return (task, training.texts, query.texts)
}

/// Labelled rows for an MLP classifier: `fashion-mnist:train`, `fashion-mnist:test` (or
/// `fashion-mnist`, the training split), or a CSV file with a label column.
func labeledRows(_ specification: String, labelColumn: String, limit: Int?, inputCount: Int, classCount: Int) throws
    -> (rows: LabeledDataset, texts: [String]) {
    var rows: LabeledDataset
    var names: [String]? = nil
    let source: String
    switch specification {
    case "fashion-mnist", "fashion-mnist:train", "fashion-mnist:test":
        rows = try FashionMNIST.load(specification.hasSuffix(":test") ? .test : .train, limit: limit)
        names = FashionMNIST.classNames
        source = specification
    default:
        let url = URL(fileURLWithPath: specification)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw CommandFailure("\(url.path) does not exist (MLP data is a CSV file, fashion-mnist:train or fashion-mnist:test)")
        }
        rows = try LabeledDataset.load(csv: url, labelColumn: labelColumn)
        if let limit { rows = rows.prefix(limit) }
        source = url.path
    }
    guard rows.count > 0 else { throw CommandFailure("\(source) holds no rows") }
    guard rows.featureCount == inputCount else {
        throw CommandFailure("\(source) has \(rows.featureCount) feature columns; the model takes \(inputCount) inputs")
    }
    if let bad = rows.labels.firstIndex(where: { $0 < 0 || $0 >= classCount }) {
        throw CommandFailure("\(source): row \(bad + 1) has label \(rows.labels[bad]); the model has \(classCount) classes")
    }
    let texts = rows.labels.map { label in names.map { "\($0[label]) (label \(label))" } ?? "label \(label)" }
    return (rows, texts)
}

/// The classification task of `fit` and `scores` for an MLP directory.
func classificationTask(network: MultilayerPerceptron<Float>, configuration: MLPConfiguration, model: URL, train: String,
                        queries: String?, labelColumn: String, maximumExamples: Int?, maximumQueries: Int?) throws
    -> (task: ClassificationTask<Float>, trainTexts: [String], queryTexts: [String]) {
    guard configuration.task == "classification" else {
        throw CommandFailure("\(model.path) is an MLP for \(configuration.task); fit and scores take classifiers and GPT-2 models")
    }
    let (inputs, classes) = (configuration.sizes.first ?? 0, configuration.sizes.last ?? 0)
    let training = try labeledRows(train, labelColumn: labelColumn, limit: maximumExamples, inputCount: inputs, classCount: classes)
    var query: (rows: LabeledDataset, texts: [String])? = nil
    if let queries { query = try labeledRows(queries, labelColumn: labelColumn, limit: maximumQueries, inputCount: inputs, classCount: classes) }
    let task = ClassificationTask(model: network, trainingFeatures: training.rows.features, trainingLabels: training.rows.labels,
                                  queryFeatures: query?.rows.features ?? Tensor<Float>.zeros(shape: [0, inputs]), queryLabels: query?.rows.labels ?? [])
    return (task, training.texts, query?.texts ?? [])
}

/// The task of `fit` and `scores`: the model directory decides its kind.
enum LoadedTask {
    case language(LanguageModelingTask<Float>)
    case classification(ClassificationTask<Float>)
}

/// Loads a model directory and its training (and query) data as an influence task.
///
/// GPT-2 data are JSON Lines files; MLP classifier data are CSV files (`labelColumn`) or
/// `fashion-mnist:train|test`.
func loadTask(model: URL, train: String, queries: String?, labelColumn: String = "label", maximumExamples: Int?, maximumQueries: Int? = nil) throws
    -> (task: LoadedTask, trainTexts: [String], queryTexts: [String]) {
    switch try ModelDirectory.load(from: model, as: Float.self) {
    case let .gpt2(gpt2, tokenizer):
        let (t, a, b) = try languageModelingTask(gpt2: gpt2, tokenizer: tokenizer, train: URL(fileURLWithPath: train), queries: queries.map { URL(fileURLWithPath: $0) },
                                                 maximumExamples: maximumExamples, maximumQueries: maximumQueries)
        return (.language(t), a, b)
    case let .mlp(network, configuration):
        let (t, a, b) = try classificationTask(network: network, configuration: configuration, model: model, train: train, queries: queries,
                                               labelColumn: labelColumn, maximumExamples: maximumExamples, maximumQueries: maximumQueries)
        return (.classification(t), a, b)
    }
}

/// A checkpoint's task of the same kind as `T` (TracIn loads one per checkpoint).
func loadTask<T: InfluenceTask>(_: T.Type, model: URL, train: String, queries: String?, labelColumn: String, maximumExamples: Int?,
                                maximumQueries: Int?) throws -> T {
    let loaded = try loadTask(model: model, train: train, queries: queries, labelColumn: labelColumn, maximumExamples: maximumExamples,
                              maximumQueries: maximumQueries).task
    let task: Any
    switch loaded {
    case let .language(t): task = t
    case let .classification(t): task = t
    }
    guard let typed = task as? T else { throw CommandFailure("\(model.path) is not the same kind of model as the others") }
    return typed
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
