import Foundation

/// The processes that share one run, and what they exchange — the transport seam.
///
/// Work that is a sum over training data (covariances, Λ, curvature products, score columns) is
/// split among ``size`` ranks; rank 0 combines their parts, writes files and shows progress. The
/// default is ``SingleProcess`` (one rank, every exchange a copy); `MPITransport` offers an MPI
/// conformer for `mpirun -np N`. A conformer needs only these byte-level collectives: results
/// are packed with ``TensorMessage`` and combined by ``PairwiseSum`` in an order that does not
/// depend on the number of ranks, so that every rank count gives the same bits.
public protocol Communicator: AnyObject, Sendable {
    /// This process's rank, in `0..<size`.
    var rank: Int { get }
    /// The number of ranks.
    var size: Int { get }
    /// Every rank's bytes on `root`, in rank order; nil on the other ranks.
    ///
    /// - Throws: ``CommunicatorError`` when the transport fails.
    func gather(_ bytes: [UInt8], root: Int) throws -> [[UInt8]]?
    /// `root`'s bytes on every rank (the argument is ignored elsewhere).
    ///
    /// - Throws: ``CommunicatorError`` when the transport fails.
    func broadcast(_ bytes: [UInt8], root: Int) throws -> [UInt8]
    /// Sends bytes to rank `destination`, which takes them with ``receive(from:)``.
    func send(_ bytes: [UInt8], to destination: Int) throws
    /// The bytes rank `source` sends with ``send(_:to:)``.
    func receive(from source: Int) throws -> [UInt8]
    /// Returns once every rank has called it.
    func barrier() throws
    /// Ends every rank of the job after `message` is shown (the transport's abort); returns only
    /// for a single process, which the caller then ends itself.
    func abort(message: String, code: Int32)
}

extension Communicator {
    /// Whether this rank is the one that writes files and shows progress.
    public var isRoot: Bool { rank == 0 }

    /// The element-wise sums of integers over ranks, on every rank (exact, so in any order).
    public func sum(_ values: [Int]) throws -> [Int] {
        var message = TensorMessage()
        message.append(values)
        var total = [Int](repeating: 0, count: values.count)
        for part in try gather(message.bytes, root: 0) ?? [] {
            var reader = TensorMessage.Reader(part)
            let counts = try reader.integers()
            guard counts.count == values.count else { throw CommunicatorError("ranks summed lists of different lengths") }
            for i in total.indices { total[i] += counts[i] }
        }
        var shared = TensorMessage()
        shared.append(total)
        var reader = TensorMessage.Reader(try broadcast(shared.bytes, root: 0))
        return try reader.integers()
    }
}

/// A transport failure: a message of the wrong size, a rank that left.
public struct CommunicatorError: Error, CustomStringConvertible {
    /// What went wrong, for the user.
    public let description: String
    /// An error with the given message.
    public init(_ description: String) { self.description = description }
}

/// One process: rank 0 of 1, every collective a copy.
public final class SingleProcess: Communicator {
    /// The one process of a run without MPI.
    public init() {}
    /// Always 0.
    public var rank: Int { 0 }
    /// Always 1.
    public var size: Int { 1 }
    /// This process's bytes, the only rank's.
    public func gather(_ bytes: [UInt8], root: Int) throws -> [[UInt8]]? { [bytes] }
    /// `bytes` unchanged.
    public func broadcast(_ bytes: [UInt8], root: Int) throws -> [UInt8] { bytes }
    /// Refuses: there is no other rank.
    ///
    /// - Throws: ``CommunicatorError`` always.
    public func send(_ bytes: [UInt8], to destination: Int) throws {
        throw CommunicatorError("a single process has no rank \(destination) to send to")
    }
    /// Refuses: there is no other rank.
    ///
    /// - Throws: ``CommunicatorError`` always.
    public func receive(from source: Int) throws -> [UInt8] { throw CommunicatorError("a single process has no rank \(source) to receive from") }
    /// Returns at once.
    public func barrier() throws {}
    /// Does nothing: the caller ends the process itself.
    public func abort(message: String, code: Int32) {}
}

/// How a run's batches are shared among ranks: the batches are cut into fixed blocks, a rank
/// takes a contiguous run of whole blocks, and sums over blocks are combined by the canonical
/// pairwise tree (``PairwiseSum``). Blocks depend on the data and the options only, never on the
/// number of ranks, which is what makes one rank and many agree bit for bit.
public struct WorkShards: Sendable, Equatable {
    /// Batches of the whole run.
    public let batchCount: Int
    /// Blocks the batches are cut into: at most the requested number, at most one per batch.
    public let blockCount: Int

    /// Shards for `batchCount` batches cut into `requested` blocks (at least 1), at most one block per batch.
    public init(batchCount: Int, blocks requested: Int) {
        precondition(requested >= 1, "at least one block")
        self.batchCount = batchCount
        self.blockCount = Swift.max(1, Swift.min(requested, batchCount))
    }

    /// The batches of block `b`: an even split, the earlier blocks at most one batch shorter.
    public func batches(ofBlock b: Int) -> Range<Int> {
        (b * batchCount / blockCount)..<((b + 1) * batchCount / blockCount)
    }

    /// The blocks of rank `rank` of `size`.
    public func blocks(rank: Int, of size: Int) -> Range<Int> {
        (rank * blockCount / size)..<((rank + 1) * blockCount / size)
    }

    /// The batches of rank `rank` of `size`.
    public func batches(rank: Int, of size: Int) -> Range<Int> {
        let blocks = blocks(rank: rank, of: size)
        guard !blocks.isEmpty else {
            let start = batches(ofBlock: Swift.min(blocks.lowerBound, blockCount - 1)).lowerBound
            return start..<start
        }
        return batches(ofBlock: blocks.lowerBound).lowerBound..<batches(ofBlock: blocks.upperBound - 1).upperBound
    }
}

/// Part `index` of `count` of a run split into separate jobs without MPI (`--partition i/n`, a
/// job array): the part takes the blocks rank `index` of `count` would, writes its partial
/// results, and `influence merge` combines every part into one run's output.
public struct Partition: Sendable, Equatable, CustomStringConvertible {
    /// This part's index, in `0..<count`.
    public let index: Int
    /// The number of parts of the job array (at least 1).
    public let count: Int

    /// Part `index` of `count`; traps unless `0 ≤ index < count`.
    public init(index: Int, count: Int) {
        precondition(count >= 1 && (0..<count).contains(index), "partition \(index) of \(count)")
        self.index = index
        self.count = count
    }

    /// `i/n` with 0 ≤ i < n; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, n <= 1 << 20, (0..<n).contains(i) else { return nil }
        self.init(index: i, count: n)
    }

    /// `i/n`, as `--partition` spells it.
    public var description: String { "\(index)/\(count)" }
}
