import Datasets
import Formats
import Foundation
import Influence
import Reports
import TensorCore
import Tokenizers

/// What `influence report` does: read a scoring run's files and its data, and write the report.
public struct ReportRequest {
    /// The output directory of `influence scores` (dense scores: every pair).
    public var scores: URL
    /// The model and data the scores were computed on; a nil model is read from the run's `run.json`.
    public var model: URL?
    /// The training rows the scores were computed on (a JSON Lines or CSV file, or `fashion-mnist:train`).
    public var train: String
    /// The queries the scores were computed on.
    public var queries: String
    /// The label column of CSV data.
    public var labelColumn: String
    /// Nil: the limits the scoring run recorded.
    public var maximumExamples: Int?
    /// Nil: the query limit the scoring run recorded.
    public var maximumQueries: Int?
    /// The HTML file; the JSON is written beside it (the same name ending in `.json`).
    public var output: URL
    /// The list lengths, bootstrap settings and title of the report.
    public var options: ReportOptions

    /// Creates a request.
    ///
    /// - Parameters:
    ///   - scores: the output directory of `influence scores`.
    ///   - model: the model directory; nil for the one named in the run's `run.json`.
    ///   - train: the training rows the scores were computed on.
    ///   - queries: the queries the scores were computed on.
    ///   - labelColumn: the label column of CSV data.
    ///   - maximumExamples: the training-row limit; nil for the one the run recorded.
    ///   - maximumQueries: the query limit; nil for the one the run recorded.
    ///   - output: the HTML file; the JSON goes beside it.
    ///   - options: what the report shows.
    public init(
        scores: URL, model: URL? = nil, train: String, queries: String, labelColumn: String = "label", maximumExamples: Int? = nil,
        maximumQueries: Int? = nil, output: URL, options: ReportOptions = ReportOptions()
    ) {
        self.scores = scores
        self.model = model
        self.train = train
        self.queries = queries
        self.labelColumn = labelColumn
        self.maximumExamples = maximumExamples
        self.maximumQueries = maximumQueries
        self.output = output
        self.options = options
    }

    /// Where the JSON goes: the HTML's path with the extension `.json`.
    public var jsonOutput: URL { output.deletingPathExtension().appendingPathExtension("json") }
}

/// What a report says, in brief, for the command line.
public struct ReportSummary {
    /// The HTML report written.
    public var html: URL
    /// The JSON written beside it.
    public var json: URL
    /// The number of queries reported on.
    public var queries: Int
    /// The number of training documents (rows, for an MLP).
    public var documents: Int
    /// Per query: the fitted exponent and its standard error, or why there is none.
    public var exponents: [(alpha: Double, standardError: Double, pValue: Double?)?]
    /// Wall-clock seconds of the whole report, loading included.
    public var seconds: Double
}

/// A scoring run's scores and data, ready for a report or a study.
public struct ReportMaterials {
    /// The report's input: scores summed per document, with the documents and queries.
    public var input: ReportInput
    /// The task and model the scores were computed with, and the texts of their rows.
    public var loaded: LoadedTask
}

extension Workflows {
    /// Reads the scores of `request.scores` with their data and writes the HTML report and its JSON.
    ///
    /// - Throws: ``WorkflowError`` when the directory holds no dense scores, when scores, data and
    ///   model do not belong together (shapes, the recorded data fingerprint), or when a score is
    ///   not finite.
    public static func report(_ request: ReportRequest, step: (String) -> Void = { _ in }) throws -> ReportSummary {
        let started = Date()
        let materials = try reportInput(request, step: step)
        let q = materials.input.queries.count, documentCount = materials.input.documentIDs.count
        step("analysing \(q) queries over \(documentCount) documents")
        let report = Report(materials.input, options: request.options)
        try report.write(html: request.output, json: request.jsonOutput)
        return ReportSummary(
            html: request.output, json: request.jsonOutput, queries: q, documents: documentCount,
            exponents: report.analyses.map { a in a.tail.fit.map { ($0.alpha, $0.standardError, a.tail.pValue) } },
            seconds: Date().timeIntervalSince(started))
    }

    /// The report's input from the scores of `request.scores` and their data (see ``report(_:step:)``).
    public static func reportInput(_ request: ReportRequest, step: (String) -> Void = { _ in }) throws -> ReportMaterials {
        let directory = request.scores
        let pairwiseURL = directory.appendingPathComponent("pairwise_scores.safetensors")
        guard FileManager.default.fileExists(atPath: pairwiseURL.path) else {
            for (name, option) in [("top_scores.safetensors", "--top-k"), ("candidate_scores.safetensors", "--candidates")]
            where FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path) {
                throw WorkflowError(
                    "\(directory.path) holds \(name) (scores run with \(option)); a report needs every pair: run `influence scores` without \(option)")
            }
            throw WorkflowError("\(directory.path) holds no pairwise_scores.safetensors; run `influence scores --out \(directory.path)` first")
        }
        let recordURL = directory.appendingPathComponent(runRecordName)
        let rerun = "rerun `influence scores --out \(directory.path)`"
        guard FileManager.default.fileExists(atPath: recordURL.path) else {
            throw WorkflowError("\(directory.path) holds no \(runRecordName), which `influence scores` writes last: the run did not finish; \(rerun)")
        }
        guard let record = (try? JSONValue(parsing: Data(contentsOf: recordURL)))?.objectValue else {
            throw WorkflowError("\(recordURL.path) is not a JSON object; it is written by `influence scores`: \(rerun)")
        }
        try RunManifest.verify(record, manifest: recordURL, rerun: rerun)
        guard let model = request.model ?? record["model"]?.stringValue.map({ URL(fileURLWithPath: $0) }) else {
            throw WorkflowError("give --model DIR: \(recordURL.path) does not name the model the scores were computed with")
        }
        let inputs = TaskInputs(
            model: model, train: request.train, queries: request.queries, labelColumn: request.labelColumn,
            maximumExamples: request.maximumExamples ?? record["max_examples"]?.intValue,
            maximumQueries: request.maximumQueries ?? record["max_queries"]?.intValue)
        step("loading the model and data")
        let loaded = try TaskLoader.load(inputs)
        let task = loaded.task
        let file = try SafeTensorsFile(contentsOf: pairwiseURL)
        let pairwise: Tensor<Float> = try file.tensor(named: "all_modules")
        let (q, n) = (task.queryCount, task.trainingExampleCount)
        guard pairwise.shape == [q, n] else {
            throw WorkflowError(
                "\(pairwiseURL.path) holds scores of \(pairwise.shape.map(String.init).joined(separator: " × ")) (queries × training rows); "
                    + "\(request.queries) and \(request.train) give \(q) queries and \(n) training rows: the scores and the data do not belong together")
        }
        if let recorded = record["data"]?.stringValue, recorded != candidateDataFingerprint(task) {
            throw WorkflowError(
                "the scores in \(directory.path) were computed on other rows than \(request.train) and \(request.queries) (the data fingerprints differ)")
        }
        if let recorded = record["model_fingerprint"]?.stringValue, recorded != ModelFingerprint.of(task.model) {
            throw WorkflowError("the scores in \(directory.path) were computed with another model than \(model.path) (the weights' fingerprints differ)")
        }
        if let bad = pairwise.scalars.firstIndex(where: { !$0.isFinite }) {
            throw WorkflowError(
                "\(pairwiseURL.path): the score of query \(bad / Swift.max(1, n)) and training row \(bad % Swift.max(1, n)) is \(pairwise.scalars[bad]); a report needs finite scores"
            )
        }

        // Per document: the sums over rows (an MLP's rows are its documents).
        let chunks = loaded.documents
        func totals(_ rows: Tensor<Float>) -> ScoreMatrix {
            let t = chunks.map { documentTotals(rows, $0) } ?? rows
            return ScoreMatrix(rows: t.shape[0], columns: t.shape[1], values: t.scalars)
        }
        let moduleNames = (file.metadata["modules"] ?? "").split(separator: ",").map(String.init).filter { file.contains(tensorNamed: $0) }
        var moduleScores: [(name: String, scores: ScoreMatrix)] = []
        for name in moduleNames {
            let t: Tensor<Float> = try file.tensor(named: name)
            guard t.shape == [q, n] else { throw WorkflowError("\(pairwiseURL.path): \(name) has shape \(t.shape), not [\(q), \(n)]") }
            moduleScores.append((name, totals(t)))
        }
        var tokenScores: ((Int, Int) -> [Float])? = nil
        if file.contains(tensorNamed: "per_token"), let chunks {
            let perToken: Tensor<Float> = try file.tensor(named: "per_token")
            guard perToken.rank == 3, perToken.shape[0] == q, perToken.shape[1] == n else {
                throw WorkflowError("\(pairwiseURL.path): per_token has shape \(perToken.shape), not [\(q), \(n), tokens]")
            }
            let width = perToken.shape[2], values = perToken.scalars, counts = chunks.tokenCounts
            tokenScores = { query, document in
                var out = [Float](repeating: 0, count: counts[document])
                for row in chunks.rowRanges[document] {
                    let offset = chunks.offset(ofRow: row)
                    for t in 0..<Swift.min(width, chunks.sequences[row].count) { out[offset + t] += values[(query * n + row) * width + t] }
                }
                return out
            }
        }
        var pieces: ((Int) -> [TokenPiece])? = nil
        if let chunks, let tokenizer = loaded.model.tokenizer {
            pieces = { d in
                tokenizer.decodedPieces(chunks.tokens(ofDocument: d)).map { TokenPiece(text: $0.text, tokens: $0.ids, isSpecial: $0.isSpecial) }
            }
        }
        let documentCount = chunks?.documentCount ?? n
        let ids = chunks?.documentIDs ?? (0..<n).map(String.init)
        let metadata = loaded.documentMetadata
        let languages: [String?] = (0..<documentCount).map { $0 < metadata.count ? metadata[$0]["language"] : nil }
        let texts = loaded.documentTexts
        let queryRows = loaded.queryRows
        let queries: [ReportQuery] = (0..<q).map { j in
            let meta = j < queryRows.metadata.count ? queryRows.metadata[j] : [:]
            if j < queryRows.parts.count, let parts = queryRows.parts[j] {
                return ReportQuery(prompt: parts.prompt, completion: parts.completion, language: meta["language"], group: meta["group"])
            }
            return ReportQuery(prompt: j < loaded.queryTexts.count ? loaded.queryTexts[j] : "query \(j)", language: meta["language"], group: meta["group"])
        }
        let input = ReportInput(
            queries: queries, documentIDs: ids, documentLanguages: languages,
            tokenCounts: chunks?.tokenCounts ?? Array(repeating: 1, count: n), scores: totals(pairwise), moduleScores: moduleScores,
            documentText: { d in d < texts.count ? texts[d] : "" }, documentPieces: pieces, tokenScores: tokenScores,
            facts: facts(record: record, metadata: file.metadata, model: model, request: request, loaded: loaded, directory: directory))
        return ReportMaterials(input: input, loaded: loaded)
    }

    /// The run's facts as the report lists them.
    static func facts(
        record: [String: JSONValue], metadata: [String: String], model: URL, request: ReportRequest, loaded: LoadedTask,
        directory: URL
    ) -> [(name: String, value: String)] {
        var facts: [(name: String, value: String)] = []
        facts.append(("model", "\(model.path) (\(loaded.model.modelType))"))
        facts.append(
            (
                "training data",
                request.train + (loaded.documents.map { ", \($0.documentCount) documents in \($0.sequences.count) rows of at most \($0.length) tokens" } ?? "")
            ))
        facts.append(("queries", request.queries))
        facts.append(("strategy", record["strategy_label"]?.stringValue ?? metadata["strategy"] ?? "not recorded"))
        if let fisher = record["fisher"]?.stringValue {
            facts.append(("Fisher", fisher == "sampled" ? "true Fisher (labels sampled from the model)" : "empirical Fisher (the data's labels)"))
        }
        let modules = record["modules"]?.arrayValue?.compactMap(\.stringValue) ?? (metadata["modules"] ?? "").split(separator: ",").map(String.init)
        facts.append(("tracked modules", modules.isEmpty ? "not recorded" : modules.joined(separator: ", ")))
        let dampings = record["damping_per_module"]?.arrayValue?.compactMap(\.doubleValue) ?? []
        var damping = record["damping"]?.stringValue ?? metadata["damping"] ?? "not recorded"
        if dampings.count == modules.count && !dampings.isEmpty {
            damping += ": " + zip(modules, dampings).map { "\($0) \(String(format: "%.4g", $1))" }.joined(separator: ", ")
        }
        facts.append(("damping λ", damping))
        facts.append(("sign", "positive: the document supports the query (lowers its loss)"))
        facts.append(
            (
                "sums",
                "a document's influence is the sum over its rows (chunks of the context length), their tokens and the tracked modules; nothing is normalised"
            ))
        if let started = record["started"]?.stringValue, let finished = record["finished"]?.stringValue {
            let seconds = record["seconds"]?.doubleValue.map { String(format: " (%.1f s)", $0) } ?? ""
            facts.append(("scores computed", "\(started) – \(finished)\(seconds), in \(directory.path)"))
        } else {
            facts.append(("scores", directory.path))
        }
        facts.append(("report written", ISO8601DateFormatter().string(from: Date())))
        return facts
    }
}
