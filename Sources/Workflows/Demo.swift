import Datasets
import Formats
import Foundation
import Influence

/// The whole pipeline on the fortune corpora, cached for reruns: train a small language model on
/// every English, German and Spanish fortune, fit EK-FAC on its MLP layers with the true Fisher,
/// score the fortunes of each language against queries that ask the same thing in the three
/// languages (only each query's completion is measured), and report the fortunes that most
/// support and most oppose each answer.
public struct Demo {
    public static let queries: [(language: String, prompt: String, completion: String)] = [
        ("en", "The meaning of life is", " to love and to be loved."),
        ("de", "Der Sinn des Lebens ist", " zu lieben und geliebt zu werden."),
        ("es", "El sentido de la vida es", " amar y ser amado."),
        ("en", "A computer program", " does what you tell it to do, not what you want it to do."),
        ("en", "Never trust a", " man who has only one way to spell a word."),
    ]

    public var cache: URL
    public var steps: Int
    public var documentsPerLanguage: Int
    public var top: Int
    /// `gpt2`, `llama` or `gpt_neox`.
    public var architecture: String

    public init(cache: URL, steps: Int = 600, documentsPerLanguage: Int = 1500, top: Int = 3, architecture: String = "gpt2") {
        self.cache = cache
        self.steps = steps
        self.documentsPerLanguage = documentsPerLanguage
        self.top = top
        self.architecture = architecture
    }

    /// Runs the pipeline; `step` receives stage messages, `print` the report's lines.
    public func run(step: (String) -> Void, print: (String) -> Void, progress: ((String, Int, Int) -> Void)? = nil) throws {
        let started = Date()
        let model = cache.appendingPathComponent("model"), factors = cache.appendingPathComponent("factors")
        let scores = cache.appendingPathComponent("scores")
        let documentsURL = cache.appendingPathComponent("documents.jsonl"), queriesURL = cache.appendingPathComponent("queries.jsonl")
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)

        // 1. The model, trained once (training resumes an interrupted run). Reused only when
        // trained for the same number of steps; otherwise training resumes from its checkpoint
        // and extends (or restarts) to the new count.
        let trainedMarker = cache.appendingPathComponent("model.done")
        let trainedKey = architecture == "gpt2" ? "\(steps)\n" : "\(architecture) \(steps)\n"
        if let text = try? String(contentsOf: trainedMarker, encoding: .utf8), text == trainedKey {
            step("model: reusing \(model.path)")
        } else {
            step("training a \(architecture) model on the fortune corpora (\(steps) steps)")
            let options = TrainingOptions(steps: steps, batchSize: 32, learningRate: 0.002, validationInterval: 100,
                                          recorded: ["architecture": architecture, "layers": "2", "width": "128", "heads": "4", "context": "64",
                                                     "vocab-size": "2048", "batch-size": "32", "learning-rate": "0.002", "corpus": "fortunes"])
            try Workflows.train(LanguageModelTrainingRequest(output: model, architecture: architecture, corpusLanguages: ["en", "de", "es"],
                                                             vocabularySize: 2048, layers: 2, width: 128, heads: 4, context: 64, training: options),
                                log: step)
            try AtomicFile.write(Data(trainedKey.utf8), to: trainedMarker)
        }

        // 2. Documents and queries.
        var documents: [Document] = []
        for language in ["en", "de", "es"] {
            documents += try FortuneCorpus.load(languages: [language]).prefix(documentsPerLanguage)
        }
        try TextDataset.write(documents: documents, to: documentsURL)
        let queryRows: [[String: JSONValue]] = Self.queries.map { ["prompt": .string($0.prompt), "completion": .string($0.completion)] }
        try JSONLines.write(queryRows, to: queriesURL)

        // 3. Factors, fitted once per document set.
        let fittedMarker = cache.appendingPathComponent("factors.done")
        let fitKey = "\(documentsPerLanguage) documents per language, model of \(steps) steps\n"
        if let text = try? String(contentsOf: fittedMarker, encoding: .utf8), text == fitKey,
           FileManager.default.fileExists(atPath: factors.appendingPathComponent(InfluenceFactors.fileName).path) {
            step("factors: reusing \(factors.path)")
        } else {
            step("fitting EK-FAC factors on the MLP layers over \(documents.count) fortunes")
            let report = try Workflows.fit(FitRequest(inputs: TaskInputs(model: model, train: documentsURL.path), strategy: EKFACStrategy(),
                                                      modules: "mlp", batchSize: 16, output: factors), progress: progress)
            step("fitted \(report.strategy) for \(report.moduleNames.count) modules on \(report.exampleCount) documents in "
                 + String(format: "%.1f s", report.seconds))
            try AtomicFile.write(Data(fitKey.utf8), to: fittedMarker)
        }

        // 4. Scores.
        step("scoring \(Self.queries.count) queries against \(documents.count) fortunes")
        let report = try Workflows.scores(ScoresRequest(inputs: TaskInputs(model: model, train: documentsURL.path, queries: queriesURL.path),
                                                        source: .fit(factors), configuration: ScoreConfiguration(batchSize: 16), output: scores),
                                          progress: progress)
        step("scored in " + String(format: "%.1f s", report.seconds))

        // 5. The report.
        // Long fortunes are cut into rows; a fortune's influence is the sum over its rows.
        guard let rows = report.run.scores?.pairwise, let chunks = report.documents else { preconditionFailure("the demo keeps every pair") }
        let matrix = report.documentScores ?? Workflows.documentTotals(rows, chunks)
        print("")
        for (q, query) in Self.queries.enumerated() {
            let row = (0..<documents.count).map { matrix[q, $0] }
            let order = row.indices.sorted { row[$0] > row[$1] }
            print("Query [\(query.language)]: \"\(query.prompt)\" → \"\(query.completion.trimmingCharacters(in: .whitespaces))\"")
            func show(_ indices: ArraySlice<Int>, _ sign: String) {
                for i in indices {
                    let d = documents[i]
                    let text = d.text.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\t", with: " ")
                    let shown = text.count > 110 ? String(text.prefix(107)) + "..." : text
                    print(String(format: "   %@ %10.2f  [%@ %@] %@", sign, row[i], d.language, d.source, shown))
                }
            }
            print("  most supporting:")
            show(order.prefix(top), "+")
            print("  most opposing:")
            show(order.reversed().prefix(top), "-")
            let byLanguage = ["en", "de", "es"].map { lang -> String in
                let values = documents.indices.filter { documents[$0].language == lang }.map { Double(row[$0]) }
                let mean = values.reduce(0, +) / Double(Swift.max(1, values.count))
                return String(format: "%@ %.2f", lang, mean)
            }
            print("  mean score by document language: " + byLanguage.joined(separator: ", "))
            print("")
        }
        print(String(format: "demo finished in %.1f s; everything is kept in %@ (delete it to start over)", Date().timeIntervalSince(started), cache.path))
    }
}
