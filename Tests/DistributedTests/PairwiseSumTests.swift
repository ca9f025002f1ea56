import Distributed
import TensorCore
import XCTest

final class PairwiseSumTests: XCTestCase {
    /// The canonical tree by its definition: level by level, pairs summed, an odd last node carried up.
    func canonical(_ leaves: [Float]) -> Float {
        var level = leaves
        while level.count > 1 {
            level = stride(from: 0, to: level.count, by: 2).map { $0 + 1 < level.count ? level[$0] + level[$0 + 1] : level[$0] }
        }
        return level[0]
    }

    /// Leaves whose sum depends on the order of additions in Float.
    func leaves(_ n: Int, seed: UInt64) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        return (0..<n).map { _ in Float.random(in: -1...1, using: &generator) * pow(10, Float(Int.random(in: -4...4, using: &generator))) }
    }

    /// Sums contiguous runs of leaves separately, then joins their nodes, as ranks do.
    func split(_ leaves: [Float], cuts: [Int]) -> Float {
        let bounds = [0] + cuts + [leaves.count]
        var parts: [PairwiseSum<Float>] = []
        for r in 0..<(bounds.count - 1) {
            var part = PairwiseSum<Float>(leafCount: leaves.count, add: +)
            for i in bounds[r]..<bounds[r + 1] { part.append(leaf: i, value: leaves[i]) }
            parts.append(part)
        }
        var root = PairwiseSum<Float>(leafCount: leaves.count, add: +)
        for part in parts { for node in part.nodes { root.append(node) } }
        return root.root!
    }

    func testEverySplitGivesTheCanonicalBits() {
        var orderMattered = false
        for n in [1, 2, 3, 5, 7, 8, 13, 31, 64, 100] {
            let values = leaves(n, seed: UInt64(n))
            let expected = canonical(values)
            if values.reduce(0, +) != expected { orderMattered = true }
            XCTAssertEqual(split(values, cuts: []).bitPattern, expected.bitPattern, "one run of \(n)")
            var generator = SeededGenerator(seed: 99)
            for ranks in 2...6 where ranks <= n {
                // Even splits as WorkShards makes them, and random cuts.
                let even = (1..<ranks).map { $0 * n / ranks }
                XCTAssertEqual(split(values, cuts: even).bitPattern, expected.bitPattern, "\(n) leaves in \(ranks) even runs")
                let random = Array(Set((1..<ranks).map { _ in Int.random(in: 1..<n, using: &generator) })).sorted()
                XCTAssertEqual(split(values, cuts: random).bitPattern, expected.bitPattern, "\(n) leaves cut at \(random)")
            }
        }
        // The leaves are such that a left-to-right sum differs somewhere: the tree, not luck, gives equality.
        XCTAssertTrue(orderMattered)
    }

    func testNodesStayFewAndRootWaitsForEveryLeaf() {
        var sum = PairwiseSum<Float>(leafCount: 1000, add: +)
        for i in 0..<999 {
            sum.append(leaf: i, value: 1)
            XCTAssertLessThanOrEqual(sum.nodes.count, 10)
            XCTAssertNil(sum.root)
        }
        sum.append(leaf: 999, value: 1)
        XCTAssertEqual(sum.root, 1000)
    }

    func testShardsCoverTheBatchesOnceInOrder() {
        for batches in [1, 2, 7, 8, 9, 100] {
            for blocks in [1, 3, 8, 16] {
                let shards = WorkShards(batchCount: batches, blocks: blocks)
                XCTAssertEqual((0..<shards.blockCount).flatMap { Array(shards.batches(ofBlock: $0)) }, Array(0..<batches))
                XCTAssertTrue((0..<shards.blockCount).allSatisfy { !shards.batches(ofBlock: $0).isEmpty })
                for ranks in 1...5 {
                    let covered = (0..<ranks).flatMap { Array(shards.batches(rank: $0, of: ranks)) }
                    XCTAssertEqual(covered, Array(0..<batches), "\(batches) batches, \(blocks) blocks, \(ranks) ranks")
                }
            }
        }
    }

    func testMessagesRoundTripAndRefuseTruncation() throws {
        var message = TensorMessage()
        let a = Tensor<Double>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6.5])
        message.append([a, Tensor<Double>(shape: [0], scalars: [])])
        message.append([7, -3])
        var reader = TensorMessage.Reader(message.bytes)
        let tensors = try reader.tensors(Double.self)
        XCTAssertEqual(tensors[0].shape, [2, 3])
        XCTAssertEqual(tensors[0].scalars, a.scalars)
        XCTAssertEqual(tensors[1].shape, [0])
        XCTAssertEqual(try reader.integers(), [7, -3])
        XCTAssertTrue(reader.isAtEnd)
        var short = TensorMessage.Reader(Array(message.bytes.dropLast(60)))
        XCTAssertThrowsError(try short.tensors(Double.self))
        var wrong = TensorMessage.Reader(message.bytes)
        XCTAssertThrowsError(try wrong.tensors(Float.self))
    }

    func testSingleProcessSumsAndGathers() throws {
        let one = SingleProcess()
        XCTAssertEqual(try one.sum([3, -4]), [3, -4])
        XCTAssertEqual(try one.gather([9, 8], root: 0), [[9, 8]])
        XCTAssertEqual(try one.broadcast([7], root: 0), [7])
    }
}
