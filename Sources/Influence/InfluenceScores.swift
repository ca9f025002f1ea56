import Foundation
import Formats
import TensorCore

/// Influence scores of queries on training examples.
///
/// ```
/// score(q, m) = ∇f(z_q)ᵀ (H + λI)⁻¹ ∇L(z_m)
/// ```
/// A positive score means that up-weighting z_m lowers the query's loss (supports the query).
/// Nothing is normalised: gradients are of the summed loss of one example.
public struct InfluenceScores: Sendable {
    /// `[queries, train]`.
    public var pairwise: Tensor<Float>
    /// Per tracked module, `[queries, train]`; they add up to ``pairwise``.
    public var perModule: [(name: String, scores: Tensor<Float>)]
    /// `[queries, train, tokens]` when asked for: score_t = g_tᵀ P_q ā_t, adding up to the score.
    public var perToken: Tensor<Float>?
    /// `[train]`: ∇L(z_m)ᵀ (H + λI)⁻¹ ∇L(z_m).
    public var selfScores: Tensor<Float>?

    /// Writes `pairwise_scores.safetensors` (`all_modules`, one tensor per module, `per_token`) and
    /// `self_scores.safetensors` into `directory`, atomically.
    public func save(to directory: URL, metadata: [String: String]) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var tensors: [(name: String, payload: SafeTensorsPayload)] = [("all_modules", .float32(pairwise))]
        tensors += perModule.map { ($0.name, .float32($0.scores)) }
        if let perToken { tensors.append(("per_token", .float32(perToken))) }
        try SafeTensorsFile.write(tensors, metadata: metadata, to: directory.appendingPathComponent("pairwise_scores.safetensors"))
        if let selfScores {
            try SafeTensorsFile.write([("all_modules", .float32(selfScores))], metadata: metadata,
                                      to: directory.appendingPathComponent("self_scores.safetensors"))
        }
    }
}

/// What to compute besides the pairwise scores.
public struct ScoreConfiguration: Sendable {
    public var damping: Damping
    public var perModule: Bool
    public var perToken: Bool
    public var selfInfluence: Bool
    public var batchSize: Int
    public var queryBatchSize: Int
    /// Queries preconditioned and held in memory at once (each holds one gradient per tracked
    /// layer); the training data is streamed once per chunk.
    public var queryChunkSize: Int

    public init(damping: Damping = .automatic, perModule: Bool = false, perToken: Bool = false, selfInfluence: Bool = false,
                batchSize: Int = 8, queryBatchSize: Int = 8, queryChunkSize: Int = 64) {
        self.queryChunkSize = queryChunkSize
        self.damping = damping
        self.perModule = perModule
        self.perToken = perToken
        self.selfInfluence = selfInfluence
        self.batchSize = batchSize
        self.queryBatchSize = queryBatchSize
    }
}

/// How the query gradients are preconditioned: layer by layer with fitted factors, or jointly
/// over every tracked layer by solving (H + λI) x = g with a curvature operator.
enum QueryPreconditioning {
    case factors(Preconditioner<Float>)
    /// Solves for the columns of a `[dimension, queries]` matrix; `selfScores`, when the solver
    /// offers it, gives gᵀ (H + λI)⁻¹ g for the rows of `[examples, dimension]`.
    case solve(name: String, damping: Double, (Tensor<Float>) throws -> Tensor<Float>,
               selfScores: ((Tensor<Float>) throws -> Tensor<Float>)? = nil)
}

/// A value computed on first use and kept (the factor or eigenpairs shared by every query chunk).
final class Memo<Value> {
    private var value: Value?
    private let make: () throws -> Value
    init(_ make: @escaping () throws -> Value) { self.make = make }
    func get() throws -> Value {
        if let value { return value }
        let made = try make()
        value = made
        return made
    }
}

/// The classical solvers for ``ScoreComputer/init(task:curvature:solver:damping:configuration:)``.
public enum InverseSolver: Sendable {
    /// The dense matrix and its Cholesky factor (small models).
    case exact
    /// Conjugate gradient on operator products; a query whose solve does not reach the tolerance
    /// is an error when `failsWhenNotConverged`, else it is reported through ``ScoreComputer/warnings``.
    case conjugateGradient(tolerance: Double, maximumIterations: Int?, failsWhenNotConverged: Bool)
    /// LiSSA's stochastic Neumann recursion.
    case lissa(scale: Double, depth: Int, repeats: Int, batchSize: Int)
    /// The low-rank inverse on the top eigenpairs found in a Krylov space: the largest
    /// eigenvalues, or (`byMagnitude`, as pyDVL) the largest in absolute value.
    case arnoldi(rank: Int, krylovDimension: Int, byMagnitude: Bool = false)

    /// Whether self-influence can be computed cheaply (the inverse is kept in memory).
    public var offersSelfInfluence: Bool {
        switch self {
        case .exact, .arnoldi: return true
        case .conjugateGradient, .lissa: return false
        }
    }

    var name: String {
        switch self {
        case .exact: return "exact"
        case .conjugateGradient: return "cg"
        case let .lissa(scale, depth, repeats, batch): return "lissa/\(scale)/\(depth)/\(repeats)/\(batch)"
        case let .arnoldi(rank, krylov, magnitude): return "arnoldi/\(rank)/\(krylov)" + (magnitude ? "/magnitude" : "")
        }
    }
}

/// Computes scores of a task's queries against its training examples, with fitted factors or
/// with a curvature operator and a solver.
public final class ScoreComputer<Task: InfluenceTask> where Task.Scalar == Float {
    let task: Task
    let capture: GradientCapture<Float>
    /// Set when the curvature covers parameters outside Linear layers: every per-example
    /// gradient then comes from the operator's one-backward-pass-per-example path.
    var parameterGradients: CurvatureOperator<Task>? = nil
    var preconditioning: QueryPreconditioning
    public let configuration: ScoreConfiguration
    public var progress: ((String, Int, Int) -> Void)? {
        didSet { for op in curvatures { op.progress = progress } }
    }
    /// The curvature operators of the solves, which report their progress through ``progress``.
    var curvatures: [CurvatureOperator<Task>] = []
    /// Messages about solves that did not converge.
    public private(set) var warnings: [String] = []

    /// - Throws: ``InfluenceError`` when the factors belong to another model or other modules.
    public init(task: Task, factors: InfluenceFactors, factorsPath: String, configuration: ScoreConfiguration) throws {
        self.task = task
        self.capture = try GradientCapture(model: task.model, patterns: factors.moduleNames)
        try factors.check(modelFingerprint: ModelFingerprint.of(task.model), moduleNames: capture.names, path: factorsPath)
        self.preconditioning = .factors(try Preconditioner(factors: factors, damping: configuration.damping))
        self.configuration = configuration
    }

    /// Scores with the block-diagonal (layer-wise) variant: one curvature operator and one solve
    /// per tracked layer, ignoring the curvature between layers (as K-FAC and EK-FAC do).
    public convenience init(task: Task, modules patterns: [String], kind: CurvatureKind, layerwise solver: InverseSolver, damping: Double,
                            batchSize: Int, configuration: ScoreConfiguration) throws {
        let names = task.model.linearLayers(matching: patterns).map(\.name)
        guard !names.isEmpty else {
            throw InfluenceError.noTrackedModules(patterns: patterns, available: task.model.linearLayers().map(\.name))
        }
        let operators = try names.map { try CurvatureOperator(task: task, modules: [$0], kind: kind, batchSize: batchSize) }
        let whole = try CurvatureOperator(task: task, modules: names, kind: kind, batchSize: batchSize)
        try self.init(task: task, curvature: whole, solver: solver, damping: damping, configuration: configuration)
        let single = try names.indices.map { i in
            try ScoreComputer(task: task, curvature: operators[i], solver: solver, damping: damping, configuration: configuration)
        }
        curvatures = operators
        // Replace the joint solve by one solve per layer's rows.
        let sizes = operators.map(\.dimension)
        let solvers = single.map { computer -> ((Tensor<Float>) throws -> Tensor<Float>, ((Tensor<Float>) throws -> Tensor<Float>)?) in
            guard case let .solve(_, _, solve, selfScores) = computer.preconditioning else { preconditionFailure("unreachable") }
            return (solve, selfScores)
        }
        let layerSelfScores: ((Tensor<Float>) throws -> Tensor<Float>)? = solvers.allSatisfy { $0.1 != nil } ? { g in
            var offset = 0, total: Tensor<Float>? = nil
            for (i, size) in sizes.enumerated() {
                let part = try solvers[i].1!(g.sliced(along: 1, offset..<(offset + size)))
                total = total.map { $0 + part } ?? part
                offset += size
            }
            return total!
        } : nil
        preconditioning = .solve(name: "layerwise-" + solver.name, damping: damping, { b in
            var offset = 0
            var parts: [Tensor<Float>] = []
            for (i, size) in sizes.enumerated() {
                parts.append(try solvers[i].0(b.sliced(along: 0, offset..<(offset + size))))
                offset += size
            }
            return Tensor.concatenated(parts, along: 0)
        }, selfScores: layerSelfScores)
    }

    /// Scores with (H + λI)⁻¹ applied exactly or by conjugate gradient, jointly over every tracked
    /// layer of `curvature`. Self-influence is offered with the exact and Arnoldi solvers, whose
    /// inverse is a factor kept in memory (CG and LiSSA would need one solve per training example).
    /// The dense factor and the eigenpairs are computed once, for the first query chunk.
    public init(task: Task, curvature: CurvatureOperator<Task>, solver: InverseSolver, damping: Double,
                configuration: ScoreConfiguration) throws {
        precondition(!configuration.selfInfluence || solver.offersSelfInfluence,
                     "self-influence is offered with fitted factors and the exact and Arnoldi solvers")
        precondition(!(configuration.perToken && curvature.coversOtherParameters), "per-token scores need Linear layers only")
        self.task = task
        self.capture = try GradientCapture(model: task.model, patterns: curvature.names)
        if curvature.coversOtherParameters { parameterGradients = curvature }
        curvatures = [curvature]
        self.configuration = configuration
        var warn: (String) -> Void = { _ in }
        switch solver {
        case .exact:
            let inverse = Memo { try CurvatureSolver.ExactInverse(curvature, damping: damping) }
            preconditioning = .solve(name: "exact", damping: damping, { b in try inverse.get().solve(b) },
                                     selfScores: { g in try inverse.get().quadraticForms(g) })
        case let .conjugateGradient(tolerance, maximumIterations, fails):
            preconditioning = .solve(name: "cg/\(tolerance)", damping: damping) { b in
                let (x, iterations) = CurvatureSolver.conjugateGradient(curvature, damping: damping, rightHandSides: b, tolerance: tolerance,
                                                                        maximumIterations: maximumIterations)
                let failed = iterations.indices.filter { !iterations[$0].converged }
                if !failed.isEmpty {
                    let worst = failed.max { iterations[$0].relativeResidual < iterations[$1].relativeResidual }!
                    let negative = failed.contains { iterations[$0].foundNegativeCurvature }
                    let columns = failed.count == 1 ? "query column \(failed[0])" : "\(failed.count) of \(iterations.count) query columns"
                    let message = "conjugate gradient did not converge for \(columns): worst relative residual \(iterations[worst].relativeResidual) "
                        + "after \(iterations[worst].count) iterations (tolerance \(tolerance)); "
                        + (negative
                            ? "it met negative curvature, so H + λI is not positive definite: raise the damping above minus the lowest eigenvalue, or use the Gauss–Newton curvature"
                            : failed.allSatisfy { iterations[$0].limitedByPrecision }
                                ? "the recurrence reached the tolerance but single-precision products cannot: loosen the tolerance, or raise the damping"
                                : "raise the damping or the iteration limit")
                    if fails { throw InfluenceError.notConverged(message) }
                    warn(message)
                }
                return x
            }
        case let .lissa(scale, depth, repeats, batch):
            preconditioning = .solve(name: solver.name, damping: damping) { b in
                try CurvatureSolver.lissa(curvature, damping: damping, rightHandSides: b, scale: scale, depth: depth,
                                          repeats: repeats, batchSize: batch)
            }
        case let .arnoldi(rank, krylov, magnitude):
            let inverse = Memo {
                try CurvatureSolver.LowRankInverse(curvature, damping: damping, rank: rank, krylovDimension: krylov, byMagnitude: magnitude)
            }
            preconditioning = .solve(name: solver.name, damping: damping, { b in try inverse.get().solve(b) },
                                     selfScores: { g in try inverse.get().quadraticForms(g) })
        }
        warn = { [weak self] in self?.warnings.append($0) }
    }

    /// The blocks scores are split into: the tracked Linear layers, and with a curvature over
    /// every parameter, each other parameter.
    public var moduleNames: [String] { parameterGradients?.blockNames ?? capture.names }
    public var dampings: [Double] {
        switch preconditioning {
        case let .factors(p): return p.dampings
        case let .solve(_, damping, _, _): return Array(repeating: damping, count: moduleNames.count)
        }
    }

    var strategyName: String {
        switch preconditioning {
        case let .factors(p): return p.strategy.rawValue
        case let .solve(name, _, _, _): return name
        }
    }

    /// Preconditioned query gradients of the queries in `range`, per module: `[queries, out, in]`.
    func preconditionedQueries(_ range: Range<Int>) throws -> [Tensor<Float>] {
        var parts = [[Tensor<Float>]](repeating: [], count: moduleNames.count)
        let q = task.queryCount
        var done = range.lowerBound
        for start in stride(from: range.lowerBound, to: range.upperBound, by: configuration.queryBatchSize) {
            let indices = Array(start..<Swift.min(range.upperBound, start + configuration.queryBatchSize))
            if let source = parameterGradients {
                let blocks = try source.perExampleGradients(indices) { self.task.queryMeasurement(indices: $0) }
                for (i, g) in blocks.enumerated() { parts[i].append(g) }
                done += indices.count
                progress?("queries", done, q)
                continue
            }
            let record = capture.record { task.queryMeasurement(indices: indices) }
            guard record.loss.isFinite else { throw InfluenceError.nonFinite(what: "the measurement of query \(indices[0])") }
            for (i, layer) in record.layers.enumerated() {
                let g = layer.perExampleGradients(examples: indices.count)
                if case let .factors(p) = preconditioning { parts[i].append(p.apply(g, layer: i)) } else { parts[i].append(g) }
            }
            done += indices.count
            progress?("queries", done, q)
        }
        let gradients = parts.map { Tensor.concatenated($0, along: 0) }
        guard case let .solve(_, _, solve, _) = preconditioning else { return gradients }
        // One joint solve over every layer: columns are queries.
        let count = range.count
        let flat = Tensor.concatenated(gradients.map { $0.reshaped(to: [count, -1]) }, along: 1).transposed()   // [dimension, q]
        let solved = try solve(flat).transposed()                                                              // [q, dimension]
        var offset = 0
        return gradients.map { g in
            let size = g.shape[1] * g.shape[2]
            defer { offset += size }
            return solved.sliced(along: 1, offset..<(offset + size)).reshaped(to: g.shape)
        }
    }

    /// gᵀ (H + λI)⁻¹ g for each example of per-block gradients `[examples, rows, columns]`, jointly
    /// over the blocks (the exact and Arnoldi solvers).
    func solvedSelfScores(_ rows: [Tensor<Float>]) throws -> Tensor<Float> {
        guard case let .solve(_, _, _, selfScores?) = preconditioning else { preconditionFailure("self-influence needs factors or a kept inverse") }
        return try selfScores(Tensor.concatenated(rows, along: 0))
    }

    /// Rows of flat per-example gradients waiting for their solved self scores: the solve reads the
    /// whole factor, so it runs on a few hundred rows at once rather than on each batch.
    static var selfSolveRows: Int { 256 }

    /// Scores every query, one chunk of ``ScoreConfiguration/queryChunkSize`` queries at a time.
    ///
    /// - Parameters:
    ///   - partialDirectory: when given, partial results are saved there (`partial-scores.safetensors`)
    ///     every `checkpointInterval` training batches and after each chunk, and a run interrupted
    ///     earlier with the same factors, options and data resumes from them; the file is removed
    ///     when the run completes.
    public func compute(partialDirectory: URL? = nil, checkpointInterval: Int = 50) throws -> InfluenceScores {
        let total = task.queryCount
        let size = Swift.max(1, configuration.queryChunkSize)
        let chunks = stride(from: 0, to: total, by: size).map { $0..<Swift.min(total, $0 + size) }
        let checkpoint = partialDirectory.map { ScoringCheckpoint(url: $0.appendingPathComponent("partial-scores.safetensors"), key: resumeKey) }
        var completed: InfluenceScores? = nil
        var startChunk = 0
        var resume: (scores: InfluenceScores, examples: Int)? = nil
        if let checkpoint, let state = try checkpoint.load(moduleNames: moduleNames) {
            completed = state.completed
            startChunk = state.completedChunks
            resume = state.current.map { ($0, state.examplesDone) }
        }
        for k in startChunk..<chunks.count {
            // Self-influence does not depend on the queries: compute it with the first chunk only.
            let current = try compute(queries: chunks[k], selfInfluence: configuration.selfInfluence && k == 0,
                                      resume: k == startChunk ? resume : nil, checkpointInterval: checkpointInterval) { partial, examples in
                try checkpoint?.save(completedChunks: k, completed: completed, current: partial, examplesDone: examples)
            }
            completed = completed.map { Self.appendingRows(current, to: $0) } ?? current
            if k + 1 < chunks.count { try checkpoint?.save(completedChunks: k + 1, completed: completed, current: nil, examplesDone: 0) }
        }
        if let checkpoint { try? FileManager.default.removeItem(at: checkpoint.url) }
        return completed!
    }

    /// What identifies a scoring run: the factors, the options that change results, and the data.
    var resumeKey: String {
        [strategyName, dampings.map { String($0) }.joined(separator: ","), moduleNames.joined(separator: ","),
         "\(configuration.perModule)\(configuration.perToken)\(configuration.selfInfluence)", "\(configuration.batchSize)/\(configuration.queryChunkSize)",
         ModelFingerprint.of(task.model), task.trainingDataFingerprint, task.queryDataFingerprint].joined(separator: "|")
    }

    /// `rows` below `scores`: more queries, the same training examples.
    static func appendingRows(_ rows: InfluenceScores, to scores: InfluenceScores) -> InfluenceScores {
        InfluenceScores(
            pairwise: Tensor.concatenated([scores.pairwise, rows.pairwise], along: 0),
            perModule: scores.perModule.indices.map { i in
                (scores.perModule[i].name, Tensor.concatenated([scores.perModule[i].scores, rows.perModule[i].scores], along: 0))
            },
            perToken: scores.perToken.map { Tensor.concatenated([$0, rows.perToken!], along: 0) },
            selfScores: scores.selfScores ?? rows.selfScores)
    }

    func compute(queries range: Range<Int>, selfInfluence: Bool, resume: (scores: InfluenceScores, examples: Int)? = nil,
                 checkpointInterval: Int = 50, save: (InfluenceScores, Int) throws -> Void = { _, _ in }) throws -> InfluenceScores {
        let queries = try preconditionedQueries(range)
        let q = range.count, n = task.trainingExampleCount
        let flatQueries = queries.map { $0.reshaped(to: [q, -1]) }
        var moduleColumns = [[Tensor<Float>]](repeating: [], count: configuration.perModule ? queries.count : 0)
        var totalColumns: [Tensor<Float>] = [], selfParts: [Tensor<Float>] = [], tokenParts: [Tensor<Float>] = []
        var pendingSelf: [Tensor<Float>] = [], pendingRows = 0
        /// Solves the self scores of the pending rows (solver strategies only).
        func flushSelf() throws {
            guard pendingRows > 0 else { return }
            selfParts.append(try solvedSelfScores(pendingSelf))
            pendingSelf = []
            pendingRows = 0
        }
        func queueSelf(_ blocks: [Tensor<Float>], examples: Int) throws {
            pendingSelf.append(Tensor.concatenated(blocks.map { $0.reshaped(to: [examples, -1]) }, along: 1))
            pendingRows += examples
            if pendingRows >= Self.selfSolveRows { try flushSelf() }
        }
        var maxTokens = 0
        var generator = SeededGenerator(seed: 0)
        var done = 0
        if let resume {
            // The columns scored before the interruption, as one part each.
            totalColumns.append(resume.scores.pairwise)
            for i in moduleColumns.indices { moduleColumns[i].append(resume.scores.perModule[i].scores) }
            if let t = resume.scores.perToken { tokenParts.append(t); maxTokens = t.shape[2] }
            if let s = resume.scores.selfScores { selfParts.append(s) }
            done = resume.examples
        }
        /// The scores of the columns done so far (all of them at the end).
        func partial() -> InfluenceScores {
            InfluenceScores(pairwise: Tensor.concatenated(totalColumns, along: 1),
                            perModule: configuration.perModule ? zip(moduleNames, moduleColumns).map { ($0, Tensor.concatenated($1, along: 1)) } : [],
                            perToken: configuration.perToken
                                ? Tensor.concatenated(tokenParts.map { $0.padded(along: 2, before: 0, after: maxTokens - $0.shape[2]) }, along: 1) : nil,
                            selfScores: selfInfluence ? Tensor.concatenated(selfParts, along: 0) : nil)
        }
        var batchIndex = 0
        let solvedSelf: Bool
        if case .solve = preconditioning { solvedSelf = selfInfluence } else { solvedSelf = false }
        for start in stride(from: done, to: n, by: configuration.batchSize) {
            let indices = Array(start..<Swift.min(n, start + configuration.batchSize))
            let b = indices.count
            var batchScores = Tensor<Float>.zeros(shape: [q, b])
            var batchSelf = Tensor<Float>.zeros(shape: [b])
            var batchTokens: Tensor<Float>? = nil, t = 1
            /// Adds the scores of block i's per-example gradients `[b, rows, columns]`.
            func score(_ i: Int, _ g: Tensor<Float>) {
                let s = Tensor.matmul(flatQueries[i], g.reshaped(to: [b, -1]), transposeB: true)   // [q, b]
                batchScores += s
                if configuration.perModule { moduleColumns[i].append(s) }
                if selfInfluence, case let .factors(p) = preconditioning { batchSelf += p.selfScores(g, layer: i) }
            }
            var perExample: [Tensor<Float>] = []   // kept only for the solved self scores
            if let source = parameterGradients {
                // Every parameter: one backward pass per example.
                perExample = try source.perExampleGradients(indices) { self.task.trainingLoss(indices: $0, labels: .data, generator: &generator) }
                for (i, g) in perExample.enumerated() { score(i, g) }
            } else {
                let record = capture.record { task.trainingLoss(indices: indices, labels: .data, generator: &generator) }
                guard record.loss.isFinite else { throw InfluenceError.nonFinite(what: "the training loss of example \(indices[0])") }
                t = record.rowsPerExample
                if configuration.perToken { batchTokens = Tensor<Float>.zeros(shape: [q, b, t]) }
                for (i, layer) in record.layers.enumerated() {
                    let g = layer.perExampleGradients(examples: b)
                    score(i, g)
                    if solvedSelf { perExample.append(g) }
                    if configuration.perToken {
                        // score_t = Σ_o,i g_t,o P_q,o,i ā_t,i for every row t, added into [q, b·t].
                        let (out, inp) = (queries[i].shape[1], queries[i].shape[2])
                        for query in 0..<q {
                            let p = queries[i].sliced(along: 0, query..<(query + 1)).reshaped(to: [out, inp])
                            let perRow = (Tensor.matmul(layer.outputGradients, p) * layer.activations).sum(alongAxes: [1])
                            batchTokens!.withUnsafeMutableBufferPointer { dst in
                                perRow.withUnsafeBufferPointer { src in
                                    for r in 0..<src.count { dst[query * b * t + r] += src[r] }
                                }
                            }
                        }
                    }
                }
            }
            totalColumns.append(batchScores)
            if solvedSelf {
                try queueSelf(perExample, examples: b)
            } else if selfInfluence {
                selfParts.append(batchSelf)
            }
            if let batchTokens { tokenParts.append(batchTokens); maxTokens = Swift.max(maxTokens, t) }
            done += b
            batchIndex += 1
            progress?("train", done, n)
            if done < n && batchIndex % Swift.max(1, checkpointInterval) == 0 { try flushSelf(); try save(partial(), done) }
        }
        try flushSelf()
        return partial()
    }
}

/// Partial results of a scoring run in one safetensors file: the rows of the finished query
/// chunks (`done.*`) and the columns of the chunk in progress (`current.*`).
struct ScoringCheckpoint {
    let url: URL
    let key: String

    struct State {
        var completedChunks: Int
        var completed: InfluenceScores?
        var current: InfluenceScores?
        var examplesDone: Int
    }

    static func tensors(_ scores: InfluenceScores?, prefix: String) -> [(name: String, payload: SafeTensorsPayload)] {
        guard let scores else { return [] }
        var result: [(name: String, payload: SafeTensorsPayload)] = [("\(prefix).pairwise", .float32(scores.pairwise))]
        result += scores.perModule.enumerated().map { ("\(prefix).module.\($0.offset)", .float32($0.element.scores)) }
        if let t = scores.perToken { result.append(("\(prefix).per_token", .float32(t))) }
        if let s = scores.selfScores { result.append(("\(prefix).self", .float32(s))) }
        return result
    }

    func save(completedChunks: Int, completed: InfluenceScores?, current: InfluenceScores?, examplesDone: Int) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try SafeTensorsFile.write(Self.tensors(completed, prefix: "done") + Self.tensors(current, prefix: "current"),
                                  metadata: ["key": key, "completed_chunks": String(completedChunks), "examples_done": String(examplesDone)],
                                  to: url)
    }

    /// The saved state when the file exists and belongs to the same run; nil otherwise.
    func load(moduleNames: [String]) throws -> State? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let file = try SafeTensorsFile(contentsOf: url)
        guard file.metadata["key"] == key, let chunks = file.metadata["completed_chunks"].flatMap(Int.init),
              let examples = file.metadata["examples_done"].flatMap(Int.init) else { return nil }
        func read(_ prefix: String) throws -> InfluenceScores? {
            guard file.contains(tensorNamed: "\(prefix).pairwise") else { return nil }
            func optional(_ name: String) throws -> Tensor<Float>? {
                file.contains(tensorNamed: name) ? try file.tensor(named: name, as: Float.self) : nil
            }
            var modules: [(name: String, scores: Tensor<Float>)] = []
            for (i, name) in moduleNames.enumerated() {
                if let t = try optional("\(prefix).module.\(i)") { modules.append((name, t)) }
            }
            return InfluenceScores(pairwise: try file.tensor(named: "\(prefix).pairwise", as: Float.self), perModule: modules,
                                   perToken: try optional("\(prefix).per_token"), selfScores: try optional("\(prefix).self"))
        }
        return State(completedChunks: chunks, completed: try read("done"), current: try read("current"), examplesDone: examples)
    }
}
