import Distributed
import Foundation
import Formats
import NeuralNetworks
import TensorCore

/// How factors are fitted.
public struct FitConfiguration: Sendable {
    /// Which factors are fitted.
    public var strategy: any FactorCurvatureStrategy
    /// Sampled labels (true Fisher) by default; `.data` for the empirical Fisher.
    public var labels: LabelSource
    /// Training examples per forward/backward pass; must be positive.
    public var batchSize: Int
    /// Fit on the first this many training examples only.
    public var maximumExamples: Int?
    /// Seeds the label draws: batch k of a pass draws from a generator derived from (seed, pass, k).
    public var seed: UInt64
    /// Accumulate covariances and Λ in Float64 rather than in the model's precision.
    public var accumulatesInDouble: Bool
    /// Save partial sums every this many batches (when a directory is given).
    public var checkpointInterval: Int
    /// The batches are cut into this many blocks (at most one per batch); a rank takes whole
    /// blocks, and the blocks' sums are combined by the canonical pairwise tree
    /// (``PairwiseSum``), so that any number of ranks gives the same bits. More blocks let more
    /// ranks share the work; a process holds up to about log₂(blocks) + 1 partial sums at once.
    public var reductionBlocks: Int
    /// The ranks that share the work.
    public var communicator: any Communicator

    /// The number of reduction blocks when none is given.
    public static let defaultReductionBlocks = 8

    /// A configuration for fitting `strategy`'s factors: by default sampled labels, batches of 8, every example, seed 0,
    /// sums in the model's precision, a checkpoint every 50 batches, and one process.
    public init<Strategy: FactorCurvatureStrategy>(
        strategy: Strategy, labels: LabelSource = .sampled, batchSize: Int = 8, maximumExamples: Int? = nil,
        seed: UInt64 = 0, accumulatesInDouble: Bool = false, checkpointInterval: Int = 50,
        reductionBlocks: Int = FitConfiguration.defaultReductionBlocks, communicator: any Communicator = SingleProcess()
    ) {
        self.strategy = strategy
        self.labels = labels
        self.batchSize = batchSize
        self.maximumExamples = maximumExamples
        self.seed = seed
        self.accumulatesInDouble = accumulatesInDouble
        self.checkpointInterval = checkpointInterval
        self.reductionBlocks = reductionBlocks
        self.communicator = communicator
    }

    var description: String {
        "\(type(of: strategy).name)/\(labels.rawValue)/batch\(batchSize)/max\(maximumExamples ?? -1)/seed\(seed)/\(accumulatesInDouble ? "f64" : "f32")/blocks\(reductionBlocks)"
    }
}

/// How much of a fit one run does.
public enum FitMode: Equatable {
    /// All of it (shared with the ranks of the configuration's communicator).
    case whole
    /// One part of a job array: the pass in progress over this part's blocks, left in the
    /// directory as its partial sums.
    case partition(Partition)
    /// Combines the partial sums every part of a job array of this many parts left.
    case merge(parts: Int)
}

extension FitMode {
    /// Whether this is the merge of a job array's parts.
    public var isMerge: Bool {
        if case .merge = self { return true }
        return false
    }
}

/// What a run of ``fit(partialDirectory:mode:)`` did.
public enum FitOutcome {
    case factors(InfluenceFactors)
    /// A part wrote its partial sums of `pass` (`covariance`, `lambda`).
    case partWritten(pass: String)
    /// The covariances of every part were combined and eigendecomposed: the parts run again for Λ.
    case eigenbasesMerged
}

/// Fits the factors of a strategy over a task's training data, in one or two passes.
///
/// Covariances are sums over tokens divided by the token count; Λ is a sum over examples divided by
/// the example count; eigendecompositions run in Float64 on the symmetrised averages. Labels of
/// batch k of a pass are drawn from a generator seeded by (seed, pass, k), so a resumed fit draws
/// the same labels as an uninterrupted one.
public final class FactorFitter<Task: InfluenceTask> {
    /// The model's precision, in which activations and gradients are captured.
    public typealias Scalar = Task.Scalar
    let task: Task
    let capture: GradientCapture<Scalar>
    /// What is fitted and how (labels, batches, precision, checkpoints, ranks).
    public let configuration: FitConfiguration
    /// Receives (stage, batches done, batches in the stage).
    public var progress: ((String, Int, Int) -> Void)?
    /// Per pass reduced across ranks: the bytes rank 0 received and the seconds from the moment
    /// every rank was ready to the whole sum.
    public private(set) var reductions: [(pass: String, bytes: Int, seconds: Double)] = []

    /// A fitter over the tracked layers of `task`'s model.
    ///
    /// - Parameters:
    ///   - task: the model and its training data.
    ///   - patterns: name patterns of the tracked Linear layers; every Linear layer when empty.
    ///   - configuration: what is fitted and how; its batch size and reduction blocks must be positive.
    /// - Throws: ``InfluenceError/noTrackedModules(patterns:available:)`` when no layer matches the patterns.
    public init(task: Task, modules patterns: [String], configuration: FitConfiguration) throws {
        precondition(configuration.batchSize > 0, "batch size must be positive")
        precondition(configuration.reductionBlocks > 0, "at least one reduction block")
        self.task = task
        self.capture = try GradientCapture(model: task.model, patterns: patterns)
        self.configuration = configuration
    }

    /// The names of the tracked layers, in the order of the fitted ``InfluenceFactors/layers``.
    public var moduleNames: [String] { capture.names }
    var exampleCount: Int { Swift.min(task.trainingExampleCount, configuration.maximumExamples ?? Int.max) }
    var batches: [[Int]] {
        stride(from: 0, to: exampleCount, by: configuration.batchSize).map { Array($0..<Swift.min(exampleCount, $0 + configuration.batchSize)) }
    }

    /// Runs the fit. With `partialDirectory`, partial sums are saved there during each pass and a
    /// fit interrupted earlier with the same model and configuration resumes from them.
    public func fit(partialDirectory: URL? = nil) throws -> InfluenceFactors {
        guard case let .factors(factors) = try fit(partialDirectory: partialDirectory, mode: .whole) else { preconditionFailure("unreachable") }
        return factors
    }

    /// Runs the fit, or the part of it `mode` names, keeping partial sums in `partialDirectory`
    /// (required for a partition or a merge): a part first sums the covariances of its blocks;
    /// the merge combines every part's and eigendecomposes; the parts then sum Λ in those bases,
    /// and a last merge writes the factors — the same bits as one process.
    ///
    /// - Throws: ``InfluenceError/partitions(_:)`` when a merge finds parts missing, unfinished,
    ///   or of another run.
    public func fit(partialDirectory: URL?, mode: FitMode) throws -> FitOutcome {
        if mode != .whole {
            precondition(partialDirectory != nil, "a partition or a merge keeps its sums in a directory")
            precondition(configuration.communicator.size == 1, "a partition runs in one process")
        }
        let fingerprint = ModelFingerprint.of(task.model)
        let shapes = capture.gradientShapes
        var layers = [LayerFactors](repeating: LayerFactors(), count: shapes.count)
        var tokens = 0
        let strategy = configuration.strategy
        let needs = type(of: strategy).needs
        let partial = partialDirectory.map {
            PartialSums(
                directory: $0, fingerprint: fingerprint,
                configuration: configuration.description + "/data" + task.trainingDataFingerprint, modules: capture.names)
        }
        let communicator = configuration.communicator
        let eigenbases = partialDirectory.map { $0.appendingPathComponent(PartialResults.eigenbasesFileName) }
        if needs.covariances {
            if mode != .whole, let eigenbases, let saved = try loadEigenbases(eigenbases, key: partial!.key, count: shapes.count) {
                // A job array's merged covariances: the parts go on with Λ.
                (layers, tokens) = saved
            } else {
                // The sums reach rank 0 only; it eigendecomposes once and every rank receives the result.
                let sums = try accumulate(.covariance, partial: partial, initial: shapes.flatMap { [[$0[1], $0[1]], [$0[0], $0[0]]] }, mode: mode)
                if case .partition = mode { return .partWritten(pass: "covariance") }
                tokens = try communicator.sum([sums?.tokens ?? 0])[0]  // rank 0 alone holds the totals
                let positions = positionCounts()
                // On the configured threads (OpenBLAS's bits depend on its thread count), whatever share a rank runs on.
                if let sums {
                    try Parallelism.withThreadCount(Parallelism.configuredThreadCount) {
                        try eigendecompose(sums, positions: positions, into: &layers)
                    }
                }
                if communicator.size > 1 { layers = try share(layers) }
                if case .merge = mode, needs.lambda != nil, let eigenbases {
                    try saveEigenbases(layers, tokens: tokens, key: partial!.key, to: eigenbases)
                    PartialResults.discardFits(in: partialDirectory!, pass: "covariance")
                    return .eigenbasesMerged
                }
            }
        }
        if let basis = needs.lambda {
            precondition(basis == .parameters || needs.covariances, "Λ in the Kronecker eigenbasis needs the covariances")
            let rotations = basis == .kroneckerEigenbasis ? layers.map { (gradient: $0.gradientEigenvectors!, activation: $0.activationEigenvectors!) } : nil
            let sums = try accumulate(.lambda(eigenbases: rotations), partial: partial, initial: shapes, mode: mode)
            if case .partition = mode { return .partWritten(pass: "lambda") }
            if tokens == 0 { tokens = try communicator.sum([sums?.tokens ?? 0])[0] }  // rank 0 alone holds the totals
            if let sums {
                for i in shapes.indices { layers[i].lambda = sums.values[i] * (1 / Double(Swift.max(1, sums.examples))) }
            }
            if communicator.size > 1 { layers = try share(layers, lambdaOnly: true) }
        }
        if let partial { partial.removeAll() }
        if let eigenbases { try? FileManager.default.removeItem(at: eigenbases) }
        for (i, f) in layers.enumerated() {
            for t in [f.activationEigenvalues, f.gradientEigenvalues, f.lambda].compactMap({ $0 }) where !t.isFinite {
                throw InfluenceError.nonFinite(what: "the factors of \(capture.names[i])")
            }
        }
        return .factors(
            InfluenceFactors(
                strategy: strategy, moduleNames: capture.names, gradientShapes: shapes, layers: layers,
                labels: configuration.labels, exampleCount: exampleCount, tokenCount: tokens,
                modelFingerprint: fingerprint, accumulation: configuration.accumulatesInDouble ? "float64" : "float32"))
    }

    static var layerFields: [String] {
        [
            "activation_covariance", "gradient_covariance", "activation_eigenvectors", "activation_eigenvalues", "gradient_eigenvectors",
            "gradient_eigenvalues",
        ]
    }

    static func fields(_ f: LayerFactors) -> [Tensor<Double>?] {
        [f.activationCovariance, f.gradientCovariance, f.activationEigenvectors, f.activationEigenvalues, f.gradientEigenvectors, f.gradientEigenvalues]
    }

    private func saveEigenbases(_ layers: [LayerFactors], tokens: Int, key: String, to url: URL) throws {
        var tensors: [(name: String, payload: SafeTensorsPayload)] = []
        for (i, f) in layers.enumerated() {
            for (name, t) in zip(Self.layerFields, Self.fields(f)) { if let t { tensors.append(("layer.\(i).\(name)", .float64(t))) } }
        }
        try SafeTensorsFile.write(tensors, metadata: ["key": key, "tokens": String(tokens)], to: url)
    }

    /// The merged eigenbases of this fit, when a merge wrote them.
    private func loadEigenbases(_ url: URL, key: String, count: Int) throws -> ([LayerFactors], Int)? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do {
            let file = try SafeTensorsFile(contentsOf: url)
            guard file.metadata["key"] == key, let tokens = file.metadata["tokens"].flatMap(Int.init) else {
                throw InfluenceError.partitions("\(url.path) holds the eigenbases of another fit; delete it or use another --out")
            }
            let layers = try (0..<count).map { i -> LayerFactors in
                let t = try Self.layerFields.map { try file.tensor(named: "layer.\(i).\($0)", as: Double.self) }
                var f = LayerFactors()
                (f.activationCovariance, f.gradientCovariance, f.activationEigenvectors) = (t[0], t[1], t[2])
                (f.activationEigenvalues, f.gradientEigenvectors, f.gradientEigenvalues) = (t[3], t[4], t[5])
                return f
            }
            return (layers, tokens)
        } catch let error as InfluenceError {
            throw error
        } catch {
            throw InfluenceError.unreadablePartial(path: url.path, reason: "\(error)")
        }
    }

    /// Rows each tracked layer sees per token (see ``GradientCapture/positionCounts``): known from
    /// the last batch recorded, or from one example when every batch came from partial sums.
    private func positionCounts() -> [Int] {
        if let known = capture.positionCounts { return known }
        var generator = SeededGenerator(seed: configuration.seed)
        _ = capture.record { task.trainingLoss(indices: [0], labels: .data, generator: &generator) }
        return capture.positionCounts ?? Array(repeating: 1, count: capture.layers.count)
    }

    /// Sums of one pass, in Float64 whatever precision they were accumulated in.
    struct Sums {
        var values: [Tensor<Double>]
        var examples: Int
        var tokens: Int
    }

    /// What a pass sums: ā āᵀ and g gᵀ per layer, or the squared per-example gradients G_b ⊙ G_b,
    /// in the eigenbasis (Q_S, Q_A) of each layer (EK-FAC) or the identity basis (diagonal, nil).
    enum Pass {
        case covariance
        case lambda(eigenbases: [(gradient: Tensor<Double>, activation: Tensor<Double>)]?)

        var name: String {
            switch self {
            case .covariance: return "covariance";
            case .lambda: return "lambda"
            }
        }
    }

    /// The averaged, symmetrised covariances of each layer and their eigendecompositions.
    private func eigendecompose(_ sums: Sums, positions: [Int], into layers: inout [LayerFactors]) throws {
        for i in layers.indices {
            // Averaged per row the layer sees: per token, and per output position of a convolution.
            let count = Double(Swift.max(1, sums.tokens * positions[i]))
            let a = sums.values[2 * i] * (1 / count), s = sums.values[2 * i + 1] * (1 / count)
            let symmetricA = (a + a.transposed()) * 0.5, symmetricS = (s + s.transposed()) * 0.5
            let (la, qa) = try symmetricA.symmetricEigendecomposition()
            let (ls, qs) = try symmetricS.symmetricEigendecomposition()
            layers[i].activationCovariance = symmetricA
            layers[i].gradientCovariance = symmetricS
            layers[i].activationEigenvectors = qa
            layers[i].activationEigenvalues = la
            layers[i].gradientEigenvectors = qs
            layers[i].gradientEigenvalues = ls
        }
    }

    /// Rank 0's factors on every rank: every field after the covariance pass (the Λ pass needs
    /// the eigenbases), only Λ after the Λ pass (the rest is there already). Rank 0 keeps its own.
    private func share(_ layers: [LayerFactors], lambdaOnly: Bool = false) throws -> [LayerFactors] {
        let communicator = configuration.communicator
        func fields(_ f: LayerFactors) -> [Tensor<Double>?] { lambdaOnly ? [f.lambda] : Self.fields(f) + [f.lambda] }
        var message = TensorMessage()
        if communicator.isRoot {
            for f in layers {
                let parts = fields(f)
                message.append(parts.map { $0 == nil ? 0 : 1 })
                message.append(parts.compactMap { $0 })
            }
            _ = try communicator.broadcast(message.bytes, root: 0)
            return layers
        }
        var reader = TensorMessage.Reader(try communicator.broadcast(message.bytes, root: 0))
        return try layers.map { current in
            let present = try reader.integers()
            var tensors = try reader.tensors(Double.self)[...]
            guard present.count == (lambdaOnly ? 1 : 7) else { throw CommunicatorError("rank 0 sent factors of another layout") }
            func next(_ i: Int) -> Tensor<Double>? { present[i] == 1 ? tensors.popFirst() : nil }
            var f = current
            if lambdaOnly {
                f.lambda = next(0)
                return f
            }
            f.activationCovariance = next(0)
            f.gradientCovariance = next(1)
            f.activationEigenvectors = next(2)
            f.activationEigenvalues = next(3)
            f.gradientEigenvectors = next(4)
            f.gradientEigenvalues = next(5)
            f.lambda = next(6)
            return f
        }
    }

    /// One pass over the training batches, accumulating into `initial`-shaped sums kept in Float64
    /// when the configuration asks for it, otherwise in the model's precision. The whole sums on
    /// rank 0, nil on the other ranks.
    private func accumulate(_ kind: Pass, partial: PartialSums?, initial shapes: [[Int]], mode: FitMode) throws -> Sums? {
        if configuration.accumulatesInDouble { return try accumulate(Double.self, kind, partial: partial, initial: shapes, mode: mode) }
        return try accumulate(Scalar.self, kind, partial: partial, initial: shapes, mode: mode)
    }

    /// The sums of a block of batches, or of a node of blocks.
    typealias Part<Accumulator: TensorScalar> = PartialSums.Part<Accumulator>

    private func accumulate<Accumulator: TensorScalar>(
        _: Accumulator.Type, _ kind: Pass, partial: PartialSums?,
        initial shapes: [[Int]], mode: FitMode
    ) throws -> Sums? {
        let pass = kind.name
        let all = batches
        let communicator = configuration.communicator
        let shards = WorkShards(batchCount: all.count, blocks: configuration.reductionBlocks)
        let add: (Part<Accumulator>, Part<Accumulator>) -> Part<Accumulator> = { l, r in
            Part(values: zip(l.values, r.values).map { $0 + $1 }, examples: l.examples + r.examples, tokens: l.tokens + r.tokens)
        }
        if case let .merge(parts) = mode, let partial {
            return try merge(Accumulator.self, pass: pass, parts: parts, shards: shards, partial: partial, shapes: shapes, add: add)
        }
        var mine = shards.blocks(rank: communicator.rank, of: communicator.size)
        if case let .partition(p) = mode { mine = shards.blocks(rank: p.index, of: p.count) }
        var tree = PairwiseSum<Part<Accumulator>>(leafCount: shards.blockCount, add: add)
        var current: (block: Int, batches: Int, part: Part<Accumulator>)? = nil
        let file = partial?.url(pass, blocks: mine, of: shards.blockCount)
        if let partial, let file, let saved = try partial.load(pass: pass, from: file, as: Accumulator.self) {
            guard (saved.nodes.map(\.value) + [saved.current?.part].compactMap { $0 }).allSatisfy({ $0.values.map(\.shape) == shapes }) else {
                throw InfluenceError.malformedFactors(path: file.path, reason: "partial sums of the wrong shapes")
            }
            for node in saved.nodes {
                guard tree.accepts(level: node.level, index: node.index), node.index << node.level >= mine.lowerBound,
                    Swift.min(shards.blockCount, (node.index + 1) << node.level) <= mine.upperBound
                else {
                    throw InfluenceError.unreadablePartial(path: file.path, reason: "its sums are not those of blocks \(mine.lowerBound)..<\(mine.upperBound)")
                }
                tree.append(node)
            }
            if let c = saved.current, !mine.contains(c.block) || c.batches >= shards.batches(ofBlock: c.block).count {
                throw InfluenceError.unreadablePartial(
                    path: file.path, reason: "its block in progress is not one of blocks \(mine.lowerBound)..<\(mine.upperBound)")
            }
            current = saved.current
        }
        let bases: [(Tensor<Accumulator>, Tensor<Accumulator>)]?
        if case let .lambda(eigenbases?) = kind { bases = eigenbases.map { (Tensor($0.gradient), Tensor($0.activation)) } } else { bases = nil }
        let myBatches = mine.isEmpty ? 0..<0 : shards.batches(ofBlock: mine.lowerBound).lowerBound..<shards.batches(ofBlock: mine.upperBound - 1).upperBound
        var sinceSave = 0
        for block in mine where block >= tree.nextLeaf {
            let range = shards.batches(ofBlock: block)
            var part = Part(values: shapes.map { Tensor<Accumulator>.zeros(shape: $0) }, examples: 0, tokens: 0)
            var first = range.lowerBound
            if let c = current, c.block == block { (part, first) = (c.part, range.lowerBound + c.batches) }
            current = nil
            for k in first..<range.upperBound {
                var generator = SeededGenerator(seed: configuration.seed &+ UInt64(k) &* 0x9E37_79B9_7F4A_7C15 &+ (pass == "lambda" ? 0x5851_F42D : 0))
                let record = capture.record { task.trainingLoss(indices: all[k], labels: configuration.labels, generator: &generator) }
                guard record.loss.isFinite else { throw InfluenceError.nonFinite(what: "the training loss of examples \(all[k].first!)…\(all[k].last!)") }
                for (i, layer) in record.layers.enumerated() {
                    // A no-op conversion when the accumulator has the model's precision.
                    var a = Tensor<Accumulator>(layer.activations), g = Tensor<Accumulator>(layer.outputGradients)
                    switch kind {
                    case .covariance:
                        part.values[2 * i].addMatrixProduct(a, a, transposeA: true)
                        part.values[2 * i + 1].addMatrixProduct(g, g, transposeA: true)
                    case .lambda:
                        if let bases {
                            // Rotate rows first, then form per-example gradients in the eigenbasis.
                            g = Tensor.matmul(g, bases[i].0)
                            a = Tensor.matmul(a, bases[i].1)
                        }
                        let perExample = LayerRecord(activations: a, outputGradients: g).perExampleGradients(examples: record.exampleCount)
                        part.values[i] += perExample.squared().sum(alongAxes: [0])
                    }
                }
                part.examples += record.exampleCount
                part.tokens += record.tokenCount
                if communicator.isRoot { progress?(pass, k + 1 - myBatches.lowerBound, myBatches.count) }
                sinceSave += 1
                if let partial, let file, sinceSave >= configuration.checkpointInterval && k + 1 < range.upperBound {
                    try partial.save(pass: pass, nodes: tree.nodes, current: (block, k + 1 - range.lowerBound, part), to: file)
                    sinceSave = 0
                }
            }
            tree.append(leaf: block, value: part)
            if let partial, let file, sinceSave >= configuration.checkpointInterval || block + 1 == mine.upperBound {
                try partial.save(pass: pass, nodes: tree.nodes, current: nil, to: file)
                sinceSave = 0
            }
        }
        if case .partition = mode {
            // The part's sums stay in its partial file, for the merge; an empty part writes an empty one.
            if let partial, let file, mine.isEmpty { try partial.save(pass: pass, nodes: tree.nodes, current: nil, to: file) }
            return nil
        }
        // The ranks' nodes meet in a binary tree of ranks (see ``PairwiseSum/reduce(over:encode:decode:)``).
        if communicator.size > 1 {
            try communicator.barrier()  // so that the time below is the reduction's, not the slowest rank's
            let started = Date()
            let received = try tree.reduce(
                over: communicator,
                encode: { part, message in
                    message.append([part.examples, part.tokens])
                    message.append(part.values)
                },
                decode: { reader in
                    let counts = try reader.integers()
                    let values = try reader.tensors(Accumulator.self)
                    guard counts.count == 2, values.map(\.shape) == shapes else { throw CommunicatorError("a rank sent sums of the wrong shapes") }
                    return Part(values: values, examples: counts[0], tokens: counts[1])
                })
            guard communicator.isRoot else { return nil }
            reductions.append((pass, received, Date().timeIntervalSince(started)))
        }
        guard let total = tree.root else {
            preconditionFailure("the pass covered \(tree.nextLeaf) of \(shards.blockCount) blocks")
        }
        return Sums(values: total.values.map { Tensor<Double>($0) }, examples: total.examples, tokens: total.tokens)
    }

    /// The sums of a pass from the partial files every part of a job array left: each must
    /// belong to this fit, be finished, and cover its part's blocks, which together cover every block once.
    private func merge<Accumulator: TensorScalar>(
        _: Accumulator.Type, pass: String, parts: Int, shards: WorkShards, partial: PartialSums, shapes: [[Int]],
        add: @escaping (Part<Accumulator>, Part<Accumulator>) -> Part<Accumulator>
    ) throws -> Sums {
        var tree = PairwiseSum<Part<Accumulator>>(leafCount: shards.blockCount, add: add)
        let files = (0..<parts).map { partial.url(pass, blocks: shards.blocks(rank: $0, of: parts), of: shards.blockCount) }
        let missing = (0..<parts).filter { !FileManager.default.fileExists(atPath: files[$0].path) }.map { "\($0)/\(parts) (\(files[$0].lastPathComponent))" }
        guard missing.isEmpty else {
            throw InfluenceError.partitions(
                "the \(pass) pass of \(missing.count) of \(parts) parts is missing: \(missing.joined(separator: ", ")); run those parts (same options, --partition i/\(parts)) first"
            )
        }
        for part in 0..<parts {
            let blocks = shards.blocks(rank: part, of: parts)
            let url = files[part]
            guard let saved = try partial.load(pass: pass, from: url, as: Accumulator.self) else {
                throw InfluenceError.partitions("\(url.path) holds the sums of another fit (other model, options or data); run part \(part)/\(parts) again")
            }
            guard saved.current == nil, (saved.nodes.first.map { $0.index << $0.level } ?? blocks.lowerBound) == blocks.lowerBound else {
                throw InfluenceError.partitions("part \(part)/\(parts) has not finished its \(pass) pass (\(url.path)); run it again")
            }
            guard saved.nodes.allSatisfy({ $0.value.values.map(\.shape) == shapes }) else {
                throw InfluenceError.malformedFactors(path: url.path, reason: "partial sums of the wrong shapes")
            }
            for node in saved.nodes {
                guard tree.accepts(level: node.level, index: node.index) else {
                    throw InfluenceError.malformedFactors(path: url.path, reason: "its sums do not cover the blocks of part \(part)/\(parts)")
                }
                tree.append(node)
            }
            guard blocks.isEmpty || tree.nextLeaf == blocks.upperBound else {
                throw InfluenceError.partitions("part \(part)/\(parts) has not finished its \(pass) pass (\(url.path)); run it again")
            }
        }
        guard let total = tree.root else { throw InfluenceError.partitions("the parts' \(pass) sums do not cover every block") }
        return Sums(values: total.values.map { Tensor<Double>($0) }, examples: total.examples, tokens: total.tokens)
    }
}

/// Partial sums of a fit on disk, one file per pass and run of blocks
/// (`partial-covariance.safetensors` for every block, `partial-lambda.blocks-2-5.safetensors` for
/// a rank's share), removed when the fit completes: the pairwise tree's nodes finished so far and
/// the block in progress.
struct PartialSums {
    let directory: URL
    let fingerprint: String
    let configuration: String
    let modules: [String]

    /// What identifies the fit the sums belong to.
    var key: String { [fingerprint, configuration, modules.joined(separator: ",")].joined(separator: "|") }

    /// The sums of a block of batches, or of a node of blocks, and what they count.
    struct Part<Scalar: TensorScalar> {
        var values: [Tensor<Scalar>]
        var examples: Int
        var tokens: Int
    }

    struct Saved<Scalar: TensorScalar> {
        var nodes: [PairwiseSum<Part<Scalar>>.Node]
        var current: (block: Int, batches: Int, part: Part<Scalar>)?
    }

    static let passes = ["covariance", "lambda"]

    /// The file of `pass` for a run of `blocks` of `blockCount`.
    func url(_ pass: String, blocks: Range<Int>, of blockCount: Int) -> URL {
        let suffix = blocks == 0..<blockCount ? "" : ".blocks-\(blocks.lowerBound)-\(blocks.upperBound)"
        return directory.appendingPathComponent("partial-\(pass)\(suffix).safetensors")
    }

    /// Removes the partial sums of every pass and run of blocks.
    func removeAll() { PartialResults.discardFits(in: directory) }

    func save<Scalar: TensorScalar>(
        pass: String, nodes: [PairwiseSum<Part<Scalar>>.Node], current: (block: Int, batches: Int, part: Part<Scalar>)?, to url: URL
    ) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var tensors: [(name: String, payload: SafeTensorsPayload)] = []
        var described: [String] = []
        for (k, node) in nodes.enumerated() {
            tensors += node.value.values.enumerated().map { ("node.\(k).\($0.offset)", .float64(Tensor<Double>($0.element))) }
            described.append("\(node.level):\(node.index):\(node.value.examples):\(node.value.tokens)")
        }
        var metadata = [
            "pass": pass, "nodes": described.joined(separator: ","), "model_fingerprint": fingerprint, "configuration": configuration,
            "modules": modules.joined(separator: ","),
        ]
        if let current {
            tensors += current.part.values.enumerated().map { ("current.\($0.offset)", .float64(Tensor<Double>($0.element))) }
            metadata["current"] = "\(current.block):\(current.batches):\(current.part.examples):\(current.part.tokens)"
        }
        try SafeTensorsFile.write(tensors, metadata: metadata, to: url)
    }

    /// The sums saved for `pass` in `url` if they belong to the same model, modules and configuration.
    func load<Scalar: TensorScalar>(pass: String, from url: URL, as _: Scalar.Type) throws -> Saved<Scalar>? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do { return try read(pass: pass, from: url, as: Scalar.self) } catch {
            throw InfluenceError.unreadablePartial(path: url.path, reason: "\(error)")
        }
    }

    private func read<Scalar: TensorScalar>(pass: String, from url: URL, as _: Scalar.Type) throws -> Saved<Scalar>? {
        let file = try SafeTensorsFile(contentsOf: url)
        let m = file.metadata
        guard m["model_fingerprint"] == fingerprint, m["configuration"] == configuration, m["modules"] == modules.joined(separator: ","),
            m["pass"] == pass, let listed = m["nodes"]
        else { return nil }
        func numbers(_ text: Substring) throws -> [Int] {
            let values = text.split(separator: ":").compactMap { Int($0) }
            guard values.count == 4, values.allSatisfy({ $0 >= 0 }) else { throw InfluenceError.malformedFactors(path: url.path, reason: "a node \(text)") }
            return values
        }
        func values(_ prefix: String) throws -> [Tensor<Scalar>] {
            var out: [Tensor<Scalar>] = []
            while file.contains(tensorNamed: "\(prefix).\(out.count)") { out.append(try file.tensor(named: "\(prefix).\(out.count)", as: Scalar.self)) }
            return out
        }
        var saved = Saved<Scalar>(nodes: [], current: nil)
        for (k, text) in listed.split(separator: ",").enumerated() {
            let n = try numbers(text)
            saved.nodes.append(.init(level: n[0], index: n[1], value: Part(values: try values("node.\(k)"), examples: n[2], tokens: n[3])))
        }
        if let text = m["current"] {
            let n = try numbers(Substring(text))
            saved.current = (n[0], n[1], Part(values: try values("current"), examples: n[2], tokens: n[3]))
        }
        return saved
    }
}
