import ModelIO
import Distributed
import Datasets
import Foundation
import Formats
import Influence
import Retrieval
import TensorCore
import Training

/// What `influence scores` does: every training row's influence on every query, written to a
/// directory with a summary.
public struct ScoresRequest {
    /// Where the curvature comes from.
    public enum Source {
        /// A fit saved by `influence fit` (any strategy whose fit is saved).
        case fit(URL)
        /// A strategy fitted here (for solvers, the only way), optionally in its layer-wise variant.
        case strategy(any CurvatureStrategy, layerwise: Bool)
    }

    /// The model directory, the training rows and the queries.
    public var inputs: TaskInputs
    /// Where the curvature comes from: a saved fit or a strategy fitted here.
    public var source: Source
    /// Module groups and name patterns (see ``FitRequest/modules``); `all` with a solver strategy
    /// covers every trainable parameter.
    public var modules: String?
    /// The curvature solvers apply: the Hessian, the Gauss–Newton matrix (the default) or the empirical Fisher.
    public var curvature: CurvatureKind
    /// Training rows per curvature-product batch; nil for 1024 (MLP) or 16 (language model).
    public var curvatureBatchSize: Int?
    /// The `checkpoints` directory of `influence train --save-every` (TracIn).
    public var checkpoints: URL?
    /// Labels of a factor fit made here (sampled: the true Fisher).
    public var labels: LabelSource
    /// What is scored and kept (dense, top per query or selected pairs; per module, per token), batch size and communicator.
    public var configuration: ScoreConfiguration
    /// A candidate file of `influence candidates`: score only its (query, row) pairs, which
    /// replaces ``ScoreConfiguration/selection``.
    public var candidates: URL?
    /// The directory the scores, their summary and the partial results of an interrupted run are written to.
    public var output: URL
    /// Bytes the run may use in all (its ``MemoryPlan``'s peak, for fitted factors); nil for the memory available.
    public var memoryLimit: Int? = nil
    /// Receives the memory plan before the training rows are streamed.
    public var showPlan: ((MemoryPlan) -> Void)? = nil

    /// Creates a request.
    ///
    /// - Parameters:
    ///   - inputs: the model directory, the training rows and the queries.
    ///   - source: a saved fit or a strategy to fit here.
    ///   - modules: module groups and name patterns; nil for every Linear layer.
    ///   - curvature: the curvature solvers apply.
    ///   - curvatureBatchSize: training rows per curvature-product batch; nil for the default.
    ///   - checkpoints: the TracIn checkpoints directory, if any.
    ///   - labels: the labels of a factor fit made here.
    ///   - configuration: what is scored and kept.
    ///   - candidates: a candidate file restricting the pairs scored, if any.
    ///   - output: the output directory.
    public init(
        inputs: TaskInputs, source: Source, modules: String? = nil, curvature: CurvatureKind = .ggn, curvatureBatchSize: Int? = nil,
        checkpoints: URL? = nil, labels: LabelSource = .sampled, configuration: ScoreConfiguration, candidates: URL? = nil, output: URL
    ) {
        self.inputs = inputs
        self.source = source
        self.modules = modules
        self.curvature = curvature
        self.curvatureBatchSize = curvatureBatchSize
        self.checkpoints = checkpoints
        self.labels = labels
        self.configuration = configuration
        self.candidates = candidates
        self.output = output
    }
}

/// What a scoring run computed and wrote.
public struct ScoresReport {
    /// The scores and what they are split into, as the engine returned them.
    public var run: ScoringRun
    /// The number of queries scored.
    public var queryCount: Int
    /// The number of training rows scored.
    public var trainingCount: Int
    /// The strategy as a person reads it: `ekfac`, `cg (ggn, 1,056 parameters)`, `layer-wise exact (...)`.
    public var label: String
    /// Wall-clock seconds of fitting (when fitted here) and scoring.
    public var seconds: Double
    /// The training documents and the rows they became (language models).
    public var documents: DocumentChunks?
    /// With dense scores: the sum over each document's rows, `[queries, documents]`.
    public var documentScores: Tensor<Float>?
    /// With fitted factors: the passes over the training rows and what the queries held.
    public var queryStatistics: QueryStatistics?
    /// With fitted factors: the plan made before the run, and the peak resident memory measured after.
    public var plan: MemoryPlan? = nil
    /// The process's peak resident memory in bytes, read when the report is made.
    public var peakResident = TensorMemory.peakResidentBytes
}

extension Workflows {
    /// Scores, writes `pairwise_scores.safetensors` (and `self_scores.safetensors`) and `summary.json`.
    /// An interrupted run resumes from the partial results it keeps in the output directory.
    public static func scores(_ request: ScoresRequest, progress: ((String, Int, Int) -> Void)? = nil) throws -> ScoresReport {
        let loaded = try TaskLoader.load(request.inputs)
        switch loaded.task {  // the concrete types, so that the engine runs specialised (see LoadedTask.LanguageTask)
        case let task as LoadedTask.LanguageTask: return try scores(task, loaded, request, progress: progress)
        case let task as ClassificationTask<Float>: return try scores(task, loaded, request, progress: progress)
        default: return try scores(loaded.task, loaded, request, progress: progress)
        }
    }

    static func scores<Task: InfluenceTask>(
        _ task: Task, _ loaded: LoadedTask, _ request: ScoresRequest,
        progress: ((String, Int, Int) -> Void)?
    ) throws -> ScoresReport where Task.Scalar == Float {
        var request = request
        if let url = request.candidates {
            let lists = try CandidateFile.read(
                contentsOf: url, documentCount: task.trainingExampleCount, queryCount: task.queryCount,
                data: candidateDataFingerprint(task))
            request.configuration.selection = .candidates(lists.map(\.documents))
        }
        let allParameters = request.modules?.split(separator: ",").contains("all") == true
        var context = CurvatureContext(
            task: task, modules: task.model.linearLayerPatterns(for: request.modules), labels: request.labels,
            batchSize: request.configuration.batchSize, progress: progress)
        context.curvature = request.curvature
        context.communicator = request.configuration.communicator
        // Sequences are long and feature rows short: 16 sequences or 1,024 rows per curvature product.
        let isSequenceTask = task.trainingExampleCount > 0 && task.trainingTokens(0) != nil
        context.curvatureBatchSize = request.curvatureBatchSize ?? (isSequenceTask ? 16 : 1024)
        let started = Date()
        let run: ScoringRun
        var label: String
        var statistics: QueryStatistics? = nil
        var memoryPlan: MemoryPlan? = nil
        /// The Fisher's labels, for strategies that fit factors.
        var fisher: String? = nil
        switch request.source {
        case let .fit(directory):
            let fitted = try CurvatureStrategies.loadFit(from: directory)
            if let factors = fitted as? InfluenceFactors {
                fisher = factors.labels.rawValue
                let names = task.model.trackableLayers(matching: factors.moduleNames).map(\.name)
                try factors.check(modelFingerprint: ModelFingerprint.of(task.model), moduleNames: names, path: directory.path)
            }
            let computer = try ScoreComputer(task: task, fitted: fitted, configuration: request.configuration)
            computer.progress = progress
            if request.configuration.mergedParts == nil {
                let plan = computer.memoryPlan()
                request.showPlan?(plan)
                try plan.check(limit: request.memoryLimit ?? Int(ModelFootprint.availableBytes))
                memoryPlan = plan
            }
            let output = try computer.computeResult(partialDirectory: request.output)
            statistics = computer.queryStatistics
            run = ScoringRun(
                output: output, strategy: computer.strategyName, moduleNames: computer.moduleNames, dampings: computer.dampings,
                warnings: computer.warnings)
            label = fitted.strategyDescription
        case let .strategy(base, layerwise):
            let type = type(of: base)
            if base is any FactorCurvatureStrategy { fisher = request.labels.rawValue }
            if allParameters && !type.coversEveryParameter {
                throw WorkflowError(
                    "--modules all is offered with strategies that cover every parameter (\(CurvatureStrategies.all.filter { $0.coversEveryParameter }.map { $0.name }.joined(separator: ", ")))"
                )
            }
            context.allParameters = allParameters
            if request.checkpoints != nil && (request.configuration.partition != nil || request.configuration.mergedParts != nil) {
                throw WorkflowError("--partition is not offered with TracIn (--checkpoints); run it in one process or under mpirun")
            }
            if let directory = request.checkpoints {
                let index = try CheckpointIndex(directory: directory)
                guard !index.entries.isEmpty else {
                    throw WorkflowError(
                        "\(directory.appendingPathComponent(CheckpointIndex.fileName).path) is missing or lists no checkpoint; train with --save-every N")
                }
                context.checkpoints = try index.entries.map { entry in
                    var inputs = request.inputs
                    inputs.model = index.url(of: entry)
                    return (try TaskLoader.load(Task.self, inputs), entry.learningRate)
                }
            }
            let strategy: any CurvatureStrategy = layerwise ? LayerwiseStrategy(base: base) : base
            run = try strategy.scores(context.erased(), configuration: request.configuration, partialDirectory: request.output)
            label = (layerwise ? "layer-wise " : "") + type.name
            if type.coversEveryParameter {
                let op = try context.curvatureOperator()
                label += " (\(request.curvature.rawValue), \(op.dimension) parameters)"
            } else if !context.checkpoints.isEmpty {
                label = "TracIn over \(context.checkpoints.count) checkpoints"
            }
        }
        guard request.configuration.communicator.isRoot && request.configuration.partition == nil else {
            // The other ranks computed their share of the rows; rank 0 holds and writes the whole.
            return ScoresReport(
                run: run, queryCount: task.queryCount, trainingCount: task.trainingExampleCount, label: label,
                seconds: Date().timeIntervalSince(started), documents: loaded.documents, documentScores: nil, queryStatistics: statistics,
                plan: memoryPlan)
        }
        let metadata = [
            "strategy": run.strategy, "damping": request.configuration.damping.description,
            "modules": run.moduleNames.joined(separator: ","), "sign": "positive supports the query",
        ]
        try RunManifest.clear(request.output, manifest: runRecordName, outputs: RunManifest.scoreOutputs)
        try run.output.save(to: request.output, metadata: metadata)
        var documentScores: Tensor<Float>? = nil
        if let documents = loaded.documents, documents.splitsDocuments || documents.documentIDs.enumerated().contains(where: { $1 != String($0) }) {
            documentScores = try writeDocuments(documents, run.output, to: request.output, metadata: metadata)
        }
        let summary = run.output.summary(
            trainTexts: loaded.trainTexts, queryTexts: loaded.queryTexts, moduleNames: run.moduleNames,
            dampings: run.dampings)
        try AtomicFile.write(Data(try summary.serialized().utf8), to: request.output.appendingPathComponent("summary.json"))
        try writeRunRecord(request, task: task, loaded: loaded, run: run, label: label, fisher: fisher, started: started)
        if let parts = request.configuration.mergedParts {
            // The parts' rows are in the outputs now.
            for i in 0..<parts { try? FileManager.default.removeItem(at: ScoreComputer<Task>.partURL(Partition(index: i, count: parts), in: request.output)) }
        }
        return ScoresReport(
            run: run, queryCount: task.queryCount, trainingCount: task.trainingExampleCount, label: label,
            seconds: Date().timeIntervalSince(started), documents: loaded.documents, documentScores: documentScores,
            queryStatistics: statistics, plan: memoryPlan)
    }

    /// The file of a scoring run's facts, beside its scores: what was scored, how and when.
    public static let runRecordName = "run.json"

    /// Writes `run.json`: the model and data paths, limits, strategy, Fisher labels, damping,
    /// modules, options, the data fingerprint (which `report` checks), the start and end times,
    /// and last the manifest of the run's files with their sizes (``RunManifest``).
    static func writeRunRecord<Task: InfluenceTask>(
        _ request: ScoresRequest, task: Task, loaded: LoadedTask, run: ScoringRun, label: String,
        fisher: String?, started: Date
    ) throws where Task.Scalar == Float {
        let finished = Date()
        let iso = ISO8601DateFormatter()
        let c = request.configuration
        var record: [String: JSONValue] = [
            "model": .string(request.inputs.model.standardizedFileURL.path), "model_type": .string(loaded.model.modelType),
            "train": .string(request.inputs.train), "strategy": .string(run.strategy), "strategy_label": .string(label),
            "damping": .string(c.damping.description), "modules": .array(run.moduleNames.map { .string($0) }),
            "damping_per_module": .array(run.dampings.map { $0.isFinite ? .number($0) : .null }),
            "queries_count": .number(Double(task.queryCount)), "rows": .number(Double(task.trainingExampleCount)),
            "per_module": .bool(c.perModule), "per_token": .bool(c.perToken), "self": .bool(c.selfInfluence),
            "query_rank": .string(c.queryRank.description), "data": .string(candidateDataFingerprint(task)),
            "model_fingerprint": .string(ModelFingerprint.of(task.model)),
            "sign": .string("positive supports the query"),
            "started": .string(iso.string(from: started)), "finished": .string(iso.string(from: finished)),
            "seconds": .number(finished.timeIntervalSince(started)),
        ]
        if let queries = request.inputs.queries { record["queries"] = .string(queries) }
        if let m = request.inputs.maximumExamples { record["max_examples"] = .number(Double(m)) }
        if let m = request.inputs.maximumQueries { record["max_queries"] = .number(Double(m)) }
        if let fisher { record["fisher"] = .string(fisher) }
        if case let .fit(directory) = request.source { record["factors"] = .string(directory.standardizedFileURL.path) }
        if let documents = loaded.documents { record["documents"] = .number(Double(documents.documentCount)) }
        switch c.selection {
        case .all: record["selection"] = .string("all")
        case let .top(k): record["selection"] = .string("top \(k)")
        case .candidates: record["selection"] = .string("candidates")
        }
        record["files"] = try RunManifest.entry(request.output, outputs: RunManifest.scoreOutputs)
        try AtomicFile.write(Data(try JSONValue.object(record).serialized().utf8), to: request.output.appendingPathComponent(runRecordName))
    }

    /// `documents.jsonl` (each document's id and rows) and, with dense scores,
    /// `document_scores.safetensors`: `all_modules` `[queries, documents]`, the sum over each
    /// document's rows. Returns the document scores.
    static func writeDocuments(
        _ documents: DocumentChunks, _ output: ScoringResult, to directory: URL,
        metadata: [String: String]
    ) throws -> Tensor<Float>? {
        let rows: [[String: JSONValue]] = documents.documentIDs.indices.map { d in
            [
                "id": .string(documents.documentIDs[d]),
                "rows": [.number(Double(documents.rowRanges[d].lowerBound)), .number(Double(documents.rowRanges[d].upperBound))],
            ]
        }
        try JSONLines.write(rows, to: directory.appendingPathComponent("documents.jsonl"))
        guard case let .dense(scores) = output else { return nil }
        let totals = documentTotals(scores.pairwise, documents)
        try SafeTensorsFile.write(
            [("all_modules", .float32(totals))],
            metadata: metadata.merging(["chunk_length": String(documents.length), "chunk_stride": String(documents.stride)]) { a, _ in a },
            to: directory.appendingPathComponent("document_scores.safetensors"))
        return totals
    }

    /// `[queries, rows]` → `[queries, documents]`: the sum over each document's rows.
    public static func documentTotals(_ rows: Tensor<Float>, _ documents: DocumentChunks) -> Tensor<Float> {
        let q = rows.shape[0], n = rows.shape[1], d = documents.documentCount
        return Tensor(shape: [q, d]) { out in
            rows.withUnsafeBufferPointer { src in
                for j in 0..<q { for doc in 0..<d { out[j * d + doc] = documents.rowRanges[doc].reduce(Float(0)) { $0 + src[j * n + $1] } } }
            }
        }
    }
}

extension Int {
    /// Digits grouped by thousands with commas.
    public func formatted() -> String {
        let digits = String(Swift.abs(self))
        var groups: [String] = []
        var end = digits.endIndex
        while end > digits.startIndex {
            let start = digits.index(end, offsetBy: -3, limitedBy: digits.startIndex) ?? digits.startIndex
            groups.insert(String(digits[start..<end]), at: 0)
            end = start
        }
        return (self < 0 ? "-" : "") + groups.joined(separator: ",")
    }
}
