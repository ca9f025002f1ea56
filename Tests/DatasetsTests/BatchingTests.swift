import Datasets
import Testing
import TensorCore

@Suite("Batching: chunks, padding, shuffled index batches")
struct BatchingTests {
    // MARK: Chunks

    @Test(arguments: [
        (10, 4, false, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]),
        (10, 4, true, [[0, 1, 2, 3], [4, 5, 6, 7]]),
        (8, 4, false, [[0, 1, 2, 3], [4, 5, 6, 7]]),
        (8, 4, true, [[0, 1, 2, 3], [4, 5, 6, 7]]),
        (3, 5, false, [[0, 1, 2]]),
        (3, 5, true, []),
        (0, 2, false, []),
        (3, 1, true, [[0], [1], [2]]),
    ])
    func chunksCutTheStreamInOrder(count: Int, length: Int, dropLast: Bool, expected: [[Int]]) {
        let tokens = Array(0..<count)
        let chunks = Batching.chunks(tokens, length: length, dropLast: dropLast)
        #expect(chunks == expected)
        #expect(chunks.flatMap { $0 } == Array(tokens.prefix(chunks.flatMap { $0 }.count)), "not a prefix of the stream")
    }

    // MARK: Padding

    @Test func padRightPadsToTheLongestWithAMask() {
        let batch = Batching.pad([[5, 6, 7], [8], [9, 10]], padToken: 0)
        #expect(batch.batchSize == 3 && batch.length == 3)
        #expect(batch.tokens == [5, 6, 7, 8, 0, 0, 9, 10, 0])
        #expect(batch.mask == [1, 1, 1, 1, 0, 0, 1, 1, 0])
        #expect(batch.tokenCount == 6)
        #expect(batch.indices == [0, 1, 2])
        #expect(batch.attentionMask(Float.self) == Tensor(shape: [3, 3], scalars: [1, 1, 1, 1, 0, 0, 1, 1, 0]))
    }

    @Test func padToAFixedLengthTruncatesAndPadsWithTheGivenToken() {
        let batch = Batching.pad([[1, 2, 3, 4, 5], [6]], indices: [40, 41], to: 3, padToken: 99)
        #expect(batch.length == 3)
        #expect(batch.tokens == [1, 2, 3, 6, 99, 99])
        #expect(batch.mask == [1, 1, 1, 1, 0, 0])
        #expect(batch.indices == [40, 41])
        let wide = Batching.pad([[1], [2, 3]], to: 4, padToken: 7)
        #expect(wide.tokens == [1, 7, 7, 7, 2, 3, 7, 7] && wide.mask == [1, 0, 0, 0, 1, 1, 0, 0])
    }

    @Test func paddedRowsRecoverTheSequences() {
        var generator = SeededGenerator(seed: 3)
        let sequences = (0..<6).map { _ in (0..<Int(1 + generator.next() % 9)).map { _ in Int(generator.next() % 50) } }
        let batch = Batching.pad(sequences, padToken: 0)
        #expect(batch.length == sequences.map(\.count).max())
        for (row, sequence) in sequences.enumerated() {
            let range = row * batch.length..<(row + 1) * batch.length
            let kept = zip(batch.tokens[range], batch.mask[range]).filter { $0.1 == 1 }.map(\.0)
            #expect(kept == sequence)
            #expect(batch.mask[range].reduce(0, +) == sequence.count)
        }
        #expect(batch.tokenCount == sequences.map(\.count).reduce(0, +))
    }

    // MARK: Index batches

    @Test func unshuffledBatchesAreInOrder() {
        #expect(Batching.indexBatches(count: 7, batchSize: 3, shuffle: false) == [[0, 1, 2], [3, 4, 5], [6]])
        #expect(Batching.indexBatches(count: 7, batchSize: 3, shuffle: false, dropLast: true) == [[0, 1, 2], [3, 4, 5]])
        #expect(Batching.indexBatches(count: 0, batchSize: 3, shuffle: true).isEmpty)
        #expect(Batching.indexBatches(count: 1, batchSize: 3, shuffle: true) == [[0]])
    }

    @Test(arguments: [(100, 7), (10, 10), (10, 32), (33, 1)])
    func shuffledBatchesArePermutations(count: Int, batchSize: Int) {
        let batches = Batching.indexBatches(count: count, batchSize: batchSize, shuffle: true, seed: 1, epoch: 0)
        #expect(batches.flatMap { $0 }.sorted() == Array(0..<count))
        #expect(batches.dropLast().allSatisfy { $0.count == batchSize })
        #expect(batches.count == (count + batchSize - 1) / batchSize)
    }

    @Test func theSameSeedAndEpochGiveTheSameOrderAndOthersDiffer() {
        func order(seed: UInt64, epoch: Int) -> [Int] {
            Batching.indexBatches(count: 50, batchSize: 8, shuffle: true, seed: seed, epoch: epoch).flatMap { $0 }
        }
        #expect(order(seed: 3, epoch: 2) == order(seed: 3, epoch: 2))
        #expect(order(seed: 3, epoch: 0) != Array(0..<50))
        let epochs = (0..<5).map { order(seed: 3, epoch: $0) }
        #expect(Set(epochs).count == 5, "epochs repeat an order")
        #expect(order(seed: 4, epoch: 0) != order(seed: 3, epoch: 0))
    }

    @Test func shuffleIsUniformEnoughThatEveryPositionIsReached() {
        // Over 400 epochs each of 5 indices should land in each of 5 positions about 80 times;
        // a Fisher–Yates off by one (j drawn from 0..<i) never leaves an index in place.
        var counts = Array(repeating: Array(repeating: 0, count: 5), count: 5)
        for epoch in 0..<400 {
            let order = Batching.indexBatches(count: 5, batchSize: 5, shuffle: true, seed: 9, epoch: epoch)[0]
            for (position, index) in order.enumerated() { counts[index][position] += 1 }
        }
        #expect(counts.joined().allSatisfy { (40...120).contains($0) }, "position counts \(counts)")
    }

    @Test func dropLastDropsOnlyTheShortBatch() {
        let kept = Batching.indexBatches(count: 10, batchSize: 4, shuffle: true, seed: 2, epoch: 1, dropLast: true)
        let all = Batching.indexBatches(count: 10, batchSize: 4, shuffle: true, seed: 2, epoch: 1)
        #expect(kept.count == 2 && kept.allSatisfy { $0.count == 4 })
        #expect(kept == Array(all.prefix(2)), "dropLast must not change the order")
        #expect(Set(kept.joined()).count == 8)
    }
}

@Suite("Documents cut into chunks")
struct DocumentChunksTests {
    @Test func everyTargetOfALongDocumentIsPredictedOnce() {
        let documents = [Array(0..<10), [50, 51], Array(100..<104)]
        let chunks = DocumentChunks(documents, ids: ["a", "b", "c"], length: 4)
        #expect(chunks.sequences == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9], [50, 51], [100, 101, 102, 103]])
        #expect(chunks.documentOfRow == [0, 0, 0, 1, 2])
        #expect(chunks.rowRanges == [0..<3, 3..<4, 4..<5])
        #expect(chunks.stride == 3 && chunks.splitsDocuments)
        // The targets (every token but a chunk's first) of a document's chunks are its tokens after the first, once each.
        let targets = chunks.rowRanges[0].flatMap { chunks.sequences[$0].dropFirst() }
        #expect(targets == Array(1..<10))
    }

    @Test func aDocumentOneTokenLongerThanTheContextEndsWithATwoTokenChunk() {
        let chunks = DocumentChunks([Array(0..<5)], ids: ["x"], length: 4)
        #expect(chunks.sequences == [[0, 1, 2, 3], [3, 4]])
        #expect(!DocumentChunks([[1, 2, 3]], ids: ["y"], length: 4).splitsDocuments)
    }
}
