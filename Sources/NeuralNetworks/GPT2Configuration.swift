/// The hyperparameters of a GPT-2-family decoder, with the keys of a Hugging Face `config.json`.
public struct GPT2Configuration: Codable, Equatable, Sendable {
    public var vocabularySize: Int
    public var contextLength: Int
    public var embeddingSize: Int
    public var layerCount: Int
    public var headCount: Int
    /// The MLP's hidden size; 4 × `embeddingSize` when absent.
    public var innerSize: Int?
    public var activation: String
    public var layerNormEpsilon: Double
    public var residualDropout: Double
    public var embeddingDropout: Double
    public var attentionDropout: Double
    public var initializerRange: Double
    public var tieWordEmbeddings: Bool
    public var bosTokenID: Int?
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

public enum GPT2ConfigurationError: Error, CustomStringConvertible, Equatable {
    case invalid(field: String, message: String)
    public var description: String {
        switch self {
        case let .invalid(field, message): return "config field \(field): \(message)"
        }
    }
}
