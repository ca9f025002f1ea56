import Autograd
import TensorCore

/// Llama's self-attention: separate `q_proj`, `k_proj`, `v_proj` and `o_proj`, grouped-query
/// attention (`keyValueHeadCount` key/value heads shared by consecutive query heads), rotary
/// positions on queries and keys, optional biases (Qwen2 has them on q, k and v).
public final class LlamaAttention<Scalar: TensorScalar>: Module<Scalar>, AttentionLayer {
    /// The query projection (`q_proj`), weight `[headCount · headSize, hidden]` (`[out, in]`); heads are consecutive blocks of `headSize` rows.
    public let q_proj: Linear<Scalar>
    /// The key projection (`k_proj`), weight `[keyValueHeadCount · headSize, hidden]` (`[out, in]`).
    public let k_proj: Linear<Scalar>
    /// The value projection (`v_proj`), weight `[keyValueHeadCount · headSize, hidden]` (`[out, in]`).
    public let v_proj: Linear<Scalar>
    /// The output projection (`o_proj`), weight `[hidden, headCount · headSize]` (`[out, in]`), from the concatenated heads back to the residual stream.
    public let o_proj: Linear<Scalar>
    /// The number of query heads, the number of key/value heads (dividing it) and the width of one head.
    public let headCount: Int, keyValueHeadCount: Int, headSize: Int
    /// The rotation applied to all `headSize` features of each query and key head.
    public let rotary: RotaryEmbedding
    let dropout: Dropout<Scalar>
    private var tables: (time: Int, cos: Tensor<Scalar>, sin: Tensor<Scalar>)?

    /// An attention layer sized by `c`, every weight drawn from N(0, σ²) with σ = `initializerRange`, biases zero where `c` asks for them.
    public init(configuration c: LlamaConfiguration, using generator: inout SeededGenerator) {
        let std = Scalar(c.initializerRange)
        func linear(_ inputs: Int, _ outputs: Int, _ bias: Bool) -> Linear<Scalar> {
            Linear(inputCount: inputs, outputCount: outputs, hasBias: bias, standardDeviation: std, using: &generator)
        }
        q_proj = linear(c.hiddenSize, c.headCount * c.headSize, c.queryKeyValueBias)
        k_proj = linear(c.hiddenSize, c.keyValueHeadCount * c.headSize, c.queryKeyValueBias)
        v_proj = linear(c.hiddenSize, c.keyValueHeadCount * c.headSize, c.queryKeyValueBias)
        o_proj = linear(c.headCount * c.headSize, c.hiddenSize, c.outputBias)
        headCount = c.headCount
        keyValueHeadCount = c.keyValueHeadCount
        headSize = c.headSize
        rotary = RotaryEmbedding(dimension: c.headSize, base: c.ropeTheta, scaling: c.ropeScaling)
        dropout = Dropout(probability: c.attentionDropout)
        super.init()
        register(module: q_proj, "q_proj")
        register(module: k_proj, "k_proj")
        register(module: v_proj, "v_proj")
        register(module: o_proj, "o_proj")
        register(module: dropout, "attention_dropout")
    }

    /// The rotary tables for `time` positions, kept for the next call of the same length.
    func rotaryTables(_ time: Int) -> (cos: Tensor<Scalar>, sin: Tensor<Scalar>) {
        if let tables, tables.time == time { return (tables.cos, tables.sin) }
        let (cos, sin) = rotary.tables(time: time, as: Scalar.self)
        tables = (time, cos, sin)
        return (cos, sin)
    }

    /// `[batch, time, hidden]` → `[batch, time, hidden]`.
    public func callAsFunction(_ x: Variable<Scalar>, mask: Tensor<Scalar>) -> Variable<Scalar> {
        let (cos, sin) = rotaryTables(x.shape[1])
        let q = rotary(q_proj(x).splittingHeads(headCount), cos: cos, sin: sin)
        let k = rotary(k_proj(x).splittingHeads(keyValueHeadCount), cos: cos, sin: sin)
        let v = v_proj(x).splittingHeads(keyValueHeadCount)
        let scale = Scalar(1 / Double(headSize).squareRoot())
        return o_proj(scaledDotProductAttention(queries: q, keys: k, values: v, mask: mask, scale: scale, dropout: dropout))
    }
}

/// The Llama decoder stack (`model` in Hugging Face's `LlamaForCausalLM`): `embed_tokens`, layers
/// of RMSNorm → attention → RMSNorm → SwiGLU MLP, final `norm`.
public final class LlamaModel<Scalar: TensorScalar>: Module<Scalar> {
    /// The token embedding (`embed_tokens`), `[vocabularySize, hiddenSize]`; the head's weight too when tied.
    public let embed_tokens: Embedding<Scalar>
    /// The decoder layers (`layers.0`, `layers.1`, …): `input_layernorm`, `self_attn`, `post_attention_layernorm`, `mlp` each.
    public let layers: ModuleList<Scalar, TransformerBlock<Scalar>>
    /// The RMSNorm after the last layer (`norm`).
    public let norm: RMSNorm<Scalar>
    /// The configuration the stack was built from.
    public let configuration: LlamaConfiguration

    /// A randomly initialised stack: N(0, σ²) weights with σ = `initializerRange`, zero biases, RMSNorm scales of 1.
    ///
    /// The configuration is not validated here; ``LlamaForCausalLM/init(configuration:seed:)`` does it.
    public init(configuration c: LlamaConfiguration, using generator: inout SeededGenerator) {
        configuration = c
        let std = Scalar(c.initializerRange)
        embed_tokens = Embedding(count: c.vocabularySize, dimension: c.hiddenSize, standardDeviation: std, using: &generator)
        var blocks: [TransformerBlock<Scalar>] = []
        for _ in 0..<c.layerCount {
            let attention = LlamaAttention<Scalar>(configuration: c, using: &generator)
            let mlp = GatedFeedForward<Scalar>(
                embeddingSize: c.hiddenSize, innerSize: c.intermediateSize, activation: c.activation,
                hasBias: c.mlpBias, initializerRange: std, using: &generator)
            blocks.append(
                TransformerBlock(
                    inputNorm: RMSNorm<Scalar>(dimension: c.hiddenSize, epsilon: Scalar(c.rmsNormEpsilon)),
                    attention: attention,
                    postAttentionNorm: RMSNorm<Scalar>(dimension: c.hiddenSize, epsilon: Scalar(c.rmsNormEpsilon)),
                    mlp: mlp, names: ("input_layernorm", "self_attn", "post_attention_layernorm", "mlp")))
        }
        layers = ModuleList(blocks)
        norm = RMSNorm(dimension: c.hiddenSize, epsilon: Scalar(c.rmsNormEpsilon))
        super.init()
        register(module: embed_tokens, "embed_tokens")
        register(module: layers, "layers")
        register(module: norm, "norm")
    }

    /// Hidden states `[batch, time, hidden]` after the final norm.
    public func callAsFunction(tokens: [Int], batchSize: Int, attentionMask: Tensor<Scalar>?) -> Variable<Scalar> {
        let time = tokens.count / batchSize
        var x = embed_tokens(tokens).reshaped(to: [batchSize, time, configuration.hiddenSize])
        let full: Tensor<Scalar> = causalAttentionMask(batch: batchSize, time: time, attentionMask: attentionMask)
        // A window at least as long as the sequence changes nothing.
        let window = configuration.slidingWindow.flatMap { $0 < time ? $0 : nil }
        let windowed: Tensor<Scalar> = window.map { causalAttentionMask(batch: batchSize, time: time, attentionMask: attentionMask, slidingWindow: $0) } ?? full
        for (i, block) in layers.elements.enumerated() {
            x = block(x, mask: configuration.fullAttentionLayers.contains(i) ? full : windowed)
        }
        return norm(x)
    }
}

/// A Llama-family language model (`LlamaForCausalLM`, `MistralForCausalLM`, `Qwen2ForCausalLM`):
/// the decoder and `lm_head`, whose weight is `model.embed_tokens.weight` when the embeddings are tied.
public final class LlamaForCausalLM<Scalar: TensorScalar>: Module<Scalar>, CausalLanguageModel {
    /// The decoder stack (`model`).
    public let model: LlamaModel<Scalar>
    /// The bias-free head (`lm_head`), weight `[vocabularySize, hiddenSize]`: `model.embed_tokens.weight` itself when tied.
    public let lm_head: Linear<Scalar>
    /// The configuration of ``model``.
    public var configuration: LlamaConfiguration { model.configuration }

    /// A randomly initialised model whose weights are a function of `seed` alone.
    ///
    /// - Precondition: `configuration.firstProblem()` is nil.
    public init(configuration: LlamaConfiguration, seed: UInt64 = 0) {
        precondition(configuration.firstProblem() == nil, "invalid Llama configuration: \(configuration.firstProblem()!)")
        var generator = SeededGenerator(seed: seed)
        model = LlamaModel(configuration: configuration, using: &generator)
        lm_head = Linear.head(
            tiedTo: model.embed_tokens, tied: configuration.tieWordEmbeddings,
            standardDeviation: Scalar(configuration.initializerRange), using: &generator)
        super.init()
        register(module: model, "model")
        register(module: lm_head, "lm_head")
    }

    /// This model itself.
    public var module: Module<Scalar> { self }
    /// `max_position_embeddings`.
    public var contextLength: Int { configuration.contextLength }
    /// `vocab_size`.
    public var vocabularySize: Int { configuration.vocabularySize }
    /// The configuration's beginning, end and padding ids.
    public var specialTokens: SpecialTokens { configuration.specialTokens }

    /// `mlp` is `gate_proj`, `up_proj` and `down_proj` of every layer, `attention` `q_proj`, `k_proj`, `v_proj` and `o_proj`, and `all` every Linear layer.
    ///
    /// `all` includes `lm_head`, tied or not.
    override public var moduleGroups: [String: [String]] {
        [
            "mlp": ["model.layers.*.mlp.gate_proj", "model.layers.*.mlp.up_proj", "model.layers.*.mlp.down_proj"],
            "attention": [
                "model.layers.*.self_attn.q_proj", "model.layers.*.self_attn.k_proj", "model.layers.*.self_attn.v_proj",
                "model.layers.*.self_attn.o_proj",
            ], "all": [],
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
        return lm_head(model(tokens: tokens, batchSize: batchSize, attentionMask: attentionMask))
    }
}
