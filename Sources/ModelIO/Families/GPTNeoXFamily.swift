import Foundation
import Formats
import NeuralNetworks
import TensorCore
import Tokenizers

/// GPT-NeoX checkpoints (`model_type` `gpt_neox`, `GPTNeoXForCausalLM`; the Pythia suite). Weights
/// are named as our modules are (`gpt_neox.layers.0.attention.query_key_value.weight`), `[out, in]`;
/// the head is `embed_out.weight` (files that call it `lm_head.weight` load too); the causal-mask
/// and rotary buffers of older files (`attention.bias`, `attention.masked_bias`,
/// `rotary_emb.inv_freq`) are skipped.
public enum GPTNeoXFamily: LanguageModelFamily {
    /// The `model_type` this family reads: `gpt_neox`.
    public static let modelTypes = ["gpt_neox"]
    /// The name `influence train --architecture` takes for GPT-NeoX.
    public static let architecture = "gpt_neox"

    /// Reads a GPT-NeoX config.json, refusing what the network does not implement.
    public static func configuration(_ c: HuggingFaceConfiguration) throws -> GPTNeoXConfiguration {
        if let type = c.modelType, type != "gpt_neox" { throw ModelIOError.unsupportedModelType(path: c.path, modelType: type, supported: modelTypes) }
        let hidden = try c.requiredInteger("hidden_size"), heads = try c.requiredInteger("num_attention_heads")
        let rotary = try c.rotary(thetaKeys: ["rotary_emb_base", "rope_theta"], defaultTheta: 10_000)
        // The rotated fraction of each head: rope_parameters.partial_rotary_factor (newer files),
        // rotary_pct (older ones, as Pythia's), else a quarter.
        var fraction = try c.number("rotary_pct") ?? 0.25
        if let f = try c.number("partial_rotary_factor") { fraction = f }
        if let f = rotary.parameters["partial_rotary_factor"]?.doubleValue { fraction = f }
        let headSize = hidden / Swift.max(1, heads)
        let configuration = GPTNeoXConfiguration(
            vocabularySize: try c.requiredInteger("vocab_size"), hiddenSize: hidden, intermediateSize: try c.requiredInteger("intermediate_size"),
            layerCount: try c.requiredInteger("num_hidden_layers"), headCount: heads, rotaryDimension: Int(Double(headSize) * fraction),
            ropeTheta: rotary.theta, ropeScaling: rotary.scaling, contextLength: try c.integer("max_position_embeddings", default: 2048),
            layerNormEpsilon: try c.number("layer_norm_eps", default: 1e-5), parallelResidual: try c.bool("use_parallel_residual", default: true),
            tieWordEmbeddings: try c.bool("tie_word_embeddings", default: false), attentionBias: try c.bool("attention_bias", default: true),
            activation: try c.activation("hidden_act", default: "gelu"), hiddenDropout: try c.number("hidden_dropout", default: 0),
            attentionDropout: try c.number("attention_dropout", default: 0), initializerRange: try c.number("initializer_range", default: 0.02),
            specialTokens: SpecialTokens(
                beginning: try c.tokenID("bos_token_id"), end: try c.tokenID("eos_token_id"),
                padding: try c.tokenID("pad_token_id")))
        try c.finish()
        if let (field, message) = configuration.firstProblem() {
            throw ModelIOError.malformedConfiguration(path: c.path, reason: "field \(field) \(message)")
        }
        try ModelFootprint.check(parameters: configuration.parameterEstimate, what: configuration.sizeDescription, path: c.path)
        return configuration
    }

    /// Loads a GPT-NeoX directory: validates config.json, refusing options not implemented, then reads the weights, skipping old buffers.
    ///
    /// The tokenizer is left to ``ModelDirectory/load(from:as:)``.
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
        let model = GPTNeoXForCausalLM<Scalar>(configuration: configuration)
        try CheckpointWeights.load(
            into: model, from: directory, optional: configuration.tieWordEmbeddings ? ["embed_out.weight"] : [],
            storedName: { name in
                if name.hasSuffix(".attention.bias") || name.hasSuffix(".attention.masked_bias") || name.hasSuffix("rotary_emb.inv_freq") { return nil }
                return name == "lm_head.weight" ? "embed_out.weight" : name
            })
        let s = configuration
        return LoadedModel(
            kind: .languageModel(model), modelType: "gpt_neox", tokenizer: nil,
            summary: [
                "model: gpt_neox (GPTNeoXForCausalLM) at \(directory.path)",
                "configuration: vocab_size \(s.vocabularySize), max_position_embeddings \(s.contextLength), hidden_size \(s.hiddenSize), "
                    + "num_hidden_layers \(s.layerCount), num_attention_heads \(s.headCount), intermediate_size \(s.intermediateSize), "
                    + "hidden_act \(s.activation.rawValue), tied embeddings \(s.tieWordEmbeddings ? "yes" : "no")",
                "rotary: \(s.rotaryDimension) of \(s.headSize) features per head, theta \(s.ropeTheta); residual \(s.parallelResidual ? "parallel" : "sequential")",
            ])
    }

    /// A freshly initialised GPT-NeoX of the given shape, seeded by `seed`: a quarter of each head rotary (at least 2 features), MLP 4 × width by default.
    ///
    /// - Throws: ``ModelIOError`` when the shape asks for grouped-query attention, its heads do not divide the width, it is invalid, or too large.
    public static func makeModel<Scalar: TensorScalar>(_ shape: DecoderShape, seed: UInt64, as _: Scalar.Type) throws -> any CausalLanguageModel<Scalar> {
        if let groups = shape.keyValueHeadCount, groups != shape.headCount {
            throw ModelIOError.malformedConfiguration(
                path: "gpt_neox", reason: "gpt_neox has no grouped-query attention: its key/value heads are its \(shape.headCount) heads, not \(groups)")
        }
        guard shape.headCount > 0, shape.width % shape.headCount == 0 else {
            throw ModelIOError.malformedConfiguration(path: "gpt_neox", reason: "\(shape.headCount) heads do not divide the width \(shape.width)")
        }
        let headSize = shape.width / shape.headCount
        let configuration = GPTNeoXConfiguration(
            vocabularySize: shape.vocabularySize, hiddenSize: shape.width, intermediateSize: shape.innerSize ?? 4 * shape.width,
            layerCount: shape.layerCount, headCount: shape.headCount, rotaryDimension: Swift.max(2, headSize / 4 / 2 * 2),
            contextLength: shape.contextLength, hiddenDropout: shape.dropout, attentionDropout: shape.dropout, specialTokens: shape.specialTokens)
        if let (field, message) = configuration.firstProblem() { throw ModelIOError.malformedConfiguration(path: "gpt_neox", reason: "\(field) \(message)") }
        try ModelFootprint.check(parameters: configuration.parameterEstimate, copies: 4, what: configuration.sizeDescription, path: "gpt_neox")
        return GPTNeoXForCausalLM<Scalar>(configuration: configuration, seed: seed)
    }

    /// A freshly initialised GPT-NeoX from a config.json, validated as ``configuration(_:)`` does, seeded by `seed`.
    ///
    /// - Throws: ``ModelIOError`` naming the file and field.
    public static func makeModel<Scalar: TensorScalar>(
        configuration: HuggingFaceConfiguration, seed: UInt64,
        as _: Scalar.Type
    ) throws -> any CausalLanguageModel<Scalar> {
        let parsed = try self.configuration(configuration)
        try ModelFootprint.check(parameters: parsed.parameterEstimate, copies: 4, what: parsed.sizeDescription, path: configuration.path)
        return GPTNeoXForCausalLM<Scalar>(configuration: parsed, seed: seed)
    }

    /// `model` wrapped with GPT-NeoX's specialised forward pass when it is a `GPTNeoXForCausalLM<Float>`; nil otherwise.
    public static func erased(_ model: any CausalLanguageModel<Float>) -> AnyCausalLanguageModel<Float>? {
        (model as? GPTNeoXForCausalLM<Float>).map { AnyCausalLanguageModel($0) }
    }

    /// Whether `model` is a `GPTNeoXForCausalLM`.
    public static func owns<Scalar: TensorScalar>(_ model: any CausalLanguageModel<Scalar>) -> Bool { model is GPTNeoXForCausalLM<Scalar> }

    static func configurationJSON(_ c: GPTNeoXConfiguration) -> [String: JSONValue] {
        func n(_ v: Int) -> JSONValue { .number(Double(v)) }
        var rope = HuggingFaceConfiguration.rotaryParameters(theta: c.ropeTheta, scaling: c.ropeScaling)
        rope["partial_rotary_factor"] = .number(Double(c.rotaryDimension) / Double(c.headSize))
        let config: [String: JSONValue] = [
            "model_type": "gpt_neox", "architectures": ["GPTNeoXForCausalLM"], "vocab_size": n(c.vocabularySize), "hidden_size": n(c.hiddenSize),
            "intermediate_size": n(c.intermediateSize), "num_hidden_layers": n(c.layerCount), "num_attention_heads": n(c.headCount),
            "rope_parameters": .object(rope), "max_position_embeddings": n(c.contextLength), "layer_norm_eps": .number(c.layerNormEpsilon),
            "use_parallel_residual": .bool(c.parallelResidual), "tie_word_embeddings": .bool(c.tieWordEmbeddings),
            "attention_bias": .bool(c.attentionBias), "hidden_act": .string(c.activation.rawValue), "hidden_dropout": .number(c.hiddenDropout),
            "attention_dropout": .number(c.attentionDropout), "initializer_range": .number(c.initializerRange),
        ]
        return config.merging(HuggingFaceConfiguration.specialTokenIDs(c.specialTokens)) { a, _ in a }
    }

    /// Saves `model`, which must be a `GPTNeoXForCausalLM`, as a directory transformers loads with `GPTNeoXForCausalLM.from_pretrained`.
    ///
    /// - Throws: the errors of writing the files.
    public static func save<Scalar: TensorScalar>(
        _ model: any CausalLanguageModel<Scalar>, tokenizer: BytePairTokenizer?, to directory: URL,
        metadata: [String: String]
    ) throws {
        guard let neox = model as? GPTNeoXForCausalLM<Scalar> else { preconditionFailure("GPTNeoXFamily saves GPT-NeoX models, not \(type(of: model))") }
        try CheckpointWeights.saveDirectory(neox, configuration: configurationJSON(neox.configuration), tokenizer: tokenizer, to: directory, metadata: metadata)
    }
}
