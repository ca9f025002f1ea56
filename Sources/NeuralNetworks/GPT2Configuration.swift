/// The hyperparameters of a GPT-2-family decoder, with the keys of a Hugging Face `config.json`.
public struct GPT2Configuration: Codable, Equatable, Sendable {
    /// The number of token ids (`vocab_size`), the rows of `wte` and of the head.
    public var vocabularySize: Int
    /// The longest sequence, `n_positions` (1024 when absent): the rows of the position embedding `wpe`.
    public var contextLength: Int
    /// The width C of the residual stream (`n_embd`).
    public var embeddingSize: Int
    /// The number of transformer blocks (`n_layer`).
    public var layerCount: Int
    /// The number of attention heads (`n_head`); it must divide `embeddingSize`.
    public var headCount: Int
    /// The MLP's hidden size; 4 × `embeddingSize` when absent.
    public var innerSize: Int?
    /// The MLP's nonlinearity as Hugging Face names it (`activation_function`, `gelu_new` when absent); see ``Activation/init(huggingFaceName:)``.
    public var activation: String
    /// The ε of every LayerNorm (`layer_norm_epsilon`, 1e-5 when absent).
    public var layerNormEpsilon: Double
    /// The drop probability after the attention and MLP output projections (`resid_pdrop`, 0.1 when absent).
    public var residualDropout: Double
    /// The drop probability of the summed token and position embeddings (`embd_pdrop`, 0.1 when absent).
    public var embeddingDropout: Double
    /// The drop probability of the attention weights (`attn_pdrop`, 0.1 when absent).
    public var attentionDropout: Double
    /// The standard deviation of the initial weights (`initializer_range`, 0.02 when absent); residual projections use it divided by √(2·layers).
    public var initializerRange: Double
    /// Whether `lm_head` shares its weight with `wte` (`tie_word_embeddings`, true when absent).
    public var tieWordEmbeddings: Bool
    /// The beginning-of-text id (`bos_token_id`), if given.
    public var bosTokenID: Int?
    /// The end-of-text id (`eos_token_id`), if given.
    public var eosTokenID: Int?

    enum CodingKeys: String, CodingKey {
        case vocabularySize = "vocab_size"
        case contextLength = "n_positions"
        case embeddingSize = "n_embd"
        case layerCount = "n_layer"
        case headCount = "n_head"
        case innerSize = "n_inner"
        case activation = "activation_function"
        case layerNormEpsilon = "layer_norm_epsilon"
        case residualDropout = "resid_pdrop"
        case embeddingDropout = "embd_pdrop"
        case attentionDropout = "attn_pdrop"
        case initializerRange = "initializer_range"
        case tieWordEmbeddings = "tie_word_embeddings"
        case bosTokenID = "bos_token_id"
        case eosTokenID = "eos_token_id"
    }

    /// A configuration with GPT-2's defaults for everything but the sizes; ``validate()`` checks it.
    public init(
        vocabularySize: Int, contextLength: Int, embeddingSize: Int, layerCount: Int, headCount: Int,
        innerSize: Int? = nil, activation: String = "gelu_new", layerNormEpsilon: Double = 1e-5,
        residualDropout: Double = 0.1, embeddingDropout: Double = 0.1, attentionDropout: Double = 0.1,
        initializerRange: Double = 0.02, tieWordEmbeddings: Bool = true, bosTokenID: Int? = nil, eosTokenID: Int? = nil
    ) {
        self.vocabularySize = vocabularySize
        self.contextLength = contextLength
        self.embeddingSize = embeddingSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.innerSize = innerSize
        self.activation = activation
        self.layerNormEpsilon = layerNormEpsilon
        self.residualDropout = residualDropout
        self.embeddingDropout = embeddingDropout
        self.attentionDropout = attentionDropout
        self.initializerRange = initializerRange
        self.tieWordEmbeddings = tieWordEmbeddings
        self.bosTokenID = bosTokenID
        self.eosTokenID = eosTokenID
    }

    /// Decodes a Hugging Face config, with GPT-2's defaults for absent optional keys.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabularySize = try c.decode(Int.self, forKey: .vocabularySize)
        contextLength = try c.decodeIfPresent(Int.self, forKey: .contextLength) ?? 1024
        embeddingSize = try c.decode(Int.self, forKey: .embeddingSize)
        layerCount = try c.decode(Int.self, forKey: .layerCount)
        headCount = try c.decode(Int.self, forKey: .headCount)
        innerSize = try c.decodeIfPresent(Int.self, forKey: .innerSize)
        activation = try c.decodeIfPresent(String.self, forKey: .activation) ?? "gelu_new"
        layerNormEpsilon = try c.decodeIfPresent(Double.self, forKey: .layerNormEpsilon) ?? 1e-5
        residualDropout = try c.decodeIfPresent(Double.self, forKey: .residualDropout) ?? 0.1
        embeddingDropout = try c.decodeIfPresent(Double.self, forKey: .embeddingDropout) ?? 0.1
        attentionDropout = try c.decodeIfPresent(Double.self, forKey: .attentionDropout) ?? 0.1
        initializerRange = try c.decodeIfPresent(Double.self, forKey: .initializerRange) ?? 0.02
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? true
        bosTokenID = try c.decodeIfPresent(Int.self, forKey: .bosTokenID)
        eosTokenID = try c.decodeIfPresent(Int.self, forKey: .eosTokenID)
    }

    /// The MLP hidden size.
    public var feedForwardSize: Int { innerSize ?? 4 * embeddingSize }

    /// Checks the values a user or a file could get wrong.
    public func validate() throws {
        func fail(_ field: String, _ message: String) -> GPT2ConfigurationError { .invalid(field: field, message: message) }
        for (field, value) in [
            ("vocab_size", vocabularySize), ("n_positions", contextLength), ("n_embd", embeddingSize),
            ("n_layer", layerCount), ("n_head", headCount), ("n_inner", feedForwardSize),
        ] where value <= 0 {
            throw fail(field, "must be positive, got \(value)")
        }
        if embeddingSize % headCount != 0 { throw fail("n_head", "\(headCount) does not divide n_embd = \(embeddingSize)") }
        if Activation(huggingFaceName: activation) == nil { throw fail("activation_function", "unsupported activation \(activation)") }
        for (field, p) in [("resid_pdrop", residualDropout), ("embd_pdrop", embeddingDropout), ("attn_pdrop", attentionDropout)]
        where !(p >= 0 && p < 1) {
            throw fail(field, "must be in [0, 1), got \(p)")
        }
        if !(layerNormEpsilon > 0) { throw fail("layer_norm_epsilon", "must be positive, got \(layerNormEpsilon)") }
    }
}

/// A configuration value that GPT-2 cannot be built with.
public enum GPT2ConfigurationError: Error, CustomStringConvertible, Equatable {
    /// The value of the `config.json` key `field` is unusable, for the reason in `message`.
    case invalid(field: String, message: String)
    /// `config field <key>: <reason>`, naming the `config.json` key.
    public var description: String {
        switch self {
        case let .invalid(field, message): return "config field \(field): \(message)"
        }
    }
}
