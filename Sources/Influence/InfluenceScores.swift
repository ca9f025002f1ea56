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

/// Computes scores of a task's queries against its training examples with fitted factors.
public final class ScoreComputer<Task: InfluenceTask> where Task.Scalar == Float {
    let task: Task
    let capture: GradientCapture<Float>
    let preconditioner: Preconditioner<Float>
    public let configuration: ScoreConfiguration
    public var progress: ((String, Int, Int) -> Void)?

    /// - Throws: ``InfluenceError`` when the factors belong to another model or other modules.
    public init(task: Task, factors: InfluenceFactors, factorsPath: String, configuration: ScoreConfiguration) throws {
        self.task = task
        self.capture = try GradientCapture(model: task.model, patterns: factors.moduleNames)
        try factors.check(modelFingerprint: ModelFingerprint.of(task.model), moduleNames: capture.names, path: factorsPath)
        self.preconditioner = try Preconditioner(factors: factors, damping: configuration.damping)
        self.configuration = configuration
    }

    public var moduleNames: [String] { capture.names }
    public var dampings: [Double] { preconditioner.dampings }

    /// Preconditioned query gradients of the queries in `range`, per module: `[queries, out, in]`.
    func preconditionedQueries(_ range: Range<Int>) throws -> [Tensor<Float>] {
        var parts = [[Tensor<Float>]](repeating: [], count: capture.layers.count)
        let q = task.queryCount
        var done = range.lowerBound
        for start in stride(from: range.lowerBound, to: range.upperBound, by: configuration.queryBatchSize) {
            let indices = Array(start..<Swift.min(range.upperBound, start + configuration.queryBatchSize))
            let record = capture.record { task.queryMeasurement(indices: indices) }
            guard record.loss.isFinite else { throw InfluenceError.nonFinite(what: "the measurement of query \(indices[0])") }
            for (i, layer) in record.layers.enumerated() {
                parts[i].append(preconditioner.apply(layer.perExampleGradients(examples: indices.count), layer: i))
            }
            done += indices.count
            progress?("queries", done, q)
        }
        return parts.map { Tensor.concatenated($0, along: 0) }
    }

    /// Scores every query, one chunk of ``ScoreConfiguration/queryChunkSize`` queries at a time.
    public func compute() throws -> InfluenceScores {
        let total = task.queryCount
        let chunks = stride(from: 0, to: total, by: Swift.max(1, configuration.queryChunkSize)).map {
            $0..<Swift.min(total, $0 + Swift.max(1, configuration.queryChunkSize))
        }
        var results: [InfluenceScores] = []
        for (k, chunk) in chunks.enumerated() {
            // Self-influence does not depend on the queries: compute it with the first chunk only.
            results.append(try compute(queries: chunk, selfInfluence: configuration.selfInfluence && k == 0))
        }
        guard results.count > 1 else { return results[0] }
        return InfluenceScores(
            pairwise: Tensor.concatenated(results.map(\.pairwise), along: 0),
            perModule: results[0].perModule.indices.map { i in
                (results[0].perModule[i].name, Tensor.concatenated(results.map { $0.perModule[i].scores }, along: 0))
            },
            perToken: configuration.perToken ? Tensor.concatenated(results.map { $0.perToken! }, along: 0) : nil,
            selfScores: results[0].selfScores)
    }

    func compute(queries range: Range<Int>, selfInfluence: Bool) throws -> InfluenceScores {
        let queries = try preconditionedQueries(range)
        let q = range.count, n = task.trainingExampleCount
        let flatQueries = queries.map { $0.reshaped(to: [q, -1]) }
        var total = Tensor<Float>.zeros(shape: [q, n])
        var modules = [Tensor<Float>](repeating: Tensor.zeros(shape: [0]), count: configuration.perModule ? queries.count : 0)
        var moduleColumns = [[Tensor<Float>]](repeating: [], count: configuration.perModule ? queries.count : 0)
        var totalColumns: [Tensor<Float>] = [], selfParts: [Tensor<Float>] = [], tokenParts: [Tensor<Float>] = []
        var maxTokens = 0
        var generator = SeededGenerator(seed: 0)
        var done = 0
        for start in stride(from: 0, to: n, by: configuration.batchSize) {
            let indices = Array(start..<Swift.min(n, start + configuration.batchSize))
            let record = capture.record { task.trainingLoss(indices: indices, labels: .data, generator: &generator) }
            guard record.loss.isFinite else { throw InfluenceError.nonFinite(what: "the training loss of example \(indices[0])") }
            let b = indices.count, t = record.rowsPerExample
            var batchScores = Tensor<Float>.zeros(shape: [q, b])
            var batchSelf = Tensor<Float>.zeros(shape: [b])
            var batchTokens = configuration.perToken ? Tensor<Float>.zeros(shape: [q, b, t]) : nil
            for (i, layer) in record.layers.enumerated() {
                let g = layer.perExampleGradients(examples: b)
                let s = Tensor.matmul(flatQueries[i], g.reshaped(to: [b, -1]), transposeB: true)   // [q, b]
                batchScores += s
                if configuration.perModule { moduleColumns[i].append(s) }
                if selfInfluence { batchSelf += preconditioner.selfScores(g, layer: i) }
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
            totalColumns.append(batchScores)
            if selfInfluence { selfParts.append(batchSelf) }
            if let batchTokens { tokenParts.append(batchTokens); maxTokens = Swift.max(maxTokens, t) }
            done += b
            progress?("train", done, n)
        }
        total = Tensor.concatenated(totalColumns, along: 1)
        if configuration.perModule { modules = moduleColumns.map { Tensor.concatenated($0, along: 1) } }
        let perToken: Tensor<Float>? = configuration.perToken
            ? Tensor.concatenated(tokenParts.map { $0.padded(along: 2, before: 0, after: maxTokens - $0.shape[2]) }, along: 1) : nil
        return InfluenceScores(pairwise: total, perModule: configuration.perModule ? Array(zip(capture.names, modules)).map { ($0.0, $0.1) } : [],
                               perToken: perToken, selfScores: selfInfluence ? Tensor.concatenated(selfParts, along: 0) : nil)
    }
}
