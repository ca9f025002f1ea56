import Foundation
import Influence
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

/// Low-rank query batching (Grosse et al. 2023, §3.2.2) against the dense scores and the SVD's
/// closed forms, the two contractions against each other, and chunks by memory budget.
@Suite("Low-rank queries")
struct LowRankQueriesTests {
    typealias Task = LanguageModelingTask<GPT2LanguageModel<Float>>

    func task(queries: Int = 4) -> Task {
        let qs = (0..<queries).map { Fixtures.sequences[$0 % Fixtures.sequences.count] + [($0 * 3) % 11] }
        return LanguageModelingTask(model: Fixtures.languageModel(Float.self, seed: 5), training: Fixtures.sequences, queries: qs)
    }

    func factors(_ task: Task) throws -> InfluenceFactors {
        try FactorFitter(task: task, modules: [], configuration: FitConfiguration(strategy: .ekfac, labels: .data, batchSize: 2)).fit()
    }

    func scores(_ task: Task, _ configuration: ScoreConfiguration) throws -> InfluenceScores {
        try ScoreComputer(task: task, factors: try factors(task), factorsPath: "memory", configuration: configuration).compute()
    }

    func relative(_ a: Tensor<Float>, _ b: Tensor<Float>) -> Float {
        (a - b).magnitude().max().scalar / Swift.max(b.magnitude().max().scalar, 1e-30)
    }

    @Test func fullEnergyEqualsTheDenseScoresWithPerModuleAndPerTokenScores() throws {
        // Energy 1 keeps every singular value: the factors reproduce P_q up to rounding. Float: 1e-4.
        let t = task()
        let dense = try scores(t, ScoreConfiguration(perModule: true, perToken: true, batchSize: 2))
        let low = try scores(t, ScoreConfiguration(perModule: true, perToken: true, batchSize: 2, queryRank: .energy(1)))
        #expect(relative(low.pairwise, dense.pairwise) <= 1e-4, "\(relative(low.pairwise, dense.pairwise))")
        #expect(relative(low.perToken!, dense.perToken!) <= 1e-4)
        for (a, b) in zip(low.perModule, dense.perModule) { #expect(a.name == b.name && relative(a.scores, b.scores) <= 1e-4) }
        // Tokens add up to the example's score in low rank too.
        #expect(relative(low.perToken!.sum(alongAxes: [2]), low.pairwise) <= 1e-5)
    }

    /// Against LAPACK's gesdd in double: tall and wide layers, and a rank-deficient one (rank 1
    /// of 5: the kept triplets past σ₁ are zero and the truncation is P itself).
    @Test(arguments: [[7, 5], [5, 7], [6, 5]])
    func aRankRTruncationIsTheBestOfItsRank(shape: [Int]) throws {
        var generator = testGenerator(3)
        let (m, n) = (shape[0], shape[1])
        var p = Tensor<Float>.randomNormal(shape: [2, m, n], using: &generator)
        if shape == [6, 5] {
            p = Tensor.stacked(
                (0..<2).map { _ in
                    Tensor.matmul(Tensor<Float>.randomNormal(shape: [m, 1], using: &generator), Tensor<Float>.randomNormal(shape: [1, n], using: &generator))
                }, along: 0)
        }
        let low = try LowRankQueries(p, rank: .fixed(2), svd: .exact, layer: "test", seed: 0)
        #expect(low.offsets == [0, 2, 4])
        for j in 0..<2 {
            let pj = p.sliced(along: 0, j..<(j + 1)).reshaped(to: [m, n])
            let cols = low.offsets[j]..<low.offsets[j + 1]
            let (left, right) = (low.left.sliced(along: 1, cols), low.right.sliced(along: 1, cols))
            let approximation = Tensor.matmul(left, right, transposeB: true)
            // Eckart–Young: ‖P − P_r‖_F² = Σ_{i ≥ r} σ_i².
            let reference = try Tensor<Double>(pj).singularValueDecomposition()
            let sigma = reference.singularValues.scalars
            let expected = sigma[2...].map { $0 * $0 }.reduce(0, +)
            let observed = Double((pj - approximation).squared().sum().scalar)
            let total = sigma.map { $0 * $0 }.reduce(0, +)
            #expect(abs(observed - expected) <= 1e-4 * expected + 1e-10 * total, "query \(j): \(observed) vs \(expected)")
            // The factors are U diag(S) and V: ‖left column i‖ = σ_i, and V's columns orthonormal
            // where σ_i > 0.
            let norms = Tensor<Double>(left).squared().sum(alongAxes: [0]).scalars.map { $0.squareRoot() }
            for i in 0..<2 { #expect(abs(norms[i] - sigma[i]) <= 1e-5 * sigma[0], "σ_\(i): \(norms[i]) vs \(sigma[i])") }
            let gram = Tensor<Double>(Tensor.matmul(right, right, transposeA: true))
            #expect(abs(gram[0, 0] - 1) <= 1e-5)
            if sigma[1] > 1e-6 * sigma[0] { #expect(abs(gram[1, 1] - 1) <= 1e-5 && abs(gram[0, 1]) <= 1e-5) }
        }
    }

    @Test func theTwoContractionsGiveTheSameScores() throws {
        // ⟨U diag(S), G_b V⟩ through per-example gradients against Σ_t (g_tᵀ U diag(S))(Vᵀ ā_t).
        var generator = testGenerator(4)
        let p = Tensor<Float>.randomNormal(shape: [3, 6, 4], using: &generator)
        let low = try LowRankQueries(p, rank: .fixed(3), svd: .exact, layer: "test", seed: 0)
        let (b, t) = (2, 5)
        let g = Tensor<Float>.randomNormal(shape: [b * t, 6], using: &generator)
        let a = Tensor<Float>.randomNormal(shape: [b * t, 4], using: &generator)
        let perExample = LayerRecord(activations: a, outputGradients: g).perExampleGradients(examples: b)
        let viaGradients = low.scores(perExampleGradients: perExample)  // [q, b]
        let viaTokens = low.tokenScores(outputGradients: g, activations: a).reshaped(to: [b, t, 3]).sum(alongAxes: [1]).transposed()
        #expect(relative(viaTokens, viaGradients) <= 1e-5)
        let rebuilt = low.scoresByReconstruction(perExampleGradients: perExample, sliceBytes: 4 * 6 * 4 * 2)  // two queries per slice
        #expect(relative(rebuilt, viaGradients) <= 1e-5)
        // And both equal ⟨P_r, G_b⟩ with P_r reconstructed.
        for j in 0..<3 {
            let cols = low.offsets[j]..<low.offsets[j + 1]
            let pr = Tensor.matmul(low.left.sliced(along: 1, cols), low.right.sliced(along: 1, cols), transposeB: true).flattened()
            for e in 0..<b {
                let expected = (pr * perExample.sliced(along: 0, e..<(e + 1)).flattened()).sum().scalar
                #expect(abs(viaGradients[j, e] - expected) <= 1e-4 * Swift.max(1, abs(expected)))
            }
        }
    }

    @Test func theCostModelPicksTheCheapestContraction() {
        // Long sequences and high rank: rebuilding P_q once per batch is cheapest; one token per
        // example (a classifier) and low rank: token by token; per-token scores force tokens.
        #expect(
            LowRankQueries.cheapest(examples: 16, rowsPerExample: 128, out: 1024, inputs: 257, queries: 64, totalRank: 2048, perToken: false) == .reconstruction
        )
        #expect(LowRankQueries.cheapest(examples: 16, rowsPerExample: 1, out: 1024, inputs: 257, queries: 64, totalRank: 64, perToken: false) == .tokens)
        #expect(LowRankQueries.cheapest(examples: 16, rowsPerExample: 128, out: 1024, inputs: 257, queries: 64, totalRank: 2048, perToken: true) == .tokens)
        let c = LowRankQueries.cost(examples: 2, rowsPerExample: 3, out: 5, inputs: 7, queries: 4, totalRank: 11)
        #expect(c[.perExampleGradients] == 2 * 3 * 5 * 7 + 2 * 5 * 7 * 11 + 2 * 5 * 11)
        #expect(c[.tokens] == 2 * 3 * 11 * 12 + 2 * 3 * 11)
        #expect(c[.reconstruction] == 11 * 5 * 7 + 2 * 3 * 5 * 7 + 4 * 2 * 5 * 7)
    }

    @Test func energyPicksTheSmallestRankKeepingTheFraction() {
        let s = Tensor<Float>([3, 2, 1, 0.5])  // squares 9, 4, 1, 0.25 of 14.25
        #expect(LowRankQueries.rank(keeping: 0.5, of: s) == 1)  // 9 ≥ 7.125
        #expect(LowRankQueries.rank(keeping: 0.9, of: s) == 2)  // 13 ≥ 12.825
        #expect(LowRankQueries.rank(keeping: 0.95, of: s) == 3)  // 14 ≥ 13.54
        #expect(LowRankQueries.rank(keeping: 1, of: s) == 4)
    }

    @Test func theRandomizedSVDFindsADominantSubspace() throws {
        // A rank-3 matrix plus small noise: with oversampling and two power iterations the
        // randomized truncation is within 1e-3 of the exact one.
        var generator = testGenerator(8)
        let u = Tensor<Float>.randomNormal(shape: [40, 3], using: &generator), v = Tensor<Float>.randomNormal(shape: [3, 30], using: &generator)
        let p = (Tensor.matmul(u, v) + Tensor<Float>.randomNormal(shape: [40, 30], standardDeviation: 1e-3, using: &generator)).reshaped(to: [1, 40, 30])
        let exact = try LowRankQueries(p, rank: .fixed(3), svd: .exact, layer: "test", seed: 0)
        let randomized = try LowRankQueries(p, rank: .fixed(3), svd: .randomized(oversampling: 5, powerIterations: 2), layer: "test", seed: 1)
        let e = Tensor.matmul(exact.left, exact.right, transposeB: true), r = Tensor.matmul(randomized.left, randomized.right, transposeB: true)
        #expect(relative(r, e) <= 1e-3, "\(relative(r, e))")
    }

    @Test func aRankAboveALayersSizeIsNamed() throws {
        let t = task()
        let error = #expect(throws: InfluenceError.self) { try scores(t, ScoreConfiguration(queryRank: .fixed(20))) }
        #expect("\(error!)".contains("--query-rank 20 exceeds min(out, in) = 9 of transformer.h.0.attn.c_attn"), "\(error!)")
        #expect(throws: InfluenceError.self) { try scores(t, ScoreConfiguration(queryRank: .energy(1.5))) }
        #expect(throws: InfluenceError.self) {
            try scores(t, ScoreConfiguration(queryRank: .energy(0.9), svd: .randomized(oversampling: 2, powerIterations: 1)))
        }
    }

    @Test func aMemoryBudgetSetsTheChunksAndChangesNoScore() throws {
        let t = task(queries: 7)
        let reference = try scores(t, ScoreConfiguration(batchSize: 2, queryBatchSize: 2, queryRank: .fixed(2)))
        let fitted = try factors(t)
        let computer = try ScoreComputer(
            task: t, factors: fitted, factorsPath: "memory",
            configuration: ScoreConfiguration(batchSize: 2, queryBatchSize: 2, queryRank: .fixed(2), memoryBudget: 1))
        // A budget below one group's factors: one group (2 queries) per chunk, so 4 passes over the data.
        var passes = 0
        computer.progress = { stage, done, _ in if stage == "train" && done == t.trainingExampleCount { passes += 1 } }
        let budgeted = try computer.compute()
        #expect(passes == 4)
        #expect(relative(budgeted.pairwise, reference.pairwise) <= 1e-5)
        // The statistics: rank 2 in every layer, U·diag(S) [out, 2] and Vᵀ [2, in + 1] per query.
        let statistics = computer.queryStatistics
        #expect(statistics.passes == 4 && statistics.queries == 7 && statistics.largestChunk == 2)
        #expect(statistics.meanRanks == Array(repeating: 2.0, count: fitted.moduleNames.count))
        let perQuery = fitted.gradientShapes.map { 4 * 2 * ($0[0] + $0[1]) }.reduce(0, +)
        #expect(statistics.bytes == 7 * perQuery, "\(statistics.bytes) bytes for shapes \(fitted.gradientShapes)")
    }
}

@Suite("Top rows and candidates")
struct SelectedScoresTests {
    typealias Task = LanguageModelingTask<GPT2LanguageModel<Float>>
    let task = LanguageModelingTask(
        model: Fixtures.languageModel(Float.self, seed: 9), training: Fixtures.sequences + Fixtures.sequences.map { $0.reversed() },
        queries: [Fixtures.sequences[1], [4, 2, 7], Fixtures.sequences[3]])

    func computer(_ configuration: ScoreConfiguration) throws -> ScoreComputer<Task> {
        let factors = try FactorFitter(task: task, modules: [], configuration: FitConfiguration(strategy: .kfac, labels: .data, batchSize: 3)).fit()
        return try ScoreComputer(task: task, factors: factors, factorsPath: "memory", configuration: configuration)
    }

    @Test func topRowsAreTheDenseMatrixSorted() throws {
        let dense = try computer(ScoreConfiguration(selfInfluence: true, batchSize: 3, queryChunkSize: 2)).compute()
        guard case let .top(top) = try computer(ScoreConfiguration(selfInfluence: true, batchSize: 3, queryChunkSize: 2, selection: .top(4))).computeResult()
        else {
            Issue.record("expected top rows"); return
        }
        let n = task.trainingExampleCount
        for q in 0..<task.queryCount {
            let row = (0..<n).map { dense.pairwise[q, $0] }
            let order = row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
            #expect(top.highest.indices[q] == Array(order.prefix(4)), "query \(q)")
            #expect(top.highest.scores[q] == order.prefix(4).map { row[$0] })
            let ascending = row.indices.sorted { row[$0] < row[$1] || (row[$0] == row[$1] && $0 < $1) }
            #expect(top.lowest.indices[q] == Array(ascending.prefix(4)))
        }
        #expect(top.selfScores == dense.selfScores)
    }

    /// |a − b| within 10⁻⁵ of the largest magnitude (candidate pairs are contracted in other
    /// groupings than the dense matrix, so the roundings differ).
    func close(_ a: [Float], _ b: [Float], scale: Float) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 * Swift.max(scale, 1) }
    }

    @Test(arguments: [QueryRank.full, .energy(0.95), .fixed(2)])
    func candidateScoresAreTheDenseEntriesAndEachRowIsReadOnce(rank: QueryRank) throws {
        let dense = try computer(ScoreConfiguration(perModule: true, perToken: true, batchSize: 2, queryRank: rank)).compute()
        let scale = dense.pairwise.magnitude().max().scalar
        let chosen = [[7, 0, 3], [3], [9, 8, 1, 2]]
        let c = try computer(
            ScoreConfiguration(
                perModule: true, perToken: true, batchSize: 2, queryChunkSize: 2, queryRank: rank,
                selection: .candidates(chosen)))
        var read: [Int] = []
        c.progress = { stage, done, total in if stage == "train" && done == total { read.append(total) } }
        guard case let .candidates(s) = try c.computeResult() else { Issue.record("expected candidates"); return }
        // Chunks of two queries: the first reads the union {0, 3, 7}, the second query 2's four rows.
        #expect(read == [3, 4], "rows read per chunk: \(read)")
        for (q, rows) in chosen.enumerated() {
            #expect(s.indices[q] == rows)
            for (k, m) in rows.enumerated() {
                #expect(close([s.scores[q][k]], [dense.pairwise[q, m]], scale: scale), "query \(q), row \(m)")
                #expect(close(s.perModule![q][k], dense.perModule.map { $0.scores[q, m] }, scale: scale))
                let tokens = s.perToken![q][k]
                #expect(close(tokens, (0..<tokens.count).map { dense.perToken![q, m, $0] }, scale: scale))
            }
        }
    }

    @Test func candidatesOutOfRangeOrForOtherQueriesAreNamed() throws {
        let n = task.trainingExampleCount
        let e1 = #expect(throws: InfluenceError.self) { try computer(ScoreConfiguration(selection: .candidates([[0], [n], [1]]))) }
        #expect("\(e1!)".contains("the candidates of query 1 name training row \(n); the training data has \(n) rows"), "\(e1!)")
        let e2 = #expect(throws: InfluenceError.self) { try computer(ScoreConfiguration(selection: .candidates([[0], [1]]))) }
        #expect("\(e2!)".contains("the candidates list 2 queries; the query file has 3"), "\(e2!)")
        #expect(throws: InfluenceError.self) { try computer(ScoreConfiguration(perToken: true, selection: .top(2))) }
    }

    @Test(arguments: ["top", "candidates", "low rank"])
    func anInterruptedRunResumesToTheSameResult(mode: String) throws {
        let configuration: ScoreConfiguration
        switch mode {
        case "top": configuration = ScoreConfiguration(selfInfluence: true, batchSize: 2, queryChunkSize: 2, selection: .top(3))
        case "candidates":
            configuration = ScoreConfiguration(perToken: true, batchSize: 1, queryChunkSize: 2, selection: .candidates([[0, 5, 2], [4, 1], [3, 6, 7, 8]]))
        default: configuration = ScoreConfiguration(perToken: true, batchSize: 2, queryBatchSize: 1, queryRank: .energy(0.9), memoryBudget: 3000)
        }
        func run(_ directory: URL?, stopAt: Int? = nil, kept: URL? = nil) throws -> (ScoringResultSummary, Int) {
            let c = try computer(configuration)
            var steps = 0
            let saved = directory?.appendingPathComponent("partial-scores.safetensors")
            c.progress = { stage, _, _ in
                guard stage == "train" else { return }
                steps += 1
                if let stopAt, let saved, let kept, steps == stopAt + 1, FileManager.default.fileExists(atPath: saved.path) {
                    try? FileManager.default.removeItem(at: kept)
                    try? FileManager.default.copyItem(at: saved, to: kept)
                }
            }
            let summary =
                mode == "low rank"
                ? ScoringResultSummary(try c.compute(partialDirectory: directory, checkpointInterval: 1))
                : ScoringResultSummary(try c.computeResult(partialDirectory: directory, checkpointInterval: 1))
            return (summary, steps)
        }
        let (reference, _) = try run(nil)
        let first = try TemporaryDirectory(), second = try TemporaryDirectory()
        let kept = first.file("kept.safetensors")
        let (_, steps) = try run(first.url, stopAt: 3, kept: kept)
        try #require(FileManager.default.fileExists(atPath: kept.path))
        try FileManager.default.copyItem(at: kept, to: second.file("partial-scores.safetensors"))
        let (resumed, resumedSteps) = try run(second.url)
        #expect(resumedSteps < steps)
        #expect(resumed == reference)
    }
}

/// The values of any scoring result, for equality.
struct ScoringResultSummary: Equatable {
    var values: [[Float]]
    var indices: [[Int]]

    init(_ s: InfluenceScores) {
        values = [s.pairwise.scalars, s.perToken?.scalars ?? [], s.selfScores?.scalars ?? []]
        indices = []
    }

    init(_ s: ScoringResult) {
        switch s {
        case let .dense(d):
            values = [d.pairwise.scalars, d.perToken?.scalars ?? [], d.selfScores?.scalars ?? []]
            indices = []
        case let .top(t):
            values = t.highest.scores + t.lowest.scores + [t.selfScores?.scalars ?? []]
            indices = t.highest.indices + t.lowest.indices
        case let .candidates(c):
            values = c.scores + (c.perToken ?? []).flatMap { $0 }
            indices = c.indices
        }
    }
}
