import Foundation
import Reports
import Workflows

/// `influence report`: the HTML report of a scoring run.
struct ReportCommand: Subcommand {
    static let name = "report"
    static let abstract = "Write a self-contained HTML report (and its JSON) of a scoring run: top documents with token heat maps, layers, the tail."
    static let options: [OptionSpecification] = [
        .value(
            "scores", "SCORES_DIR", required: true,
            "Output of `influence scores` with every pair (not --top-k or --candidates); --per-token gives heat maps, --per-module the layer profile."),
        .value("train", "TRAIN", required: true, "The training rows the scores were computed on."),
        .value("queries", "QUERIES", required: true, "The query rows the scores were computed on."),
        .value("model", "DIR", "The model directory (default: the one SCORES_DIR/run.json names)."),
        .value("label-column", "NAME", default: "label", "MLP with CSV files: the label column."),
        .value("max-examples", "N", "As given to scores (default: what SCORES_DIR/run.json records)."),
        .value("max-queries", "N", "As given to scores (default: what SCORES_DIR/run.json records)."),
        .value("top", "K", default: "5", "Documents shown per query and sign."),
        .value("bootstrap", "N", default: "200", "Synthetic samples for the power-law goodness of fit (0: none)."),
        .value("out", "REPORT.html", required: true, "The HTML file; the same analyses go to REPORT.json beside it."),
    ]
    static let discussion = """
        The report is one HTML file with inline CSS and SVG, no script and nothing from the network: it opens
        offline and prints. Per query: the most supporting and most opposing documents (ranked by their summed
        influence, as in Grosse et al. 2023) with each token coloured by its influence, a second ranking by
        mean influence per token, the influence per tracked layer, and the distribution of influence over
        documents on log-log axes with a power-law fit (Clauset, Shalizi & Newman 2009: maximum likelihood,
        x_min by the Kolmogorov-Smirnov distance, bootstrap p-value) and the share of the top 1 % of documents.
        Queries with a "group" field in several languages get a cross-lingual grid.
        """

    let request: ReportRequest

    init(_ arguments: ParsedArguments) throws {
        let out = arguments.path("out")!
        guard out.pathExtension.lowercased() == "html" || out.pathExtension.lowercased() == "htm" else {
            throw UsageError("option '--out' needs a file name ending in .html, got '\(out.lastPathComponent)'")
        }
        let options = ReportOptions(top: try arguments.integer("top", minimum: 1)!, bootstrapRepetitions: try arguments.integer("bootstrap", minimum: 0)!)
        request = ReportRequest(
            scores: arguments.path("scores")!, model: arguments.path("model"), train: arguments.string("train")!,
            queries: arguments.string("queries")!, labelColumn: arguments.string("label-column")!,
            maximumExamples: try arguments.integer("max-examples", minimum: 1),
            maximumQueries: try arguments.integer("max-queries", minimum: 1), output: out, options: options)
    }

    func run() throws {
        let summary = try Workflows.report(request) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        for (q, exponent) in summary.exponents.enumerated() {
            if let e = exponent {
                print(
                    String(format: "query %d: power-law tail α = %.3f ± %.3f", q, e.alpha, e.standardError)
                        + (e.pValue.map { String(format: ", p = %.2f", $0) } ?? ""))
            } else {
                print("query \(q): no power-law fit")
            }
        }
        print("wrote \(summary.html.path) and \(summary.json.path)" + String(format: " in %.1f s", summary.seconds))
    }
}
