import Foundation
import ModelIO
import Workflows

/// `influence demo`: the whole pipeline on the fortune corpora, cached for reruns.
struct DemoCommand: Subcommand {
    static let name = "demo"
    static let families = ModelRegistry.languageModelFamilies.map { $0.architecture }
    static let abstract =
        "Train a small language model on the fortunes, fit EK-FAC on its MLP layers, and write a report of which fortunes drive a few answers."
    static let options: [OptionSpecification] = [
        .value("cache", "DIR", default: "cache/demo", "Where the model, factors and scores are kept; a rerun reuses them."),
        .value("steps", "N", default: "600", "Training steps of the model."),
        .value("documents", "N", default: "1500", "Fortunes per language used as influence training documents."),
        .value("top", "K", default: "2", "Most supporting fortunes printed per query (the report shows five of each sign, with heat maps)."),
        .value("architecture", families.joined(separator: "|"), default: "gpt2", "The model family trained."),
    ]
    static let discussion = """
        The model (2 layers, width 128, context 64, a 2,048-token BPE vocabulary trained on the corpus) learns
        from every English, German and Spanish fortune. Influence is then computed, with EK-FAC on the MLP
        layers and the true Fisher, for the documents of each language against queries that ask the same
        thing in the three languages; only the completion of each query is measured. The scores keep each
        module and each token, and the run ends by writing DIR/report.html (with DIR/report.json): the top
        documents with token heat maps, influence by layer, the power-law tail and the cross-lingual grid.
        """

    let demo: Demo

    init(_ arguments: ParsedArguments) throws {
        demo = Demo(
            cache: arguments.path("cache")!, steps: try arguments.integer("steps", minimum: 1)!,
            documentsPerLanguage: try arguments.integer("documents", minimum: 1)!, top: try arguments.integer("top", minimum: 1)!,
            architecture: try arguments.choice("architecture", from: Self.families)!)
    }

    func run() throws {
        let progress = StageProgress()
        try demo.run(step: { printError("== \($0)") }, print: { print($0) }, progress: { progress.update($0, $1, $2) })
    }
}
