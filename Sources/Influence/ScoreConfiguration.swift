import Distributed

/// What to compute besides the pairwise scores, and in what batches.
public struct ScoreConfiguration: Sendable {
    /// The damping λ the fit is inverted with: a number, or `auto` (fitted factors only).
    public var damping: Damping
    /// Also keep each block's (tracked layer's) share of every score; the shares add up to the total.
    public var perModule: Bool
    /// Also keep each training token's share of every score (Linear-layer curvatures only); the shares add up to the example's score.
    public var perToken: Bool
    /// Also compute each training example's self-influence ∇L(z_m)ᵀ (H + λI)⁻¹ ∇L(z_m) (strategies that keep the inverse only).
    public var selfInfluence: Bool
    /// Training examples per forward/backward pass while the training data streams.
    public var batchSize: Int
    /// Queries measured per backward pass, and preconditioned together (solvers that pass over the data per solve group a whole chunk).
    public var queryBatchSize: Int
    /// Queries preconditioned and held in memory at once (each holds one gradient per tracked
    /// layer); the training data is streamed once per chunk. With a ``memoryBudget`` the chunk
    /// holds as many queries as fit in it instead.
    public var queryChunkSize: Int
    /// How preconditioned query gradients are kept: whole, or as a truncated SVD.
    public var queryRank: QueryRank
    /// How the truncated SVD of a low-rank query is computed; unused with ``QueryRank/full``.
    public var svd: TruncatedSVD
    /// Bytes the queries of a chunk may hold (their factors, per tracked layer); nil for
    /// ``queryChunkSize`` queries per chunk.
    public var memoryBudget: Int?
    /// Which pairs are kept: all of them, each query's top rows, or its candidates.
    public var selection: ScoreSelection
    /// The ranks that share the training rows: each scores a contiguous run of whole batches,
    /// and rank 0 joins their columns (one process by default).
    public var communicator: any Communicator = SingleProcess()
    /// One part of a job array (`--partition i/n`): score the rows rank i of n would and leave them
    /// in the output folder for ``mergedParts``.
    public var partition: Partition?
    /// Join the rows every part of a job array of this many parts left, instead of scoring.
    public var mergedParts: Int?

    /// A configuration over one process; ``communicator``, ``partition`` and ``mergedParts`` keep their defaults and are set afterwards.
    public init(
        damping: Damping = .automatic, perModule: Bool = false, perToken: Bool = false, selfInfluence: Bool = false,
        batchSize: Int = 8, queryBatchSize: Int = 8, queryChunkSize: Int = 64, queryRank: QueryRank = .full,
        svd: TruncatedSVD = .exact, memoryBudget: Int? = nil, selection: ScoreSelection = .all
    ) {
        self.queryChunkSize = queryChunkSize
        self.damping = damping
        self.perModule = perModule
        self.perToken = perToken
        self.selfInfluence = selfInfluence
        self.batchSize = batchSize
        self.queryBatchSize = queryBatchSize
        self.queryRank = queryRank
        self.svd = svd
        self.memoryBudget = memoryBudget
        self.selection = selection
    }

    /// What of the configuration changes results, for resume keys.
    var key: String {
        var parts = [
            "\(perModule)\(perToken)\(selfInfluence)", "\(batchSize)/\(queryChunkSize)", queryRank.description, svd.description,
            memoryBudget.map(String.init) ?? "-",
        ]
        switch selection {
        case .all: break
        case let .top(k): parts.append("top\(k)")
        case let .candidates(c):
            parts.append("candidates\(c.count)/" + String(c.map { $0.reduce(0, { ($0 &* 31) &+ $1 }) }.reduce(0, { ($0 &* 131) &+ $1 }), radix: 16))
        }
        return parts.joined(separator: "/")
    }
}
