/// The hyperparameters of a GPT-NeoX decoder (`model_type` `gpt_neox`; the Pythia suite).
///
/// The Hugging Face keys are in the comments; the GPT-NeoX family of `ModelIO` reads them and
/// refuses configurations it does not implement.
public struct GPTNeoXConfiguration: Equatable, Sendable {
    /// The number of token ids (`vocab_size`), the rows of `embed_in` and of `embed_out`.
    public var vocabularySize: Int  // vocab_size
    /// The width of the residual stream (`hidden_size`).
    public var hiddenSize: Int  // hidden_size
    /// The hidden width of the MLP (`intermediate_size`).
    public var intermediateSize: Int  // intermediate_size
    /// The number of decoder layers (`num_hidden_layers`).
    public var layerCount: Int  // num_hidden_layers
    /// The number of attention heads (`num_attention_heads`); it must divide ``hiddenSize``.
    public var headCount: Int  // num_attention_heads
    /// The rotated features of each head: ⌊head size × rotary_pct⌋ (`partial_rotary_factor`).
    public var rotaryDimension: Int
    /// The base of the rotary frequencies (`rotary_emb_base`).
    public var ropeTheta: Double  // rotary_emb_base (or rope_theta, rope_parameters)
    /// The long-context rescaling of the rotary frequencies (`rope_scaling`).
    public var ropeScaling: RotaryScaling  // rope_scaling (or rope_parameters)
    /// The longest sequence the model takes (`max_position_embeddings`).
    public var contextLength: Int  // max_position_embeddings
    /// The ε of every LayerNorm (`layer_norm_eps`).
    public var layerNormEpsilon: Double  // layer_norm_eps
    /// x + attn(ln₁(x)) + mlp(ln₂(x)) rather than two residual steps (`use_parallel_residual`).
    public var parallelResidual: Bool
    /// Whether `embed_out` shares its weight with `embed_in` (`tie_word_embeddings`, false by default).
    public var tieWordEmbeddings: Bool  // tie_word_embeddings
    /// Biases on `query_key_value` and `dense` (`attention_bias`).
    public var attentionBias: Bool
    /// The MLP's nonlinearity (`hidden_act`, exact `gelu` by default).
    public var activation: Activation  // hidden_act
    /// The drop probability of the embeddings, the attention output and the MLP output (`hidden_dropout`).
    public var hiddenDropout: Double  // hidden_dropout
    /// The drop probability of the attention weights (`attention_dropout`).
    public var attentionDropout: Double  // attention_dropout
    /// The standard deviation of the initial weights (`initializer_range`).
    public var initializerRange: Double  // initializer_range
    /// The ids of the beginning, end and padding tokens (`bos_token_id`, `eos_token_id`, `pad_token_id`).
    public var specialTokens: SpecialTokens

    /// A configuration with GPT-NeoX's defaults for everything but the sizes; ``firstProblem()`` checks it.
    ///
    /// `rotaryDimension` defaults to a quarter of the head size (`rotary_pct` = 0.25), rounded down.
    public init(
        vocabularySize: Int, hiddenSize: Int, intermediateSize: Int, layerCount: Int, headCount: Int,
        rotaryDimension: Int? = nil, ropeTheta: Double = 10_000, ropeScaling: RotaryScaling = .none, contextLength: Int,
        layerNormEpsilon: Double = 1e-5, parallelResidual: Bool = true, tieWordEmbeddings: Bool = false,
        attentionBias: Bool = true, activation: Activation = .gelu, hiddenDropout: Double = 0, attentionDropout: Double = 0,
        initializerRange: Double = 0.02, specialTokens: SpecialTokens = SpecialTokens()
    ) {
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.rotaryDimension = rotaryDimension ?? hiddenSize / Swift.max(1, headCount) / 4
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.contextLength = contextLength
        self.layerNormEpsilon = layerNormEpsilon
        self.parallelResidual = parallelResidual
        self.tieWordEmbeddings = tieWordEmbeddings
        self.attentionBias = attentionBias
        self.activation = activation
        self.hiddenDropout = hiddenDropout
        self.attentionDropout = attentionDropout
        self.initializerRange = initializerRange
        self.specialTokens = specialTokens
    }

    /// The width of one head, `hiddenSize / headCount` (rounded down; ``firstProblem()`` requires it to divide exactly).
    public var headSize: Int { hiddenSize / Swift.max(1, headCount) }

    /// The first value a user or a file could get wrong, as (Hugging Face key, problem).
    public func firstProblem() -> (field: String, message: String)? {
        for (field, value) in [
            ("vocab_size", vocabularySize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
            ("num_hidden_layers", layerCount), ("num_attention_heads", headCount),
            ("max_position_embeddings", contextLength),
        ] where value <= 0 {
            return (field, "must be positive, got \(value)")
        }
        if hiddenSize % headCount != 0 { return ("num_attention_heads", "\(headCount) does not divide hidden_size = \(hiddenSize)") }
        if rotaryDimension <= 0 || rotaryDimension > headSize || rotaryDimension % 2 != 0 {
            return ("rotary_pct", "gives \(rotaryDimension) rotated features of a head of \(headSize); they must be even and between 2 and the head size")
        }
        if !(layerNormEpsilon > 0) { return ("layer_norm_eps", "must be positive, got \(layerNormEpsilon)") }
        if !(ropeTheta > 0) { return ("rotary_emb_base", "must be positive, got \(ropeTheta)") }
        for (field, p) in [("hidden_dropout", hiddenDropout), ("attention_dropout", attentionDropout)] where !(p >= 0 && p < 1) {
            return (field, "must be in [0, 1), got \(p)")
        }
        return nil
    }
}
