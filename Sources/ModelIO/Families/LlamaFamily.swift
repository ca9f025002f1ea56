import Foundation
import Formats
import NeuralNetworks
import TensorCore
import Tokenizers

/// Llama-family checkpoints: `model_type` `llama` (`LlamaForCausalLM`), `mistral`
/// (`MistralForCausalLM`) and `qwen2` (`Qwen2ForCausalLM`). Their weights are named as our
/// modules are (`model.layers.0.self_attn.q_proj.weight`), stored `[out, in]`; the rotary
/// `inv_freq` buffers of older files are skipped, and a tied `lm_head.weight` may be present or not.
public enum LlamaFamily: LanguageModelFamily {
    /// The `model_type` values this family reads.
    public static let modelTypes = ["llama", "mistral", "qwen2"]
    /// The name `influence train --architecture` takes for this family; its models are saved as `llama`.
    public static let architecture = "llama"
    static let architectures = ["llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM"]

    /// Reads a Llama, Mistral or Qwen2 config.json, refusing what the network does not implement.
    public static func configuration(_ c: HuggingFaceConfiguration) throws -> LlamaConfiguration {
        let type = c.modelType ?? "llama"
        guard modelTypes.contains(type) else { throw ModelIOError.unsupportedModelType(path: c.path, modelType: type, supported: modelTypes) }
        let hidden = try c.requiredInteger("hidden_size"), heads = try c.requiredInteger("num_attention_heads")
        let layers = try c.requiredInteger("num_hidden_layers")
        let rotary = try c.rotary(defaultTheta: 10_000)
        if let factor = rotary.parameters["partial_rotary_factor"]?.doubleValue, factor != 1 {
            throw ModelIOError.unsupportedConfiguration(
                path: c.path, field: "rope_parameters.partial_rotary_factor",
                reason: "\(factor) is not implemented for \(type): Llama-family heads rotate every feature")
        }
        // Attention biases: Llama's attention_bias covers q, k, v and o; Qwen2 has q, k, v biases always.
        let attentionBias = type == "qwen2" ? false : try c.bool("attention_bias", default: false)
        let qkvBias = type == "qwen2" ? true : attentionBias
        // Sliding windows: Mistral's applies to every layer; Qwen2's to the layers `layer_types` marks
        // `sliding_attention` (newer files) or those from `max_window_layers` on when `use_sliding_window`.
        var window = try c.integer("sliding_window")
        var fullLayers = Set<Int>()
        if type == "qwen2" {
            let uses = try c.bool("use_sliding_window", default: false)
            let firstWindowed = try c.integer("max_window_layers", default: layers)
            if let types = c.value("layer_types") {
                guard let list = types.arrayValue?.compactMap(\.stringValue), list.count == layers,
                    list.allSatisfy({ $0 == "full_attention" || $0 == "sliding_attention" })
                else {
                    throw ModelIOError.unsupportedConfiguration(
                        path: c.path, field: "layer_types",
                        reason: "must list full_attention or sliding_attention for each of the \(layers) layers")
                }
                fullLayers = Set(list.indices.filter { list[$0] == "full_attention" })
            } else {
                fullLayers = uses ? Set(0..<Swift.min(firstWindowed, layers)) : Set(0..<layers)
            }
            if fullLayers.count == layers { window = nil }
        } else if let types = c.value("layer_types") {
            guard let list = types.arrayValue?.compactMap(\.stringValue), list.count == layers,
                list.allSatisfy({ $0 == "full_attention" || ($0 == "sliding_attention" && window != nil) })
            else {
                throw ModelIOError.unsupportedConfiguration(
                    path: c.path, field: "layer_types",
                    reason: "must list full_attention (or, with sliding_window, sliding_attention) for each of the \(layers) layers")
            }
            fullLayers = Set(list.indices.filter { list[$0] == "full_attention" })
        }
        let configuration = LlamaConfiguration(
            modelType: type, vocabularySize: try c.requiredInteger("vocab_size"), hiddenSize: hidden,
            intermediateSize: try c.requiredInteger("intermediate_size"), layerCount: layers, headCount: heads,
            keyValueHeadCount: try c.integer("num_key_value_heads"), headSize: try c.integer("head_dim"),
            contextLength: try c.integer("max_position_embeddings", default: 2048),
            rmsNormEpsilon: try c.number("rms_norm_eps", default: 1e-6), ropeTheta: rotary.theta, ropeScaling: rotary.scaling,
            queryKeyValueBias: qkvBias, outputBias: attentionBias, mlpBias: try c.bool("mlp_bias", default: false),
            activation: try c.activation("hidden_act", default: "silu"), tieWordEmbeddings: try c.bool("tie_word_embeddings", default: false),
            slidingWindow: window, fullAttentionLayers: fullLayers, attentionDropout: try c.number("attention_dropout", default: 0),
            initializerRange: try c.number("initializer_range", default: 0.02),
            specialTokens: SpecialTokens(
                beginning: try c.tokenID("bos_token_id"), end: try c.tokenID("eos_token_id"),
                padding: try c.tokenID("pad_token_id")))
        // pretraining_tp > 1 only slices the same products (mathematically identical).
        _ = c.value("pretraining_tp")
        try c.finish()
        if let (field, message) = configuration.firstProblem() {
            throw ModelIOError.malformedConfiguration(path: c.path, reason: "field \(field) \(message)")
        }
        try ModelFootprint.check(parameters: configuration.parameterEstimate, what: configuration.sizeDescription, path: c.path)
        return configuration
    }

    /// Loads a Llama, Mistral or Qwen2 directory: validates config.json, refusing options not implemented, then reads the weights.
    ///
    /// `lm_head.weight` may be absent when the embeddings are tied. The tokenizer is left to ``ModelDirectory/load(from:as:)``.
    ///
    /// - Throws: ``ModelIOError`` naming the file and the field or tensor at fault.
    public static func load<Scalar: TensorScalar>(
        from directory: URL, configuration c: HuggingFaceConfiguration,
        as _: Scalar.Type
    ) throws -> LoadedModel<Scalar> {
        let configuration = try configuration(c)
        try ModelFootprint.check(
            parameters: configuration.parameterEstimate, what: configuration.sizeDescription, path: c.path,
            checkpointElements: try ModelFootprint.checkpointElements(in: directory))
        let model = LlamaForCausalLM<Scalar>(configuration: configuration)
        try CheckpointWeights.load(
            into: model, from: directory, optional: configuration.tieWordEmbeddings ? ["lm_head.weight"] : [],
            storedName: { $0.hasSuffix("rotary_emb.inv_freq") ? nil : $0 })
        return LoadedModel(
            kind: .languageModel(model), modelType: configuration.modelType, tokenizer: nil,
            summary: summary(configuration, directory: directory))
    }

    static func summary(_ c: LlamaConfiguration, directory: URL) -> [String] {
        var scaling = "none"
        switch c.ropeScaling {
        case .none: break
        case let .linear(factor): scaling = "linear ×\(factor)"
        case let .llama3(factor, low, high, original): scaling = "llama3 ×\(factor) (low \(low), high \(high), original context \(original))"
        }
        return [
            "model: \(c.modelType) (\(architectures[c.modelType] ?? "LlamaForCausalLM")) at \(directory.path)",
            "configuration: vocab_size \(c.vocabularySize), max_position_embeddings \(c.contextLength), hidden_size \(c.hiddenSize), "
                + "num_hidden_layers \(c.layerCount), num_attention_heads \(c.headCount), num_key_value_heads \(c.keyValueHeadCount), "
                + "head_dim \(c.headSize), intermediate_size \(c.intermediateSize), hidden_act \(c.activation.rawValue), "
                + "tied embeddings \(c.tieWordEmbeddings ? "yes" : "no")",
            "rotary: theta \(c.ropeTheta), scaling \(scaling); biases: q/k/v \(c.queryKeyValueBias ? "yes" : "no"), o \(c.outputBias ? "yes" : "no"), "
                + "mlp \(c.mlpBias ? "yes" : "no"); sliding window \(c.slidingWindow.map(String.init) ?? "none")",
        ]
    }

    /// A freshly initialised Llama of the given shape, seeded by `seed`; the SwiGLU size defaults to 8/3 × width rounded up to a multiple of 8.
    ///
    /// - Throws: ``ModelIOError`` when the heads do not divide the width, the shape is invalid, or too large.
    public static func makeModel<Scalar: TensorScalar>(_ shape: DecoderShape, seed: UInt64, as _: Scalar.Type) throws -> any CausalLanguageModel<Scalar> {
        // SwiGLU's hidden size: 8/3 of the width (Llama's rule, rounded up to a multiple of 8).
        let inner = shape.innerSize ?? ((8 * shape.width / 3 + 7) / 8 * 8)
        let configuration = LlamaConfiguration(
            vocabularySize: shape.vocabularySize, hiddenSize: shape.width, intermediateSize: inner, layerCount: shape.layerCount,
            headCount: shape.headCount, keyValueHeadCount: shape.keyValueHeadCount, contextLength: shape.contextLength,
            attentionDropout: shape.dropout, specialTokens: shape.specialTokens)
        if shape.width % Swift.max(1, shape.headCount) != 0 {
            throw ModelIOError.malformedConfiguration(path: "llama", reason: "\(shape.headCount) heads do not divide the width \(shape.width)")
        }
        if let (field, message) = configuration.firstProblem() { throw ModelIOError.malformedConfiguration(path: "llama", reason: "\(field) \(message)") }
        try ModelFootprint.check(parameters: configuration.parameterEstimate, copies: 4, what: configuration.sizeDescription, path: "llama")
        return LlamaForCausalLM<Scalar>(configuration: configuration, seed: seed)
    }

    /// A freshly initialised Llama, Mistral or Qwen2 from a config.json, validated as ``configuration(_:)`` does, seeded by `seed`.
    ///
    /// - Throws: ``ModelIOError`` naming the file and field.
    public static func makeModel<Scalar: TensorScalar>(
        configuration: HuggingFaceConfiguration, seed: UInt64,
        as _: Scalar.Type
    ) throws -> any CausalLanguageModel<Scalar> {
        let parsed = try self.configuration(configuration)
        try ModelFootprint.check(parameters: parsed.parameterEstimate, copies: 4, what: parsed.sizeDescription, path: configuration.path)
        return LlamaForCausalLM<Scalar>(configuration: parsed, seed: seed)
    }

    /// `model` wrapped with the family's specialised forward pass when it is a `LlamaForCausalLM<Float>`; nil otherwise.
    public static func erased(_ model: any CausalLanguageModel<Float>) -> AnyCausalLanguageModel<Float>? {
        (model as? LlamaForCausalLM<Float>).map { AnyCausalLanguageModel($0) }
    }

    /// Whether `model` is a `LlamaForCausalLM` (of any of the family's model types).
    public static func owns<Scalar: TensorScalar>(_ model: any CausalLanguageModel<Scalar>) -> Bool { model is LlamaForCausalLM<Scalar> }

    /// The config.json of a configuration, in the layout transformers writes (`rope_parameters`).
    static func configurationJSON(_ c: LlamaConfiguration) -> [String: JSONValue] {
        func n(_ v: Int) -> JSONValue { .number(Double(v)) }
        let rope = HuggingFaceConfiguration.rotaryParameters(theta: c.ropeTheta, scaling: c.ropeScaling)
        var config: [String: JSONValue] = [
            "model_type": .string(c.modelType), "architectures": [.string(architectures[c.modelType] ?? "LlamaForCausalLM")],
            "vocab_size": n(c.vocabularySize), "hidden_size": n(c.hiddenSize), "intermediate_size": n(c.intermediateSize),
            "num_hidden_layers": n(c.layerCount), "num_attention_heads": n(c.headCount), "num_key_value_heads": n(c.keyValueHeadCount),
            "head_dim": n(c.headSize), "max_position_embeddings": n(c.contextLength), "rms_norm_eps": .number(c.rmsNormEpsilon),
            "rope_parameters": .object(rope), "hidden_act": .string(c.activation.rawValue), "tie_word_embeddings": .bool(c.tieWordEmbeddings),
            "attention_dropout": .number(c.attentionDropout), "initializer_range": .number(c.initializerRange),
        ]
        if c.modelType == "qwen2" {
            config["use_sliding_window"] = .bool(c.slidingWindow != nil)
            config["sliding_window"] = c.slidingWindow.map(n) ?? .null
            config["layer_types"] = .array(
                (0..<c.layerCount).map { c.slidingWindow == nil || c.fullAttentionLayers.contains($0) ? "full_attention" : "sliding_attention" })
        } else {
            config["attention_bias"] = .bool(c.outputBias)
            config["mlp_bias"] = .bool(c.mlpBias)
            if c.modelType == "mistral" { config["sliding_window"] = c.slidingWindow.map(n) ?? .null }
        }
        return config.merging(HuggingFaceConfiguration.specialTokenIDs(c.specialTokens)) { a, _ in a }
    }

    /// Saves `model`, which must be a `LlamaForCausalLM`, as a directory transformers loads under its `model_type`.
    ///
    /// A `llama` model must have the same bias setting for q, k, v and o, as its config.json has one `attention_bias` (checked with a precondition).
    ///
    /// - Throws: the errors of writing the files.
    public static func save<Scalar: TensorScalar>(
        _ model: any CausalLanguageModel<Scalar>, tokenizer: BytePairTokenizer?, to directory: URL,
        metadata: [String: String]
    ) throws {
        guard let llama = model as? LlamaForCausalLM<Scalar> else { preconditionFailure("LlamaFamily saves Llama models, not \(type(of: model))") }
        let c = llama.configuration
        if c.modelType == "llama" && c.queryKeyValueBias != c.outputBias {
            preconditionFailure("a llama checkpoint has one attention_bias for q, k, v and o")
        }
        try CheckpointWeights.saveDirectory(llama, configuration: configurationJSON(c), tokenizer: tokenizer, to: directory, metadata: metadata)
    }
}
