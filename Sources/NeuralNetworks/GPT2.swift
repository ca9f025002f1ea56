import Autograd
import TensorCore

/// The GPT-2 decoder stack (`transformer` in Hugging Face's names): token and position
/// embeddings, layers, final LayerNorm.
public final class GPT2Model<Scalar: TensorScalar>: Module<Scalar> {
    /// The token embedding (`wte`), `[vocabularySize, embeddingSize]`; the head's weight too when tied.
    public let wte: Embedding<Scalar>
    /// The learned position embedding (`wpe`), `[contextLength, embeddingSize]`; row p is added at position p.
    public let wpe: Embedding<Scalar>
    /// Dropout on the summed token and position embeddings (`drop`, `embd_pdrop`).
    public let drop: Dropout<Scalar>
    /// The transformer blocks (`h.0`, `h.1`, …): `ln_1`, `attn`, `ln_2`, `mlp` each, sequential residuals.
    public let h: ModuleList<Scalar, TransformerBlock<Scalar>>
    /// The LayerNorm after the last block (`ln_f`).
    public let ln_f: LayerNorm<Scalar>
    /// The configuration the stack was built from.
    public let configuration: GPT2Configuration

    /// A randomly initialised stack with GPT-2's scheme: N(0, σ²) weights with σ = `initializerRange`, σ/√(2·layers) for the residual projections.
    ///
    /// Biases start at zero and LayerNorms at γ = 1, β = 0. The configuration is not validated here.
    public init(configuration c: GPT2Configuration, using generator: inout SeededGenerator) {
        configuration = c
        let std = Scalar(c.initializerRange)
        wte = Embedding(count: c.vocabularySize, dimension: c.embeddingSize, standardDeviation: std, using: &generator)
        wpe = Embedding(count: c.contextLength, dimension: c.embeddingSize, standardDeviation: std, using: &generator)
        drop = Dropout(probability: c.embeddingDropout)
        var blocks: [TransformerBlock<Scalar>] = []
        // GPT-2 scales the residual projections by 1/√(2 × layers).
        let projectionStd = Scalar(c.initializerRange / (2 * Double(c.layerCount)).squareRoot())
        for _ in 0..<c.layerCount {
            let ln1 = LayerNorm<Scalar>(dimension: c.embeddingSize, epsilon: Scalar(c.layerNormEpsilon))
            let attention = CausalSelfAttention(
                embeddingSize: c.embeddingSize, headCount: c.headCount, attentionDropout: c.attentionDropout,
                residualDropout: c.residualDropout, initializerRange: std,
                projectionStandardDeviation: projectionStd, using: &generator)
            let ln2 = LayerNorm<Scalar>(dimension: c.embeddingSize, epsilon: Scalar(c.layerNormEpsilon))
            let mlp = FeedForward(
                embeddingSize: c.embeddingSize, innerSize: c.feedForwardSize,
                activation: Activation(huggingFaceName: c.activation) ?? .geluNew, dropout: c.residualDropout,
                initializerRange: std, projectionStandardDeviation: projectionStd, using: &generator)
            blocks.append(
                TransformerBlock(
                    inputNorm: ln1, attention: attention, postAttentionNorm: ln2, mlp: mlp,
                    names: ("ln_1", "attn", "ln_2", "mlp")))
        }
        h = ModuleList(blocks)
        ln_f = LayerNorm(dimension: c.embeddingSize, epsilon: Scalar(c.layerNormEpsilon))
        super.init()
        register(module: wte, "wte")
        register(module: wpe, "wpe")
        register(module: drop, "drop")
        register(module: h, "h")
        register(module: ln_f, "ln_f")
    }

    /// Hidden states `[batch, time, channels]` after the final LayerNorm.
    ///
    /// - Parameters:
    ///   - tokens: `batch × time` token ids, row-major.
    ///   - batchSize: the number of sequences.
    ///   - attentionMask: `[batch, time]`, 1 for tokens and 0 for padding (right padding); nil for none.
    public func callAsFunction(tokens: [Int], batchSize: Int, attentionMask: Tensor<Scalar>? = nil) -> Variable<Scalar> {
        precondition(
            batchSize > 0 && tokens.count % batchSize == 0,
            "\(tokens.count) tokens do not split into \(batchSize) sequences of equal length")
        let time = tokens.count / batchSize
        precondition(time <= configuration.contextLength, "sequence length \(time) exceeds the context length \(configuration.contextLength)")
        let tokenEmbeddings = wte(tokens).reshaped(to: [batchSize, time, configuration.embeddingSize])
        let positionEmbeddings = wpe(Array(0..<time))
        var x = drop(tokenEmbeddings + positionEmbeddings)
        let mask: Tensor<Scalar> = causalAttentionMask(batch: batchSize, time: time, attentionMask: attentionMask)
        for block in h.elements { x = block(x, mask: mask) }
        return ln_f(x)
    }
}

/// GPT-2 with its language-model head (`GPT2LMHeadModel`): logits over the vocabulary at every
/// position. The head is a bias-free ``Linear`` named `lm_head` whose weight is, when tied, the
/// same parameter as `transformer.wte.weight`.
public final class GPT2LanguageModel<Scalar: TensorScalar>: Module<Scalar>, CausalLanguageModel {
    /// The decoder stack (`transformer`).
    public let transformer: GPT2Model<Scalar>
    /// The bias-free head (`lm_head`), weight `[vocabularySize, embeddingSize]`: `transformer.wte.weight` itself when tied.
    public let lm_head: Linear<Scalar>
    /// The configuration of ``transformer``.
    public var configuration: GPT2Configuration { transformer.configuration }

    /// A randomly initialised GPT-2 whose weights are a function of `seed` alone (see ``GPT2Model/init(configuration:using:)``).
    public init(configuration: GPT2Configuration, seed: UInt64 = 0) {
        var generator = SeededGenerator(seed: seed)
        transformer = GPT2Model(configuration: configuration, using: &generator)
        lm_head = Linear.head(
            tiedTo: transformer.wte, tied: configuration.tieWordEmbeddings,
            standardDeviation: Scalar(configuration.initializerRange), using: &generator)
        super.init()
        register(module: transformer, "transformer")
        register(module: lm_head, "lm_head")
    }

    /// This model itself.
    public var module: Module<Scalar> { self }
    /// `n_positions`.
    public var contextLength: Int { configuration.contextLength }
    /// `vocab_size`.
    public var vocabularySize: Int { configuration.vocabularySize }
    /// The configuration's `bos_token_id` and `eos_token_id`; GPT-2 has no padding token.
    public var specialTokens: SpecialTokens { SpecialTokens(beginning: configuration.bosTokenID, end: configuration.eosTokenID) }

    /// `mlp` is `c_fc` and `c_proj` of every block's MLP, `attention` `c_attn` and `c_proj` of every block's attention, and `all` every Linear layer.
    ///
    /// `all` includes `lm_head`, tied or not.
    override public var moduleGroups: [String: [String]] {
        [
            "mlp": ["transformer.h.*.mlp.c_fc", "transformer.h.*.mlp.c_proj"],
            "attention": ["transformer.h.*.attn.c_attn", "transformer.h.*.attn.c_proj"], "all": [],
        ]
    }

    /// Logits `[batch, time, vocabulary]`.
    public func callAsFunction(tokens: [Int], batchSize: Int, attentionMask: Tensor<Scalar>? = nil) -> Variable<Scalar> {
        lm_head(transformer(tokens: tokens, batchSize: batchSize, attentionMask: attentionMask))
    }

    /// The logits `[batch, time, vocabularySize]`, through ``callAsFunction(tokens:batchSize:attentionMask:)``.
    public func logits(tokens: [Int], batchSize: Int, attentionMask: Tensor<Scalar>?) -> Variable<Scalar> {
        self(tokens: tokens, batchSize: batchSize, attentionMask: attentionMask)
    }
}
