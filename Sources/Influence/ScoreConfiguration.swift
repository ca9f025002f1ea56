/// What to compute besides the pairwise scores, and in what batches.
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
