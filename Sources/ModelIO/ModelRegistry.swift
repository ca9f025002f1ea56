import Foundation
import Formats
import NeuralNetworks
import TensorCore
import Tokenizers

/// The registry of model families, keyed by config.json's `model_type`: the one place a new
/// family is listed.
public enum ModelRegistry {
    /// Every registered family, in lookup order: the first that lists a `model_type` reads it.
    public static let families: [any ModelFamily.Type] = [
        GPT2Family.self,
        LlamaFamily.self,
        GPTNeoXFamily.self,
        MLPFamily.self,
        CNNFamily.self,
    ]

    /// Every `model_type` a directory may name.
    public static var modelTypes: [String] { families.flatMap { $0.modelTypes } }

    /// The families `influence train --architecture` can build.
    public static var languageModelFamilies: [any LanguageModelFamily.Type] { families.compactMap { $0 as? any LanguageModelFamily.Type } }

    /// The family that reads `modelType`, or nil when no registered family does.
    public static func family(modelType: String) -> (any ModelFamily.Type)? { families.first { $0.modelTypes.contains(modelType) } }

    /// The language-model family named by `architecture`, its main name or any of its `model_type` values; nil when none matches.
    public static func languageModelFamily(architecture: String) -> (any LanguageModelFamily.Type)? {
        languageModelFamilies.first { $0.architecture == architecture || $0.modelTypes.contains(architecture) }
    }

    /// `model` behind ``AnyCausalLanguageModel`` with its family's specialised forward pass (see
    /// there); a model of no registered family is wrapped as it is.
    public static func erased(_ model: any CausalLanguageModel<Float>) -> AnyCausalLanguageModel<Float> {
        if let erased = model as? AnyCausalLanguageModel<Float> { return erased }
        for family in languageModelFamilies { if let erased = family.erased(model) { return erased } }
        return AnyCausalLanguageModel(model)
    }

    /// The family that saves a model: the one whose `makeModel` builds its type.
    public static func languageModelFamily<Scalar: TensorScalar>(of model: any CausalLanguageModel<Scalar>) -> (any LanguageModelFamily.Type)? {
        let unwrapped = (model as? AnyCausalLanguageModel<Scalar>)?.base ?? model
        return languageModelFamilies.first { $0.owns(unwrapped) }
    }
}

/// Reading and writing model directories of any registered family.
public enum ModelDirectory {
    /// Loads the model of a directory: config.json's `model_type` picks the family (GPT-2 when
    /// absent, as old GPT-2 files have none).
    ///
    /// - Throws: ``ModelIOError`` naming the file and what is wrong; an unknown `model_type` lists
    ///   the supported ones.
    public static func load<Scalar: TensorScalar>(from directory: URL, as _: Scalar.Type = Scalar.self) throws -> LoadedModel<Scalar> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ModelIOError.missingFile(path: directory.path, hint: "expected a model directory with config.json and model.safetensors")
        }
        let configuration = try HuggingFaceConfiguration(directory: directory)
        if let raw = configuration.values["model_type"], !raw.isNull, raw.stringValue == nil {
            throw ModelIOError.malformedConfiguration(path: configuration.path, reason: "field model_type must be a string such as \"gpt2\", got \(raw)")
        }
        let type = configuration.modelType ?? "gpt2"
        guard let family = ModelRegistry.family(modelType: type) else {
            throw ModelIOError.unsupportedModelType(path: configuration.path, modelType: type, supported: ModelRegistry.modelTypes)
        }
        var loaded = try family.load(from: directory, configuration: configuration, as: Scalar.self)
        loaded.module.evaluate()
        if loaded.tokenizer == nil {
            let url = directory.appendingPathComponent("tokenizer.json")
            if FileManager.default.fileExists(atPath: url.path) { loaded.tokenizer = try BytePairTokenizer(contentsOf: url) }
        }
        // A tokenizer that can emit ids the embedding has no row for would fail mid-run (or index out of range).
        if let tokenizer = loaded.tokenizer, let model = loaded.languageModel, tokenizer.vocabularySize > model.vocabularySize {
            throw ModelIOError.malformedConfiguration(
                path: directory.appendingPathComponent("tokenizer.json").path,
                reason: "the tokenizer has \(tokenizer.vocabularySize) tokens but the model's vocab_size is "
                    + "\(model.vocabularySize): ids from \(model.vocabularySize) on have no embedding")
        }
        return loaded
    }

    /// Saves a language model with its family's layout.
    public static func save<Scalar: TensorScalar>(
        _ model: any CausalLanguageModel<Scalar>, tokenizer: BytePairTokenizer?, to directory: URL,
        metadata: [String: String] = [:]
    ) throws {
        guard let family = ModelRegistry.languageModelFamily(of: model) else {
            preconditionFailure("no registered family saves \(type(of: model))")
        }
        try family.save((model as? AnyCausalLanguageModel<Scalar>)?.base ?? model, tokenizer: tokenizer, to: directory, metadata: metadata)
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
