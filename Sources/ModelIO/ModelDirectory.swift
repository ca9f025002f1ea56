import Foundation
import Formats
import NeuralNetworks
import TensorCore
import Tokenizers

/// A model read from a directory: its kind is named by `model_type` in `config.json`.
public enum LoadedModel<Scalar: TensorScalar> {
    case gpt2(GPT2LanguageModel<Scalar>, tokenizer: BytePairTokenizer?)
    case mlp(MultilayerPerceptron<Scalar>, MLPConfiguration)

    /// The model as a module tree.
    public var module: Module<Scalar> {
        switch self {
        case let .gpt2(m, _): return m
        case let .mlp(m, _): return m
        }
    }
}

/// The configuration of an MLP directory (`model_type` "mlp").
public struct MLPConfiguration: Codable, Equatable, Sendable {
    public var modelType = "mlp"
    /// Input size, hidden sizes, output size.
    public var sizes: [Int]
    public var activation: String
    /// "classification" (cross-entropy over the outputs) or "regression" (squared error).
    public var task: String

    public init(sizes: [Int], activation: Activation, task: String) {
        self.sizes = sizes
        self.activation = activation.rawValue
        self.task = task
    }

    enum CodingKeys: String, CodingKey { case modelType = "model_type", sizes, activation, task }
}

/// Reading and writing model directories.
public enum ModelDirectory {
    /// Loads a GPT-2 (Hugging Face) or MLP directory.
    public static func load<Scalar: TensorScalar>(from directory: URL, as _: Scalar.Type = Scalar.self) throws -> LoadedModel<Scalar> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ModelIOError.missingFile(path: directory.path, hint: "expected a model directory with config.json and model.safetensors")
        }
        let configURL = directory.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: configURL.path) else {
            throw ModelIOError.missingFile(path: configURL.path, hint: "a model directory needs config.json")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelIOError.malformedConfiguration(path: configURL.path, reason: "not a JSON object")
        }
        switch object["model_type"] as? String ?? "gpt2" {
        case "gpt2":
            let (model, tokenizer) = try GPT2Checkpoint.load(from: directory, as: Scalar.self)
            return .gpt2(model, tokenizer: tokenizer)
        case "mlp":
            let (model, configuration) = try loadMLP(from: directory, as: Scalar.self)
            return .mlp(model, configuration)
        case let other:
            throw ModelIOError.unsupportedModelType(path: configURL.path, modelType: other)
        }
    }

    static func loadMLP<Scalar: TensorScalar>(from directory: URL, as _: Scalar.Type) throws -> (MultilayerPerceptron<Scalar>, MLPConfiguration) {
        let configURL = directory.appendingPathComponent("config.json")
        let configuration: MLPConfiguration
        do { configuration = try JSONDecoder().decode(MLPConfiguration.self, from: Data(contentsOf: configURL)) } catch {
            throw ModelIOError.malformedConfiguration(path: configURL.path, reason: "not an MLP configuration (\(error))")
        }
        guard configuration.sizes.count >= 2, configuration.sizes.allSatisfy({ $0 > 0 }) else {
            throw ModelIOError.malformedConfiguration(path: configURL.path, reason: "sizes must list at least two positive sizes")
        }
        guard let activation = Activation(huggingFaceName: configuration.activation) else {
            throw ModelIOError.malformedConfiguration(path: configURL.path, reason: "unsupported activation \(configuration.activation)")
        }
        guard ["classification", "regression"].contains(configuration.task) else {
            throw ModelIOError.malformedConfiguration(path: configURL.path, reason: "task must be classification or regression")
        }
        let model = MultilayerPerceptron<Scalar>(sizes: configuration.sizes, activation: activation)
        let weights = directory.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: weights.path) else {
            throw ModelIOError.missingFile(path: weights.path, hint: "a model directory needs model.safetensors")
        }
        let file = try SafeTensorsFile(contentsOf: weights)
        var values: [String: Tensor<Scalar>] = [:]
        for (name, parameter) in model.namedParameters() {
            guard file.contains(tensorNamed: name) else { throw ModelIOError.missingTensor(path: weights.path, tensor: name) }
            let t = try file.tensor(named: name, as: Scalar.self)
            guard t.shape == parameter.shape else {
                throw ModelIOError.shapeMismatch(path: weights.path, tensor: name, expected: parameter.shape, found: t.shape)
            }
            guard t.isFinite else { throw ModelIOError.nonFiniteTensor(path: weights.path, tensor: name) }
            values[name] = t
        }
        try model.load(values)
        model.evaluate()
        return (model, configuration)
    }

    /// Saves an MLP directory.
    public static func save<Scalar: TensorScalar>(_ model: MultilayerPerceptron<Scalar>, configuration: MLPConfiguration,
                                                  to directory: URL) throws {
        try writeAtomically(to: directory) { temporary in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(encoder.encode(configuration), to: temporary.appendingPathComponent("config.json"))
            try SafeTensorsFile.write(model.namedParameters().map { ($0.name, .float32(Tensor<Float>($0.parameter.value))) },
                                      metadata: ["format": "pt"], to: temporary.appendingPathComponent("model.safetensors"))
        }
    }

    /// Builds a directory in a temporary sibling and renames it into place; files already in the
    /// destination that the new contents do not replace are kept (a training checkpoint, say).
    static func writeAtomically(to directory: URL, _ body: (URL) throws -> Void) throws {
        let fm = FileManager.default
        let parent = directory.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        let temporary = parent.appendingPathComponent(".\(directory.lastPathComponent).partial-\(UUID().uuidString)")
        try fm.createDirectory(at: temporary, withIntermediateDirectories: true)
        do {
            try body(temporary)
            if fm.fileExists(atPath: directory.path) {
                // Move each new file over the old one (rename is atomic per file).
                for name in try fm.contentsOfDirectory(atPath: temporary.path) {
                    let source = temporary.appendingPathComponent(name), target = directory.appendingPathComponent(name)
                    if rename(source.path, target.path) != 0 {
                        throw ModelIOError.missingFile(path: target.path, hint: "could not move the new file into place (errno \(errno))")
                    }
                }
                try fm.removeItem(at: temporary)
            } else if rename(temporary.path, directory.path) != 0 {
                throw ModelIOError.missingFile(path: directory.path, hint: "could not move the new directory into place (errno \(errno))")
            }
        } catch {
            try? fm.removeItem(at: temporary)
            throw error
        }
    }
}
