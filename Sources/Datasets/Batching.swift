import TensorCore

/// A batch of token sequences, right-padded to one length.
public struct TokenBatch: Equatable, Sendable {
    /// `batchSize × length` token ids, row-major; padding positions hold `padToken`.
    public var tokens: [Int]
    /// `batchSize × length` flags: 1 for a token, 0 for padding.
    public var mask: [Int]
    /// The number of rows (sequences) in the batch.
    public var batchSize: Int
    /// The padded length of every row, in tokens.
    public var length: Int
    /// The dataset index of each row.
    public var indices: [Int]

    /// The mask as a tensor `[batchSize, length]`, for attention.
    public func attentionMask<Scalar: TensorScalar>(_: Scalar.Type = Scalar.self) -> Tensor<Scalar> {
        Tensor(shape: [batchSize, length], scalars: mask.map { Scalar($0) })
    }

    /// The number of real (non-padding) tokens.
    public var tokenCount: Int { mask.reduce(0, +) }
}

/// Turning token sequences into model inputs.
public enum Batching {
    /// Splits one token stream into consecutive chunks of `length` (the last one shorter unless
    /// `dropLast`), the usual way to train a language model on concatenated documents.
    public static func chunks(_ tokens: [Int], length: Int, dropLast: Bool = false) -> [[Int]] {
        precondition(length > 0, "chunk length must be positive, got \(length)")
        var result: [[Int]] = []
        var start = 0
        while start < tokens.count {
            let end = Swift.min(tokens.count, start + length)
            if end - start == length || !dropLast { result.append(Array(tokens[start..<end])) }
            start = end
        }
        return result
    }

    /// Right-pads sequences to the longest one (or `length`, truncating longer ones).
    public static func pad(_ sequences: [[Int]], indices: [Int]? = nil, to length: Int? = nil, padToken: Int = 0) -> TokenBatch {
        precondition(!sequences.isEmpty, "cannot pad an empty batch")
        let length = length ?? sequences.map(\.count).max()!
        var tokens: [Int] = [], mask: [Int] = []
        tokens.reserveCapacity(sequences.count * length)
        mask.reserveCapacity(sequences.count * length)
        for s in sequences {
            let kept = s.prefix(length)
            tokens += kept
            mask += Array(repeating: 1, count: kept.count)
            tokens += Array(repeating: padToken, count: length - kept.count)
            mask += Array(repeating: 0, count: length - kept.count)
        }
        return TokenBatch(
            tokens: tokens, mask: mask, batchSize: sequences.count, length: length,
            indices: indices ?? Array(0..<sequences.count))
    }

    /// Index batches over `count` examples: in order, or shuffled with a seeded generator (the
    /// same seed and epoch give the same order on every run).
    public static func indexBatches(
        count: Int, batchSize: Int, shuffle: Bool, seed: UInt64 = 0, epoch: Int = 0,
        dropLast: Bool = false
    ) -> [[Int]] {
        precondition(batchSize > 0, "batch size must be positive, got \(batchSize)")
        var order = Array(0..<count)
        if shuffle {
            var generator = SeededGenerator(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
            // Fisher–Yates with the project's generator, so the order is the same on every platform.
            if count > 1 {
                for i in stride(from: count - 1, to: 0, by: -1) {
                    let j = Int(generator.next() % UInt64(i + 1))
                    order.swapAt(i, j)
                }
            }
        }
        var batches: [[Int]] = []
        var start = 0
        while start < count {
            let end = Swift.min(count, start + batchSize)
            if end - start == batchSize || !dropLast { batches.append(Array(order[start..<end])) }
            start = end
        }
        return batches
    }
}
