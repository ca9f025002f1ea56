import Autograd
import TensorCore

/// GPT-NeoX's self-attention: one fused `query_key_value` projection whose output is laid out per
/// head — `[q_h; k_h; v_h]` for head h, each `headSize` wide — then `dense`; rotary positions on
/// the first `rotaryDimension` features of each query and key head (Pythia rotates a quarter).
public final class GPTNeoXAttention<Scalar: TensorScalar>: Module<Scalar>, AttentionLayer {
    /// The fused projection (`query_key_value`), weight `[3 · hidden, hidden]` (`[out, in]`), output laid out per head as `[q_h; k_h; v_h]`.
    ///
    /// Unlike GPT-2's `c_attn` (all queries, then all keys, then all values), head h owns output rows `3·h·headSize ..< 3·(h + 1)·headSize`.
    public let query_key_value: Linear<Scalar>
    /// The output projection (`dense`), weight `[hidden, hidden]` (`[out, in]`), from the concatenated heads back to the residual stream.
    public let dense: Linear<Scalar>
    /// The number of heads; each is `hidden / headCount` wide.
    public let headCount: Int
    /// The rotation applied to the first `rotaryDimension` features of each query and key head.
    public let rotary: RotaryEmbedding
    let attentionDropout: Dropout<Scalar>
    let outputDropout: Dropout<Scalar>
    private var tables: (time: Int, cos: Tensor<Scalar>, sin: Tensor<Scalar>)?

    /// An attention layer sized by `c`, both weights drawn from N(0, σ²) with σ = `initializerRange`, zero biases when `attentionBias`.
    public init(configuration c: GPTNeoXConfiguration, using generator: inout SeededGenerator) {
        let std = Scalar(c.initializerRange)
        query_key_value = Linear(
            inputCount: c.hiddenSize, outputCount: 3 * c.hiddenSize, hasBias: c.attentionBias,
            standardDeviation: std, using: &generator)
        dense = Linear(inputCount: c.hiddenSize, outputCount: c.hiddenSize, hasBias: c.attentionBias, standardDeviation: std, using: &generator)
        headCount = c.headCount
        rotary = RotaryEmbedding(dimension: c.rotaryDimension, base: c.ropeTheta, scaling: c.ropeScaling)
        attentionDropout = Dropout(probability: c.attentionDropout)
        outputDropout = Dropout(probability: c.hiddenDropout)
        super.init()
        register(module: query_key_value, "query_key_value")
        register(module: dense, "dense")
        register(module: attentionDropout, "attention_dropout")
        register(module: outputDropout, "post_attention_dropout")
    }

    /// `[batch, time, hidden]` → `[batch, time, hidden]`.
    public func callAsFunction(_ x: Variable<Scalar>, mask: Tensor<Scalar>) -> Variable<Scalar> {
        let (batch, time, hidden) = (x.shape[0], x.shape[1], x.shape[2])
        let headSize = hidden / headCount
        let qkv = query_key_value(x).reshaped(to: [batch, time, headCount, 3 * headSize]).permuted([0, 2, 1, 3])  // [B, H, T, 3D]
        if tables?.time != time {
            let (cos, sin) = rotary.tables(time: time, as: Scalar.self)
            tables = (time, cos, sin)
        }
        let (cos, sin) = (tables!.cos, tables!.sin)
        let q = rotary(qkv.sliced(along: 3, 0..<headSize), cos: cos, sin: sin)
        let k = rotary(qkv.sliced(along: 3, headSize..<(2 * headSize)), cos: cos, sin: sin)
        let v = qkv.sliced(along: 3, (2 * headSize)..<(3 * headSize))
        let scale = Scalar(1 / Double(headSize).squareRoot())
        return outputDropout(
            dense(
                scaledDotProductAttention(
                    queries: q, keys: k, values: v, mask: mask, scale: scale,
                    dropout: attentionDropout)))
    }
}

/// The GPT-NeoX decoder stack (`gpt_neox`): `embed_in`, layers of LayerNorm → attention and
/// LayerNorm → MLP (`dense_h_to_4h`, `dense_4h_to_h`) with parallel or sequential residuals,
/// `final_layer_norm`.
public final class GPTNeoXModel<Scalar: TensorScalar>: Module<Scalar> {
    /// The token embedding (`embed_in`), `[vocabularySize, hiddenSize]`.
    public let embed_in: Embedding<Scalar>
    /// Dropout on the token embeddings (`emb_dropout`, `hidden_dropout`).
    public let emb_dropout: Dropout<Scalar>
    /// The decoder layers (`layers.0`, …): `input_layernorm`, `attention`, `post_attention_layernorm`, `mlp` each.
    public let layers: ModuleList<Scalar, TransformerBlock<Scalar>>
    /// The LayerNorm after the last layer (`final_layer_norm`).
    public let final_layer_norm: LayerNorm<Scalar>
    /// The configuration the stack was built from.
    public let configuration: GPTNeoXConfiguration

    /// A randomly initialised stack: N(0, σ²) weights with σ = `initializerRange`, zero biases, LayerNorms at γ = 1, β = 0.
    ///
    /// The configuration is not validated here; ``GPTNeoXForCausalLM/init(configuration:seed:)`` does it.
    public init(configuration c: GPTNeoXConfiguration, using generator: inout SeededGenerator) {
        configuration = c
        let std = Scalar(c.initializerRange), epsilon = Scalar(c.layerNormEpsilon)
        embed_in = Embedding(count: c.vocabularySize, dimension: c.hiddenSize, standardDeviation: std, using: &generator)
        emb_dropout = Dropout(probability: c.hiddenDropout)
        var blocks: [TransformerBlock<Scalar>] = []
        for _ in 0..<c.layerCount {
            let attention = GPTNeoXAttention<Scalar>(configuration: c, using: &generator)
            let up = Linear<Scalar>(inputCount: c.hiddenSize, outputCount: c.intermediateSize, standardDeviation: std, using: &generator)
            let down = Linear<Scalar>(inputCount: c.intermediateSize, outputCount: c.hiddenSize, standardDeviation: std, using: &generator)
            let mlp = FeedForward(
                up: up, down: down, activation: c.activation, dropout: c.hiddenDropout,
                names: ("dense_h_to_4h", "dense_4h_to_h"))
            blocks.append(
                TransformerBlock(
                    inputNorm: LayerNorm<Scalar>(dimension: c.hiddenSize, epsilon: epsilon), attention: attention,
                    postAttentionNorm: LayerNorm<Scalar>(dimension: c.hiddenSize, epsilon: epsilon), mlp: mlp,
                    residual: c.parallelResidual ? .parallel : .sequential,
                    names: ("input_layernorm", "attention", "post_attention_layernorm", "mlp")))
        }
        layers = ModuleList(blocks)
        final_layer_norm = LayerNorm(dimension: c.hiddenSize, epsilon: epsilon)
        super.init()
        register(module: embed_in, "embed_in")
        register(module: emb_dropout, "emb_dropout")
        register(module: layers, "layers")
        register(module: final_layer_norm, "final_layer_norm")
    }

    /// Hidden states `[batch, time, hidden]` after the final LayerNorm.
    public func callAsFunction(tokens: [Int], batchSize: Int, attentionMask: Tensor<Scalar>?) -> Variable<Scalar> {
        let time = tokens.count / batchSize
        var x = emb_dropout(embed_in(tokens).reshaped(to: [batchSize, time, configuration.hiddenSize]))
        let mask: Tensor<Scalar> = causalAttentionMask(batch: batchSize, time: time, attentionMask: attentionMask)
        for block in layers.elements { x = block(x, mask: mask) }
        return final_layer_norm(x)
    }
}

/// GPT-NeoX with its head (`GPTNeoXForCausalLM`): `embed_out`, untied unless the configuration ties it.
public final class GPTNeoXForCausalLM<Scalar: TensorScalar>: Module<Scalar>, CausalLanguageModel {
    /// The decoder stack (`gpt_neox`).
    public let gpt_neox: GPTNeoXModel<Scalar>
    /// The bias-free head (`embed_out`), weight `[vocabularySize, hiddenSize]`: `gpt_neox.embed_in.weight` itself when tied.
    public let embed_out: Linear<Scalar>
    /// The configuration of ``gpt_neox``.
    public var configuration: GPTNeoXConfiguration { gpt_neox.configuration }

    /// A randomly initialised model whose weights are a function of `seed` alone.
    ///
    /// - Precondition: `configuration.firstProblem()` is nil.
    public init(configuration: GPTNeoXConfiguration, seed: UInt64 = 0) {
        precondition(configuration.firstProblem() == nil, "invalid GPT-NeoX configuration: \(configuration.firstProblem()!)")
        var generator = SeededGenerator(seed: seed)
        gpt_neox = GPTNeoXModel(configuration: configuration, using: &generator)
        embed_out = Linear.head(
            tiedTo: gpt_neox.embed_in, tied: configuration.tieWordEmbeddings,
            standardDeviation: Scalar(configuration.initializerRange), using: &generator)
        super.init()
        register(module: gpt_neox, "gpt_neox")
        register(module: embed_out, "embed_out")
    }

    /// This model itself.
    public var module: Module<Scalar> { self }
    /// `max_position_embeddings`.
    public var contextLength: Int { configuration.contextLength }
    /// `vocab_size`.
    public var vocabularySize: Int { configuration.vocabularySize }
    /// The configuration's beginning, end and padding ids.
    public var specialTokens: SpecialTokens { configuration.specialTokens }

    /// `mlp` is `dense_h_to_4h` and `dense_4h_to_h` of every layer, `attention` `query_key_value` and `dense`, and `all` every Linear layer.
    ///
    /// `all` includes `embed_out`, tied or not.
    override public var moduleGroups: [String: [String]] {
        [
            "mlp": ["gpt_neox.layers.*.mlp.dense_h_to_4h", "gpt_neox.layers.*.mlp.dense_4h_to_h"],
            "attention": ["gpt_neox.layers.*.attention.query_key_value", "gpt_neox.layers.*.attention.dense"], "all": [],
        ]
    }

    /// The logits `[batch, time, vocabularySize]` after checking that the tokens split into `batchSize` sequences within the context.
    ///
    /// - Parameters:
    ///   - tokens: `batch × time` ids, row-major.
    ///   - batchSize: The number of sequences.
    ///   - attentionMask: `[batch, time]`, 1 for tokens and 0 for (right) padding; nil for none.
    public func logits(tokens: [Int], batchSize: Int, attentionMask: Tensor<Scalar>?) -> Variable<Scalar> {
        _ = sequenceLength(tokens: tokens, batchSize: batchSize)
        return embed_out(gpt_neox(tokens: tokens, batchSize: batchSize, attentionMask: attentionMask))
    }
}
