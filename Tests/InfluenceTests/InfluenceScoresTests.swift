import Autograd
import Foundation
import Influence
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

@Suite("Influence scores: decompositions, self scores, batching, measurements")
struct InfluenceScoresTests {
    /// A Float GPT-2 task whose queries are two of its training sequences (or `queries`).
    func languageTask(queries: [[Int]]? = nil, promptLengths: [Int]? = nil, seed: UInt64 = 3) -> LanguageModelingTask<GPT2LanguageModel<Float>> {
        LanguageModelingTask(
            model: Fixtures.languageModel(Float.self, seed: seed), training: Fixtures.sequences,
            queries: queries ?? [Fixtures.sequences[2], Fixtures.sequences[1]], queryPromptLengths: promptLengths)
    }

    func scores<Task: InfluenceTask>(
        _ task: Task, strategy: some FactorCurvatureStrategy = EKFACStrategy(), modules: [String] = [],
        _ configuration: ScoreConfiguration
    ) throws -> InfluenceScores where Task.Scalar == Float {
        let factors = try FactorFitter(task: task, modules: modules, configuration: FitConfiguration(strategy: strategy, labels: .data, batchSize: 3)).fit()
        return try ScoreComputer(task: task, factors: factors, factorsPath: "memory", configuration: configuration).compute()
    }

    func expectPerModuleScoresAddUp<Task: InfluenceTask>(_ task: Task) throws where Task.Scalar == Float {
        let s = try scores(task, ScoreConfiguration(perModule: true))
        #expect(s.perModule.map(\.name) == task.model.linearLayers().map(\.name))
        var sum = Tensor<Float>.zeros(shape: s.pairwise.shape)
        for (_, part) in s.perModule { sum += part }
        let r = compare(sum, s.pairwise, tolerance: 1e-5, "Σ per-module scores of \(type(of: task))")
        #expect(r.passed, "\(r)")
    }

    @Test func perModuleScoresAddUpToTheTotal() throws {
        // Both sides are sums of the same Float32 products in another order: 1e-5.
        try expectPerModuleScoresAddUp(languageTask())
        try expectPerModuleScoresAddUp(Fixtures.classificationTask(Float.self))
    }

    @Test func perTokenScoresAddUpToTheSequenceScoreAndVanishOnPadding() throws {
        // Σ_t score_t = score(q, m) for every pair (1e-5, Float32 sums in another order); positions
        // past a sequence's end (padding, and the padding added to match the longest batch) are 0.
        let task = languageTask()
        let s = try scores(task, ScoreConfiguration(perToken: true, batchSize: 2))
        let perToken = try #require(s.perToken)
        #expect(perToken.shape == [2, 5, 6])
        let r = compare(perToken.sum(alongAxes: [2]), s.pairwise, tolerance: 1e-5, "Σ_t per-token scores")
        #expect(r.passed, "\(r)")
        for (m, sequence) in Fixtures.sequences.enumerated() where sequence.count < 6 {
            let tail = perToken.sliced(along: 1, m..<(m + 1)).sliced(along: 2, sequence.count..<6)
            #expect(tail.magnitude().max().scalar == 0, "padding of example \(m) has non-zero token scores")
        }
    }

    @Test func selfScoresEqualTheDiagonalOfPairwiseScoresWhenQueriesAreTheTrainingExamples() throws {
        // With queries = training (and no prompts), score(m, m) = ∇L(z_m)ᵀ(H + λI)⁻¹∇L(z_m), which
        // the self-score path computes another way (rotating G once and weighting its square). 1e-5.
        let language = LanguageModelingTask(
            model: Fixtures.languageModel(Float.self), training: Fixtures.sequences,
            queries: Fixtures.sequences)
        let classification = Fixtures.classificationTask(Float.self, seed: 31, queriesAreTraining: true)
        for strategy in CurvatureStrategies.factorStrategies {
            let pairs: [(String, InfluenceScores)] = [
                ("language model", try scores(language, strategy: strategy, ScoreConfiguration(selfInfluence: true, batchSize: 2))),
                ("classifier", try scores(classification, strategy: strategy, ScoreConfiguration(selfInfluence: true, batchSize: 3))),
            ]
            for (name, s) in pairs {
                let n = s.pairwise.shape[1]
                let diagonal = Tensor<Float>((0..<n).map { s.pairwise[$0, $0] })
                let r = compare(try #require(s.selfScores), diagonal, tolerance: 1e-5, "\(name) \(strategy) self scores")
                #expect(r.passed, "\(r)")
            }
        }
    }

    @Test func scoresDoNotDependOnTrainingOrQueryBatchSizes() throws {
        // Batching only changes padding and the order of Float32 sums: 1e-5.
        let task = languageTask(queries: [Fixtures.sequences[0], [3, 4, 5], Fixtures.sequences[4]])
        let factors = try FactorFitter(task: task, modules: [], configuration: FitConfiguration(strategy: .ekfac, labels: .data)).fit()
        func run(_ batch: Int, _ queryBatch: Int, chunk: Int = 64) throws -> InfluenceScores {
            try ScoreComputer(
                task: task, factors: factors, factorsPath: "memory",
                configuration: ScoreConfiguration(
                    perModule: true, perToken: true, selfInfluence: true,
                    batchSize: batch, queryBatchSize: queryBatch, queryChunkSize: chunk)
            ).compute()
        }
        let reference = try run(1, 1)
        // The last two stream the training data once per chunk of one or two queries.
        for (batch, queryBatch, chunk) in [(3, 3, 64), (3, 1, 64), (1, 3, 64), (5, 2, 64), (3, 3, 1), (2, 1, 2)] {
            let other = try run(batch, queryBatch, chunk: chunk)
            let checks = [
                compare(other.pairwise, reference.pairwise, tolerance: 1e-5, "pairwise \(batch)/\(queryBatch)"),
                compare(other.selfScores!, reference.selfScores!, tolerance: 1e-5, "self \(batch)/\(queryBatch)"),
                compare(other.perModule[0].scores, reference.perModule[0].scores, tolerance: 1e-5, "module 0 \(batch)/\(queryBatch)"),
                compare(other.perToken!, reference.perToken!, tolerance: 1e-5, "per token \(batch)/\(queryBatch)"),
            ]
            for r in checks { #expect(r.passed, "\(r)") }
        }
    }

    @Test(arguments: [(1, 2), (1, 7), (2, 3), (3, 1)])
    func anInterruptedScoringRunResumesToTheSameScores(chunk: Int, stopAt: Int) throws {
        // Three queries in chunks of `chunk`, training batches of 2 with a checkpoint after each:
        // the partial file as it was after `stopAt` reported steps is put back, and a fresh
        // computer must finish with exactly the scores of an uninterrupted run.
        let task = languageTask(queries: [Fixtures.sequences[0], [3, 4, 5], Fixtures.sequences[4]])
        let factors = try FactorFitter(task: task, modules: [], configuration: FitConfiguration(strategy: .ekfac, labels: .data)).fit()
        let configuration = ScoreConfiguration(perModule: true, perToken: true, selfInfluence: true, batchSize: 2, queryChunkSize: chunk)
        try expectResumedRunToMatch(stopAt: stopAt) {
            try ScoreComputer(task: task, factors: factors, factorsPath: "memory", configuration: configuration)
        }
    }

    @Test(arguments: [1, 2])
    func anInterruptedExactRunWithSelfScoresResumesToTheSameScores(stopAt: Int) throws {
        // Self scores of a solver are solved in groups of rows: they too must survive an interruption.
        let task = languageTask(queries: [Fixtures.sequences[0], [3, 4, 5], Fixtures.sequences[4]])
        let configuration = ScoreConfiguration(damping: .value(0.1), perModule: true, selfInfluence: true, batchSize: 2, queryChunkSize: 2)
        let curvature = try CurvatureOperator(task: task, modules: ["transformer.h.0.mlp.c_fc"], kind: .ggn)
        try expectResumedRunToMatch(stopAt: stopAt) {
            try ScoreComputer(task: task, curvature: curvature, strategy: ExactStrategy(), damping: 0.1, configuration: configuration)
        }
    }

    /// Runs `make()`'s computer with a checkpoint after every training batch, puts back the partial
    /// file as it was after `stopAt` steps, and expects a fresh computer to finish with exactly the
    /// scores of an uninterrupted run.
    func expectResumedRunToMatch(stopAt: Int, _ make: () throws -> ScoreComputer<LanguageModelingTask<GPT2LanguageModel<Float>>>) throws {
        let reference = try make().compute()
        let first = try TemporaryDirectory(), second = try TemporaryDirectory()
        let saved = first.file("partial-scores.safetensors"), kept = first.file("kept.safetensors")
        let interrupted = try make()
        var steps = 0
        interrupted.progress = { stage, _, _ in
            guard stage == "train" else { return }
            steps += 1
            // A save happens after a step is reported: the file seen at step k + 1 holds step k.
            if steps == stopAt + 1, FileManager.default.fileExists(atPath: saved.path) {
                try? FileManager.default.removeItem(at: kept)
                try? FileManager.default.copyItem(at: saved, to: kept)
            }
        }
        _ = try interrupted.compute(partialDirectory: first.url, checkpointInterval: 1)
        #expect(!FileManager.default.fileExists(atPath: saved.path), "a finished run removes its partial results")
        try #require(FileManager.default.fileExists(atPath: kept.path), "no partial results were saved by step \(stopAt)")
        try FileManager.default.copyItem(at: kept, to: second.file("partial-scores.safetensors"))
        var resumedSteps = 0
        let resumed = try make()
        resumed.progress = { stage, _, _ in if stage == "train" { resumedSteps += 1 } }
        let result = try resumed.compute(partialDirectory: second.url, checkpointInterval: 1)
        #expect(resumedSteps < steps, "the resumed run redid all \(steps) steps")
        #expect(result.pairwise == reference.pairwise)
        #expect(result.selfScores == reference.selfScores)
        #expect(result.perToken == reference.perToken)
        #expect(zip(result.perModule, reference.perModule).allSatisfy { $0.name == $1.name && $0.scores == $1.scores })
    }

    @Test func partialResultsOfAnotherRunAreIgnored() throws {
        let task = languageTask()
        let factors = try FactorFitter(task: task, modules: [], configuration: FitConfiguration(strategy: .kfac, labels: .data)).fit()
        // Partial results kept from a run with other options (batches of 1) …
        let directory = try TemporaryDirectory()
        let saved = directory.file("partial-scores.safetensors"), kept = directory.file("kept.safetensors")
        let other = try ScoreComputer(task: task, factors: factors, factorsPath: "memory", configuration: ScoreConfiguration(batchSize: 1))
        var steps = 0
        other.progress = { stage, _, _ in
            guard stage == "train" else { return }
            steps += 1
            if steps == 3 { try? FileManager.default.copyItem(at: saved, to: kept) }
        }
        _ = try other.compute(partialDirectory: directory.url, checkpointInterval: 1)
        try FileManager.default.moveItem(at: kept, to: saved)
        // … are not used by a run with batches of 2, which scores everything itself.
        var scored = 0
        let computer = try ScoreComputer(task: task, factors: factors, factorsPath: "memory", configuration: ScoreConfiguration(batchSize: 2))
        computer.progress = { stage, done, _ in if stage == "train" { scored = done } }
        let result = try computer.compute(partialDirectory: directory.url)
        let reference = try ScoreComputer(task: task, factors: factors, factorsPath: "memory", configuration: ScoreConfiguration(batchSize: 2)).compute()
        #expect(result.pairwise == reference.pairwise)
        #expect(scored == task.trainingExampleCount)
    }

    @Test func promptedQueriesAreScoredOnTheirCompletionTokensOnly() throws {
        // Oracle: identity-strategy scores Σ_layers ⟨∇f(z_q), ∇L(z_m)⟩ where f is built
        // independently in Float64 from Losses.nextTokenLosses of the query alone, summed over the
        // positions that predict completion tokens (t ≥ prompt length). Float32 pipeline: 1e-4.
        let queries = [[1, 5, 2, 7, 3, 9], [10, 3, 6, 2, 8]]
        let prompts = [3, 1]
        let task = languageTask(queries: queries, promptLengths: prompts)
        let oracleModel = Fixtures.languageModel(Double.self)
        try copyParameters(from: task.model, to: oracleModel)
        let oracle = LanguageModelingTask(model: oracleModel, training: Fixtures.sequences, queries: [])
        let layers = oracleModel.linearLayers().map(\.layer)
        let s = try scores(task, strategy: .identity, ScoreConfiguration(batchSize: 2, queryBatchSize: 2))

        let training = perExampleTrainingGradients(oracle, layers: layers, examples: Array(0..<5))
        var expected = Tensor<Double>.zeros(shape: [2, 5])
        for (q, tokens) in queries.enumerated() {
            let g = layerGradients(layers) {
                let logits = oracleModel(tokens: tokens, batchSize: 1)
                // Position t − 1 predicts token t; completion tokens are t ≥ prompt length.
                return Losses.nextTokenLosses(logits: logits, tokens: tokens).sliced(along: 1, (prompts[q] - 1)..<(tokens.count - 1)).sum()
            }
            for l in layers.indices {
                let row = Tensor.matmul(g[l].reshaped(to: [1, -1]), training[l].reshaped(to: [5, -1]), transposeB: true)
                expected = expected + Tensor.concatenated([q == 0 ? row : .zeros(shape: [1, 5]), q == 1 ? row : .zeros(shape: [1, 5])], along: 0)
            }
        }
        let r = compare(s.pairwise, expected, tolerance: 1e-4, "prompted query scores")
        #expect(r.passed, "\(r)")
        let unprompted = try scores(languageTask(queries: queries), strategy: .identity, ScoreConfiguration())
        #expect(!compare(unprompted.pairwise, expected, tolerance: 1e-2).passed, "prompts should change the scores")
    }

    @Test func positiveIdentityScoreMeansAGradientStepOnTheExampleLowersTheQueryLoss() throws {
        // The sign convention: score = −dL(z_q)/dε for θ(ε) = θ − ε ∇L(z_m) with H = I. Oracle:
        // central difference of the query loss along that step in Float64,
        // (L_q(θ − h∇L_m) − L_q(θ + h∇L_m)) / 2h, h = 1e-4 (error O(h²), observed ≈ 1e-7); tolerance 1e-5.
        let task = Fixtures.classificationTask(Float.self, seed: 37)
        let oracle = Fixtures.classificationTask(Double.self, seed: 37)
        try copyParameters(from: task.model, to: oracle.model)
        let s = try scores(task, strategy: .identity, ScoreConfiguration())
        let layers = oracle.model.linearLayers().map(\.layer)
        var generator = testGenerator()
        let original = oracle.model.state()
        var expected = Tensor<Double>.zeros(shape: [2, 7])
        for m in 0..<7 {
            try oracle.model.load(Dictionary(uniqueKeysWithValues: original.map { ($0.name, $0.value) }))
            let step = layerGradients(layers) { oracle.trainingLoss(indices: [m], labels: .data, generator: &generator).loss }
            func queryLosses(moving h: Double) throws -> [Double] {
                try oracle.model.load(Dictionary(uniqueKeysWithValues: original.map { ($0.name, $0.value) }))
                for (layer, g) in zip(layers, step) {
                    let (out, inp) = (layer.outputCount, layer.inputCount)
                    layer.weight.value = layer.weight.value - g.sliced(along: 1, 0..<inp) * h
                    layer.bias!.value = layer.bias!.value - g.sliced(along: 1, inp..<(inp + 1)).reshaped(to: [out]) * h
                }
                return (0..<2).map { oracle.queryMeasurement(indices: [$0]).loss.value.scalar }
            }
            let plus = try queryLosses(moving: 1e-4), minus = try queryLosses(moving: -1e-4)
            for q in 0..<2 { expected = expected + Tensor(shape: [2, 7], scalars: (0..<14).map { $0 == q * 7 + m ? (minus[q] - plus[q]) / 2e-4 : 0 }) }
        }
        try oracle.model.load(Dictionary(uniqueKeysWithValues: original.map { ($0.name, $0.value) }))
        let r = compare(s.pairwise, expected, tolerance: 1e-5, "identity score vs −dL_q/dε")
        #expect(r.passed, "\(r)")
    }

    @Test func scoresAreSavedAsSafetensorsWithEveryPart() throws {
        // Oracle: the safetensors header read by hand (8-byte little-endian length, then JSON).
        let task = Fixtures.classificationTask(Float.self)
        let s = try scores(task, ScoreConfiguration(perModule: true, selfInfluence: true))
        let directory = try temporaryDirectory("scores")
        defer { try? FileManager.default.removeItem(at: directory) }
        try s.save(to: directory, metadata: ["strategy": "ekfac"])
        func header(_ name: String) throws -> [String: Any] {
            let data = try Data(contentsOf: directory.appendingPathComponent(name))
            let length = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            return try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as? [String: Any])
        }
        func shape(_ h: [String: Any], _ key: String) -> [Int]? { ((h[key] as? [String: Any])?["shape"] as? [Int]) }
        let pairwise = try header("pairwise_scores.safetensors")
        #expect(Set(pairwise.keys) == ["__metadata__", "all_modules", "layers.0", "layers.1"])
        #expect(shape(pairwise, "all_modules") == [2, 7] && shape(pairwise, "layers.1") == [2, 7])
        #expect((pairwise["all_modules"] as? [String: Any])?["dtype"] as? String == "F32")
        #expect((pairwise["__metadata__"] as? [String: String])?["strategy"] == "ekfac")
        let selfScores = try header("self_scores.safetensors")
        #expect(shape(selfScores, "all_modules") == [7])
    }
}

@Suite("Influence scores: nothing non-finite is written")
struct NonFiniteScoreTests {
    @Test func aNonFiniteScoreIsNamedAndNothingIsWritten() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nonfinite-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = Tensor<Float>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        var bad = good
        bad[1, 2] = .nan
        let perModule = [("h.0.mlp", good), ("h.1.mlp", bad - good)]
        let cases: [(InfluenceScores, String)] = [
            (InfluenceScores(pairwise: bad, perModule: perModule), "the score of query 1 on training row 2 in module h.1.mlp"),
            (
                InfluenceScores(pairwise: good, perModule: [("h.0.mlp", good), ("h.1.mlp", good * Float.infinity)]),
                "the score of query 0 on training row 0 in module h.1.mlp"
            ),
            (InfluenceScores(pairwise: good, selfScores: Tensor(shape: [3], scalars: [1, -.infinity, 2])), "the self-influence of training row 1"),
        ]
        for (scores, message) in cases {
            #expect(throws: InfluenceError.self) { try scores.save(to: directory, metadata: [:]) }
            do { try scores.save(to: directory, metadata: [:]) } catch { #expect("\(error)".contains(message), "\(error)") }
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("pairwise_scores.safetensors").path))
        }
        try InfluenceScores(pairwise: good).save(to: directory, metadata: [:])
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("pairwise_scores.safetensors").path))
    }
}
