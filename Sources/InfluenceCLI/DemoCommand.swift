import Datasets
import Formats
import Foundation
import Influence
import TensorCore

/// `influence demo`: the whole pipeline on the fortune corpora, cached for reruns.
struct DemoCommand: Subcommand {
    static let name = "demo"
    static let abstract = "Train a small GPT-2 on the fortunes, fit EK-FAC on its MLP layers, and show which fortunes drive a few answers."
    static let options: [OptionSpecification] = [
        .value("cache", "DIR", default: "cache/demo", "Where the model, factors and scores are kept; a rerun reuses them."),
        .value("steps", "N", default: "600", "Training steps of the model."),
        .value("documents", "N", default: "1500", "Fortunes per language used as influence training documents."),
        .value("top", "K", default: "3", "Documents shown per query and sign."),
    ]
    static let discussion = """
    The model (2 layers, width 128, context 64, a 2,048-token BPE vocabulary trained on the corpus) learns
    from every English, German and Spanish fortune. Influence is then computed, with EK-FAC on the MLP
    layers and the true Fisher, for the documents of each language against queries that ask the same
    thing in the three languages; only the completion of each query is measured.
    """

    static let queries: [(language: String, prompt: String, completion: String)] = [
        ("en", "The meaning of life is", " to love and to be loved."),
        ("de", "Der Sinn des Lebens ist", " zu lieben und geliebt zu werden."),
        ("es", "El sentido de la vida es", " amar y ser amado."),
        ("en", "A computer program", " does what you tell it to do, not what you want it to do."),
        ("en", "Never trust a", " man who has only one way to spell a word."),
    ]

    let cache: URL
    let steps: Int, documentsPerLanguage: Int, top: Int

    init(_ arguments: ParsedArguments) throws {
        cache = arguments.path("cache")!
        steps = try arguments.integer("steps", minimum: 1)!
        documentsPerLanguage = try arguments.integer("documents", minimum: 1)!
        top = try arguments.integer("top", minimum: 1)!
    }

    func step(_ text: String) { printError("== \(text)") }

    func run() throws {
        let started = Date()
        let model = cache.appendingPathComponent("model"), factors = cache.appendingPathComponent("factors")
        let scores = cache.appendingPathComponent("scores")
        let documentsURL = cache.appendingPathComponent("documents.jsonl"), queriesURL = cache.appendingPathComponent("queries.jsonl")
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)

        // 1. The model, trained once (the training command resumes an interrupted run).
        let trainedMarker = cache.appendingPathComponent("model.done")
        // Reused only when trained for the same number of steps; otherwise training resumes from its
        // checkpoint and extends (or restarts) to the new count.
        if let text = try? String(contentsOf: trainedMarker, encoding: .utf8), text == "\(steps)\n" {
            step("model: reusing \(model.path)")
        } else {
            step("training a GPT-2 on the fortune corpora (\(steps) steps)")
            try TrainCommand(ParsedArguments(["--corpus", "fortunes", "--out", model.path, "--steps", "\(steps)", "--layers", "2",
                                              "--width", "128", "--heads", "4", "--context", "64", "--vocab-size", "2048",
                                              "--batch-size", "32", "--learning-rate", "0.002", "--validation-interval", "100"],
                                             specification: TrainCommand.options)).run()
            try AtomicFile.write(Data("\(steps)\n".utf8), to: trainedMarker)
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
            try FitCommand(ParsedArguments(["--model", model.path, "--data", documentsURL.path, "--strategy", "ekfac", "--modules", "mlp",
                                            "--batch-size", "16", "--out", factors.path], specification: FitCommand.options)).run()
            try AtomicFile.write(Data(fitKey.utf8), to: fittedMarker)
        }

        // 4. Scores.
        step("scoring \(Self.queries.count) queries against \(documents.count) fortunes")
        try ScoresCommand(ParsedArguments(["--model", model.path, "--factors", factors.path, "--train", documentsURL.path,
                                           "--queries", queriesURL.path, "--batch-size", "16", "--out", scores.path],
                                          specification: ScoresCommand.options)).run()

        // 5. The report.
        let file = try SafeTensorsFile(contentsOf: scores.appendingPathComponent("pairwise_scores.safetensors"))
        let matrix = try file.tensor(named: "all_modules", as: Float.self)
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
