import Foundation
import ModelIO
import NeuralNetworks
import TensorCore
import Workflows

/// `influence inspect`: what a model directory holds.
struct InspectCommand: Subcommand {
    static let name = "inspect"
    static let abstract = "Show a model's architecture, parameter count and modules (Linear layers marked)."
    static let options: [OptionSpecification] = [
        .value("model", "DIR", required: true, "Model directory (config.json, model.safetensors[, tokenizer.json]).")
    ]
    static let discussion = "Linear layers, marked with *, are the ones influence can track (see --modules of fit); groups name sets of them."

    let model: URL

    init(_ arguments: ParsedArguments) throws {
        model = arguments.path("model")!
    }

    func run() throws {
        let loaded = try ModelDirectory.load(from: model, as: Float.self)
        let module = loaded.module
        for line in loaded.summary { print(line) }
        if loaded.languageModel != nil {
            print("tokenizer: " + (loaded.tokenizer.map { "tokenizer.json, \($0.vocabularySize) tokens" } ?? "none"))
        }
        print("parameters: \(module.parameterCount.formatted())")
        print("modules:")
        var firstPath: [ObjectIdentifier: String] = [:]
        var tied: [String] = []
        let rows: [(String, String, String)] = module.namedModules().dropFirst().compactMap { path, m in
            for (name, p) in m.localParameters {
                let full = path + "." + name
                if let earlier = firstPath[ObjectIdentifier(p)] {
                    tied.append("(\(full) is tied to \(earlier))")
                } else {
                    firstPath[ObjectIdentifier(p)] = full
                }
            }
            let parameters = m.localParameters.map { "\($0.name) \($0.parameter.shape)" }
            let kind = String(describing: type(of: m)).components(separatedBy: "<").first ?? ""
            if parameters.isEmpty && !(m is Linear<Float>) { return nil }
            return (path, m is Linear<Float> ? kind + "*" : kind, parameters.joined(separator: ", "))
        }
        let width = (rows.map(\.0.count).max() ?? 0) + 2
        let kindWidth = (rows.map(\.1.count).max() ?? 0) + 2
        for (path, kind, parameters) in rows {
            print(
                "  " + path.padding(toLength: width, withPad: " ", startingAt: 0)
                    + kind.padding(toLength: kindWidth, withPad: " ", startingAt: 0) + parameters)
        }
        for line in tied { print("  " + line) }
        print("linear layers: \(module.trackableLayers().count) (marked *)")
        let groups = module.moduleGroups.keys.sorted().map { group in
            "\(group) (\(module.trackableLayers(matching: module.linearLayerPatterns(for: group)).count))"
        }
        print("module groups (--modules): " + groups.joined(separator: ", "))
    }
}
