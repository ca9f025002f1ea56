import Foundation
import Formats
import NeuralNetworks
import TensorCore
import Tokenizers

/// Reading and writing the safetensors weights of a model directory, for every family.
///
/// A checkpoint is `model.safetensors`, or shards listed in `model.safetensors.index.json`
/// (`weight_map`: tensor → file), as transformers writes checkpoints above its shard size. Tensors
/// may be stored in F32, F16, BF16 or F64 and are converted to the model's precision.
enum CheckpointWeights {
    /// The safetensors files of a directory, with the tensors each holds.
    static func files(in directory: URL) throws -> [SafeTensorsFile] {
        let single = directory.appendingPathComponent("model.safetensors")
        if FileManager.default.fileExists(atPath: single.path) { return [try SafeTensorsFile(contentsOf: single)] }
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        if FileManager.default.fileExists(atPath: index.path) {
            guard let data = try? readRegularFile(atPath: index.path), let object = (try? JSONValue(parsing: data))?.objectValue,
                let map = object["weight_map"]?.objectValue
            else {
                throw ModelIOError.malformedConfiguration(path: index.path, reason: "no weight_map object")
            }
            var shards: [String: [String]] = [:]
            for (tensor, file) in map {
                guard let name = file.stringValue, !name.isEmpty, !name.contains("/"), name != "..", name != "." else {
                    throw ModelIOError.malformedConfiguration(path: index.path, reason: "weight_map[\(tensor)] is not a file name in this directory")
                }
                shards[name, default: []].append(tensor)
            }
            return try shards.keys.sorted().map { name in
                let url = directory.appendingPathComponent(name)
                guard FileManager.default.fileExists(atPath: url.path) else {
                    throw ModelIOError.missingFile(path: url.path, hint: "\(index.lastPathComponent) lists it as a shard")
                }
                let file = try SafeTensorsFile(contentsOf: url)
                if let absent = shards[name]!.sorted().first(where: { !file.contains(tensorNamed: $0) }) {
                    throw ModelIOError.missingTensor(path: url.path, tensor: absent)
                }
                return file
            }
        }
        let hint =
            FileManager.default.fileExists(atPath: directory.appendingPathComponent("pytorch_model.bin").path)
            ? "only safetensors weights are read; convert pytorch_model.bin with transformers' save_pretrained(safe_serialization=True)"
            : "a model directory needs model.safetensors (or model.safetensors.index.json and its shards)"
        throw ModelIOError.missingFile(path: single.path, hint: hint)
    }

    /// Loads every parameter of `module` from the directory's files.
    ///
    /// - Parameters:
    ///   - storedName: the file's name for a stored tensor, as the module names it (GPT-2 files may
    ///     lack the `transformer.` prefix); nil for a tensor to skip (a buffer such as a causal mask
    ///     or rotary frequencies).
    ///   - optional: names the model can do without in the file (a tied head stored or not).
    ///   - transform: applied to a stored tensor before its shape is checked (GPT-2's Conv1D
    ///     weights are transposed).
    /// - Throws: ``ModelIOError`` naming the file and tensor that is missing (with the shape the
    ///   configuration implies), extra, of the wrong shape or not finite.
    static func load<Scalar: TensorScalar>(
        into module: Module<Scalar>, from directory: URL, optional: Set<String> = [],
        storedName: (String) -> String? = { $0 },
        transform: (String, Tensor<Scalar>) -> Tensor<Scalar> = { $1 }
    ) throws {
        let files = try files(in: directory)
        var located: [String: (file: SafeTensorsFile, stored: String)] = [:]
        for file in files {
            for name in file.tensorNames {
                guard let ours = storedName(name) else { continue }
                located[ours] = (file, name)
            }
        }
        let expected = module.namedParameters()
        let known = Set(expected.map(\.name)).union(optional)
        if let stray = located.keys.sorted().first(where: { !known.contains($0) }) {
            throw ModelIOError.unexpectedTensor(path: located[stray]!.file.url.path, tensor: located[stray]!.stored)
        }
        var values: [String: Tensor<Scalar>] = [:]
        for (name, parameter) in expected {
            guard let (file, stored) = located[name] else {
                throw ModelIOError.missingTensor(path: files.count == 1 ? files[0].url.path : directory.path, tensor: name, expected: parameter.shape)
            }
            let dtype = try file.entry(named: stored).dtype
            guard [.float64, .float32, .float16, .bfloat16].contains(dtype) else {
                throw ModelIOError.nonFloatingWeight(path: file.url.path, tensor: stored, dtype: dtype.rawValue)
            }
            let t = transform(name, try file.tensor(named: stored, as: Scalar.self))
            guard t.shape == parameter.shape else {
                throw ModelIOError.shapeMismatch(path: file.url.path, tensor: stored, expected: parameter.shape, found: t.shape)
            }
            guard t.isFinite else { throw ModelIOError.nonFiniteTensor(path: file.url.path, tensor: stored) }
            values[name] = t
        }
        try module.load(values)
    }

    /// Writes every parameter of `module` in Float32 to `url` (one file), with `extra` tensors and
    /// the `format` metadata transformers requires.
    static func write<Scalar: TensorScalar>(
        _ module: Module<Scalar>, to url: URL, metadata: [String: String] = [:],
        storedName: (String) -> String = { $0 },
        transform: (String, Tensor<Scalar>) -> Tensor<Scalar> = { $1 },
        extra: [(name: String, value: Tensor<Scalar>)] = []
    ) throws {
        var tensors: [(name: String, payload: SafeTensorsPayload)] = module.namedParameters().map { name, p in
            (storedName(name), .float32(Tensor<Float>(transform(name, p.value))))
        }
        tensors += extra.map { ($0.name, .float32(Tensor<Float>($0.value))) }
        try SafeTensorsFile.write(tensors, metadata: metadata.merging(["format": "pt"]) { a, _ in a }, to: url)
    }

    /// Writes a whole model directory atomically (assembled beside the destination, renamed into
    /// place): config.json, model.safetensors (Float32) and, when given, tokenizer.json.
    static func saveDirectory<Scalar: TensorScalar>(
        _ module: Module<Scalar>, configuration: [String: JSONValue], tokenizer: BytePairTokenizer?,
        to directory: URL, metadata: [String: String],
        transform: @escaping (String, Tensor<Scalar>) -> Tensor<Scalar> = { $1 }
    ) throws {
        try ModelDirectory.writeAtomically(to: directory) { temporary in
            try writeConfiguration(configuration, to: temporary.appendingPathComponent("config.json"))
            try write(module, to: temporary.appendingPathComponent("model.safetensors"), metadata: metadata, transform: transform)
            if let tokenizer { try tokenizer.save(to: temporary.appendingPathComponent("tokenizer.json")) }
        }
    }

    /// Writes a configuration as pretty-printed JSON with sorted keys.
    static func writeConfiguration(_ values: [String: JSONValue], to url: URL) throws {
        let data = try JSONSerialization.data(
            withJSONObject: try JSONSerialization.jsonObject(with: Data(JSONValue.object(values).serialized().utf8)),
            options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(data, to: url)
    }
}
