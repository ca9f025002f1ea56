import Foundation
import ModelIO
import Workflows

/// `influence study crosslingual`: how influence carries over between translations of a query.
struct CrossLingualStudyCommand: Subcommand {
    static let name = "study crosslingual"
    static let abstract = "For queries asked in several languages: the influence of the reference query's top documents on each translation."
    static let options: [OptionSpecification] = [
        .value("model", "DIR", required: true, "The language model directory."),
        .value("scores", "SCORES_DIR", "Scores of these data (every pair); or give --factors to score here."),
        .value("factors", "FACTORS_DIR", "Output of `influence fit` on the training documents, to score here (per module and per token)."),
        .value("train", "TRAIN", required: true, "Training documents, JSON Lines with a \"language\" field."),
        .value("queries", "QUERIES", required: true, "Queries with \"group\" (translations share one) and \"language\" fields."),
        .value("top", "K", default: "10", "The reference query's documents followed across languages."),
        .value("out", "DIR", required: true, "Writes crosslingual.json, report.html and report.json (and scores/ when scoring here)."),
    ]
    static let discussion = """
        The reference of a group is its English query when it has one (else its first). Per group: the
        reference's top K documents by influence and their influence on every query of the group; the carry-over
        (their mean influence on a translation ÷ their mean influence on the reference); Spearman's ρ between
        the reference's and each translation's influence over all documents; and each query's mean influence by
        document language (Grosse et al. 2023, Fig. 15-16). The demo's cache holds such data:
        influence study crosslingual --model cache/demo/model --scores cache/demo/scores
            --train cache/demo/documents.jsonl --queries cache/demo/queries.jsonl --out cache/crosslingual
        """

    let request: CrossLingualStudyRequest

    init(_ arguments: ParsedArguments) throws {
        if (arguments.string("scores") == nil) == (arguments.string("factors") == nil) {
            throw UsageError("give either --scores SCORES_DIR or --factors FACTORS_DIR")
        }
        request = CrossLingualStudyRequest(
            model: arguments.path("model")!, scores: arguments.path("scores"), factors: arguments.path("factors"),
            train: arguments.string("train")!, queries: arguments.string("queries")!,
            top: try arguments.integer("top", minimum: 1)!, output: arguments.path("out")!)
    }

    func run() throws {
        let progress = StageProgress()
        let table = try Workflows.crossLingualStudy(request, step: { printError("== \($0)") }, progress: { progress.update($0, $1, $2) })
        print(table)
        print("wrote \(request.output.appendingPathComponent("crosslingual.json").path) and \(request.output.appendingPathComponent("report.html").path)")
    }
}

/// `influence study model-size`: the demo's pipeline on models of several sizes, compared.
struct ModelSizeStudyCommand: Subcommand {
    static let name = "study model-size"
    static let abstract = "Train, fit and score models of several sizes on the fortunes and compare what their influence follows."
    static let options: [OptionSpecification] = [
        .value("sizes", "LxW[,LxW...]", default: "1x64,2x128,4x256", "Models as blocks × width (4 heads, context 64)."),
        .value("steps", "N", default: "600", "Training steps of each model."),
        .value("documents", "N", default: "1500", "Fortunes per language used as influence documents."),
        .value("architecture", DemoCommand.families.joined(separator: "|"), default: "gpt2", "The model family."),
        .value("top", "K", default: "10", "Top documents compared between sizes and followed across languages."),
        .value("out", "DIR", required: true, "One demo cache per size (DIR/<L>x<W>, reused by reruns), model-size.json and model-size.html."),
    ]
    static let discussion = """
        Per size: Spearman's ρ over documents between influence and the query's TF-IDF score of the document
        (the paper's BM25 variant on the model's token ids), and between influence and the fraction of the
        query's distinct tokens the document holds, averaged over queries; the cross-lingual carry-over of the
        English query's top documents to its German and Spanish translations. Between sizes: the overlap of each
        query's top K documents. Grosse et al. (2023, §5.3) report that small models follow lexical overlap and
        carry little across languages; the tables say what these models do.
        """

    let request: ModelSizeStudyRequest

    init(_ arguments: ParsedArguments) throws {
        let sizes = try arguments.string("sizes")!.split(separator: ",").map { text -> (layers: Int, width: Int) in
            let parts = text.lowercased().split(separator: "x")
            guard parts.count == 2, let l = Int(parts[0]), let w = Int(parts[1]), l >= 1, w >= 4, w % 4 == 0 else {
                throw UsageError("option '--sizes' needs blocks x width pairs such as 2x128 (width a multiple of the 4 heads), got '\(text)'")
            }
            return (l, w)
        }
        guard sizes.count >= 2 else { throw UsageError("option '--sizes' needs at least two models, got '\(arguments.string("sizes")!)'") }
        request = ModelSizeStudyRequest(
            sizes: sizes, steps: try arguments.integer("steps", minimum: 1)!,
            documentsPerLanguage: try arguments.integer("documents", minimum: 1)!,
            architecture: try arguments.choice("architecture", from: DemoCommand.families)!,
            top: try arguments.integer("top", minimum: 1)!, output: arguments.path("out")!)
    }

    func run() throws {
        let progress = StageProgress()
        _ = try Workflows.modelSizeStudy(request, step: { printError("== \($0)") }, print: { print($0) }, progress: { progress.update($0, $1, $2) })
        print("wrote \(request.output.appendingPathComponent("model-size.html").path) and \(request.output.appendingPathComponent("model-size.json").path)")
    }
}
