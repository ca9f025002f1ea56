import Distributed
import Foundation
import Formats
import TensorCore

/// Computes scores of a task's queries against its training examples with the inverse of a fitted
/// curvature (any ``CurvatureStrategy``).
///
/// Queries are preconditioned once per chunk and the training data is streamed once per chunk:
/// score(q, m) = ⟨P_q, G_m⟩ summed over blocks, with P_q = (H + λI)⁻¹ ∇f(z_q) and G_m the
/// training example's gradient. A chunk holds ``ScoreConfiguration/queryChunkSize`` queries, or as
/// many as fit in ``ScoreConfiguration/memoryBudget``; with ``ScoreConfiguration/queryRank`` the
/// P_q are kept as truncated SVDs (Grosse et al. 2023, §3.2.2), so that more queries share a pass.
///
/// For low-rank queries of a tracked layer, the contraction is the cheapest of three, by their
/// multiply-adds for a batch of b examples of T rows, q queries of R = Σ_q r_q columns:
///
/// ```
/// per-example gradients:  G_b = Σ_t g_t ā_tᵀ, then ⟨U diag(S), G_b V⟩:  bT·out·in + b·out·in·R
/// token by token:         Σ_t (g_tᵀ U diag(S)) ⊙ (Vᵀ ā_t):             bT·R·(out + in)
/// rebuilt for the batch:  P_q = U diag(S) Vᵀ, then ⟨P_q, G_b⟩:          R·out·in + bT·out·in + q·b·out·in
/// ```
/// (``LowRankQueries/cost(examples:rowsPerExample:out:inputs:queries:totalRank:)``). Per-token
/// scores always take the token-by-token form. Low rank saves memory, not arithmetic: every form
/// costs at least the dense product q·b·out·in, which is why the whole gradients stay the default.
public final class ScoreComputer<Task: InfluenceTask> where Task.Scalar == Float {
    let task: Task
    let capture: GradientCapture<Float>
    /// Set when the curvature covers parameters outside Linear layers: every per-example
    /// gradient then comes from the operator's one-backward-pass-per-example path.
    let parameterGradients: CurvatureOperator<Task>?
    let inverse: any InverseCurvature
    /// The blocks scores are split into: the tracked Linear layers, and with a curvature over
    /// every parameter, each other parameter.
    public let moduleNames: [String]
    /// What to compute and in what batches; its damping is the one the inverse was built with.
    public let configuration: ScoreConfiguration
    /// Receives (stage, done, total): "queries" and "train".
    public var progress: ((String, Int, Int) -> Void)?
    /// Messages about solves that did not converge.
    public var warnings: [String] { inverse.warnings }
    /// What the query chunks of the last run held.
    public private(set) var queryStatistics = QueryStatistics()

    /// Scores with a fitted curvature, inverted with the configuration's damping.
    ///
    /// - Throws: ``InfluenceError`` when the damping does not suit the fit, when self-influence,
    ///   per-token scores or low-rank queries are asked of a curvature that does not offer them,
    ///   or when the selection does not fit the data.
    public init(task: Task, fitted: any FittedCurvature, configuration: ScoreConfiguration) throws {
        self.task = task
        self.configuration = configuration
        capture = try GradientCapture(model: task.model, patterns: fitted.linearLayerNames)
        inverse = try fitted.inverse(damping: configuration.damping)
        moduleNames = fitted.blockNames
        if configuration.selfInfluence && !inverse.offersSelfInfluence {
            throw InfluenceError.notOffered(
                "self-influence is not offered by \(fitted.strategyDescription): it would need one solve per "
                    + "training example; use fitted factors or the exact or arnoldi strategy")
        }
        if fitted.coversOtherParameters {
            if configuration.perToken { throw InfluenceError.notOffered("per-token scores need a curvature over Linear layers only") }
            if configuration.queryRank != .full { throw InfluenceError.notOffered("low-rank queries need a curvature over Linear layers only") }
            let source = try CurvatureOperator(task: task, modules: [], kind: .ggn, allParameters: true)
            guard source.blockNames == fitted.blockNames else {
                preconditionFailure("blocks \(source.blockNames) of the model differ from the fit's \(fitted.blockNames)")
            }
            parameterGradients = source
        } else {
            parameterGradients = nil
        }
        try Self.check(configuration, trainingCount: task.trainingExampleCount, queryCount: task.queryCount)
    }

    static func check(_ c: ScoreConfiguration, trainingCount: Int, queryCount: Int) throws {
        if case let .energy(e) = c.queryRank, !(e > 0 && e <= 1) {
            throw InfluenceError.notOffered("--query-energy must be in (0, 1], got \(e)")
        }
        if case let .fixed(r) = c.queryRank, r < 1 { throw InfluenceError.notOffered("--query-rank must be at least 1, got \(r)") }
        if case .randomized = c.svd, case .energy = c.queryRank {
            throw InfluenceError.notOffered("the randomized SVD needs a fixed --query-rank; --query-rank auto uses the exact SVD")
        }
        if let budget = c.memoryBudget, budget <= 0 { throw InfluenceError.notOffered("--memory-budget must be positive, got \(budget) bytes") }
        for (option, value) in [("--batch-size", c.batchSize), ("--query-batch-size", c.queryBatchSize), ("--query-chunk", c.queryChunkSize)] where value < 1 {
            throw InfluenceError.notOffered("\(option) must be at least 1, got \(value)")
        }
        switch c.selection {
        case .all: break
        case let .top(k):
            if k < 1 { throw InfluenceError.notOffered("--top-k must be at least 1, got \(k)") }
            if c.perModule || c.perToken {
                throw InfluenceError.notOffered("--top-k keeps totals only; score its rows again with --candidates for per-module or per-token scores")
            }
        case let .candidates(rows):
            if rows.count != queryCount {
                throw InfluenceError.notOffered("the candidates list \(rows.count) queries; the query file has \(queryCount)")
            }
            if c.selfInfluence { throw InfluenceError.notOffered("--self needs every training row; it is not offered with --candidates") }
            for (q, list) in rows.enumerated() {
                if let bad = list.first(where: { $0 < 0 || $0 >= trainingCount }) {
                    throw InfluenceError.notOffered("the candidates of query \(q) name training row \(bad); the training data has \(trainingCount) rows")
                }
                if Set(list).count != list.count { throw InfluenceError.notOffered("the candidates of query \(q) name a training row twice") }
            }
        }
    }

    /// Scores with fitted factors.
    ///
    /// - Throws: ``InfluenceError`` when the factors belong to another model or other modules.
    public convenience init(task: Task, factors: InfluenceFactors, factorsPath: String, configuration: ScoreConfiguration) throws {
        let names = task.model.trackableLayers(matching: factors.moduleNames).map(\.name)
        try factors.check(modelFingerprint: ModelFingerprint.of(task.model), moduleNames: names, path: factorsPath)
        try self.init(task: task, fitted: factors, configuration: configuration)
    }

    /// Scores with a solver strategy on the curvature of a given operator and a numeric damping.
    public convenience init<Strategy: OperatorCurvatureStrategy>(
        task: Task, curvature: CurvatureOperator<Task>, strategy: Strategy,
        damping: Double, configuration: ScoreConfiguration
    ) throws {
        var configuration = configuration
        configuration.damping = .value(damping)
        try self.init(task: task, fitted: try strategy.fit(operator: curvature.erased()), configuration: configuration)
    }

    /// The damping λ of each block of ``moduleNames``, as the inverse applies it (`auto` resolved to numbers).
    public var dampings: [Double] { inverse.dampings }
    /// The strategy with its options, as resume keys and files name it.
    public var strategyName: String { inverse.description }

    // MARK: Query chunks

    /// The preconditioned queries of a chunk, per block: whole or in low rank.
    enum QueryFactors {
        /// `[queries, out, in]`.
        case dense(Tensor<Float>)
        case lowRank(LowRankQueries)

        var bytes: Int {
            switch self {
            case let .dense(p): return 4 * p.scalarCount
            case let .lowRank(l): return l.bytes
            }
        }
    }

    struct QueryChunk {
        var range: Range<Int>
        var factors: [QueryFactors]
        var bytes: Int { factors.map(\.bytes).reduce(0, +) }
    }

    /// Per-block gradients `[queries, rows, columns]` of the queries in `range`, measured
    /// ``ScoreConfiguration/queryBatchSize`` queries at a time.
    func queryGradients(_ range: Range<Int>) throws -> [Tensor<Float>] {
        var parts = [[Tensor<Float>]](repeating: [], count: moduleNames.count)
        for start in stride(from: range.lowerBound, to: range.upperBound, by: Swift.max(1, configuration.queryBatchSize)) {
            let indices = Array(start..<Swift.min(range.upperBound, start + configuration.queryBatchSize))
            let blocks: [Tensor<Float>]
            if let source = parameterGradients {
                blocks = try source.perExampleGradients(indices) { self.task.queryMeasurement(indices: $0) }
            } else {
                let record = capture.record { task.queryMeasurement(indices: indices) }
                guard record.loss.isFinite else { throw InfluenceError.nonFinite(what: "the measurement of query \(indices[0])") }
                blocks = record.layers.map { $0.perExampleGradients(examples: indices.count) }
            }
            for (i, g) in blocks.enumerated() { parts[i].append(g) }
            progress?("queries", indices.last! + 1, task.queryCount)
        }
        return parts.map { Tensor.concatenated($0, along: 0) }
    }

    /// The chunk that starts at query `start`: up to `end` when given (a chunk being resumed), else
    /// ``ScoreConfiguration/queryChunkSize`` queries, or with a memory budget as many as fit in it
    /// (at least one group). Queries are preconditioned in groups of
    /// ``ScoreConfiguration/queryBatchSize`` — so that the whole gradients of a group, not of the
    /// chunk, are held beside the chunk's preconditioned queries — or of
    /// ``ScoreConfiguration/queryChunkSize`` for solvers that pass over the training data per
    /// solve (CG, LiSSA), so that one pass serves many queries.
    func chunk(from start: Int, to end: Int? = nil) throws -> QueryChunk {
        let total = task.queryCount
        let size = Swift.max(1, configuration.queryChunkSize)
        let group = Swift.max(1, inverse.solvesJointly ? Swift.max(size, configuration.queryBatchSize) : configuration.queryBatchSize)
        let limit = end ?? Swift.min(total, configuration.memoryBudget == nil ? start + size : total)
        let chunk =
            configuration.queryRank == .full
            ? try denseChunk(from: start, limit: limit, group: group, resuming: end != nil)
            : try lowRankChunk(from: start, limit: limit, group: group, resuming: end != nil)
        queryStatistics.record(chunk)
        return chunk
    }

    /// Whole preconditioned queries, written group by group into one tensor per block: every query
    /// takes the same bytes, so the first group fixes how many fit the budget, and the chunk is
    /// held once (not once in groups and again joined).
    func denseChunk(from start: Int, limit: Int, group: Int, resuming: Bool) throws -> QueryChunk {
        var blocks: [Tensor<Float>] = []
        var count = limit - start
        var next = start
        while next < start + count {
            let range = next..<Swift.min(start + count, next + group)
            let preconditioned = try inverse.apply(try queryGradients(range))
            if blocks.isEmpty {
                let perQuery = preconditioned.map { 4 * $0.scalarCount }.reduce(0, +) / range.count
                if !resuming, let budget = configuration.memoryBudget {
                    count = Swift.min(count, Swift.max(range.count, budget / Swift.max(1, perQuery)))
                }
                blocks = preconditioned.map { p in Tensor<Float>(shape: [count] + p.shape.dropFirst(), unsafeUninitialized: { _ in }) }
            }
            for (i, p) in preconditioned.enumerated() {
                let offset = (next - start) * (p.scalarCount / range.count)
                blocks[i].withUnsafeMutableBufferPointer { dst in
                    p.withUnsafeBufferPointer { src in (dst.baseAddress! + offset).update(from: src.baseAddress!, count: src.count) }
                }
            }
            next = range.upperBound
        }
        return QueryChunk(range: start..<next, factors: blocks.map { .dense($0) })
    }

    /// Low-rank queries, group by group while their factors fit the budget (ranks, and so bytes,
    /// differ from query to query with ``QueryRank/energy(_:)``).
    func lowRankChunk(from start: Int, limit: Int, group: Int, resuming: Bool) throws -> QueryChunk {
        var parts = [[LowRankQueries]](repeating: [], count: moduleNames.count)
        var next = start, bytes = 0
        while next < limit {
            let range = next..<Swift.min(limit, next + group)
            let preconditioned = try inverse.apply(try queryGradients(range))
            let factors = try preconditioned.enumerated().map { i, p in
                try LowRankQueries(
                    p, rank: configuration.queryRank, svd: configuration.svd, layer: moduleNames[i],
                    seed: UInt64(range.lowerBound) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(i))
            }
            let added = factors.map(\.bytes).reduce(0, +)
            if !resuming, let budget = configuration.memoryBudget, next > start, bytes + added > budget { break }
            for (i, f) in factors.enumerated() { parts[i].append(f) }
            bytes += added
            next = range.upperBound
        }
        let factors = parts.map { low -> QueryFactors in
            var offsets = [0]
            for l in low { offsets += l.offsets.dropFirst().map { $0 + offsets.last! } }
            return .lowRank(
                LowRankQueries(
                    left: Tensor.concatenated(low.map(\.left), along: 1),
                    right: Tensor.concatenated(low.map(\.right), along: 1), offsets: offsets))
        }
        return QueryChunk(range: start..<next, factors: factors)
    }

    // MARK: Streaming the training data

    /// Scores every query, one chunk at a time, keeping every pair.
    ///
    /// - Parameters:
    ///   - partialDirectory: when given, partial results are saved there (`partial-scores.safetensors`)
    ///     every `checkpointInterval` training batches and after each chunk, and a run interrupted
    ///     earlier with the same fit, options and data resumes from them; the file is removed
    ///     when the run completes.
    public func compute(partialDirectory: URL? = nil, checkpointInterval: Int = 50) throws -> InfluenceScores {
        precondition(configuration.selection == .all, "compute() keeps every pair; use computeResult() for top rows or candidates")
        guard case let .dense(scores) = try run(partialDirectory: partialDirectory, checkpointInterval: checkpointInterval) else {
            preconditionFailure("unreachable")
        }
        return scores
    }

    /// Scores every query keeping the pairs of ``ScoreConfiguration/selection``: every pair (the
    /// dense matrix), each query's top rows, or its candidates; resumable as
    /// ``compute(partialDirectory:checkpointInterval:)``.
    public func computeResult(partialDirectory: URL? = nil, checkpointInterval: Int = 50) throws -> ScoringResult {
        try run(partialDirectory: partialDirectory, checkpointInterval: checkpointInterval)
    }

    func run(partialDirectory: URL?, checkpointInterval: Int) throws -> ScoringResult {
        let total = task.queryCount
        queryStatistics = QueryStatistics(moduleCount: moduleNames.count)
        let ranks = configuration.communicator
        if let parts = configuration.mergedParts {
            guard let partialDirectory else { preconditionFailure("a merge reads the parts from a directory") }
            return try mergeParts(parts, in: partialDirectory)
        }
        let (rank, size) = configuration.partition.map { ($0.index, $0.count) } ?? (ranks.rank, ranks.size)
        let checkpoint = partialDirectory.map {
            ScoringCheckpoint(
                url: $0.appendingPathComponent(size == 1 ? "partial-scores.safetensors" : "partial-scores.rank-\(rank)-of-\(size).safetensors"),
                key: resumeKey + "|rank \(rank) of \(size)")
        }
        var completed: ScoringResult? = nil
        var start = 0
        var resume: (accumulator: ScoreAccumulator, end: Int)? = nil
        if let checkpoint, let state = try checkpoint.load(moduleNames: moduleNames, mode: mode(for:), selfInfluence: configuration.selfInfluence) {
            completed = state.completed
            start = state.completedQueries
            if let current = state.current { resume = (current, state.currentEnd) }
        }
        var first = true
        while start < total {
            let chunk = try chunk(from: start, to: first ? resume?.end : nil)
            // Self-influence does not depend on the queries: compute it with the first chunk only.
            let accumulator =
                first && resume != nil
                ? resume!.accumulator
                : ScoreAccumulator(
                    mode: mode(for: chunk.range), queries: chunk.range.count, modules: moduleNames.count,
                    selfInfluence: configuration.selfInfluence && start == 0)
            first = false
            let current = try stream(chunk, into: accumulator, checkpointInterval: checkpointInterval) { partial in
                try checkpoint?.save(
                    completedQueries: start, completed: completed, current: partial, currentEnd: chunk.range.upperBound,
                    moduleNames: moduleNames)
            }
            completed = completed.map { $0.appending(current) } ?? current
            start = chunk.range.upperBound
            if start < total {
                try checkpoint?.save(completedQueries: start, completed: completed, current: nil, currentEnd: start, moduleNames: moduleNames)
            }
        }
        let local =
            try completed
            ?? (ScoreAccumulator(mode: mode(for: 0..<0), queries: 0, modules: moduleNames.count, selfInfluence: false)
                .result(moduleNames: moduleNames))
        if let partition = configuration.partition, let partialDirectory {
            // A part of a job array leaves its rows for the merge.
            try ScoringCheckpoint(url: Self.partURL(partition, in: partialDirectory), key: resumeKey).save(
                completedQueries: total, completed: local, current: nil, currentEnd: total, moduleNames: moduleNames)
            if let checkpoint { try? FileManager.default.removeItem(at: checkpoint.url) }
            return local
        }
        let result = ranks.size > 1 ? try joinRanks(local) : local
        if let checkpoint { try? FileManager.default.removeItem(at: checkpoint.url) }
        return result
    }

    /// Where part `partition` of a job array leaves its rows.
    public static func partURL(_ partition: Partition, in directory: URL) -> URL {
        directory.appendingPathComponent("partition-scores-\(partition.index)-of-\(partition.count).safetensors")
    }

    /// The rows every part of a job array left, joined as one run's; each part must belong to this
    /// run (same fit, options and data).
    func mergeParts(_ parts: Int, in directory: URL) throws -> ScoringResult {
        var results: [ScoringResult] = [], missing: [String] = []
        for i in 0..<parts {
            let url = Self.partURL(Partition(index: i, count: parts), in: directory)
            guard FileManager.default.fileExists(atPath: url.path) else {
                missing.append("\(i)/\(parts)")
                continue
            }
            guard let state = try ScoringCheckpoint(url: url, key: resumeKey).load(moduleNames: moduleNames, mode: mode(for:), selfInfluence: false),
                let result = state.completed
            else {
                throw InfluenceError.partitions("\(url.path) holds the scores of another run (other factors, options or data); run part \(i)/\(parts) again")
            }
            results.append(result)
        }
        guard missing.isEmpty else {
            throw InfluenceError.partitions(
                "parts \(missing.joined(separator: ", ")) of the scoring run have not written their rows in \(directory.path); run them (same options, --partition i/\(parts)) first"
            )
        }
        return try ScoringResult.joiningColumns(
            results,
            top: {
                if case let .top(k) = mode(for: 0..<0) { return k }; return 0
            }())
    }

    /// This rank's positions in a list of `count` training rows streamed in batches: a contiguous
    /// run of whole batches (all of them for one process), so that every batch is the one a
    /// single process forms and every score the same bits.
    func share(of count: Int) -> Range<Int> {
        let ranks = configuration.communicator
        let (rank, size) = configuration.partition.map { ($0.index, $0.count) } ?? (ranks.rank, ranks.size)
        guard size > 1 else { return 0..<count }
        let b = Swift.max(1, configuration.batchSize)
        let batches = (count + b - 1) / b
        let mine = WorkShards(batchCount: batches, blocks: Swift.max(1, batches)).batches(rank: rank, of: size)
        return Swift.min(count, mine.lowerBound * b)..<Swift.min(count, mine.upperBound * b)
    }

    /// Every rank's result on rank 0, joined in rank order (training rows in order); this rank's
    /// own on the others. Results travel as the checkpoint's safetensors bytes.
    func joinRanks(_ local: ScoringResult) throws -> ScoringResult {
        let ranks = configuration.communicator
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("influence-rank-\(getpid())-\(ranks.rank).safetensors")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let file = ScoringCheckpoint(url: scratch, key: "rank result")
        try file.save(completedQueries: task.queryCount, completed: local, current: nil, currentEnd: task.queryCount, moduleNames: moduleNames)
        let bytes = Array(try Data(contentsOf: scratch))
        guard let parts = try ranks.gather(bytes, root: 0) else { return local }
        var results: [ScoringResult] = []
        for part in parts {
            try Data(part).write(to: scratch)
            guard let state = try file.load(moduleNames: moduleNames, mode: mode(for:), selfInfluence: false), let result = state.completed else {
                throw CommunicatorError("a rank sent scores that could not be read")
            }
            results.append(result)
        }
        return try ScoringResult.joiningColumns(
            results,
            top: {
                if case let .top(k) = mode(for: 0..<0) { return k }; return 0
            }())
    }

    func mode(for range: Range<Int>) -> ScoreAccumulator.Mode {
        switch configuration.selection {
        case .all: return .dense(perModule: configuration.perModule, perToken: configuration.perToken)
        case let .top(k): return .top(Swift.min(k, task.trainingExampleCount))
        case let .candidates(rows):
            return .candidates(Array(rows[range]), perModule: configuration.perModule, perToken: configuration.perToken)
        }
    }

    /// What identifies a scoring run: the fit, the options that change results, and the data.
    var resumeKey: String {
        [
            strategyName, dampings.map { String($0) }.joined(separator: ","), moduleNames.joined(separator: ","), configuration.key,
            ModelFingerprint.of(task.model), task.trainingDataFingerprint, task.queryDataFingerprint,
        ].joined(separator: "|")
    }

    /// Streams the training rows the chunk needs (all of them, or the union of its queries'
    /// candidates) into `accumulator`, resuming after the rows it already holds.
    func stream(
        _ chunk: QueryChunk, into accumulator: ScoreAccumulator, checkpointInterval: Int,
        save: (ScoreAccumulator) throws -> Void
    ) throws -> ScoringResult {
        let q = chunk.range.count
        let every = accumulator.trainingRows(count: task.trainingExampleCount)
        let rows = Array(every[share(of: every.count)])
        let flatQueries = chunk.factors.map { f -> Tensor<Float>? in
            if case let .dense(p) = f { return p.reshaped(to: [q, -1]) }; return nil
        }
        var pendingSelf = [[Tensor<Float>]](repeating: [], count: moduleNames.count), pendingRows = 0
        func flushSelf() throws {
            guard pendingRows > 0 else { return }
            accumulator.addSelfScores(try inverse.selfScores(pendingSelf.map { Tensor.concatenated($0, along: 0) }))
            pendingSelf = pendingSelf.map { _ in [] }
            pendingRows = 0
        }
        var generator = SeededGenerator(seed: 0)
        var batchIndex = 0
        let wantsTokens = configuration.perToken
        // With candidates, the chunk's queries that chose each row: only those pairs are contracted.
        var choosers: [Int: [Int]]? = nil
        if case let .candidates(lists, _, _) = accumulator.mode {
            var map: [Int: [Int]] = [:]
            for (j, list) in lists.enumerated() { for row in list { map[row, default: []].append(j) } }
            choosers = map
        }
        // Grouped reconstruction: a low-rank layer whose cheapest contraction rebuilds the queries
        // keeps the per-example gradients of several batches and rebuilds each query once per
        // group (R·out·in per group instead of per batch). Decided per layer at the first batch.
        var grouped: Set<Int>? = nil
        var groupExamples = configuration.batchSize
        var stash: [Int: [Tensor<Float>]] = [:]
        var pending: [(indices: [Int], scores: Tensor<Float>, modules: [Tensor<Float>?])] = []
        func flushGroup() {
            guard !pending.isEmpty else { return }
            for (i, parts) in stash.sorted(by: { $0.key < $1.key }) {
                guard case let .lowRank(factors) = chunk.factors[i] else { continue }
                let scores = factors.scoresByReconstruction(perExampleGradients: Tensor.concatenated(parts, along: 0))  // [q, group]
                var offset = 0
                for k in pending.indices {
                    let part = scores.sliced(along: 1, offset..<(offset + pending[k].indices.count))
                    pending[k].scores += part
                    if configuration.perModule { pending[k].modules[i] = part }
                    offset += pending[k].indices.count
                }
            }
            for p in pending {
                accumulator.add(rows: p.indices, scores: p.scores, perModule: configuration.perModule ? p.modules.map { $0! } : [], perToken: nil, tokens: 1)
            }
            pending = []
            stash = [:]
        }
        for start in stride(from: accumulator.rowsDone, to: rows.count, by: configuration.batchSize) {
            let indices = Array(rows[start..<Swift.min(rows.count, start + configuration.batchSize)])
            let b = indices.count
            var batchScores = Tensor<Float>.zeros(shape: [q, b])
            var moduleScores = [Tensor<Float>?](repeating: nil, count: moduleNames.count)
            var batchTokens: Tensor<Float>? = nil, t = 1
            // Per row of the batch, the queries that chose it, and the union (candidates only).
            let chosen = choosers.map { map in indices.map { map[$0] ?? [] } }
            let needed = chosen.map { Array(Set($0.joined())).sorted() }
            func add(_ i: Int, _ s: Tensor<Float>) {
                batchScores += s
                if configuration.perModule { moduleScores[i] = s }
            }
            if let source = parameterGradients {
                // Every parameter: one backward pass per example.
                let perExample = try source.perExampleGradients(indices) { self.task.trainingLoss(indices: $0, labels: .data, generator: &generator) }
                for (i, g) in perExample.enumerated() {
                    add(i, Tensor.matmul(flatQueries[i]!, g.reshaped(to: [b, -1]), transposeB: true))
                    if accumulator.selfInfluence { pendingSelf[i].append(g) }
                }
            } else {
                let record = capture.record { task.trainingLoss(indices: indices, labels: .data, generator: &generator) }
                guard record.loss.isFinite else { throw InfluenceError.nonFinite(what: "the training loss of example \(indices[0])") }
                t = record.rowsPerExample
                if grouped == nil {
                    (grouped, groupExamples) = Self.groupedLayers(
                        chunk.factors, record.layers, batch: b, rowsPerExample: t, queries: q,
                        perToken: wantsTokens || chosen != nil)
                }
                if wantsTokens { batchTokens = Tensor<Float>.zeros(shape: [q, b, t]) }
                for (i, layer) in record.layers.enumerated() {
                    // Rows of this layer per example: t, times the output positions of a convolution.
                    let layerRows = layer.activations.shape[0] / Swift.max(1, b)
                    if wantsTokens && layerRows != t {
                        throw InfluenceError.notOffered(
                            "per-token scores need layers with one row per token; \(moduleNames[i]) is a convolution (track the linear layers only)")
                    }
                    var perExample: Tensor<Float>? = nil
                    func gradients() -> Tensor<Float> {
                        if let perExample { return perExample }
                        let g = layer.perExampleGradients(examples: b)
                        perExample = g
                        return g
                    }
                    switch chunk.factors[i] {
                    case .dense:
                        if let needed, 2 * needed.count <= q {
                            // Few of the chunk's queries want this batch: contract theirs only.
                            let selected = flatQueries[i]!.indexSelect(along: 0, indices: needed)
                            add(i, Self.scattered(Tensor.matmul(selected, gradients().reshaped(to: [b, -1]), transposeB: true), rows: needed, count: q))
                        } else {
                            add(i, Tensor.matmul(flatQueries[i]!, gradients().reshaped(to: [b, -1]), transposeB: true))  // [q, b]
                        }
                        if wantsTokens { addDenseTokenScores(&batchTokens!, layer, chunk.factors[i], q: q, b: b, t: t, only: needed) }
                    case let .lowRank(factors) where chosen != nil:
                        add(
                            i,
                            candidatePairScores(
                                factors, layer, chosen: chosen!, q: q, t: layerRows, perExampleGradients: gradients,
                                tokens: &batchTokens))
                    case .lowRank where grouped!.contains(i):
                        stash[i, default: []].append(gradients())
                    case let .lowRank(factors):
                        let (out, inputs) = (layer.outputGradients.shape[1], layer.activations.shape[1])
                        switch LowRankQueries.cheapest(
                            examples: b, rowsPerExample: layerRows, out: out, inputs: inputs, queries: q,
                            totalRank: factors.totalRank, perToken: wantsTokens)
                        {
                        case .tokens:
                            let tokens = factors.tokenScores(outputGradients: layer.outputGradients, activations: layer.activations)  // [b·rows, q]
                            add(i, tokens.reshaped(to: [b, layerRows, q]).sum(alongAxes: [1]).transposed())
                            if wantsTokens { batchTokens! += tokens.reshaped(to: [b, t, q]).permuted([2, 0, 1]) }
                        case .perExampleGradients: add(i, factors.scores(perExampleGradients: gradients()))
                        case .reconstruction: add(i, factors.scoresByReconstruction(perExampleGradients: gradients()))
                        }
                    }
                    if accumulator.selfInfluence { pendingSelf[i].append(gradients()) }
                }
            }
            if grouped?.isEmpty == false {
                pending.append((indices, batchScores, moduleScores))
                if pending.reduce(0, { $0 + $1.indices.count }) >= groupExamples { flushGroup() }
            } else {
                accumulator.add(
                    rows: indices, scores: batchScores, perModule: configuration.perModule ? moduleScores.map { $0! } : [],
                    perToken: batchTokens, tokens: t)
            }
            if accumulator.selfInfluence {
                pendingRows += b
                if pendingRows >= inverse.selfScoreRows { try flushSelf() }
            }
            batchIndex += 1
            progress?("train", start + b, rows.count)
            if start + b < rows.count && batchIndex % Swift.max(1, checkpointInterval) == 0 { flushGroup(); try flushSelf(); try save(accumulator) }
        }
        flushGroup()
        try flushSelf()
        return try accumulator.result(moduleNames: moduleNames)
    }

    /// Bytes of per-example gradients a group of batches may hold for grouped reconstruction.
    static var reconstructionGroupBytes: Int { 1 << 29 }

    /// The low-rank layers scored by grouped reconstruction, and the examples per group: the most
    /// whole batches whose per-example gradients of those layers fit in
    /// ``reconstructionGroupBytes``; a layer is grouped when, over such a group, rebuilding its
    /// queries is the cheapest contraction (``LowRankQueries/cost(examples:rowsPerExample:out:inputs:queries:totalRank:)``).
    /// None with per-token scores or candidates, which contract otherwise.
    static func groupedLayers(
        _ factors: [QueryFactors], _ layers: [LayerRecord<Float>], batch b: Int, rowsPerExample t: Int, queries q: Int,
        perToken: Bool
    ) -> (Set<Int>, Int) {
        guard !perToken else { return ([], b) }
        let lowRank = factors.indices.filter {
            if case .lowRank = factors[$0] { return true }; return false
        }
        let bytesPerExample = lowRank.reduce(0) { $0 + 4 * layers[$1].outputGradients.shape[1] * layers[$1].activations.shape[1] }
        guard bytesPerExample > 0 else { return ([], b) }
        let group = Swift.max(b, reconstructionGroupBytes / bytesPerExample / b * b)
        let chosen = Set(
            lowRank.filter { i in
                guard case let .lowRank(f) = factors[i] else { return false }
                let (out, inputs) = (layers[i].outputGradients.shape[1], layers[i].activations.shape[1])
                return LowRankQueries.cheapest(
                    examples: group, rowsPerExample: layers[i].activations.shape[0] / Swift.max(1, b), out: out,
                    inputs: inputs, queries: q, totalRank: f.totalRank,
                    perToken: false) == .reconstruction
            })
        return (chosen, group)
    }

    /// `[n, b]` → `[count, b]` with row k of `x` at row `rows[k]`, zeros elsewhere.
    static func scattered(_ x: Tensor<Float>, rows: [Int], count: Int) -> Tensor<Float> {
        let b = x.shape[1]
        return Tensor(shape: [count, b]) { out in
            for i in 0..<(count * b) { out[i] = 0 }
            x.withUnsafeBufferPointer { src in
                for (k, row) in rows.enumerated() { for j in 0..<b { out[row * b + j] = src[k * b + j] } }
            }
        }
    }

    /// Scores `[q, b]` of the (query, row) pairs `chosen` names (`chosen[j]`: the queries that chose
    /// row j of the batch), zero elsewhere, from low-rank queries: per row, the factors of its
    /// queries only, by the cheaper contraction for one example — work proportional to the pairs,
    /// not to queries × rows. When `tokens` `[q, b, t]` is not nil, the per-token scores of those
    /// pairs are added into it.
    func candidatePairScores(
        _ factors: LowRankQueries, _ layer: LayerRecord<Float>, chosen: [[Int]], q: Int, t: Int,
        perExampleGradients: () -> Tensor<Float>, tokens: inout Tensor<Float>?
    ) -> Tensor<Float> {
        let b = chosen.count
        let (out, inputs) = (layer.outputGradients.shape[1], layer.activations.shape[1])
        var scores = [Float](repeating: 0, count: q * b)
        for (j, queries) in chosen.enumerated() where !queries.isEmpty {
            let selected = factors.selecting(queries)
            let form = LowRankQueries.cheapest(
                examples: 1, rowsPerExample: t, out: out, inputs: inputs, queries: queries.count,
                totalRank: selected.totalRank, perToken: tokens != nil)
            let values: [Float]
            switch form {
            case .tokens:
                let rows = (j * t)..<((j + 1) * t)
                let perRow = selected.tokenScores(
                    outputGradients: layer.outputGradients.sliced(along: 0, rows),
                    activations: layer.activations.sliced(along: 0, rows))  // [t, n]
                values = perRow.sum(alongAxes: [0]).scalars
                if tokens != nil {
                    let n = queries.count
                    tokens!.withUnsafeMutableBufferPointer { dst in
                        perRow.withUnsafeBufferPointer { src in
                            for (k, query) in queries.enumerated() { for r in 0..<t { dst[(query * b + j) * t + r] += src[r * n + k] } }
                        }
                    }
                }
            case .perExampleGradients:
                values = selected.scores(perExampleGradients: perExampleGradients().sliced(along: 0, j..<(j + 1))).scalars
            case .reconstruction:
                values = selected.scoresByReconstruction(perExampleGradients: perExampleGradients().sliced(along: 0, j..<(j + 1))).scalars
            }
            for (k, query) in queries.enumerated() { scores[query * b + j] = values[k] }
        }
        return Tensor(shape: [q, b], scalars: scores)
    }

    /// score_t = Σ_o,i g_t,o P_q,o,i ā_t,i for every row t of a dense block, added into `[q, b, t]`
    /// (for the queries `only` names, when given).
    func addDenseTokenScores(
        _ tokens: inout Tensor<Float>, _ layer: LayerRecord<Float>, _ factors: QueryFactors, q: Int, b: Int, t: Int,
        only: [Int]? = nil
    ) {
        guard case let .dense(p) = factors else { return }
        let (out, inputs) = (p.shape[1], p.shape[2])
        for query in only ?? Array(0..<q) {
            let pq = p.sliced(along: 0, query..<(query + 1)).reshaped(to: [out, inputs])
            let perRow = (Tensor.matmul(layer.outputGradients, pq) * layer.activations).sum(alongAxes: [1])
            tokens.withUnsafeMutableBufferPointer { dst in
                perRow.withUnsafeBufferPointer { src in
                    for r in 0..<src.count { dst[query * b * t + r] += src[r] }
                }
            }
        }
    }
}

/// What a scoring run (or one chunk of it) computed, by its ``ScoreSelection``.
public enum ScoringResult: Sendable {
    case dense(InfluenceScores)
    case top(TopScores)
    case candidates(SelectedScores)

    /// The results of runs over consecutive training rows (ranks, in order) as one run's: dense
    /// columns concatenated, top rows merged (keeping `top` per query), each candidate's score
    /// taken from the run that scored it.
    static func joiningColumns(_ parts: [ScoringResult], top k: Int) throws -> ScoringResult {
        guard let first = parts.first else { throw CommunicatorError("no results to join") }
        func joined(_ tensors: [Tensor<Float>], _ axis: Int) -> Tensor<Float> { Tensor.concatenated(tensors, along: axis) }
        switch first {
        case .dense:
            let dense = parts.compactMap {
                if case let .dense(d) = $0 { return d }; return nil
            }
            guard dense.count == parts.count else { throw CommunicatorError("ranks returned results of different kinds") }
            let tokens = dense.compactMap(\.perToken).map { $0.shape[2] }.max() ?? 0
            return .dense(
                InfluenceScores(
                    pairwise: joined(dense.map(\.pairwise), 1),
                    perModule: first.denseModules.indices.map { i in (first.denseModules[i].name, joined(dense.map { $0.perModule[i].scores }, 1)) },
                    perToken: dense[0].perToken == nil
                        ? nil : joined(dense.map { $0.perToken!.padded(along: 2, before: 0, after: tokens - $0.perToken!.shape[2]) }, 1),
                    selfScores: dense[0].selfScores == nil ? nil : joined(dense.map { $0.selfScores! }, 0)))
        case .top:
            let tops = parts.compactMap {
                if case let .top(t) = $0 { return t }; return nil
            }
            guard tops.count == parts.count else { throw CommunicatorError("ranks returned results of different kinds") }
            func merge(_ lists: [SelectedScores], highestFirst: Bool) -> SelectedScores {
                let q = lists[0].queryCount
                var indices: [[Int]] = [], scores: [[Float]] = []
                for j in 0..<q {
                    let all = lists.flatMap { zip($0.scores[j], $0.indices[j]).map { (score: $0, row: $1) } }
                    let kept = all.sorted {
                        (highestFirst ? $0.score > $1.score : $0.score < $1.score) || ($0.score == $1.score && $0.row < $1.row)
                    }.prefix(k)
                    indices.append(kept.map(\.row))
                    scores.append(kept.map(\.score))
                }
                return SelectedScores(indices: indices, scores: scores)
            }
            let selfParts = tops.compactMap(\.selfScores)
            return .top(
                TopScores(
                    highest: merge(tops.map(\.highest), highestFirst: true), lowest: merge(tops.map(\.lowest), highestFirst: false),
                    selfScores: selfParts.count == tops.count ? joined(selfParts, 0) : nil))
        case let .candidates(c0):
            let lists = parts.compactMap {
                if case let .candidates(c) = $0 { return c }; return nil
            }
            guard lists.count == parts.count else { throw CommunicatorError("ranks returned results of different kinds") }
            var out = c0
            for j in out.indices.indices {
                for p in out.indices[j].indices {
                    guard let owner = lists.first(where: { !$0.scores[j][p].isNaN }) else { continue }
                    out.scores[j][p] = owner.scores[j][p]
                    if out.perModule != nil { out.perModule![j][p] = owner.perModule![j][p] }
                    if out.perToken != nil { out.perToken![j][p] = owner.perToken![j][p] }
                }
            }
            return .candidates(out)
        }
    }

    var denseModules: [(name: String, scores: Tensor<Float>)] {
        if case let .dense(d) = self { return d.perModule }
        return []
    }

    /// These queries followed by `other`'s.
    func appending(_ other: ScoringResult) -> ScoringResult {
        switch (self, other) {
        case let (.dense(a), .dense(b)): return .dense(a.appendingRows(b))
        case let (.top(a), .top(b)):
            return .top(TopScores(highest: a.highest.appending(b.highest), lowest: a.lowest.appending(b.lowest), selfScores: a.selfScores ?? b.selfScores))
        case let (.candidates(a), .candidates(b)): return .candidates(a.appending(b))
        default: preconditionFailure("chunks of different kinds")
        }
    }
}

/// What the query chunks of a scoring run held: how many passes over the training data they took
/// and, per tracked layer, the ranks and bytes of the preconditioned queries.
public struct QueryStatistics: Sendable, Equatable {
    /// Passes over the training data (query chunks) of this run; a resumed run counts its own.
    public private(set) var passes = 0
    /// Queries preconditioned in this run.
    public private(set) var queries = 0
    /// The largest number of queries in one chunk.
    public private(set) var largestChunk = 0
    /// Bytes of the preconditioned queries of this run, all chunks together.
    public private(set) var bytes = 0
    /// Per block, the sum over queries of the rank kept; nil for blocks kept whole.
    public private(set) var rankTotals: [Int?] = []

    /// Empty statistics for a run over `moduleCount` blocks (each block's rank total starts as nil: kept whole).
    public init(moduleCount: Int = 0) {
        rankTotals = Array(repeating: nil, count: moduleCount)
    }

    /// Bytes held per query.
    public var bytesPerQuery: Double { queries == 0 ? 0 : Double(bytes) / Double(queries) }

    /// Per block, the mean rank per query; nil for blocks kept whole.
    public var meanRanks: [Double?] { rankTotals.map { total in total.map { queries == 0 ? 0 : Double($0) / Double(queries) } } }

    mutating func record<Task>(_ chunk: ScoreComputer<Task>.QueryChunk) {
        passes += 1
        queries += chunk.range.count
        largestChunk = Swift.max(largestChunk, chunk.range.count)
        bytes += chunk.bytes
        if rankTotals.count != chunk.factors.count { rankTotals = Array(repeating: nil, count: chunk.factors.count) }
        for (i, f) in chunk.factors.enumerated() {
            if case let .lowRank(l) = f { rankTotals[i] = (rankTotals[i] ?? 0) + l.totalRank }
        }
    }

    /// One line for a person: passes, queries per pass, bytes per query and the ranks kept.
    public var summary: String {
        var text =
            "\(passes) pass\(passes == 1 ? "" : "es") over the training rows, up to \(largestChunk) queries each, "
            + String(format: "%.2f MB per query", bytesPerQuery / 1e6)
        let ranks = meanRanks.compactMap { $0 }
        if !ranks.isEmpty {
            text += String(format: ", mean rank per layer %.1f (%.1f to %.1f)", ranks.reduce(0, +) / Double(ranks.count), ranks.min()!, ranks.max()!)
        }
        return text
    }
}
