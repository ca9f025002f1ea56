import Foundation
import ModelIO
import NeuralNetworks
import TensorCore

/// `influence inspect`: what a model directory holds.
struct InspectCommand: Subcommand {
    static let name = "inspect"
    static let abstract = "Show a model's architecture, parameter count and modules (Linear layers marked)."
    static let options: [OptionSpecification] = [
        .value("model", "DIR", required: true, "Model directory (config.json, model.safetensors[, tokenizer.json])."),
    ]
    static let discussion = "Linear layers, marked with *, are the ones influence can track (see --modules of fit)."

    let model: URL

    init(_ arguments: ParsedArguments) throws {
        model = arguments.path("model")!
    }

    func run() throws {
        let loaded = try ModelDirectory.load(from: model, as: Float.self)
        let module = loaded.module
        switch loaded {
        case let .gpt2(m, tokenizer):
            let c = m.configuration
            print("model: gpt2 (GPT2LMHeadModel) at \(model.path)")
            print("configuration: vocab_size \(c.vocabularySize), n_positions \(c.contextLength), n_embd \(c.embeddingSize), "
                + "n_layer \(c.layerCount), n_head \(c.headCount), n_inner \(c.feedForwardSize), activation \(c.activation), "
                + "tied embeddings \(c.tieWordEmbeddings ? "yes" : "no")")
            print("tokenizer: " + (tokenizer.map { "tokenizer.json, \($0.vocabularySize) tokens" } ?? "none"))
        case let .mlp(_, c):
            print("model: mlp (\(c.task)) at \(model.path)")
            print("configuration: sizes \(c.sizes.map(String.init).joined(separator: "-")), activation \(c.activation)")
        }
        print("parameters: \(module.parameterCount.formatted())")
        print("modules:")
        let rows: [(String, String, String)] = module.namedModules().dropFirst().compactMap { path, m in
            let parameters = m.localParameters.map { "\($0.name) \($0.parameter.shape)" }
            let kind = String(describing: type(of: m)).components(separatedBy: "<").first ?? ""
            if parameters.isEmpty && !(m is Linear<Float>) { return nil }
            return (path, m is Linear<Float> ? kind + "*" : kind, parameters.joined(separator: ", "))
        }
        let width = (rows.map(\.0.count).max() ?? 0) + 2
        let kindWidth = (rows.map(\.1.count).max() ?? 0) + 2
        for (path, kind, parameters) in rows {
            print("  " + path.padding(toLength: width, withPad: " ", startingAt: 0)
                + kind.padding(toLength: kindWidth, withPad: " ", startingAt: 0) + parameters)
        }
        if case let .gpt2(m, _) = loaded, m.configuration.tieWordEmbeddings {
            print("  (lm_head.weight is tied to transformer.wte.weight)")
        }
        print("linear layers: \(module.linearLayers().count) (marked *)")
    }
}

extension Int {
    /// Digits grouped by thousands with commas.
    func formatted() -> String {
        let digits = String(Swift.abs(self))
        var groups: [String] = []
        var end = digits.endIndex
        while end > digits.startIndex {
            let start = digits.index(end, offsetBy: -3, limitedBy: digits.startIndex) ?? digits.startIndex
            groups.insert(String(digits[start..<end]), at: 0)
            end = start
        }
        return (self < 0 ? "-" : "") + groups.joined(separator: ",")
    }
}
