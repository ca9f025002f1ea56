import Datasets
import Formats
import Foundation
import Influence
import Reports
import TensorCore

/// The whole pipeline on the fortune corpora, cached for reruns: train a small language model on
/// every English, German and Spanish fortune, fit EK-FAC on its MLP layers with the true Fisher,
/// score the fortunes of each language against queries that ask the same thing in the three
/// languages (only each query's completion is measured), and report the fortunes that most
/// support and most oppose each answer.
public struct Demo {
    /// The demo's queries, `(language, prompt, completion)`: the first three are one question in English, German and Spanish and share a group.
    public static let queries: [(language: String, prompt: String, completion: String)] = [
        ("en", "The meaning of life is", " to love and to be loved."),
        ("de", "Der Sinn des Lebens ist", " zu lieben und geliebt zu werden."),
        ("es", "El sentido de la vida es", " amar y ser amado."),
        ("en", "A computer program", " does what you tell it to do, not what you want it to do."),
        ("en", "Never trust a", " man who has only one way to spell a word."),
    ]

    /// The directory that keeps every stage's output (model, factors, scores, report) for reruns.
    public var cache: URL
    /// Training steps of the language model.
    public var steps: Int
    /// Fortunes per language used as influence documents (the model trains on every fortune).
    public var documentsPerLanguage: Int
    /// Documents printed per query on the terminal (the report itself lists 5).
    public var top: Int
    /// `gpt2`, `llama` or `gpt_neox`.
    public var architecture: String
    /// The model's blocks and width (4 attention heads).
    public var layers: Int
    /// The model's hidden size.
    public var width: Int
    /// Bootstrap samples of the report's power-law fits.
    public var bootstrapRepetitions: Int

    /// Creates a demo; the defaults train a 2-block GPT-2 of width 128 for 600 steps and score 1,500 fortunes per language.
    ///
    /// - Parameters:
    ///   - cache: the directory for every stage's output; an existing one is reused where it matches.
    ///   - steps: training steps.
    ///   - documentsPerLanguage: fortunes per language scored.
    ///   - top: documents printed per query.
    ///   - architecture: `gpt2`, `llama` or `gpt_neox`.
    ///   - layers: the model's blocks.
    ///   - width: the model's hidden size.
    ///   - bootstrapRepetitions: bootstrap samples of the power-law fits.
    public init(
        cache: URL, steps: Int = 600, documentsPerLanguage: Int = 1500, top: Int = 2, architecture: String = "gpt2", layers: Int = 2,
        width: Int = 128, bootstrapRepetitions: Int = 200
    ) {
        self.cache = cache
        self.steps = steps
        self.documentsPerLanguage = documentsPerLanguage
        self.top = top
        self.architecture = architecture
        self.layers = layers
        self.width = width
        self.bootstrapRepetitions = bootstrapRepetitions
    }

    /// What a run made, for the studies built on it.
    public struct Outcome {
        /// The trained model's directory (`cache/model`).
        public var model: URL
        /// The scored documents, `cache/documents.jsonl`.
        public var documentsFile: URL
        /// The queries, `cache/queries.jsonl`.
        public var queriesFile: URL
        /// The scores directory, `cache/scores`.
        public var scores: URL
        /// The HTML report, `cache/report.html`.
        public var report: URL
        /// The documents scored, in the order of the score columns.
        public var documents: [Document]
        /// `[queries, documents]`.
        public var documentScores: Tensor<Float>
        /// What the report found, as the command line prints it.
        public var summary: ReportSummary
    }

    /// Runs the pipeline; `step` receives stage messages, `print` the report's lines.
    @discardableResult
    public func run(step: (String) -> Void, print: (String) -> Void, progress: ((String, Int, Int) -> Void)? = nil) throws -> Outcome {
        let started = Date()
        let model = cache.appendingPathComponent("model"), factors = cache.appendingPathComponent("factors")
        let scores = cache.appendingPathComponent("scores")
        let documentsURL = cache.appendingPathComponent("documents.jsonl"), queriesURL = cache.appendingPathComponent("queries.jsonl")
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)

        // 1. The model, trained once (training resumes an interrupted run). Reused only when
        // trained for the same number of steps; otherwise training resumes from its checkpoint
        // and extends (or restarts) to the new count.
        let trainedMarker = cache.appendingPathComponent("model.done")
        let size = layers == 2 && width == 128 ? "" : "\(layers)x\(width) "
        let trainedKey = architecture == "gpt2" && size.isEmpty ? "\(steps)\n" : "\(architecture) \(size)\(steps)\n"
        if let text = try? String(contentsOf: trainedMarker, encoding: .utf8), text == trainedKey {
            step("model: reusing \(model.path)")
        } else {
            step("training a \(architecture) model of \(layers) × \(width) on the fortune corpora (\(steps) steps)")
            let options = TrainingOptions(
                steps: steps, batchSize: 32, learningRate: 0.002, validationInterval: 100,
                recorded: [
                    "architecture": architecture, "layers": String(layers), "width": String(width), "heads": "4", "context": "64",
                    "vocab-size": "2048", "batch-size": "32", "learning-rate": "0.002", "corpus": "fortunes",
                ])
            try Workflows.train(
                LanguageModelTrainingRequest(
                    output: model, architecture: architecture, corpusLanguages: ["en", "de", "es"],
                    vocabularySize: 2048, layers: layers, width: width, heads: 4, context: 64, training: options),
                log: step)
            try AtomicFile.write(Data(trainedKey.utf8), to: trainedMarker)
        }

        // 2. Documents and queries.
        var documents: [Document] = []
        for language in ["en", "de", "es"] {
            documents += try FortuneCorpus.load(languages: [language]).prefix(documentsPerLanguage)
        }
        try TextDataset.write(documents: documents, to: documentsURL)
        // Translations of one question share a group, which gives the report its cross-lingual grid.
        let queryRows: [[String: JSONValue]] = Self.queries.enumerated().map { q, query in
            [
                "prompt": .string(query.prompt), "completion": .string(query.completion), "language": .string(query.language),
                "group": .string(q < 3 ? "meaning of life" : "query \(q + 1)"),
            ]
        }
        try JSONLines.write(queryRows, to: queriesURL)

        // 3. Factors, fitted once per document set.
        let fittedMarker = cache.appendingPathComponent("factors.done")
        // The model's identity is part of the key: factors of another model are never reused.
        let fitKey = "\(documentsPerLanguage) documents per language, model of \(architecture == "gpt2" ? "" : architecture + " ")\(size)\(steps) steps\n"
        if let text = try? String(contentsOf: fittedMarker, encoding: .utf8), text == fitKey,
            FileManager.default.fileExists(atPath: factors.appendingPathComponent(InfluenceFactors.fileName).path)
        {
            step("factors: reusing \(factors.path)")
        } else {
            step("fitting EK-FAC factors on the MLP layers over \(documents.count) fortunes")
            let report = try Workflows.fit(
                FitRequest(
                    inputs: TaskInputs(model: model, train: documentsURL.path), strategy: EKFACStrategy(),
                    modules: "mlp", batchSize: 16, output: factors), progress: progress)
            step(
                "fitted \(report.strategy) for \(report.moduleNames.count) modules on \(report.exampleCount) documents in "
                    + String(format: "%.1f s", report.seconds))
            try AtomicFile.write(Data(fitKey.utf8), to: fittedMarker)
        }

        // 4. Scores, per module and per token for the report.
        step("scoring \(Self.queries.count) queries against \(documents.count) fortunes")
        let report = try Workflows.scores(
            ScoresRequest(
                inputs: TaskInputs(model: model, train: documentsURL.path, queries: queriesURL.path),
                source: .fit(factors),
                configuration: ScoreConfiguration(perModule: true, perToken: true, batchSize: 16), output: scores),
            progress: progress)
        step("scored in " + String(format: "%.1f s", report.seconds))

        // 5. The report, and a few lines of it here.
        step("writing the report")
        let reportURL = cache.appendingPathComponent("report.html")
        let written = try Workflows.report(
            ReportRequest(
                scores: scores, model: model, train: documentsURL.path, queries: queriesURL.path,
                output: reportURL,
                options: ReportOptions(
                    top: 5, bootstrapRepetitions: bootstrapRepetitions,
                    title: "Which fortunes made the model say this?")))
        // Long fortunes are cut into rows; a fortune's influence is the sum over its rows.
        guard let rows = report.run.scores?.pairwise, let chunks = report.documents else { preconditionFailure("the demo keeps every pair") }
        let matrix = report.documentScores ?? Workflows.documentTotals(rows, chunks)
        print("")
        for (q, query) in Self.queries.enumerated() {
            let row = (0..<documents.count).map { matrix[q, $0] }
            let order = row.indices.sorted { row[$0] > row[$1] }
            print("[\(query.language)] \"\(query.prompt)\" → \"\(query.completion.trimmingCharacters(in: .whitespaces))\"")
            for i in order.prefix(top) {
                let text = documents[i].text.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\t", with: " ")
                let shown = text.count > 96 ? String(text.prefix(93)) + "..." : text
                print(String(format: "   + %9.1f  [%@] %@", row[i], documents[i].language, shown))
            }
            if let e = written.exponents[q] {
                print(
                    String(format: "   tail: power law α = %.2f ± %.2f", e.alpha, e.standardError) + (e.pValue.map { String(format: " (p = %.2f)", $0) } ?? ""))
            }
        }
        print("")
        print("report: \(reportURL.path)")
        print(String(format: "demo finished in %.1f s; everything is kept in %@ (delete it to start over)", Date().timeIntervalSince(started), cache.path))
        return Outcome(
            model: model, documentsFile: documentsURL, queriesFile: queriesURL, scores: scores, report: reportURL, documents: documents,
            documentScores: matrix, summary: written)
    }
}
