import Foundation
import Formats
import TensorCore

/// Computes scores of a task's queries against its training examples with the inverse of a fitted
/// curvature (any ``CurvatureStrategy``).
///
/// Queries are preconditioned once per chunk of ``ScoreConfiguration/queryChunkSize`` and the
/// training data is streamed once per chunk: score(q, m) = ⟨P_q, G_m⟩ summed over blocks, with
/// P_q = (H + λI)⁻¹ ∇f(z_q) and G_m the training example's gradient, formed per batch.
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
    public let configuration: ScoreConfiguration
    /// Receives (stage, done, total): "queries" and "train".
    public var progress: ((String, Int, Int) -> Void)?
    /// Messages about solves that did not converge.
    public var warnings: [String] { inverse.warnings }

    /// Scores with a fitted curvature, inverted with the configuration's damping.
    ///
    /// - Throws: ``InfluenceError`` when the damping does not suit the fit, when self-influence or
    ///   per-token scores are asked of a strategy that does not offer them.
    public init(task: Task, fitted: any FittedCurvature, configuration: ScoreConfiguration) throws {
        self.task = task
        self.configuration = configuration
        capture = try GradientCapture(model: task.model, patterns: fitted.linearLayerNames)
        inverse = try fitted.inverse(damping: configuration.damping)
        moduleNames = fitted.blockNames
        if configuration.selfInfluence && !inverse.offersSelfInfluence {
            throw InfluenceError.notOffered("self-influence is not offered by \(fitted.strategyDescription): it would need one solve per "
                                            + "training example; use fitted factors or the exact or arnoldi strategy")
        }
        if fitted.coversOtherParameters {
            if configuration.perToken { throw InfluenceError.notOffered("per-token scores need a curvature over Linear layers only") }
            let source = try CurvatureOperator(task: task, modules: [], kind: .ggn, allParameters: true)
            guard source.blockNames == fitted.blockNames else {
                preconditionFailure("blocks \(source.blockNames) of the model differ from the fit's \(fitted.blockNames)")
            }
            parameterGradients = source
        } else {
            parameterGradients = nil
        }
    }

    /// Scores with fitted factors.
    ///
    /// - Throws: ``InfluenceError`` when the factors belong to another model or other modules.
    public convenience init(task: Task, factors: InfluenceFactors, factorsPath: String, configuration: ScoreConfiguration) throws {
        let names = task.model.linearLayers(matching: factors.moduleNames).map(\.name)
        try factors.check(modelFingerprint: ModelFingerprint.of(task.model), moduleNames: names, path: factorsPath)
        try self.init(task: task, fitted: factors, configuration: configuration)
    }

    /// Scores with a solver strategy on the curvature of a given operator and a numeric damping.
    public convenience init<Strategy: OperatorCurvatureStrategy>(task: Task, curvature: CurvatureOperator<Task>, strategy: Strategy,
                                                                 damping: Double, configuration: ScoreConfiguration) throws {
        var configuration = configuration
        configuration.damping = .value(damping)
        try self.init(task: task, fitted: try strategy.fit(operator: curvature.erased()), configuration: configuration)
    }

    public var dampings: [Double] { inverse.dampings }
    /// The strategy with its options, as resume keys and files name it.
    public var strategyName: String { inverse.description }

    /// Preconditioned query gradients of the queries in `range`, per block: `[queries, out, in]`.
    func preconditionedQueries(_ range: Range<Int>) throws -> [Tensor<Float>] {
        var parts = [[Tensor<Float>]](repeating: [], count: moduleNames.count)
        let q = task.queryCount
        var done = range.lowerBound
        for start in stride(from: range.lowerBound, to: range.upperBound, by: configuration.queryBatchSize) {
            let indices = Array(start..<Swift.min(range.upperBound, start + configuration.queryBatchSize))
            if let source = parameterGradients {
                let blocks = try source.perExampleGradients(indices) { self.task.queryMeasurement(indices: $0) }
                for (i, g) in blocks.enumerated() { parts[i].append(g) }
            } else {
                let record = capture.record { task.queryMeasurement(indices: indices) }
                guard record.loss.isFinite else { throw InfluenceError.nonFinite(what: "the measurement of query \(indices[0])") }
                for (i, layer) in record.layers.enumerated() { parts[i].append(layer.perExampleGradients(examples: indices.count)) }
            }
            done += indices.count
            progress?("queries", done, q)
        }
        return try inverse.apply(parts.map { Tensor.concatenated($0, along: 0) })
    }

    /// Scores every query, one chunk of ``ScoreConfiguration/queryChunkSize`` queries at a time.
    ///
    /// - Parameters:
    ///   - partialDirectory: when given, partial results are saved there (`partial-scores.safetensors`)
    ///     every `checkpointInterval` training batches and after each chunk, and a run interrupted
    ///     earlier with the same fit, options and data resumes from them; the file is removed
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
            completed = completed.map { $0.appendingRows(current) } ?? current
            if k + 1 < chunks.count { try checkpoint?.save(completedChunks: k + 1, completed: completed, current: nil, examplesDone: 0) }
        }
        if let checkpoint { try? FileManager.default.removeItem(at: checkpoint.url) }
        return completed!
    }

    /// What identifies a scoring run: the fit, the options that change results, and the data.
    var resumeKey: String {
        [strategyName, dampings.map { String($0) }.joined(separator: ","), moduleNames.joined(separator: ","),
         "\(configuration.perModule)\(configuration.perToken)\(configuration.selfInfluence)", "\(configuration.batchSize)/\(configuration.queryChunkSize)",
         ModelFingerprint.of(task.model), task.trainingDataFingerprint, task.queryDataFingerprint].joined(separator: "|")
    }

    func compute(queries range: Range<Int>, selfInfluence: Bool, resume: (scores: InfluenceScores, examples: Int)? = nil,
                 checkpointInterval: Int = 50, save: (InfluenceScores, Int) throws -> Void = { _, _ in }) throws -> InfluenceScores {
        let queries = try preconditionedQueries(range)
        let q = range.count, n = task.trainingExampleCount
        let flatQueries = queries.map { $0.reshaped(to: [q, -1]) }
        var moduleColumns = [[Tensor<Float>]](repeating: [], count: configuration.perModule ? queries.count : 0)
        var totalColumns: [Tensor<Float>] = [], selfParts: [Tensor<Float>] = [], tokenParts: [Tensor<Float>] = []
        // Per-example gradients waiting for their self scores, per block; the inverse says how
        // many rows it wants at once (a solve that reads a whole factor runs on a few hundred).
        var pendingSelf = [[Tensor<Float>]](repeating: [], count: queries.count), pendingRows = 0
        func flushSelf() throws {
            guard pendingRows > 0 else { return }
            selfParts.append(try inverse.selfScores(pendingSelf.map { Tensor.concatenated($0, along: 0) }))
            pendingSelf = pendingSelf.map { _ in [] }
            pendingRows = 0
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
        for start in stride(from: done, to: n, by: configuration.batchSize) {
            let indices = Array(start..<Swift.min(n, start + configuration.batchSize))
            let b = indices.count
            var batchScores = Tensor<Float>.zeros(shape: [q, b])
            var batchTokens: Tensor<Float>? = nil, t = 1
            /// Adds the scores of block i's per-example gradients `[b, rows, columns]`.
            func score(_ i: Int, _ g: Tensor<Float>) {
                let s = Tensor.matmul(flatQueries[i], g.reshaped(to: [b, -1]), transposeB: true)   // [q, b]
                batchScores += s
                if configuration.perModule { moduleColumns[i].append(s) }
                if selfInfluence { pendingSelf[i].append(g) }
            }
            if let source = parameterGradients {
                // Every parameter: one backward pass per example.
                let perExample = try source.perExampleGradients(indices) { self.task.trainingLoss(indices: $0, labels: .data, generator: &generator) }
                for (i, g) in perExample.enumerated() { score(i, g) }
            } else {
                let record = capture.record { task.trainingLoss(indices: indices, labels: .data, generator: &generator) }
                guard record.loss.isFinite else { throw InfluenceError.nonFinite(what: "the training loss of example \(indices[0])") }
                t = record.rowsPerExample
                if configuration.perToken { batchTokens = Tensor<Float>.zeros(shape: [q, b, t]) }
                for (i, layer) in record.layers.enumerated() {
                    score(i, layer.perExampleGradients(examples: b))
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
            if selfInfluence {
                pendingRows += b
                if pendingRows >= inverse.selfScoreRows { try flushSelf() }
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
