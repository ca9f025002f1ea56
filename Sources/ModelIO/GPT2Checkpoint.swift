import Foundation
import Formats
import NeuralNetworks
import TensorCore
import Tokenizers

/// Hugging Face GPT-2 checkpoints: a directory with `config.json`, `model.safetensors` (or a
/// sharded `model.safetensors.index.json`) and optionally `tokenizer.json`.
///
/// Hugging Face stores GPT-2's projections as `Conv1D` with weights `[in, out]`; ``Linear`` keeps
/// `[out, in]`, so these four weights are transposed on the way in and out:
/// `attn.c_attn`, `attn.c_proj`, `mlp.c_fc`, `mlp.c_proj`. The tied `lm_head.weight` is usually
/// absent from the file (it is `transformer.wte.weight`). Files written by `GPT2Model` (names
/// without the `transformer.` prefix) load too; the causal-mask buffers `attn.bias` and
/// `attn.masked_bias` of older files are ignored.
public enum GPT2Checkpoint {
    static let conv1DSuffixes = ["attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"]

    static func isConv1D(_ name: String) -> Bool { conv1DSuffixes.contains { name.hasSuffix($0) } }

    /// Reads and validates `config.json`.
    public static func configuration(in directory: URL, file: String = "config.json") throws -> GPT2Configuration {
        let url = directory.appendingPathComponent(file)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ModelIOError.missingFile(path: url.path, hint: "a model directory needs config.json")
        }
        let data = try Data(contentsOf: url)
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelIOError.malformedConfiguration(path: url.path, reason: "not a JSON object")
        }
        if let type = object["model_type"] as? String, type != "gpt2" {
            throw ModelIOError.unsupportedModelType(path: url.path, modelType: type)
        }
        let configuration: GPT2Configuration
        do { configuration = try JSONDecoder().decode(GPT2Configuration.self, from: data) } catch let DecodingError.keyNotFound(key, _) {
            throw ModelIOError.malformedConfiguration(path: url.path, reason: "missing field \(key.stringValue)")
        } catch let DecodingError.typeMismatch(_, context) {
            throw ModelIOError.malformedConfiguration(path: url.path,
                                                      reason: "field \(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type")
        } catch {
            throw ModelIOError.malformedConfiguration(path: url.path, reason: "\(error)")
        }
        do { try configuration.validate() } catch {
            throw ModelIOError.malformedConfiguration(path: url.path, reason: "\(error)")
        }
        return configuration
    }

    /// The safetensors files of a directory: `model.safetensors`, or the shards named in
    /// `model.safetensors.index.json`.
    static func weightFiles(in directory: URL) throws -> [SafeTensorsFile] {
        let single = directory.appendingPathComponent("model.safetensors")
        if FileManager.default.fileExists(atPath: single.path) { return [try SafeTensorsFile(contentsOf: single)] }
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        if FileManager.default.fileExists(atPath: index.path) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(contentsOf: index)) as? [String: Any],
                  let map = object["weight_map"] as? [String: String] else {
                throw ModelIOError.malformedConfiguration(path: index.path, reason: "no weight_map object")
            }
            return try Set(map.values).sorted().map { try SafeTensorsFile(contentsOf: directory.appendingPathComponent($0)) }
        }
        let hint = FileManager.default.fileExists(atPath: directory.appendingPathComponent("pytorch_model.bin").path)
            ? "only safetensors weights are read; convert pytorch_model.bin with transformers' save_pretrained(safe_serialization=True)"
            : "a model directory needs model.safetensors"
        throw ModelIOError.missingFile(path: single.path, hint: hint)
    }

    /// Loads a GPT-2 language model and, when the directory has one, its tokenizer.
    public static func load<Scalar: TensorScalar>(from directory: URL, as _: Scalar.Type = Scalar.self) throws
        -> (model: GPT2LanguageModel<Scalar>, tokenizer: BytePairTokenizer?) {
        let configuration = try configuration(in: directory)
        let model = GPT2LanguageModel<Scalar>(configuration: configuration)
        let files = try weightFiles(in: directory)
        var located: [String: (SafeTensorsFile, String)] = [:]
        for file in files {
            for name in file.tensorNames {
                if name.hasSuffix(".attn.bias") || name.hasSuffix(".attn.masked_bias") { continue }
                let ours = name.hasPrefix("transformer.") || name == "lm_head.weight" ? name : "transformer." + name
                located[ours] = (file, name)
            }
        }
        let expected = model.namedParameters()
        let known = Set(expected.map(\.name) + ["lm_head.weight"])
        if let stray = located.keys.sorted().first(where: { !known.contains($0) }) {
            throw ModelIOError.unexpectedTensor(path: located[stray]!.0.url.path, tensor: located[stray]!.1)
        }
        var values: [String: Tensor<Scalar>] = [:]
        for (name, parameter) in expected {
            guard let (file, stored) = located[name] else {
                throw ModelIOError.missingTensor(path: files[0].url.path, tensor: name)
            }
            var t = try file.tensor(named: stored, as: Scalar.self)
            if isConv1D(name) && t.rank == 2 { t = t.transposed() }
            guard t.shape == parameter.shape else {
                throw ModelIOError.shapeMismatch(path: file.url.path, tensor: stored, expected: parameter.shape, found: t.shape)
            }
            guard t.isFinite else { throw ModelIOError.nonFiniteTensor(path: file.url.path, tensor: stored) }
            values[name] = t
        }
        if !configuration.tieWordEmbeddings, located["lm_head.weight"] == nil {
            throw ModelIOError.missingTensor(path: files[0].url.path, tensor: "lm_head.weight")
        }
        try model.load(values)
        model.evaluate()
        let tokenizerURL = directory.appendingPathComponent("tokenizer.json")
        let tokenizer = FileManager.default.fileExists(atPath: tokenizerURL.path) ? try BytePairTokenizer(contentsOf: tokenizerURL) : nil
        return (model, tokenizer)
    }

    /// Writes a directory that Hugging Face `transformers` loads with `GPT2LMHeadModel.from_pretrained`.
    ///
    /// The directory is assembled beside the destination and renamed into place at the end, so
    /// an interrupted save leaves the previous directory (if any) untouched.
    public static func save<Scalar: TensorScalar>(_ model: GPT2LanguageModel<Scalar>, tokenizer: BytePairTokenizer?,
                                                  to directory: URL, metadata: [String: String] = [:]) throws {
        try ModelDirectory.writeAtomically(to: directory) { temporary in
            var config = try JSONSerialization.jsonObject(with: JSONEncoder().encode(model.configuration)) as! [String: Any]
            config["model_type"] = "gpt2"
            config["architectures"] = ["GPT2LMHeadModel"]
            if config["n_inner"] == nil { config["n_inner"] = NSNull() }
            let configData = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
            try AtomicFile.write(configData, to: temporary.appendingPathComponent("config.json"))
            var tensors: [(name: String, payload: SafeTensorsPayload)] = []
            for (name, parameter) in model.namedParameters() {
                let value = isConv1D(name) ? parameter.value.transposed() : parameter.value
                tensors.append((name, Tensor<Float>(value).payload))
            }
            if !model.configuration.tieWordEmbeddings {
                tensors.append(("lm_head.weight", Tensor<Float>(model.lm_head.weight.value).payload))
            }
            // transformers refuses safetensors files whose metadata lacks a known "format".
            try SafeTensorsFile.write(tensors, metadata: metadata.merging(["format": "pt"]) { a, _ in a },
                                      to: temporary.appendingPathComponent("model.safetensors"))
            if let tokenizer { try tokenizer.save(to: temporary.appendingPathComponent("tokenizer.json")) }
        }
    }
}

extension Tensor where Scalar == Float {
    var payload: SafeTensorsPayload { .float32(self) }
}
