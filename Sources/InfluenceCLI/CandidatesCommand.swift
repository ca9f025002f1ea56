import Foundation
import Retrieval
import Workflows

/// `influence candidates`: per query, the training rows sharing its most informative terms.
struct CandidatesCommand: Subcommand {
    static let name = "candidates"
    static let abstract = "Pick each query's likeliest training rows by TF-IDF term overlap, for scores --candidates."
    static let options: [OptionSpecification] = [
        .value("model", "DIR", required: true, "Language model directory: its tokenizer and context cut the training documents into the rows scores uses."),
        .value("train", "TRAIN", required: true, "Training rows: JSON Lines {\"text\"} or {\"input_ids\"}."),
        .value("queries", "QUERIES", required: true, "Query rows: JSON Lines {\"text\"}, {\"input_ids\"} or {\"prompt\", \"completion\"}."),
        .value("top", "K|P%", required: true, "Candidates per query: a count, or a percentage of the training rows such as 10%."),
        .value("terms", "ids|words", default: "ids", "Terms: token ids, or the lower-cased words of the rows' text."),
        .value("index", "FILE", "Keep the inverted index here: loaded when the file exists, built and saved otherwise."),
        .value("max-examples", "N", "Use only the first N training documents."),
        .value("max-queries", "N", "Use only the first N query rows."),
        .value("out", "FILE.jsonl", required: true, "The candidate file: one JSON line per query."),
    ]
    static let discussion = """
        score(Q, D) = Σ over the distinct terms t of the query present in row D of IDF(t), with
        IDF(t) = log((C − n_t + 0.5)/(n_t + 0.5) + 1) over C training rows of which n_t contain t (the paper's
        BM25 variant). Output: {"query_index": q, "candidates": [rows, best first], "scores": [...], "data": "…"}
        per query; ties go to the lower row. The data member identifies the training rows and queries, so that
        scores --candidates refuses a file made for other data. The filter favours lexical overlap: check its
        recall against full scores on a sample before relying on it.
        """

    let request: CandidatesRequest

    init(_ arguments: ParsedArguments) throws {
        let count: Candidates.Count
        do { count = try Candidates.Count(parsing: arguments.string("top")!) } catch let error as CandidateCountError {
            throw UsageError("option '--top': \(error.message), got '\(error.value)'")
        }
        let terms: TermKind = try arguments.choice("terms", from: ["ids", "words"]) == "words" ? .words : .tokenIDs
        let inputs = TaskInputs(
            model: arguments.path("model")!, train: arguments.string("train")!, queries: arguments.string("queries")!,
            maximumExamples: try arguments.integer("max-examples", minimum: 1),
            maximumQueries: try arguments.integer("max-queries", minimum: 1))
        request = CandidatesRequest(inputs: inputs, count: count, terms: terms, index: arguments.path("index"), output: arguments.path("out")!)
    }

    func run() throws {
        let progress = StageProgress()
        let report = try Workflows.candidates(request) { progress.update($0, $1, $2) }
        let built = report.builtIndex ? "built" : "loaded"
        print(
            "\(built) an index of \(report.termCount.formatted()) terms over \(report.trainingCount.formatted()) training rows; "
                + "\(report.candidatesPerQuery.formatted()) candidates for each of \(report.queryCount.formatted()) queries"
                + String(format: " in %.2f s", report.seconds))
        if let index = request.index, report.builtIndex { print("wrote \(index.path)") }
        print("wrote \(request.output.path)")
    }
}
