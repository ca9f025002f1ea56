import Distributed
import Foundation
import TensorCore

/// The memory a run will need, stage by stage, worked out before the run from the tracked
/// layers' shapes, the options, and one probe batch — so that a run that cannot fit is refused
/// in seconds, with what to change, instead of being killed for memory hours in.
///
/// Each stage lists what it holds beside what is already resident: the process itself and the
/// model and data (measured when the plan is made), the sums or factors of the stage, and the
/// working set of one batch (measured on a probe batch with ``TensorMemory``'s peak). The planned
/// peak is the resident memory plus the largest stage.
public struct MemoryPlan: Sendable, CustomStringConvertible {
    /// One thing a stage holds.
    public struct Item: Sendable {
        /// What is held, as the plan prints it (`covariance sums (3 partial)`).
        public var name: String
        /// Its planned size in bytes.
        public var bytes: Int
        /// What to change to hold less of it (an option, as on the command line).
        public var advice: String
    }

    /// One stage of a run (a pass, an eigendecomposition, the scores) and what it holds beside the resident memory.
    public struct Stage: Sendable {
        /// The stage as the plan prints it (`covariance pass`, `Λ pass`).
        public var name: String
        /// What the stage holds, each with its bytes and the advice to hold less.
        public var items: [Item]
        /// The stage's total in bytes: the sum of its items.
        public var bytes: Int { items.reduce(0) { $0 + $1.bytes } }
    }

    /// Resident memory when the plan was made: the process, the model, the data (and for
    /// scores, the fit).
    public var resident: Int
    /// The stages in run order.
    public var stages: [Stage]

    /// The stage that needs the most.
    public var largestStage: Stage? { stages.max { $0.bytes < $1.bytes } }
    /// Resident memory plus the largest stage.
    public var peak: Int { resident + (largestStage?.bytes ?? 0) }

    /// The plan for a person: the peak, the resident memory, then each stage and its non-empty items, in MB (10⁶ bytes).
    public var description: String {
        func mb(_ b: Int) -> String { String(format: "%9.1f MB", Double(b) / 1e6) }
        var lines = ["memory plan (peak \(mb(peak).trimmingCharacters(in: .whitespaces))):", "  \(mb(resident))  resident now: process, model and data"]
        for stage in stages {
            lines.append("  \(mb(stage.bytes))  \(stage.name)")
            for item in stage.items where item.bytes > 0 { lines.append("    \(mb(item.bytes))  \(item.name)") }
        }
        return lines.joined(separator: "\n")
    }

    /// Refuses a plan whose peak exceeds `limit` bytes, naming the largest stage, what in it
    /// is largest, and what to change.
    ///
    /// - Throws: ``InfluenceError/notOffered(_:)`` with the message.
    public func check(limit: Int) throws {
        guard peak > limit, let stage = largestStage else { return }
        let items = stage.items.filter { $0.bytes > 0 }.sorted { $0.bytes > $1.bytes }
        let advice = Array(Set(items.prefix(2).map(\.advice))).sorted().joined(separator: "; ")
        let held = items.prefix(2).map { "\($0.name) \(Self.format($0.bytes))" }.joined(separator: ", ")
        throw InfluenceError.notOffered(
            "this run would need about \(Self.format(peak)) of memory (\(Self.format(resident)) resident now, then the \(stage.name) stage: \(held)), more than the \(Self.format(limit)) allowed (--memory-limit, by default the memory available); \(advice)"
        )
    }

    /// `bytes` in GB (10⁹ bytes) from 1 GB up, else in MB (10⁶ bytes), with one decimal.
    public static func format(_ bytes: Int) -> String {
        let b = Double(bytes)
        if b >= 1e9 { return String(format: "%.1f GB", b / 1e9) }
        return String(format: "%.1f MB", b / 1e6)
    }

    /// The most partial sums a run holds at once while summing `blocks` of `blockCount` blocks
    /// pairwise: the tree's nodes plus the block in progress (counted by building the tree).
    static func partialSumsHeld(blocks: Range<Int>, of blockCount: Int) -> Int {
        var tree = PairwiseSum<Int>(leafCount: Swift.max(1, blockCount)) { _, _ in 0 }
        var most = 1
        for b in blocks {
            most = Swift.max(most, tree.nodes.count + 1)
            tree.append(leaf: b, value: 0)
        }
        return most
    }

    /// The tensor bytes one batch needs beyond what is alive: the peak during `body` less the bytes before it.
    static func probe(_ body: () -> Void) -> Int {
        let before = TensorMemory.liveBytes
        TensorMemory.resetPeak()
        body()
        return Swift.max(0, TensorMemory.peakBytes - before)
    }

    /// Resident memory now, or the live tensor bytes where it cannot be read.
    static var residentNow: Int { TensorMemory.residentBytes ?? TensorMemory.liveBytes }
}

extension FactorFitter {
    /// The plan of ``fit(partialDirectory:mode:)`` for this rank (or part), from the layers'
    /// shapes, the configuration and one probe batch (the first, with data labels).
    public func memoryPlan(mode: FitMode = .whole) -> MemoryPlan {
        let shapes = capture.gradientShapes
        let needs = type(of: configuration.strategy).needs
        let accumulator = configuration.accumulatesInDouble ? 8 : MemoryLayout<Scalar>.size
        let communicator = configuration.communicator
        let shards = WorkShards(batchCount: batches.count, blocks: configuration.reductionBlocks)
        var mine = shards.blocks(rank: communicator.rank, of: communicator.size)
        if case let .partition(p) = mode { mine = shards.blocks(rank: p.index, of: p.count) }
        let held = MemoryPlan.partialSumsHeld(blocks: mine, of: shards.blockCount)
        let resident = MemoryPlan.residentNow
        var rows = 0, examples = 0
        let batch = MemoryPlan.probe {
            guard let first = batches.first else { return }
            var generator = SeededGenerator(seed: configuration.seed)
            let record = capture.record { task.trainingLoss(indices: first, labels: .data, generator: &generator) }
            rows = record.layers.map { $0.activations.shape[0] }.max() ?? 0
            examples = record.exampleCount
        }
        let squares = shapes.reduce(0) { $0 + $1[0] * $1[0] + $1[1] * $1[1] }, products = shapes.reduce(0) { $0 + $1[0] * $1[1] }
        let widths = shapes.reduce(0) { $0 + $1[0] + $1[1] }
        let smallerBatch = "a smaller --batch-size"
        let fewerModules = "fewer --modules"
        var stages: [MemoryPlan.Stage] = []
        // Across ranks: a rank receives one message of nodes at a time (as bytes, then tensors), and
        // the eigenbases travel as one message (twice on a receiver: bytes and tensors).
        let ranks = communicator.size
        let exchanged = ranks > 1 ? 2 * held * squares * accumulator : 0
        let shared = ranks > 1 ? 2 * (2 * squares + widths) * 8 : 0
        let exchangeAdvice = "fewer --reduction-blocks or more memory per rank"
        if needs.covariances {
            stages.append(
                .init(
                    name: "covariance pass",
                    items: [
                        .init(
                            name: "covariance sums (\(held) partial)", bytes: held * squares * accumulator,
                            advice: "\(fewerModules), fewer --reduction-blocks or --accumulate float32"),
                        .init(name: "one batch (measured)", bytes: batch, advice: smallerBatch),
                        .init(name: "partial sums exchanged between ranks", bytes: exchanged, advice: exchangeAdvice),
                    ]))
            stages.append(
                .init(
                    name: "eigendecomposition",
                    items: [
                        .init(name: "covariances, averages and eigenvectors (Float64)", bytes: 4 * squares * 8, advice: fewerModules),
                        .init(name: "eigenbases sent between ranks", bytes: shared, advice: fewerModules),
                    ]))
        }
        if needs.lambda != nil {
            let bases = needs.covariances ? squares * (2 * 8 + accumulator) : 0
            stages.append(
                .init(
                    name: "Λ pass",
                    items: [
                        .init(name: "eigenbases", bytes: bases, advice: fewerModules),
                        .init(
                            name: "Λ sums (\(held) partial)", bytes: held * products * accumulator,
                            advice: "\(fewerModules), fewer --reduction-blocks or --accumulate float32"),
                        .init(
                            name: "one batch (measured) with its per-example gradients",
                            bytes: batch + 2 * examples * products * accumulator + rows * widths * accumulator, advice: smallerBatch),
                    ]))
        }
        stages.append(
            .init(
                name: "factors",
                items: [.init(name: "factors (Float64)", bytes: (needs.covariances ? 3 * squares + widths : 0) * 8 + products * 8, advice: fewerModules)]
            ))
        return MemoryPlan(resident: resident, stages: stages)
    }
}

extension ScoreComputer {
    /// The plan of ``computeResult(partialDirectory:checkpointInterval:)`` for this rank (or
    /// part): the query chunks, one training batch (measured on the first) with its per-example
    /// gradients, and the scores kept.
    public func memoryPlan() -> MemoryPlan {
        let shapes = capture.gradientShapes
        let resident = MemoryPlan.residentNow
        let products = parameterGradients.map { $0.dimension } ?? shapes.reduce(0) { $0 + $1[0] * $1[1] }
        let q = task.queryCount, n = task.trainingExampleCount
        let every = Array(0..<n)
        let mine = share(of: every.count)
        let b = Swift.min(configuration.batchSize, Swift.max(1, mine.count))
        var tokens = 1
        let batch = MemoryPlan.probe {
            guard n > 0, parameterGradients == nil else { return }
            var generator = SeededGenerator(seed: 0)
            let record = capture.record { task.trainingLoss(indices: Array(0..<Swift.min(n, b)), labels: .data, generator: &generator) }
            tokens = record.rowsPerExample
        }
        let size = Swift.max(1, configuration.queryChunkSize)
        let group = Swift.max(1, inverse.solvesJointly ? Swift.max(size, configuration.queryBatchSize) : configuration.queryBatchSize)
        var chunk = Swift.min(q, size)
        var perQuery = 4 * products
        switch configuration.queryRank {
        case .full, .energy: break
        case let .fixed(r): perQuery = 4 * shapes.reduce(0) { $0 + Swift.min(r, Swift.min($1[0], $1[1])) * ($1[0] + $1[1] + 1) }
        }
        if let budget = configuration.memoryBudget { chunk = Swift.min(q, Swift.max(group, budget / Swift.max(1, perQuery))) }
        var kept = 0
        let modules = configuration.perModule ? moduleNames.count : 0
        switch configuration.selection {
        case .all: kept = 4 * q * n * (1 + modules + (configuration.perToken ? tokens : 0))
        case let .top(k): kept = 2 * q * Swift.min(k, n) * 16
        case let .candidates(lists): kept = lists.reduce(0) { $0 + $1.count } * 4 * (2 + modules + (configuration.perToken ? tokens : 0))
        }
        if configuration.selfInfluence { kept += 4 * n }
        let resultAdvice = "--top-k K or --candidates instead of every pair, without --per-token or --per-module, or fewer --max-queries"
        let chunkAdvice = "a smaller --query-chunk or --memory-budget, or --query-rank R"
        let stages: [MemoryPlan.Stage] = [
            .init(
                name: "query gradients",
                items: [
                    .init(name: "preconditioned queries of a chunk (\(chunk))", bytes: chunk * perQuery, advice: chunkAdvice),
                    .init(
                        name: "gradients of a query group (\(Swift.min(q, group)))", bytes: 2 * Swift.min(q, group) * 4 * products,
                        advice: "a smaller --query-chunk (solvers precondition a chunk at once)"),
                ]),
            .init(
                name: "training pass",
                items: [
                    .init(name: "preconditioned queries of a chunk (\(chunk))", bytes: chunk * perQuery, advice: chunkAdvice),
                    .init(name: "one batch (measured) with its per-example gradients", bytes: batch + b * 4 * products, advice: "a smaller --batch-size"),
                    .init(name: "scores kept, and joined at the end", bytes: 2 * kept, advice: resultAdvice),
                ]),
        ]
        return MemoryPlan(resident: resident, stages: stages)
    }
}
