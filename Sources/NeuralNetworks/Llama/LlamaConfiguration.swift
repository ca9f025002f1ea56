/// The hyperparameters of a Llama-family decoder (`model_type` `llama`, `mistral`, `qwen2`).
///
/// Field names spell the dimensions out; the Hugging Face keys they come from are in the comments
/// and are read by the Llama family of `ModelIO`, which also refuses configurations it does not
/// implement.
public struct LlamaConfiguration: Equatable, Sendable {
    /// `model_type`: `llama`, `mistral` or `qwen2` (recorded so that a saved model keeps its type).
    public var modelType: String
    /// The number of token ids (`vocab_size`), the rows of `embed_tokens` and of the head.
    public var vocabularySize: Int  // vocab_size
    /// The width of the residual stream (`hidden_size`).
    public var hiddenSize: Int  // hidden_size
    /// The hidden width of the gated MLP (`intermediate_size`).
    public var intermediateSize: Int  // intermediate_size
    /// The number of decoder layers (`num_hidden_layers`).
    public var layerCount: Int  // num_hidden_layers
    /// The number of query heads (`num_attention_heads`).
    public var headCount: Int  // num_attention_heads
    /// The number of key/value heads (`num_key_value_heads`, the query head count when absent); it must divide ``headCount``.
    public var keyValueHeadCount: Int  // num_key_value_heads (grouped-query attention)
    /// The width of one head (`head_dim`, else `hidden_size / num_attention_heads`); even, since every feature is rotated.
    public var headSize: Int  // head_dim, else hidden_size / num_attention_heads
    /// The longest sequence the model takes (`max_position_embeddings`).
    public var contextLength: Int  // max_position_embeddings
    /// The ε of every RMSNorm (`rms_norm_eps`).
    public var rmsNormEpsilon: Double  // rms_norm_eps
    /// The base of the rotary frequencies (`rope_theta`).
    public var ropeTheta: Double  // rope_theta (or rope_parameters.rope_theta)
    /// The long-context rescaling of the rotary frequencies (`rope_scaling`).
    public var ropeScaling: RotaryScaling  // rope_scaling (or rope_parameters)
    /// Biases on the query, key and value projections (Llama's `attention_bias`; always for Qwen2).
    public var queryKeyValueBias: Bool
    /// A bias on the output projection (Llama's `attention_bias`; never for Qwen2).
    public var outputBias: Bool
    /// Biases on `gate_proj`, `up_proj` and `down_proj` (`mlp_bias`).
    public var mlpBias: Bool  // mlp_bias
    /// The gate's nonlinearity in the MLP (`hidden_act`, `silu` by default).
    public var activation: Activation  // hidden_act
    /// Whether `lm_head` shares its weight with `embed_tokens` (`tie_word_embeddings`).
    public var tieWordEmbeddings: Bool  // tie_word_embeddings
    /// The keys a query sees, itself included (Mistral's `sliding_window`); nil for all.
    public var slidingWindow: Int?
    /// Layers that attend to every earlier key even with a sliding window (Qwen2's `layer_types`
    /// entries `full_attention`, or its layers below `max_window_layers`).
    public var fullAttentionLayers: Set<Int>
    /// The drop probability of the attention weights (`attention_dropout`, 0 by default).
    public var attentionDropout: Double  // attention_dropout
    /// The standard deviation of the initial weights (`initializer_range`).
    public var initializerRange: Double  // initializer_range
    /// The ids of the beginning, end and padding tokens (`bos_token_id`, `eos_token_id`, `pad_token_id`).
    public var specialTokens: SpecialTokens  // bos_token_id, eos_token_id, pad_token_id

    /// A configuration with Llama's defaults for everything but the sizes; ``firstProblem()`` checks it.
    ///
    /// `keyValueHeadCount` defaults to `headCount` (multi-head attention) and `headSize` to `hiddenSize / headCount`.
    public init(
        modelType: String = "llama", vocabularySize: Int, hiddenSize: Int, intermediateSize: Int, layerCount: Int,
        headCount: Int, keyValueHeadCount: Int? = nil, headSize: Int? = nil, contextLength: Int,
        rmsNormEpsilon: Double = 1e-6, ropeTheta: Double = 10_000, ropeScaling: RotaryScaling = .none,
        queryKeyValueBias: Bool = false, outputBias: Bool = false, mlpBias: Bool = false, activation: Activation = .silu,
        tieWordEmbeddings: Bool = false, slidingWindow: Int? = nil, fullAttentionLayers: Set<Int> = [], attentionDropout: Double = 0,
        initializerRange: Double = 0.02, specialTokens: SpecialTokens = SpecialTokens()
    ) {
        self.modelType = modelType
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.keyValueHeadCount = keyValueHeadCount ?? headCount
        self.headSize = headSize ?? hiddenSize / Swift.max(1, headCount)
        self.contextLength = contextLength
        self.rmsNormEpsilon = rmsNormEpsilon
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.queryKeyValueBias = queryKeyValueBias
        self.outputBias = outputBias
        self.mlpBias = mlpBias
        self.activation = activation
        self.tieWordEmbeddings = tieWordEmbeddings
        self.slidingWindow = slidingWindow
        self.fullAttentionLayers = fullAttentionLayers
        self.attentionDropout = attentionDropout
        self.initializerRange = initializerRange
        self.specialTokens = specialTokens
    }

    /// The first value a user or a file could get wrong, as (Hugging Face key, problem).
    public func firstProblem() -> (field: String, message: String)? {
        for (field, value) in [
            ("vocab_size", vocabularySize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
            ("num_hidden_layers", layerCount), ("num_attention_heads", headCount),
            ("num_key_value_heads", keyValueHeadCount), ("head_dim", headSize),
            ("max_position_embeddings", contextLength),
        ] where value <= 0 {
            return (field, "must be positive, got \(value)")
        }
        if headCount % keyValueHeadCount != 0 {
            return ("num_key_value_heads", "\(keyValueHeadCount) does not divide num_attention_heads = \(headCount)")
        }
        if headSize % 2 != 0 { return ("head_dim", "rotary embeddings need an even head size, got \(headSize)") }
        if !(rmsNormEpsilon > 0) { return ("rms_norm_eps", "must be positive, got \(rmsNormEpsilon)") }
        if !(ropeTheta > 0) { return ("rope_theta", "must be positive, got \(ropeTheta)") }
        if let w = slidingWindow, w <= 0 { return ("sliding_window", "must be positive, got \(w)") }
        if !(attentionDropout >= 0 && attentionDropout < 1) { return ("attention_dropout", "must be in [0, 1), got \(attentionDropout)") }
        return nil
    }
}
