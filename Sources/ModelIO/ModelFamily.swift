import Autograd
import Foundation
import Formats
import NeuralNetworks
import TensorCore
import Tokenizers

/// A model read from a directory, whatever its family.
public struct LoadedModel<Scalar: TensorScalar> {
    /// What the model computes, which decides the task influence is computed for.
    public enum Kind {
        /// Next-token logits over a vocabulary.
        case languageModel(any CausalLanguageModel<Scalar>)
        /// An MLP over feature rows.
        case multilayerPerceptron(MultilayerPerceptron<Scalar>, MLPConfiguration)
        /// A convolutional image classifier over feature rows of `[channels, height, width]` images.
        case imageClassifier(SequentialNetwork<Scalar>, CNNConfiguration)
    }

    /// What the model is (a language model, an MLP or a CNN), with the network itself.
    public var kind: Kind
    /// The `model_type` of config.json.
    public var modelType: String
    /// The directory's tokenizer.json, when it has one.
    public var tokenizer: BytePairTokenizer?
    /// Lines describing the architecture, for people (`influence inspect`).
    public var summary: [String]

    /// The model as a module tree.
    public var module: Module<Scalar> {
        switch kind {
        case let .languageModel(m): return m.module
        case let .multilayerPerceptron(m, _): return m
        case let .imageClassifier(m, _): return m
        }
    }

    /// The model as a classifier of feature rows, when it is one (an MLP classifier or a CNN).
    public var classifier: FeatureClassifier<Scalar>? {
        switch kind {
        case .languageModel: return nil
        case let .multilayerPerceptron(m, c):
            guard c.task == "classification" else { return nil }
            return FeatureClassifier(module: m, forward: { m($0) }, inputShape: [m.inputCount], classCount: m.outputCount, classNames: c.classNames)
        case let .imageClassifier(m, c):
            return FeatureClassifier(module: m, forward: { m($0) }, inputShape: c.inputShape, classCount: c.classCount, classNames: c.classNames)
        }
    }

    /// The model as a language model, when it is one.
    public var languageModel: (any CausalLanguageModel<Scalar>)? {
        if case let .languageModel(m) = kind { return m }
        return nil
    }
}

/// A network from feature rows `[batch, features]` to class logits `[batch, classes]`, whatever
/// its family: what classification tasks and the loss workflow need.
public struct FeatureClassifier<Scalar: TensorScalar> {
    /// The network as a module tree, for parameters and gradients.
    public var module: Module<Scalar>
    /// The forward pass: features `[batch, features]` (image rows flattened from ``inputShape``) to logits `[batch, classCount]`.
    public var forward: (Variable<Scalar>) -> Variable<Scalar>
    /// The shape of one example: `[features]`, or `[channels, height, width]` for images.
    public var inputShape: [Int]
    /// The number of classes: the width of the logits.
    public var classCount: Int
    /// The name of each class in output order, when the model was trained on named labels; nil for integer labels.
    public var classNames: [String]?
    /// Features per row, the product of ``inputShape``.
    public var inputCount: Int { inputShape.reduce(1, *) }
}

/// A family of models in Hugging Face's directory layout: the extension point of `ModelIO`.
///
/// A family owns everything about its checkpoints: which `model_type` values it reads, how its
/// config.json is parsed (refusing options it does not implement, by name), how the model is
/// built and its weights named, and how it is saved so that transformers loads it back. Adding a
/// family is one conformer (with its network in `NeuralNetworks`) and one line in ``ModelRegistry``.
public protocol ModelFamily {
    /// The `model_type` values this family reads (`["llama", "mistral", "qwen2"]`).
    static var modelTypes: [String] { get }
    /// Loads the directory; `configuration` is its config.json.
    static func load<Scalar: TensorScalar>(
        from directory: URL, configuration: HuggingFaceConfiguration,
        as _: Scalar.Type
    ) throws -> LoadedModel<Scalar>
}

/// The size of a decoder to train from scratch, as `influence train` takes it.
public struct DecoderShape: Sendable, Equatable {
    /// The number of token ids the embedding has rows for.
    public var vocabularySize: Int
    /// The longest sequence, in tokens, the model takes (its position limit).
    public var contextLength: Int
    /// The hidden size (embedding width) of every layer.
    public var width: Int
    /// The number of transformer blocks.
    public var layerCount: Int
    /// The number of attention heads; it must divide ``width``.
    public var headCount: Int
    /// Key/value heads (grouped-query attention) where the family has them; nil for `headCount`.
    public var keyValueHeadCount: Int?
    /// The MLP's hidden size; nil for the family's default (4 × width, or 8/3 × width for SwiGLU).
    public var innerSize: Int?
    /// The dropout probability of the family's dropout layers (0 for none).
    public var dropout: Double
    /// The beginning-, end- and padding-token ids written into config.json.
    public var specialTokens: SpecialTokens

    /// Creates a shape; the defaults give one key/value head per head, the family's MLP size, no dropout and no special tokens.
    ///
    /// - Parameters:
    ///   - vocabularySize: the number of token ids.
    ///   - contextLength: the longest sequence in tokens.
    ///   - width: the hidden size.
    ///   - layerCount: the number of blocks.
    ///   - headCount: the number of attention heads.
    ///   - keyValueHeadCount: key/value heads for grouped-query attention; nil for `headCount`.
    ///   - innerSize: the MLP's hidden size; nil for the family's default.
    ///   - dropout: the dropout probability.
    ///   - specialTokens: the special-token ids.
    public init(
        vocabularySize: Int, contextLength: Int, width: Int, layerCount: Int, headCount: Int, keyValueHeadCount: Int? = nil,
        innerSize: Int? = nil, dropout: Double = 0, specialTokens: SpecialTokens = SpecialTokens()
    ) {
        self.vocabularySize = vocabularySize
        self.contextLength = contextLength
        self.width = width
        self.layerCount = layerCount
        self.headCount = headCount
        self.keyValueHeadCount = keyValueHeadCount
        self.innerSize = innerSize
        self.dropout = dropout
        self.specialTokens = specialTokens
    }
}

/// A family of causal language models that `influence train` can build and save.
public protocol LanguageModelFamily: ModelFamily {
    /// The architecture name of `influence train --architecture` (the family's main `model_type`).
    static var architecture: String { get }
    /// A freshly initialised model of the given shape.
    ///
    /// - Throws: ``ModelIOError`` when the shape does not suit the family (heads not dividing the width).
    static func makeModel<Scalar: TensorScalar>(_ shape: DecoderShape, seed: UInt64, as _: Scalar.Type) throws -> any CausalLanguageModel<Scalar>
    /// A freshly initialised model from a config.json (`influence train --config`).
    static func makeModel<Scalar: TensorScalar>(
        configuration: HuggingFaceConfiguration, seed: UInt64,
        as _: Scalar.Type
    ) throws -> any CausalLanguageModel<Scalar>
    /// `model` behind ``AnyCausalLanguageModel``, its forward pass captured as compiled for the
    /// family's concrete Float type; nil when `model` is not of this family.
    static func erased(_ model: any CausalLanguageModel<Float>) -> AnyCausalLanguageModel<Float>?
    /// Whether `model` is of this family (``save(_:tokenizer:to:metadata:)`` writes it).
    static func owns<Scalar: TensorScalar>(_ model: any CausalLanguageModel<Scalar>) -> Bool
    /// Writes a directory that transformers loads with `AutoModelForCausalLM.from_pretrained`.
    ///
    /// - Precondition: `model` is of this family.
    static func save<Scalar: TensorScalar>(
        _ model: any CausalLanguageModel<Scalar>, tokenizer: BytePairTokenizer?, to directory: URL,
        metadata: [String: String]) throws
}
