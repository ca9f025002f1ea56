import Foundation
import Formats
import NeuralNetworks
import TensorCore

/// The configuration of an MLP directory (`model_type` "mlp").
public struct MLPConfiguration: Codable, Equatable, Sendable {
    /// `model_type` in config.json (`mlp`).
    public var modelType = "mlp"
    /// Input size, hidden sizes, output size.
    public var sizes: [Int]
    /// The activation between layers, by its name in ``Activation`` (e.g. `relu`).
    public var activation: String
    /// "classification" (cross-entropy over the outputs) or "regression" (squared error).
    public var task: String
    /// A regressor's target columns in its CSV data, in output order (nil for a classifier).
    public var targetColumns: [String]?
    /// A classifier trained on named labels: the name of each output class, in output order
    /// (nil when the labels were integers). Data is read against these names, so that every file
    /// numbers the classes the same way.
    public var classNames: [String]?

    /// Creates a configuration; ``classNames`` starts nil.
    ///
    /// - Parameters:
    ///   - sizes: input size, hidden sizes, output size.
    ///   - activation: the activation between layers.
    ///   - task: `classification` or `regression`.
    ///   - targetColumns: a regressor's target columns, in output order.
    public init(sizes: [Int], activation: Activation, task: String, targetColumns: [String]? = nil) {
        self.sizes = sizes
        self.activation = activation.rawValue
        self.task = task
        self.targetColumns = targetColumns
    }

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type"
        case sizes, activation, task
        case targetColumns = "target_columns"
        case classNames = "class_names"
    }
}

/// MLP classifiers and regressors (`model_type` `mlp`): config.json with the layer sizes, and
/// `layers.N.weight`/`bias` in model.safetensors.
public enum MLPFamily: ModelFamily {
    /// The `model_type` this family reads: `mlp`.
    public static let modelTypes = ["mlp"]

    /// Loads an MLP directory: validates config.json (sizes, activation, task, target columns, class names), then reads `layers.N.weight`/`bias`.
    ///
    /// - Throws: ``ModelIOError`` naming the file and the field or tensor at fault.
    public static func load<Scalar: TensorScalar>(
        from directory: URL, configuration c: HuggingFaceConfiguration,
        as _: Scalar.Type
    ) throws -> LoadedModel<Scalar> {
        let sizes =
            try c.value("sizes").map { v -> [Int] in
                guard let list = v.arrayValue?.compactMap(\.intValue), list.count == v.arrayValue?.count else {
                    throw ModelIOError.malformedConfiguration(path: c.path, reason: "field sizes must list integers")
                }
                return list
            } ?? []
        guard sizes.count >= 2, sizes.allSatisfy({ $0 > 0 && $0 <= Int(Int32.max) }) else {
            throw ModelIOError.malformedConfiguration(
                path: c.path, reason: "sizes must list at least two positive sizes (each at most \(Int32.max)), got \(sizes)")
        }
        let activation = try c.activation("activation", default: "relu")
        let task = try c.string("task") ?? "classification"
        guard ["classification", "regression"].contains(task) else {
            throw ModelIOError.malformedConfiguration(path: c.path, reason: "task must be classification or regression")
        }
        let targets = try c.value("target_columns").map { v -> [String] in
            guard let list = v.arrayValue?.compactMap(\.stringValue), list.count == v.arrayValue?.count, list.count == sizes.last else {
                throw ModelIOError.malformedConfiguration(path: c.path, reason: "field target_columns must list one column name per output")
            }
            return list
        }
        let classNames = try c.value("class_names").map { v -> [String] in
            guard task == "classification", let list = v.arrayValue?.compactMap(\.stringValue), list.count == v.arrayValue?.count,
                list.count == sizes.last, Set(list).count == list.count
            else {
                throw ModelIOError.malformedConfiguration(
                    path: c.path, reason: "field class_names must list one distinct name per output of a classifier (\(sizes.last ?? 0))")
            }
            return list
        }
        try c.finish()
        try ModelFootprint.check(
            parameters: ModelFootprint.multilayerPerceptronParameters(sizes: sizes),
            what: "sizes \(sizes.map(String.init).joined(separator: "-"))", path: c.path,
            checkpointElements: try ModelFootprint.checkpointElements(in: directory))
        var configuration = MLPConfiguration(sizes: sizes, activation: activation, task: task, targetColumns: targets)
        configuration.classNames = classNames
        let model = MultilayerPerceptron<Scalar>(sizes: sizes, activation: activation)
        try CheckpointWeights.load(into: model, from: directory)
        return LoadedModel(
            kind: .multilayerPerceptron(model, configuration), modelType: "mlp", tokenizer: nil,
            summary: [
                "model: mlp (\(task)) at \(directory.path)",
                "configuration: sizes \(sizes.map(String.init).joined(separator: "-")), activation \(configuration.activation)",
            ])
    }

    /// Saves an MLP directory, atomically.
    public static func save<Scalar: TensorScalar>(_ model: MultilayerPerceptron<Scalar>, configuration: MLPConfiguration, to directory: URL) throws {
        try ModelDirectory.writeAtomically(to: directory) { temporary in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(encoder.encode(configuration), to: temporary.appendingPathComponent("config.json"))
            try CheckpointWeights.write(model, to: temporary.appendingPathComponent("model.safetensors"))
        }
    }
}

extension ModelDirectory {
    /// Saves an MLP directory.
    public static func save<Scalar: TensorScalar>(
        _ model: MultilayerPerceptron<Scalar>, configuration: MLPConfiguration,
        to directory: URL
    ) throws {
        try MLPFamily.save(model, configuration: configuration, to: directory)
    }
}
