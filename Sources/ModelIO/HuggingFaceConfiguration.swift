import Foundation
import Formats
import NeuralNetworks

/// A Hugging Face `config.json` being read by a model family: typed readers whose errors name the
/// file and key, and a record of the keys read, so that a key no reader asked for — an option the
/// family does not implement — is refused by name rather than silently ignored.
public final class HuggingFaceConfiguration {
    /// The path of the file, used in every error message.
    public let path: String
    /// The file's top-level members, as read.
    public let values: [String: JSONValue]
    private var read: Set<String> = []

    /// Keys that describe the file or generation rather than the network; every family accepts them.
    public static let descriptiveKeys: Set<String> = [
        "architectures", "model_type", "transformers_version", "torch_dtype", "dtype", "_name_or_path", "use_cache",
        "output_attentions", "output_hidden_states", "return_dict", "id2label", "label2id", "problem_type", "tokenizer_class",
        "prefix", "task_specific_params", "bad_words_ids", "begin_suppress_tokens", "chunk_size_feed_forward", "decoder_start_token_id",
        "diversity_penalty", "do_sample", "early_stopping", "encoder_no_repeat_ngram_size", "exponential_decay_length_penalty",
        "finetuning_task", "forced_bos_token_id", "forced_eos_token_id", "length_penalty", "max_length", "min_length",
        "no_repeat_ngram_size", "num_beam_groups", "num_beams", "num_return_sequences", "output_scores", "remove_invalid_values",
        "repetition_penalty", "return_dict_in_generate", "sep_token_id", "suppress_tokens", "temperature", "tf_legacy_loss",
        "tie_encoder_decoder", "top_k", "top_p", "torchscript", "typical_p", "use_bfloat16", "pruned_heads", "is_encoder_decoder",
        "cross_attention_hidden_size", "add_cross_attention", "is_decoder", "classifier_dropout", "summary_type", "summary_use_proj",
        "summary_activation", "summary_proj_to_labels", "summary_first_dropout", "output_past", "use_return_dict",
        "initializer_range", "model_name", "auto_map", "custom_pipelines", "gradient_checkpointing",
    ]

    /// Reads `directory/config.json`.
    public init(directory: URL, file: String = "config.json") throws {
        let url = directory.appendingPathComponent(file)
        path = url.path
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ModelIOError.missingFile(path: url.path, hint: "a model directory needs config.json")
        }
        let data: Data
        do { data = try readRegularFile(atPath: url.path) } catch {
            throw ModelIOError.malformedConfiguration(path: url.path, reason: "cannot be read: \(error.reason)")
        }
        guard let object = (try? JSONValue(parsing: data))?.objectValue else {
            throw ModelIOError.malformedConfiguration(path: url.path, reason: "not a JSON object")
        }
        values = object
    }

    /// A configuration over values already in memory; `path` names them in error messages.
    public init(path: String, values: [String: JSONValue]) {
        self.path = path
        self.values = values
    }

    /// `model_type`, if present.
    public var modelType: String? { values["model_type"]?.stringValue }

    func fail(_ key: String, _ reason: String) -> ModelIOError { .malformedConfiguration(path: path, reason: "field \(key) \(reason)") }

    /// The value of `key`, marked as read; nil when absent or null.
    public func value(_ key: String) -> JSONValue? {
        read.insert(key)
        guard let v = values[key], !v.isNull else { return nil }
        return v
    }

    /// The integer at `key`, marked as read; nil when absent or null.
    ///
    /// - Throws: ``ModelIOError/malformedConfiguration(path:reason:)`` when the value is not an integer or its magnitude exceeds `Int32.max`.
    public func integer(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        guard let i = v.intValue else { throw fail(key, "must be an integer, got \(v)") }
        // No size or id of a real model comes near 2³¹; larger values would overflow products of sizes.
        guard i.magnitude <= UInt(Int32.max) else { throw fail(key, "is \(i), beyond any size this library handles (at most \(Int32.max))") }
        return i
    }

    /// The integer at `key`, or `d` when absent or null.
    ///
    /// - Throws: ``ModelIOError`` as ``integer(_:)`` does.
    public func integer(_ key: String, default d: Int) throws -> Int { try integer(key) ?? d }

    /// The integer at `key`, which must be present.
    ///
    /// - Throws: ``ModelIOError/malformedConfiguration(path:reason:)`` when it is missing, null or not an integer in range.
    public func requiredInteger(_ key: String) throws -> Int {
        guard let i = try integer(key) else { throw ModelIOError.malformedConfiguration(path: path, reason: "missing field \(key)") }
        return i
    }

    /// The number at `key`, marked as read; nil when absent or null.
    ///
    /// - Throws: ``ModelIOError/malformedConfiguration(path:reason:)`` when the value is not a number.
    public func number(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard let d = v.doubleValue else { throw fail(key, "must be a number, got \(v)") }
        return d
    }

    /// The number at `key`, or `d` when absent or null.
    ///
    /// - Throws: ``ModelIOError`` when the value is not a number.
    public func number(_ key: String, default d: Double) throws -> Double { try number(key) ?? d }

    /// The boolean at `key`, or `d` when absent or null.
    ///
    /// - Throws: ``ModelIOError/malformedConfiguration(path:reason:)`` when the value is not `true` or `false`.
    public func bool(_ key: String, default d: Bool) throws -> Bool {
        guard let v = value(key) else { return d }
        guard let b = v.boolValue else { throw fail(key, "must be true or false, got \(v)") }
        return b
    }

    /// The string at `key`, marked as read; nil when absent or null.
    ///
    /// - Throws: ``ModelIOError/malformedConfiguration(path:reason:)`` when the value is not a string.
    public func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.stringValue else { throw fail(key, "must be a string, got \(v)") }
        return s
    }

    /// A token id, or the first of a list of ids (Llama 3 lists several `eos_token_id`s).
    public func tokenID(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        if let i = v.intValue { return i }
        if let first = v.arrayValue?.first?.intValue { return first }
        throw fail(key, "must be a token id or a list of ids, got \(v)")
    }

    /// The activation named by `key`.
    public func activation(_ key: String, default d: String) throws -> Activation {
        let name = try string(key) ?? d
        guard let a = Activation(huggingFaceName: name) else {
            throw ModelIOError.unsupportedConfiguration(
                path: path, field: key,
                reason: "activation '\(name)' is not implemented "
                    + "(supported: \(Activation.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return a
    }

    /// Refuses `key` when it is present with a value other than the ones the family implements.
    public func expect(_ key: String, isOneOf accepted: [JSONValue], meaning: String) throws {
        guard let v = value(key) else { return }
        if !accepted.contains(v) && !(v.doubleValue.map { d in accepted.contains { $0.doubleValue == d } } ?? false) {
            throw ModelIOError.unsupportedConfiguration(path: path, field: key, reason: "\(v) is not implemented; \(meaning)")
        }
    }

    /// The rotary settings: `rope_theta` and `rope_scaling` at the top level (older files), or
    /// `rope_parameters` (newer files); scaling of type `default`, `linear` or `llama3`.
    ///
    /// - Parameters:
    ///   - thetaKeys: top-level keys that may hold the base (`rope_theta`; GPT-NeoX's `rotary_emb_base`).
    public func rotary(thetaKeys: [String] = ["rope_theta"], defaultTheta: Double) throws
        -> (theta: Double, scaling: RotaryScaling, parameters: [String: JSONValue])
    {
        var theta: Double? = nil
        for key in thetaKeys { if let t = try number(key) { theta = t } }
        var scalingObject: [String: JSONValue]? = nil
        var scalingKey = "rope_scaling"
        if let v = value("rope_scaling") {
            guard let o = v.objectValue else { throw fail("rope_scaling", "must be an object or null, got \(v)") }
            scalingObject = o
        }
        var parameters: [String: JSONValue] = [:]
        if let v = value("rope_parameters") {
            guard let o = v.objectValue else { throw fail("rope_parameters", "must be an object, got \(v)") }
            parameters = o
            scalingObject = o
            scalingKey = "rope_parameters"
            if let t = o["rope_theta"] {
                guard let d = t.doubleValue else { throw fail("rope_parameters.rope_theta", "must be a number, got \(t)") }
                theta = d
            }
        }
        guard let object = scalingObject else { return (theta ?? defaultTheta, .none, parameters) }
        let type = object["rope_type"]?.stringValue ?? object["type"]?.stringValue ?? "default"
        func scalingNumber(_ name: String) throws -> Double {
            guard let d = object[name]?.doubleValue else {
                throw ModelIOError.malformedConfiguration(path: path, reason: "field \(scalingKey).\(name) is missing or not a number")
            }
            return d
        }
        // A context length: a positive whole number (a fractional or huge value would trap in Int(_:)).
        func scalingInteger(_ name: String) throws -> Int {
            guard let n = object[name]?.intValue, n > 0 else {
                throw ModelIOError.malformedConfiguration(
                    path: path, reason: "field \(scalingKey).\(name) must be a positive integer, got \(object[name].map { "\($0)" } ?? "nothing")")
            }
            return n
        }
        let known: Set<String>
        let scaling: RotaryScaling
        switch type {
        case "default":
            scaling = .none
            known = ["rope_type", "type", "rope_theta", "partial_rotary_factor"]
        case "linear":
            scaling = .linear(factor: try scalingNumber("factor"))
            known = ["rope_type", "type", "rope_theta", "factor", "partial_rotary_factor"]
        case "llama3":
            scaling = .llama3(
                factor: try scalingNumber("factor"), lowFrequencyFactor: try scalingNumber("low_freq_factor"),
                highFrequencyFactor: try scalingNumber("high_freq_factor"),
                originalContext: try scalingInteger("original_max_position_embeddings"))
            known = [
                "rope_type", "type", "rope_theta", "factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings",
                "partial_rotary_factor",
            ]
        default:
            throw ModelIOError.unsupportedConfiguration(
                path: path, field: "\(scalingKey).rope_type",
                reason: "rotary scaling '\(type)' is not implemented (supported: default, linear, llama3)")
        }
        if let extra = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw ModelIOError.unsupportedConfiguration(
                path: path, field: "\(scalingKey).\(extra)",
                reason: "is not implemented for rotary scaling '\(type)'")
        }
        return (theta ?? defaultTheta, scaling, parameters)
    }

    /// Refuses every key that no reader asked for, except `accepted` and the descriptive keys.
    public func finish(accepting accepted: Set<String> = []) throws {
        let unread = values.keys.filter { !read.contains($0) && !accepted.contains($0) && !Self.descriptiveKeys.contains($0) }
        if let key = unread.sorted().first {
            throw ModelIOError.unsupportedConfiguration(
                path: path, field: key,
                reason: "is not implemented for model_type '\(modelType ?? "?")', "
                    + "so the model would not compute what the checkpoint expects")
        }
    }

    // MARK: Writing

    /// `rope_parameters` as transformers writes it: the base, the scaling type and its parameters.
    public static func rotaryParameters(theta: Double, scaling: RotaryScaling) -> [String: JSONValue] {
        var rope: [String: JSONValue] = ["rope_theta": .number(theta), "rope_type": "default"]
        switch scaling {
        case .none: break
        case let .linear(factor):
            rope["rope_type"] = "linear"
            rope["factor"] = .number(factor)
        case let .llama3(factor, low, high, original):
            rope["rope_type"] = "llama3"
            rope["factor"] = .number(factor)
            rope["low_freq_factor"] = .number(low)
            rope["high_freq_factor"] = .number(high)
            rope["original_max_position_embeddings"] = .number(Double(original))
        }
        return rope
    }

    /// `bos_token_id`, `eos_token_id` and `pad_token_id`, for the tokens that are set.
    public static func specialTokenIDs(_ tokens: SpecialTokens) -> [String: JSONValue] {
        var ids: [String: JSONValue] = [:]
        for (key, id) in [("bos_token_id", tokens.beginning), ("eos_token_id", tokens.end), ("pad_token_id", tokens.padding)] {
            if let id { ids[key] = .number(Double(id)) }
        }
        return ids
    }
}
