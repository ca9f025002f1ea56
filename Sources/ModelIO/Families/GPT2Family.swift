import Foundation
import Formats
import NeuralNetworks
import TensorCore
import Tokenizers

/// GPT-2 checkpoints (`model_type` `gpt2`, `GPT2LMHeadModel`): config.json, model.safetensors (or
/// shards) and optionally tokenizer.json.
///
/// Hugging Face stores GPT-2's projections as `Conv1D` with weights `[in, out]`; ``Linear`` keeps
/// `[out, in]`, so these four weights are transposed on the way in and out:
/// `attn.c_attn`, `attn.c_proj`, `mlp.c_fc`, `mlp.c_proj`. The tied `lm_head.weight` is usually
/// absent from the file (it is `transformer.wte.weight`). Files written by `GPT2Model` (names
/// without the `transformer.` prefix) load too; the causal-mask buffers `attn.bias` and
/// `attn.masked_bias` of older files are ignored.
public enum GPT2Family: LanguageModelFamily {
    /// The `model_type` this family reads: `gpt2`.
    public static let modelTypes = ["gpt2"]
    /// The name `influence train --architecture` takes for GPT-2.
    public static let architecture = "gpt2"

    static let conv1DSuffixes = ["attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"]
    static func isConv1D(_ name: String) -> Bool { conv1DSuffixes.contains { name.hasSuffix($0) } }

    /// Reads and validates a GPT-2 config.json.
    public static func configuration(in directory: URL, file: String = "config.json") throws -> GPT2Configuration {
        try configuration(HuggingFaceConfiguration(directory: directory, file: file))
    }

    static func configuration(_ c: HuggingFaceConfiguration) throws -> GPT2Configuration {
        if let type = c.modelType, type != "gpt2" {
            throw ModelIOError.unsupportedModelType(path: c.path, modelType: type, supported: modelTypes)
        }
        let d = GPT2Configuration(vocabularySize: 1, contextLength: 1024, embeddingSize: 1, layerCount: 1, headCount: 1)
        let configuration = GPT2Configuration(
            vocabularySize: try c.requiredInteger("vocab_size"), contextLength: try c.integer("n_positions", default: d.contextLength),
            embeddingSize: try c.requiredInteger("n_embd"), layerCount: try c.requiredInteger("n_layer"),
            headCount: try c.requiredInteger("n_head"), innerSize: try c.integer("n_inner"),
            activation: try c.string("activation_function") ?? d.activation,
            layerNormEpsilon: try c.number("layer_norm_epsilon", default: d.layerNormEpsilon),
            residualDropout: try c.number("resid_pdrop", default: d.residualDropout),
            embeddingDropout: try c.number("embd_pdrop", default: d.embeddingDropout),
            attentionDropout: try c.number("attn_pdrop", default: d.attentionDropout),
            initializerRange: try c.number("initializer_range", default: d.initializerRange),
            tieWordEmbeddings: try c.bool("tie_word_embeddings", default: true),
            bosTokenID: try c.tokenID("bos_token_id"), eosTokenID: try c.tokenID("eos_token_id"))
        _ = c.value("n_ctx")  // an older name of n_positions
        _ = c.value("pad_token_id")
        _ = c.value("reorder_and_upcast_attn")  // a precision choice: scores are in the model's precision here
        try c.expect("scale_attn_weights", isOneOf: [true], meaning: "attention scores are always scaled by 1/√d")
        try c.expect("scale_attn_by_inverse_layer_idx", isOneOf: [false], meaning: "scores are not divided by the layer index")
        try c.finish()
        do { try configuration.validate() } catch {
            throw ModelIOError.malformedConfiguration(path: c.path, reason: "\(error)")
        }
        try ModelFootprint.check(parameters: configuration.parameterEstimate, what: configuration.sizeDescription, path: c.path)
        return configuration
    }

    /// Loads a GPT-2 directory: validates config.json, refusing options not implemented, then reads the weights, transposing the `Conv1D` ones.
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
        let model = try loadWeights(configuration, from: directory, as: Scalar.self)
        return LoadedModel(
            kind: .languageModel(model), modelType: "gpt2", tokenizer: nil,
            summary: [
                "model: gpt2 (GPT2LMHeadModel) at \(directory.path)",
                "configuration: vocab_size \(configuration.vocabularySize), n_positions \(configuration.contextLength), n_embd \(configuration.embeddingSize), "
                    + "n_layer \(configuration.layerCount), n_head \(configuration.headCount), n_inner \(configuration.feedForwardSize), "
                    + "activation \(configuration.activation), tied embeddings \(configuration.tieWordEmbeddings ? "yes" : "no")",
            ])
    }

    static func loadWeights<Scalar: TensorScalar>(
        _ configuration: GPT2Configuration, from directory: URL,
        as _: Scalar.Type
    ) throws -> GPT2LanguageModel<Scalar> {
        let model = GPT2LanguageModel<Scalar>(configuration: configuration)
        try CheckpointWeights.load(
            into: model, from: directory, optional: ["lm_head.weight"],
            storedName: { name in
                if name.hasSuffix(".attn.bias") || name.hasSuffix(".attn.masked_bias") { return nil }
                return name.hasPrefix("transformer.") || name == "lm_head.weight" ? name : "transformer." + name
            }, transform: { name, t in isConv1D(name) && t.rank == 2 ? t.transposed() : t })
        model.evaluate()
        return model
    }

    /// Loads a GPT-2 language model and, when the directory has one, its tokenizer.
    public static func load<Scalar: TensorScalar>(from directory: URL, as _: Scalar.Type = Scalar.self) throws
        -> (model: GPT2LanguageModel<Scalar>, tokenizer: BytePairTokenizer?)
    {
        let model = try loadWeights(try configuration(in: directory), from: directory, as: Scalar.self)
        let tokenizerURL = directory.appendingPathComponent("tokenizer.json")
        let tokenizer = FileManager.default.fileExists(atPath: tokenizerURL.path) ? try BytePairTokenizer(contentsOf: tokenizerURL) : nil
        return (model, tokenizer)
    }

    /// A freshly initialised GPT-2 of the given shape, seeded by `seed`.
    ///
    /// - Throws: ``ModelIOError`` when the shape asks for grouped-query attention, is invalid (heads not dividing the width), or is too large for memory.
    public static func makeModel<Scalar: TensorScalar>(_ shape: DecoderShape, seed: UInt64, as _: Scalar.Type) throws -> any CausalLanguageModel<Scalar> {
        if let groups = shape.keyValueHeadCount, groups != shape.headCount {
            throw ModelIOError.malformedConfiguration(
                path: "gpt2", reason: "gpt2 has no grouped-query attention: its key/value heads are its \(shape.headCount) heads, not \(groups)")
        }
        let configuration = GPT2Configuration(
            vocabularySize: shape.vocabularySize, contextLength: shape.contextLength, embeddingSize: shape.width, layerCount: shape.layerCount,
            headCount: shape.headCount, innerSize: shape.innerSize, residualDropout: shape.dropout, embeddingDropout: shape.dropout,
            attentionDropout: shape.dropout, bosTokenID: shape.specialTokens.beginning, eosTokenID: shape.specialTokens.end)
        do { try configuration.validate() } catch { throw ModelIOError.malformedConfiguration(path: "gpt2", reason: "\(error)") }
        try ModelFootprint.check(parameters: configuration.parameterEstimate, copies: 4, what: configuration.sizeDescription, path: "gpt2")
        return GPT2LanguageModel<Scalar>(configuration: configuration, seed: seed)
    }

    /// A freshly initialised GPT-2 from a config.json, validated as ``load(from:configuration:as:)`` does, seeded by `seed`.
    ///
    /// - Throws: ``ModelIOError`` naming the file and field.
    public static func makeModel<Scalar: TensorScalar>(
        configuration: HuggingFaceConfiguration, seed: UInt64,
        as _: Scalar.Type
    ) throws -> any CausalLanguageModel<Scalar> {
        let parsed = try self.configuration(configuration)
        try ModelFootprint.check(parameters: parsed.parameterEstimate, copies: 4, what: parsed.sizeDescription, path: configuration.path)
        return GPT2LanguageModel<Scalar>(configuration: parsed, seed: seed)
    }

    /// `model` wrapped with GPT-2's specialised forward pass when it is a `GPT2LanguageModel<Float>`; nil otherwise.
    public static func erased(_ model: any CausalLanguageModel<Float>) -> AnyCausalLanguageModel<Float>? {
        (model as? GPT2LanguageModel<Float>).map { AnyCausalLanguageModel($0) }
    }

    /// Whether `model` is a `GPT2LanguageModel`.
    public static func owns<Scalar: TensorScalar>(_ model: any CausalLanguageModel<Scalar>) -> Bool { model is GPT2LanguageModel<Scalar> }

    /// Saves `model`, which must be a `GPT2LanguageModel`, in transformers' GPT-2 layout (see the overload taking a `GPT2LanguageModel`).
    public static func save<Scalar: TensorScalar>(
        _ model: any CausalLanguageModel<Scalar>, tokenizer: BytePairTokenizer?, to directory: URL,
        metadata: [String: String]
    ) throws {
        guard let gpt2 = model as? GPT2LanguageModel<Scalar> else { preconditionFailure("GPT2Family saves GPT-2 models, not \(type(of: model))") }
        try save(gpt2, tokenizer: tokenizer, to: directory, metadata: metadata)
    }

    /// Writes a directory that Hugging Face `transformers` loads with `GPT2LMHeadModel.from_pretrained`.
    ///
    /// The directory is assembled beside the destination and renamed into place at the end, so
    /// an interrupted save leaves the previous directory (if any) untouched.
    public static func save<Scalar: TensorScalar>(
        _ model: GPT2LanguageModel<Scalar>, tokenizer: BytePairTokenizer?,
        to directory: URL, metadata: [String: String] = [:]
    ) throws {
        let c = model.configuration
        var config: [String: JSONValue] = [
            "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": .number(Double(c.vocabularySize)),
            "n_positions": .number(Double(c.contextLength)), "n_embd": .number(Double(c.embeddingSize)),
            "n_layer": .number(Double(c.layerCount)), "n_head": .number(Double(c.headCount)),
            "n_inner": c.innerSize.map { .number(Double($0)) } ?? .null, "activation_function": .string(c.activation),
            "layer_norm_epsilon": .number(c.layerNormEpsilon), "resid_pdrop": .number(c.residualDropout),
            "embd_pdrop": .number(c.embeddingDropout), "attn_pdrop": .number(c.attentionDropout),
            "initializer_range": .number(c.initializerRange), "tie_word_embeddings": .bool(c.tieWordEmbeddings),
        ]
        config.merge(HuggingFaceConfiguration.specialTokenIDs(SpecialTokens(beginning: c.bosTokenID, end: c.eosTokenID))) { a, _ in a }
        try CheckpointWeights.saveDirectory(
            model, configuration: config, tokenizer: tokenizer, to: directory, metadata: metadata,
            transform: { name, t in isConv1D(name) ? t.transposed() : t })
    }
}

/// The GPT-2 family under its earlier name.
public typealias GPT2Checkpoint = GPT2Family
