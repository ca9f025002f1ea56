import Foundation
import Formats
import NeuralNetworks
import TensorCore

/// The configuration of an image classifier directory (`model_type` "cnn"): the input image
/// shape and the steps of a ``SequentialNetwork``, in the order of a PyTorch `nn.Sequential`
/// whose state dict is model.safetensors (`layers.N.weight` `[out, in, kh, kw]` for a
/// convolution, `[out, in]` for a linear step).
///
/// ```json
/// {"model_type": "cnn", "input_shape": [1, 28, 28], "task": "classification",
///  "layers": [{"type": "conv2d", "out_channels": 8, "kernel_size": [3, 3], "stride": [1, 1],
///              "padding": [1, 1], "dilation": [1, 1], "bias": true},
///             {"type": "relu"}, {"type": "max_pool2d", "kernel_size": [2, 2], "stride": [2, 2], "padding": [0, 0]},
///             {"type": "flatten"}, {"type": "linear", "out_features": 10, "bias": true}]}
/// ```
public struct CNNConfiguration: Equatable, Sendable {
    /// `[channels, height, width]` of one image.
    public var inputShape: [Int]
    /// The network's steps in order: convolutions, pooling, activations, flatten and linear layers; `layers.N` in the weights is step N.
    public var steps: [NetworkStep]
    /// The name of each output class, in output order (nil when the labels were integers).
    public var classNames: [String]?

    /// Creates a configuration without validating it; ``init(_:)`` validates one read from config.json.
    ///
    /// - Parameters:
    ///   - inputShape: `[channels, height, width]` of one image.
    ///   - steps: the network's steps, ending in one score per class.
    ///   - classNames: the name of each class in output order; nil for integer labels.
    public init(inputShape: [Int], steps: [NetworkStep], classNames: [String]? = nil) {
        self.inputShape = inputShape
        self.steps = steps
        self.classNames = classNames
    }

    /// The number of classes: the outputs of the last step.
    public var classCount: Int { ((try? SequentialNetwork<Float>.shapes(of: steps, input: inputShape))?.last ?? [0]).reduce(1, *) }

    /// config.json's contents.
    public var json: [String: JSONValue] {
        func pair(_ p: (Int, Int)) -> JSONValue { .array([.number(Double(p.0)), .number(Double(p.1))]) }
        let layers: [JSONValue] = steps.map { step in
            var o: [String: JSONValue] = ["type": .string(step.typeName)]
            switch step {
            case let .conv2d(out, kernel, stride, padding, dilation, bias):
                o["out_channels"] = .number(Double(out))
                (o["kernel_size"], o["stride"], o["padding"], o["dilation"], o["bias"]) = (
                    pair(kernel), pair(stride), pair(padding), pair(dilation), .bool(bias)
                )
            case let .pool(_, kernel, stride, padding):
                (o["kernel_size"], o["stride"], o["padding"]) = (pair(kernel), pair(stride), pair(padding))
            case let .linear(out, bias):
                (o["out_features"], o["bias"]) = (.number(Double(out)), .bool(bias))
            case .activation, .flatten: break
            }
            return .object(o)
        }
        var values: [String: JSONValue] = [
            "model_type": "cnn", "task": "classification", "layers": .array(layers),
            "input_shape": .array(inputShape.map { .number(Double($0)) }),
        ]
        if let classNames { values["class_names"] = .array(classNames.map { .string($0) }) }
        return values
    }

    /// Reads the fields of a config.json (`model_type` "cnn"), refusing anything it does not know by name.
    ///
    /// - Throws: ``ModelIOError`` naming the file, the step and the field.
    public init(_ c: HuggingFaceConfiguration) throws {
        func fail(_ reason: String) -> ModelIOError { .malformedConfiguration(path: c.path, reason: reason) }
        guard let elements = c.value("input_shape")?.arrayValue, case let shape = elements.compactMap(\.intValue), shape.count == 3, elements.count == 3,
            shape.allSatisfy({ $0 > 0 && $0 <= 1 << 16 })
        else {
            throw fail("field input_shape must be [channels, height, width], each from 1 to 65536")
        }
        guard let list = c.value("layers")?.arrayValue, !list.isEmpty else { throw fail("field layers must list the network's steps") }
        let task = try c.string("task") ?? "classification"
        guard task == "classification" else { throw fail("field task must be classification (a CNN here is an image classifier)") }
        var steps: [NetworkStep] = []
        for (i, item) in list.enumerated() {
            guard let o = item.objectValue, let type = o["type"]?.stringValue else { throw fail("layers[\(i)] must be an object with a type") }
            var used: Set<String> = ["type"]
            func integer(_ key: String, default d: Int? = nil, minimum: Int = 1) throws -> Int {
                used.insert(key)
                guard let v = o[key], !v.isNull else {
                    if let d { return d }
                    throw fail("layers[\(i)] (\(type)) needs \(key)")
                }
                guard let n = v.intValue, n >= minimum, n <= 1 << 16 else {
                    throw fail("layers[\(i)] (\(type)): \(key) must be an integer from \(minimum) to 65536")
                }
                return n
            }
            func pair(_ key: String, default d: (Int, Int)? = nil, minimum: Int = 1) throws -> (Int, Int) {
                used.insert(key)
                guard let v = o[key], !v.isNull else {
                    if let d { return d }
                    throw fail("layers[\(i)] (\(type)) needs \(key)")
                }
                // Every element must be an integer: [3, 3, "x"] is not a pair.
                let array = v.arrayValue.map { $0.map(\.intValue) }
                let values = array.map { $0.allSatisfy { $0 != nil } ? $0.compactMap { $0 } : [] } ?? v.intValue.map { [$0, $0] } ?? []
                guard values.count == 2,
                    values.allSatisfy({ $0 >= minimum && $0 <= 1 << 16 })
                else {
                    throw fail("layers[\(i)] (\(type)): \(key) must be an integer or a pair of integers from \(minimum) to 65536")
                }
                return (values[0], values[1])
            }
            func flag(_ key: String) throws -> Bool {
                used.insert(key)
                guard let v = o[key], !v.isNull else { return true }
                guard let b = v.boolValue else { throw fail("layers[\(i)] (\(type)): \(key) must be true or false") }
                return b
            }
            switch type {
            case "conv2d":
                if let groups = o["groups"], groups.intValue != 1 { throw fail("layers[\(i)] (conv2d): only groups = 1 is implemented") }
                used.insert("groups")
                if let mode = o["padding_mode"], mode.stringValue != "zeros" { throw fail("layers[\(i)] (conv2d): only padding_mode zeros is implemented") }
                used.insert("padding_mode")
                steps.append(
                    .conv2d(
                        outChannels: try integer("out_channels"), kernelSize: try pair("kernel_size"), stride: try pair("stride", default: (1, 1)),
                        padding: try pair("padding", default: (0, 0), minimum: 0), dilation: try pair("dilation", default: (1, 1)),
                        bias: try flag("bias")))
            case "max_pool2d", "avg_pool2d":
                let kernel = try pair("kernel_size")
                steps.append(
                    .pool(
                        type == "max_pool2d" ? .max : .average, kernelSize: kernel, stride: try pair("stride", default: kernel),
                        padding: try pair("padding", default: (0, 0), minimum: 0)))
            case "flatten": steps.append(.flatten)
            case "linear": steps.append(.linear(outFeatures: try integer("out_features"), bias: try flag("bias")))
            default:
                guard let activation = Activation(huggingFaceName: type) else {
                    throw fail(
                        "layers[\(i)]: unknown type '\(type)' (conv2d, max_pool2d, avg_pool2d, flatten, linear, or an activation: "
                            + Activation.allCases.map(\.rawValue).joined(separator: ", ") + ")")
                }
                steps.append(.activation(activation))
            }
            if let extra = o.keys.sorted().first(where: { !used.contains($0) }) {
                throw ModelIOError.unsupportedConfiguration(path: c.path, field: "layers[\(i)].\(extra)", reason: "is not implemented for \(type)")
            }
        }
        let shapes: [[Int]]
        do { shapes = try SequentialNetwork<Float>.shapes(of: steps, input: shape) } catch let error as NetworkShapeError {
            throw fail("layers[\(error.step)]: \(error.message) (input_shape \(shape))")
        }
        guard let last = shapes.last, last.count == 1 else {
            throw fail("the last step must give one score per class, gives \(shapes.last ?? shape) per image; end with flatten and linear")
        }
        let names = try c.value("class_names").map { v -> [String] in
            guard let names = v.arrayValue?.compactMap(\.stringValue), names.count == v.arrayValue?.count, names.count == last[0],
                Set(names).count == names.count
            else {
                throw fail("field class_names must list one distinct name per output (\(last[0]))")
            }
            return names
        }
        self.init(inputShape: shape, steps: steps, classNames: names)
    }

    /// Parameters of the network (weights and biases), in floating point, without building it.
    public var parameterCount: Double {
        guard let shapes = try? SequentialNetwork<Float>.shapes(of: steps, input: inputShape) else { return .infinity }
        var total = 0.0
        for (step, before) in zip(steps, [inputShape] + shapes) {
            switch step {
            case let .conv2d(out, kernel, _, _, _, bias):
                total += Double(out) * (Double(before[0]) * Double(kernel.0) * Double(kernel.1) + (bias ? 1 : 0))
            case let .linear(out, bias):
                total += Double(out) * (Double(before[0]) + (bias ? 1 : 0))
            case .pool, .activation, .flatten: break
            }
        }
        return total
    }
}

/// Image classifiers (`model_type` `cnn`): convolutions, pooling and linear steps, loadable
/// into an equivalent PyTorch `nn.Sequential` by name.
public enum CNNFamily: ModelFamily {
    /// The `model_type` this family reads: `cnn`.
    public static let modelTypes = ["cnn"]

    /// Loads a CNN directory: validates config.json, refusing unknown keys, then reads model.safetensors into a ``SequentialNetwork``.
    ///
    /// - Throws: ``ModelIOError`` naming the file, step or tensor at fault.
    public static func load<Scalar: TensorScalar>(
        from directory: URL, configuration c: HuggingFaceConfiguration,
        as _: Scalar.Type
    ) throws -> LoadedModel<Scalar> {
        let configuration = try CNNConfiguration(c)
        try c.finish()
        try ModelFootprint.check(
            parameters: configuration.parameterCount, what: "the layers of \(c.path)", path: c.path,
            checkpointElements: try ModelFootprint.checkpointElements(in: directory))
        let model = SequentialNetwork<Scalar>(steps: configuration.steps, inputShape: configuration.inputShape)
        try CheckpointWeights.load(into: model, from: directory)
        let described = configuration.steps.map(\.typeName).joined(separator: " → ")
        return LoadedModel(
            kind: .imageClassifier(model, configuration), modelType: "cnn", tokenizer: nil,
            summary: [
                "model: cnn (classification) at \(directory.path)",
                "configuration: input \(configuration.inputShape.map(String.init).joined(separator: "×")), \(described)",
            ])
    }

    /// Saves a CNN directory, atomically.
    public static func save<Scalar: TensorScalar>(_ model: SequentialNetwork<Scalar>, configuration: CNNConfiguration, to directory: URL) throws {
        try ModelDirectory.writeAtomically(to: directory) { temporary in
            try CheckpointWeights.writeConfiguration(configuration.json, to: temporary.appendingPathComponent("config.json"))
            try CheckpointWeights.write(model, to: temporary.appendingPathComponent("model.safetensors"))
        }
    }
}

extension ModelDirectory {
    /// Saves an image classifier directory.
    public static func save<Scalar: TensorScalar>(_ model: SequentialNetwork<Scalar>, configuration: CNNConfiguration, to directory: URL) throws {
        try CNNFamily.save(model, configuration: configuration, to: directory)
    }
}
