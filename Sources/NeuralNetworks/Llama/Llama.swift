import Autograd
import TensorCore

/// Llama's self-attention: separate `q_proj`, `k_proj`, `v_proj` and `o_proj`, grouped-query
/// attention (`keyValueHeadCount` key/value heads shared by consecutive query heads), rotary
/// positions on queries and keys, optional biases (Qwen2 has them on q, k and v).
public final class LlamaAttention<Scalar: TensorScalar>: Module<Scalar>, AttentionLayer {
    public let q_proj: Linear<Scalar>
    public let k_proj: Linear<Scalar>
    public let v_proj: Linear<Scalar>
    public let o_proj: Linear<Scalar>
    public let headCount: Int, keyValueHeadCount: Int, headSize: Int
    public let rotary: RotaryEmbedding
    let dropout: Dropout<Scalar>
    private var tables: (time: Int, cos: Tensor<Scalar>, sin: Tensor<Scalar>)?

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
    public let embed_tokens: Embedding<Scalar>
    public let layers: ModuleList<Scalar, TransformerBlock<Scalar>>
    public let norm: RMSNorm<Scalar>
    public let configuration: LlamaConfiguration

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
    public let model: LlamaModel<Scalar>
    public let lm_head: Linear<Scalar>
    public var configuration: LlamaConfiguration { model.configuration }

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

    public var module: Module<Scalar> { self }
    public var contextLength: Int { configuration.contextLength }
    public var vocabularySize: Int { configuration.vocabularySize }
    public var specialTokens: SpecialTokens { configuration.specialTokens }

    override public var moduleGroups: [String: [String]] {
        [
            "mlp": ["model.layers.*.mlp.gate_proj", "model.layers.*.mlp.up_proj", "model.layers.*.mlp.down_proj"],
            "attention": [
                "model.layers.*.self_attn.q_proj", "model.layers.*.self_attn.k_proj", "model.layers.*.self_attn.v_proj",
                "model.layers.*.self_attn.o_proj",
            ], "all": [],
        ]
    }

    public func logits(tokens: [Int], batchSize: Int, attentionMask: Tensor<Scalar>?) -> Variable<Scalar> {
        _ = sequenceLength(tokens: tokens, batchSize: batchSize)
        return lm_head(model(tokens: tokens, batchSize: batchSize, attentionMask: attentionMask))
    }
}
