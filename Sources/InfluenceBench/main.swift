import Autograd
import Datasets
import Foundation
import Influence
import NeuralNetworks
import TensorCore
import Training

// The benchmark: every speed figure is a ratio to the machine's own sgemm throughput, measured in
// the same run, so that numbers from different machines can be compared.

Parallelism.relaunchWithShortBLASSpinIfNeeded()
setvbuf(stdout, nil, _IOLBF, 0)

/// Median wall time in seconds of `body` over `repeats` runs after `warmup` unmeasured runs.
func medianSeconds(warmup: Int = 2, repeats: Int, _ body: () -> Void) -> Double {
    for _ in 0..<warmup { body() }
    let clock = ContinuousClock()
    var times: [Double] = []
    for _ in 0..<repeats {
        let d = clock.measure(body)
        times.append(Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
    }
    return times.sorted()[times.count / 2]
}

func sgemmGFLOPs(n: Int) -> Double {
    var generator = SeededGenerator(seed: 1)
    let a = Tensor<Float>.randomNormal(shape: [n, n], using: &generator)
    let b = Tensor<Float>.randomNormal(shape: [n, n], using: &generator)
    var c = Tensor<Float>.zeros(shape: [n, n])
    let seconds = medianSeconds(repeats: n >= 2048 ? 5 : 15) { c.addMatrixProduct(a, b, beta: 0) }
    return 2 * Double(n * n * n) / seconds / 1e9
}

/// One forward and backward pass of a 784→1024→1024→10 ReLU MLP with softmax cross-entropy.
func mlpStep(batch: Int) -> (seconds: Double, flops: Double) {
    var generator = SeededGenerator(seed: 2)
    let sizes = [784, 1024, 1024, 10]
    var parameters: [Variable<Float>] = []
    for (fanIn, fanOut) in zip(sizes, sizes.dropFirst()) {
        let scale = Float(1 / Double(fanIn).squareRoot())
        parameters.append(
            Variable(
                Tensor.randomNormal(shape: [fanOut, fanIn], standardDeviation: scale, using: &generator),
                requiresGradient: true))
        parameters.append(Variable(Tensor.zeros(shape: [fanOut]), requiresGradient: true))
    }
    let x = Variable(Tensor<Float>.randomNormal(shape: [batch, 784], using: &generator))
    let labels = (0..<batch).map { $0 % 10 }
    let seconds = medianSeconds(warmup: 3, repeats: 20) {
        var h = x
        for layer in 0..<3 {
            h = Variable.matmul(h, parameters[2 * layer], transposeB: true) + parameters[2 * layer + 1]
            if layer < 2 { h = h.relu() }
        }
        let loss = Variable.softmaxCrossEntropy(logits: h, labels: labels)
        let grads = gradients(of: loss, at: parameters)
        precondition(grads.count == parameters.count && loss.value.scalar.isFinite)
    }
    let weights = zip(sizes, sizes.dropFirst()).map { Double($0 * $1) }
    let forward = 2 * Double(batch) * weights.reduce(0, +)
    // Backward: every weight gradient, and input gradients of all layers but the first.
    let backward = forward + 2 * Double(batch) * weights.dropFirst().reduce(0, +)
    return (seconds, forward + backward)
}

// Sections to run: all by default, or those named on the command line (sgemm is always measured).
let requested = Set(CommandLine.arguments.dropFirst())
func wanted(_ section: String) -> Bool { requested.isEmpty || requested.contains(section) }

let threads = Parallelism.threadCount
print(
    "swift-influence benchmark — \(threads) thread(s), OpenBLAS threads \(Parallelism.blasThreadCount), BLAS kernels \(Parallelism.blasCoreName), elementwise kernels \(Parallelism.elementwiseKernels)"
)
let sgemm1024 = sgemmGFLOPs(n: 1024)
let sgemm2048 = sgemmGFLOPs(n: 2048)
print(String(format: "sgemm n=1024: %.1f GFLOP/s", sgemm1024))
print(String(format: "sgemm n=2048: %.1f GFLOP/s", sgemm2048))
let reference = max(sgemm1024, sgemm2048)
if wanted("mlp") {
    let mlp = mlpStep(batch: 512)
    let mlpRate = mlp.flops / mlp.seconds / 1e9
    print(
        String(
            format: "MLP 784-1024-1024-10, batch 512, forward+backward: %.2f ms/step, %.1f GFLOP/s, %.0f%% of sgemm",
            mlp.seconds * 1e3, mlpRate, 100 * mlpRate / reference))
}

/// One AdamW training step of a 4-layer GPT-2 (width 256, 4 heads, context 128, vocabulary 4096, batch 16).
func gpt2TrainingStep() -> (seconds: Double, tokens: Int, flops: Double) {
    let config = GPT2Configuration(vocabularySize: 4096, contextLength: 128, embeddingSize: 256, layerCount: 4, headCount: 4)
    let model = GPT2LanguageModel<Float>(configuration: config, seed: 3)
    let optimizer = AdamW(parameters: model.trainableParameters, learningRate: 3e-4)
    var generator = SeededGenerator(seed: 5)
    let (batch, time) = (16, 128)
    let tokens = (0..<(batch * time)).map { _ in Int(generator.next() % 4096) }
    var step = 0
    let seconds = medianSeconds(warmup: 2, repeats: 7) {
        model.reseed(UInt64(step)); step += 1
        let logits = model(tokens: tokens, batchSize: batch)
        let loss = Losses.nextTokenLosses(logits: logits, tokens: tokens).sum() * (1 / Float(batch * (time - 1)))
        let grads = gradients(of: loss, at: optimizer.parameters.map(\.variable)).map(\.value)
        optimizer.step(gradients: grads)
    }
    let c = Double(config.embeddingSize), layers = Double(config.layerCount), t = Double(time)
    let linearPerToken = layers * (c * 3 * c + c * c + 2 * c * Double(config.feedForwardSize)) + c * Double(config.vocabularySize)
    let attentionPerToken = layers * 2 * t * c  // QKᵀ and AV, multiply-adds per token (full T × T)
    let flops = 3 * 2 * Double(batch * time) * (linearPerToken + attentionPerToken)
    return (seconds, batch * time, flops)
}

if wanted("gpt2") {
    let gpt2 = gpt2TrainingStep()
    let gpt2Rate = gpt2.flops / gpt2.seconds / 1e9
    print(
        String(
            format: "GPT-2 4×256, T=128, V=4096, batch 16, AdamW step: %.3f s, %.0f tokens/s, %.1f GFLOP/s, %.0f%% of sgemm",
            gpt2.seconds, Double(gpt2.tokens) / gpt2.seconds, gpt2Rate, 100 * gpt2Rate / reference))
}

/// EK-FAC fit and pairwise scoring on the 4-layer GPT-2 of the training benchmark: random
/// sequences of 128 tokens for training rows and queries.
final class RandomTokenTask {
    static func make(sequences: Int, queries: Int, tokens: Int = 128) -> LanguageModelingTask<GPT2LanguageModel<Float>> {
        let config = GPT2Configuration(vocabularySize: 4096, contextLength: 128, embeddingSize: 256, layerCount: 4, headCount: 4)
        let model = GPT2LanguageModel<Float>(configuration: config, seed: 11)
        model.evaluate()
        var generator = SeededGenerator(seed: 12)
        func sequence() -> [Int] { (0..<tokens).map { _ in Int(generator.next() % 4096) } }
        let train = (0..<sequences).map { _ in sequence() }
        let query = (0..<queries).map { _ in sequence() }
        return LanguageModelingTask(model: model, training: train, queries: query)
    }
}

if wanted("influence") {
    // BENCH_SEQUENCES training rows (1,024), BENCH_QUERIES queries (8), BENCH_MODULES "mlp" (c_fc and
    // c_proj of every block) or "blocks" (every Linear of the blocks: c_attn and the attention's c_proj too).
    let environment = ProcessInfo.processInfo.environment
    let sequences = Int(environment["BENCH_SEQUENCES"] ?? "") ?? 1024
    let queryCount = Int(environment["BENCH_QUERIES"] ?? "") ?? 8
    let blocks = environment["BENCH_MODULES"] == "blocks"
    let modules = ["transformer.h.*.mlp.c_fc", "transformer.h.*.mlp.c_proj"] + (blocks ? ["transformer.h.*.attn.c_attn", "transformer.h.*.attn.c_proj"] : [])
    let task = RandomTokenTask.make(sequences: sequences, queries: queryCount)
    let clock = ContinuousClock()
    func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
    let fitter = try! FactorFitter(task: task, modules: modules, configuration: FitConfiguration(strategy: .ekfac, labels: .sampled, batchSize: 16))
    var factors: InfluenceFactors? = nil
    let onlyScores = environment["BENCH_SKIP_FIT"] != nil
    let fitTime = seconds(
        clock.measure {
            if onlyScores {
                // Identity factors: the scoring pass costs the same but for the preconditioning of the queries.
                factors = try! FactorFitter(task: task, modules: modules, configuration: FitConfiguration(strategy: .identity)).fit()
            } else {
                factors = try! fitter.fit()
            }
        })
    let computer = try! ScoreComputer(
        task: task, factors: factors!, factorsPath: "memory",
        configuration: ScoreConfiguration(damping: .automatic, batchSize: Int(environment["BENCH_SCORE_BATCH"] ?? "") ?? 16))
    let scoreTime = seconds(clock.measure { _ = try! computer.compute() })
    let tokens = Double(sequences * 128)
    // Matrix-product work, counted per token: the forward pass (2·P multiply-adds over the model's
    // Linear layers and LM head, plus attention), the backward pass from the loss down to the
    // lowest tracked layer (activation gradients only, about the forward work of the layers above it), and
    // the factor products of each tracked layer ((in + 1) × out: c_fc 257 × 1024, c_proj 1025 × 256,
    // c_attn 257 × 768, the attention's c_proj 257 × 256).
    let c = 256.0, f = 1024.0, v = 4096.0, layers = 4.0, t = 128.0
    let forward = 2 * (layers * (3 * c * c + c * c + 2 * c * f) + c * v) + layers * 4 * t * c
    let backward = forward  // activation gradients only: no weight gradient is formed
    let pairs = [(c + 1, f), (f + 1, c)] + (blocks ? [(c + 1, 3 * c), (c + 1, c)] : [])
    let covariance = layers * pairs.map { 2 * ($0.0 * $0.0 + $0.1 * $0.1) }.reduce(0, +)
    let lambda = layers * pairs.map { 2 * ($0.0 * $0.0 + $0.1 * $0.1) + 2 * $0.0 * $0.1 + 3 * $0.0 * $0.1 / t }.reduce(0, +)
    let perExample = layers * pairs.map { 2 * $0.0 * $0.1 }.reduce(0, +)
    let fitFlops = tokens * (2 * (forward + backward) + covariance + lambda)
    let scoreFlops =
        tokens * (forward + backward + perExample)
        + Double(sequences) * Double(queryCount) * 2 * layers * pairs.map { $0.0 * $0.1 }.reduce(0, +)
    let layerNames = blocks ? "every Linear of the blocks" : "MLP layers"
    print(
        String(
            format: "EK-FAC fit, GPT-2 4×256, %d × 128 tokens, %@: %.1f s, %.0f tokens/s (two passes), %.1f GFLOP/s, %.0f%% of sgemm",
            sequences, layerNames, fitTime, 2 * tokens / fitTime, fitFlops / fitTime / 1e9, 100 * fitFlops / fitTime / 1e9 / reference))
    print(
        String(
            format: "EK-FAC pairwise scores, %d queries × %d sequences, %@: %.1f s, %.0f tokens/s, %.1f GFLOP/s, %.0f%% of sgemm",
            queryCount, sequences, layerNames, scoreTime, tokens / scoreTime, scoreFlops / scoreTime / 1e9,
            100 * scoreFlops / scoreTime / 1e9 / reference))
}

/// The peak resident memory since the last reset, in MiB (VmHWM of /proc/self/status), and a
/// reset of it (writing 5 to /proc/self/clear_refs), so that each stage reports its own peak.
func peakResidentMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kib = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return .nan }
    return kib / 1024
}
func resetPeakResident() { try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8) }

if requested.contains("scaling") {
    // How fit and scores grow with training rows and queries: the benchmark GPT-2's MLP layers,
    // BENCH_SEQUENCES rows (1,024) of BENCH_TOKENS tokens (32), EK-FAC fitted once, then pairwise
    // scores for each of BENCH_QUERY_COUNTS (8,64,512); one line per stage with its time and its
    // own peak resident memory. scripts/compare/scaling runs one process per row count.
    let environment = ProcessInfo.processInfo.environment
    let sequences = Int(environment["BENCH_SEQUENCES"] ?? "") ?? 1024
    let tokens = Int(environment["BENCH_TOKENS"] ?? "") ?? 32
    let queryCounts = (environment["BENCH_QUERY_COUNTS"] ?? "8,64,512").split(separator: ",").compactMap { Int($0) }
    let modules = ["transformer.h.*.mlp.c_fc", "transformer.h.*.mlp.c_proj"]
    let full = RandomTokenTask.make(sequences: sequences, queries: queryCounts.max() ?? 8, tokens: tokens)
    let clock = ContinuousClock()
    func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
    resetPeakResident()
    var factors: InfluenceFactors? = nil
    let fitTime = seconds(
        clock.measure {
            factors = try! FactorFitter(task: full, modules: modules, configuration: FitConfiguration(strategy: .ekfac, labels: .sampled, batchSize: 16)).fit()
        })
    print(String(format: "scaling: fit rows %d tokens %d: %.2f s, peak %.0f MiB", sequences, tokens, fitTime, peakResidentMiB()))
    for count in queryCounts {
        let task = LanguageModelingTask(model: full.languageModel, training: full.training, queries: Array(full.queries.prefix(count)))
        resetPeakResident()
        let computer = try! ScoreComputer(
            task: task, factors: factors!, factorsPath: "memory",
            configuration: ScoreConfiguration(damping: .automatic, batchSize: 16))
        let scoreTime = seconds(clock.measure { _ = try! computer.compute() })
        print(String(format: "scaling: scores rows %d tokens %d queries %d: %.2f s, peak %.0f MiB", sequences, tokens, count, scoreTime, peakResidentMiB()))
    }
}

/// The Llama-shaped model of the family comparison: 4 layers, width 256, 4 query heads sharing 2
/// key/value heads, SwiGLU MLP of 688, context 128, vocabulary 4096.
func llamaBenchmarkModel(seed: UInt64) -> LlamaForCausalLM<Float> {
    LlamaForCausalLM<Float>(
        configuration: LlamaConfiguration(
            vocabularySize: 4096, hiddenSize: 256, intermediateSize: 688, layerCount: 4,
            headCount: 4, keyValueHeadCount: 2, contextLength: 128), seed: seed)
}

if wanted("llama") {
    // One AdamW step, batch 16 × 128 tokens, as the GPT-2 step above.
    let model = llamaBenchmarkModel(seed: 3)
    let optimizer = AdamW(parameters: model.trainableParameters, learningRate: 3e-4)
    var generator = SeededGenerator(seed: 5)
    let (batch, time) = (16, 128)
    let tokens = (0..<(batch * time)).map { _ in Int(generator.next() % 4096) }
    let step = medianSeconds(warmup: 2, repeats: Int(ProcessInfo.processInfo.environment["BENCH_REPEATS"] ?? "") ?? 7) {
        let logits = model.logits(tokens: tokens, batchSize: batch, attentionMask: nil)
        let loss = Losses.nextTokenLosses(logits: logits, tokens: tokens).sum() * (1 / Float(batch * (time - 1)))
        let grads = gradients(of: loss, at: optimizer.parameters.map(\.variable)).map(\.value)
        optimizer.step(gradients: grads)
    }
    let c = 256.0, f = 688.0, kv = 128.0, v = 4096.0, layers = 4.0, t = 128.0
    let linearPerToken = layers * (c * c + 2 * c * kv + c * c + 3 * c * f) + c * v
    let stepFlops = 3 * 2 * Double(batch * time) * (linearPerToken + layers * 2 * t * c)
    print(
        String(
            format: "Llama 4×256 (GQA 4/2), T=128, V=4096, batch 16, AdamW step: %.3f s, %.0f tokens/s, %.1f GFLOP/s, %.0f%% of sgemm",
            step, Double(batch * time) / step, stepFlops / step / 1e9, 100 * stepFlops / step / 1e9 / reference))

    // EK-FAC fit on the MLP layers (gate, up, down) with the empirical Fisher, batches of 16
    // (BENCH_SEQUENCES=0 skips it).
    let sequences = Int(ProcessInfo.processInfo.environment["BENCH_SEQUENCES"] ?? "") ?? 1024
    if sequences > 0 {
        let fitModel = llamaBenchmarkModel(seed: 11)
        var sampler = SeededGenerator(seed: 12)
        let train = (0..<sequences).map { _ in (0..<128).map { _ in Int(sampler.next() % 4096) } }
        let task = LanguageModelingTask(model: fitModel, training: train, queries: [])
        let fitter = try! FactorFitter(
            task: task, modules: fitModel.linearLayerPatterns(for: "mlp"),
            configuration: FitConfiguration(strategy: .ekfac, labels: .data, batchSize: 16))
        let clock = ContinuousClock()
        let d = clock.measure { _ = try! fitter.fit() }
        let fit = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        print(
            String(
                format: "EK-FAC fit, Llama 4×256, %d × 128 tokens, MLP layers, empirical Fisher: %.1f s, %.0f tokens/s (two passes)",
                sequences, fit, 2 * Double(sequences) * 128 / fit))
    }
}

/// Every strategy on an MLP on FashionMNIST small enough for the exact solve: seconds per query
/// and per training example, and the Pearson and Spearman correlation of its scores with exact.
if requested.contains("strategies") {
    func ranks(_ x: [Double]) -> [Double] {
        var r = [Double](repeating: 0, count: x.count)
        for (rank, i) in x.indices.sorted(by: { x[$0] < x[$1] }).enumerated() { r[i] = Double(rank) }
        return r
    }
    func pearson(_ a: [Double], _ b: [Double]) -> Double {
        let ma = a.reduce(0, +) / Double(a.count), mb = b.reduce(0, +) / Double(b.count)
        let c = zip(a, b).map { ($0 - ma) * ($1 - mb) }.reduce(0, +)
        return c / (a.map { ($0 - ma) * ($0 - ma) }.reduce(0, +) * b.map { ($0 - mb) * ($0 - mb) }.reduce(0, +)).squareRoot()
    }
    let train = try! FashionMNIST.load(.train, limit: 1000), test = try! FashionMNIST.load(.test, limit: 10)
    let model = MultilayerPerceptron<Float>(sizes: [784, 8, 10], activation: .tanh, seed: 1)
    let optimizer = AdamW(parameters: model.trainableParameters, learningRate: 3e-3, weightDecay: 0)
    for step in 0..<300 {
        let indices = (0..<64).map { (step * 64 + $0) % train.count }
        let (x, y) = train.batch(indices)
        let loss = Losses.crossEntropy(logits: model(Variable(x)), labels: y)
        optimizer.step(gradients: gradients(of: loss, at: optimizer.parameters.map(\.variable)).map(\.value))
    }
    let task = ClassificationTask(
        model: model, trainingFeatures: train.features, trainingLabels: train.labels,
        queryFeatures: test.features, queryLabels: test.labels)
    let damping = 0.01
    let clock = ContinuousClock()
    func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
    var reference: [Double] = []
    print("strategy        seconds   per query   per train   Pearson   Spearman   (MLP 784-8-10 on FashionMNIST, 1,000 train, 10 queries, GGN, λ = \(damping))")
    let configuration = ScoreConfiguration(damping: .value(damping), batchSize: 100)
    let names: [(String, () throws -> InfluenceScores)] =
        [
            (
                "exact",
                {
                    try ScoreComputer(
                        task: task, curvature: CurvatureOperator(task: task, modules: [], kind: .ggn, batchSize: 500),
                        strategy: ExactStrategy(), damping: damping, configuration: configuration
                    ).compute()
                }
            ),
            (
                "cg",
                {
                    try ScoreComputer(
                        task: task, curvature: CurvatureOperator(task: task, modules: [], kind: .ggn, batchSize: 500),
                        strategy: ConjugateGradientStrategy(tolerance: 1e-5, maximumIterations: 500),
                        damping: damping, configuration: configuration
                    ).compute()
                }
            ),
            (
                "lissa",
                {
                    try ScoreComputer(
                        task: task, curvature: CurvatureOperator(task: task, modules: [], kind: .ggn, batchSize: 500),
                        strategy: LiSSAStrategy(scale: 50, depth: 1000, repeats: 1, batchSize: 100),
                        damping: damping, configuration: configuration
                    ).compute()
                }
            ),
            (
                "arnoldi-100",
                {
                    try ScoreComputer(
                        task: task, curvature: CurvatureOperator(task: task, modules: [], kind: .ggn, batchSize: 500),
                        strategy: ArnoldiStrategy(rank: 100, krylovDimension: 200), damping: damping, configuration: configuration
                    ).compute()
                }
            ),
        ]
        + CurvatureStrategies.factorStrategies.map { strategy in
            (
                type(of: strategy).name,
                {
                    let factors = try FactorFitter(
                        task: task, modules: [], configuration: FitConfiguration(strategy: strategy, labels: .sampled, batchSize: 100)
                    ).fit()
                    return try ScoreComputer(task: task, factors: factors, factorsPath: "memory", configuration: configuration).compute()
                }
            )
        }
    for (name, run) in names {
        var scores: InfluenceScores? = nil
        var failure: String? = nil
        let time = seconds(clock.measure { do { scores = try run() } catch { failure = "\(error)" } })
        guard let scores else { print("\(name): \(failure ?? "failed")"); continue }
        let values = scores.pairwise.scalars.map(Double.init)
        if reference.isEmpty { reference = values }
        print(
            name.padding(toLength: 14, withPad: " ", startingAt: 0)
                + String(
                    format: " %8.2f %11.4f %11.5f %9.4f %10.4f", time, time / 10, time / 1000,
                    pearson(values, reference), pearson(ranks(values), ranks(reference))))
    }
}

/// The truncated SVDs of low-rank query batching, for one preconditioned query gradient of the
/// benchmark GPT-2's MLP layers ([1024, 257] and [256, 1025]): the exact triplets through the
/// Gram matrix (what `--query-svd exact` runs), LAPACK's gesdd beside it, and the randomized SVD.
if requested.contains("svd") {
    var generator = SeededGenerator(seed: 21)
    for shape in [[1024, 257], [256, 1025]] {
        let p = Tensor<Float>.randomNormal(shape: shape, using: &generator)
        let batch = p.reshaped(to: [1] + shape)
        let gesdd = medianSeconds(warmup: 2, repeats: 9) { _ = try! p.singularValueDecomposition() }
        let exact = medianSeconds(warmup: 2, repeats: 9) { _ = try! LowRankQueries(batch, rank: .fixed(32), svd: .exact, layer: "x", seed: 0) }
        let energy = medianSeconds(warmup: 2, repeats: 9) { _ = try! LowRankQueries(batch, rank: .energy(0.99), svd: .exact, layer: "x", seed: 0) }
        var seeds = SeededGenerator(seed: 22)
        let randomized = medianSeconds(warmup: 2, repeats: 9) {
            _ = try! LowRankQueries(batch, rank: .fixed(32), svd: .randomized(oversampling: 10, powerIterations: 2), layer: "x", seed: seeds.next())
        }
        print(
            String(
                format: "SVD of [%d, %d]: exact rank 32 %.1f ms, exact energy 0.99 %.1f ms, randomized rank 32 (p=10, q=2) %.1f ms; LAPACK gesdd %.1f ms",
                shape[0], shape[1], exact * 1e3, energy * 1e3, randomized * 1e3, gesdd * 1e3))
    }
}
