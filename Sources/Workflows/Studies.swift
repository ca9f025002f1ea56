import Datasets
import Formats
import Foundation
import Influence
import Reports
import Retrieval
import TensorCore

/// `influence study crosslingual`: for queries that ask one thing in several languages, how the
/// influence of the reference query's top documents carries over to its translations.
public struct CrossLingualStudyRequest {
    /// The model directory the scores belong to (or are computed with).
    public var model: URL
    /// A scores directory to read, or nil to score here with ``factors``.
    public var scores: URL?
    /// A fit saved by `influence fit`, to score with when ``scores`` is nil.
    public var factors: URL?
    /// The training documents (JSON Lines).
    public var train: String
    /// The queries (JSON Lines), with `group` and `language` fields.
    public var queries: String
    /// The reference query's top documents followed across each group.
    public var top: Int
    /// The directory for the scores (when computed here), the report and `crosslingual.json`.
    public var output: URL

    /// Creates a request.
    ///
    /// - Parameters:
    ///   - model: the model directory.
    ///   - scores: a scores directory to read; nil to score here with `factors`.
    ///   - factors: a saved fit to score with.
    ///   - train: the training documents.
    ///   - queries: the queries, with `group` and `language` fields.
    ///   - top: the reference's top documents followed.
    ///   - output: the output directory.
    public init(model: URL, scores: URL? = nil, factors: URL? = nil, train: String, queries: String, top: Int = 10, output: URL) {
        self.model = model
        self.scores = scores
        self.factors = factors
        self.train = train
        self.queries = queries
        self.top = top
        self.output = output
    }
}

/// `influence study model-size`: the demo's pipeline on models of several sizes, compared.
public struct ModelSizeStudyRequest {
    /// (blocks, width) per model.
    public var sizes: [(layers: Int, width: Int)]
    /// Training steps of each model.
    public var steps: Int
    /// Fortunes per language scored for each model.
    public var documentsPerLanguage: Int
    /// The family of every model: `gpt2`, `llama` or `gpt_neox`.
    public var architecture: String
    /// Top documents compared between sizes and used for carry-over.
    public var top: Int
    /// Each size's demo cache is `output/<layers>x<width>`; reruns reuse them.
    public var output: URL

    /// Creates a request; at least two sizes are needed to run it.
    ///
    /// - Parameters:
    ///   - sizes: (blocks, width) per model.
    ///   - steps: training steps of each model.
    ///   - documentsPerLanguage: fortunes per language scored.
    ///   - architecture: the family of every model.
    ///   - top: top documents compared between sizes.
    ///   - output: the directory of the study and of each size's demo cache.
    public init(
        sizes: [(layers: Int, width: Int)], steps: Int = 600, documentsPerLanguage: Int = 1500, architecture: String = "gpt2", top: Int = 10,
        output: URL
    ) {
        self.sizes = sizes
        self.steps = steps
        self.documentsPerLanguage = documentsPerLanguage
        self.architecture = architecture
        self.top = top
        self.output = output
    }
}

extension Workflows {
    /// Scores (when no scores directory is given), writes the report and `crosslingual.json`:
    /// per group, the reference's top documents' influence on each query of the group, the
    /// carry-over ratios, the mean influence by document language, and Spearman's ρ between the
    /// reference's and each translation's influence over all documents. Returns the table printed.
    ///
    /// - Throws: ``WorkflowError`` when no query group has queries in two languages (queries need
    ///   `"group"` and `"language"` fields).
    public static func crossLingualStudy(
        _ request: CrossLingualStudyRequest, step: (String) -> Void = { _ in },
        progress: ((String, Int, Int) -> Void)? = nil
    ) throws -> String {
        try FileManager.default.createDirectory(at: request.output, withIntermediateDirectories: true)
        var scores = request.scores
        if scores == nil {
            guard let factors = request.factors else { throw WorkflowError("give --scores SCORES_DIR or --factors FACTORS_DIR") }
            let directory = request.output.appendingPathComponent("scores")
            step("scoring \(request.queries) against \(request.train)")
            _ = try Workflows.scores(
                ScoresRequest(
                    inputs: TaskInputs(model: request.model, train: request.train, queries: request.queries),
                    source: .fit(factors), configuration: ScoreConfiguration(perModule: true, perToken: true, batchSize: 16),
                    output: directory), progress: progress)
            scores = directory
        }
        let html = request.output.appendingPathComponent("report.html")
        step("writing the report")
        let loaded = try Workflows.reportInput(
            ReportRequest(scores: scores!, model: request.model, train: request.train, queries: request.queries, output: html))
        let report = Report(loaded.input, options: ReportOptions(top: 5, bootstrapRepetitions: 100, title: "Influence across languages"))
        try report.write(html: html, json: request.output.appendingPathComponent("report.json"))
        let groups = CrossLingualAnalysis.groups(loaded.input, top: request.top)
        guard !groups.isEmpty else {
            throw WorkflowError(
                "\(request.queries) has no group of queries in two languages: give queries \"group\" and \"language\" fields (translations share a group)")
        }
        var lines: [String] = []
        var entries: [JSONValue] = []
        for g in groups {
            let reference = loaded.input.scores.row(g.queries[0])
            let correlations = g.queries.map { Correlation.spearman(reference, loaded.input.scores.row($0)) }
            lines.append(
                "group \"\(g.group)\": the top \(g.documents.count) documents of query \(g.queries[0] + 1) [\(loaded.input.queries[g.queries[0]].language ?? "?")]"
            )
            lines.append(
                "  query  language   mean influence of those documents   ÷ reference   ρ over all documents   "
                    + g.languages.map { "mean on \($0) documents" }.joined(separator: "   "))
            for (j, q) in g.queries.enumerated() {
                let mean = g.grid.reduce(0) { $0 + Double($1[j]) } / Double(Swift.max(1, g.grid.count))
                var line = String(format: "  %5d  %-8@   %33.4g   ", q + 1, loaded.input.queries[q].language ?? "?", mean)
                line += (g.carryOver[j].map { String(format: "%11.3f", $0) } ?? "          –") + "   "
                line += (correlations[j].map { String(format: "%20.3f", $0) } ?? "                   –") + "   "
                line += g.meanByLanguage[j].map { String(format: "%21.4g", $0) }.joined(separator: "   ")
                lines.append(line)
            }
            entries.append(
                .object([
                    "group": .string(g.group), "queries": .array(g.queries.map { .number(Double($0)) }),
                    "languages": .array(g.queries.map { .string(loaded.input.queries[$0].language ?? "") }),
                    "documents": .array(g.documents.map { .string(loaded.input.documentIDs[$0]) }),
                    "grid": .array(g.grid.map { .array($0.map { .number(Double($0)) }) }),
                    "carry_over": .array(g.carryOver.map { $0.map { JSONValue.number($0) } ?? .null }),
                    "spearman_with_reference": .array(correlations.map { $0.map { JSONValue.number($0) } ?? .null }),
                    "document_languages": .array(g.languages.map { .string($0) }),
                    "mean_by_document_language": .array(g.meanByLanguage.map { .array($0.map { $0.isFinite ? .number($0) : .null }) }),
                ]))
        }
        try AtomicFile.write(
            Data(try JSONValue.object(["groups": .array(entries), "report": .string(html.path)]).serialized().utf8),
            to: request.output.appendingPathComponent("crosslingual.json"))
        return lines.joined(separator: "\n")
    }

    /// Runs the demo's pipeline (train, fit, scores, report) for each size, then compares them:
    /// writes `model-size.json` and `model-size.html` in the output directory. Returns the study.
    public static func modelSizeStudy(
        _ request: ModelSizeStudyRequest, step: (String) -> Void = { _ in }, print: (String) -> Void = { _ in },
        progress: ((String, Int, Int) -> Void)? = nil
    ) throws -> ModelSizeStudy {
        guard request.sizes.count >= 2 else { throw WorkflowError("a model-size study needs at least two sizes, got \(request.sizes.count)") }
        var sizes: [ModelSizeStudy.Size] = []
        var queries: [ReportQuery] = []
        var languages: [String?] = []
        for (layers, width) in request.sizes {
            let cache = request.output.appendingPathComponent("\(layers)x\(width)")
            step("model \(layers) × \(width) in \(cache.path)")
            let demo = Demo(
                cache: cache, steps: request.steps, documentsPerLanguage: request.documentsPerLanguage, top: 1,
                architecture: request.architecture, layers: layers, width: width, bootstrapRepetitions: 100)
            let outcome = try demo.run(step: step, print: { _ in }, progress: progress)
            let loaded = try reportInput(
                ReportRequest(
                    scores: outcome.scores, model: outcome.model, train: outcome.documentsFile.path,
                    queries: outcome.queriesFile.path, output: outcome.report))
            queries = loaded.input.queries
            languages = loaded.input.documentLanguages
            // Lexical measures on this model's own tokens.
            guard let task = loaded.loaded.task as? LoadedTask.LanguageTask, let chunks = loaded.loaded.documents else {
                throw WorkflowError("\(outcome.model.path) is not a language model")
            }
            let documents = (0..<chunks.documentCount).map { chunks.tokens(ofDocument: $0) }
            let index = TermIndex(tokenDocuments: documents)
            let documentSets = documents.map(Set.init)
            let q = task.queryCount, d = documents.count
            var terms = [Float](repeating: 0, count: q * d), overlap = [Float](repeating: 0, count: q * d)
            for j in 0..<q {
                let distinct = Set(task.queries[j])
                for term in distinct {
                    let containing = index.documents(containingToken: term)
                    let idf = TermIndex.inverseDocumentFrequency(documentFrequency: containing.count, documentCount: d)
                    for doc in containing { terms[j * d + doc] += Float(idf) }
                }
                for doc in 0..<d { overlap[j * d + doc] = Float(distinct.intersection(documentSets[doc]).count) / Float(Swift.max(1, distinct.count)) }
            }
            let parameters = task.model.parameterCount
            sizes.append(
                ModelSizeStudy.Size(
                    label: "\(layers) × \(width)", parameters: parameters, scores: loaded.input.scores,
                    termScores: ScoreMatrix(rows: q, columns: d, values: terms),
                    tokenOverlap: ScoreMatrix(rows: q, columns: d, values: overlap),
                    report: "\(layers)x\(width)/report.html"))
        }
        let study = ModelSizeStudy(sizes: sizes, queries: queries, documentLanguages: languages, top: request.top)
        let facts: [(name: String, value: String)] = [
            ("corpus", "English, German and Spanish fortunes, \(request.documentsPerLanguage) per language as influence documents"),
            (
                "models",
                "\(request.architecture), \(request.sizes.map { "\($0.layers) × \($0.width)" }.joined(separator: ", ")), 4 heads, context 64, \(request.steps) steps each"
            ),
            ("strategy", "EK-FAC on the MLP layers, true Fisher, damping auto"),
            ("written", ISO8601DateFormatter().string(from: Date())),
        ]
        try AtomicFile.write(Data(study.html(facts: facts).utf8), to: request.output.appendingPathComponent("model-size.html"))
        try AtomicFile.write(Data(try study.json().serialized().utf8), to: request.output.appendingPathComponent("model-size.json"))
        print(study.table())
        return study
    }
}
