extension Tensor {
    /// Draws one class per row from the categorical distribution `softmax(logits)`.
    ///
    /// Used to sample labels from a model's own predictive distribution (the true Fisher).
    /// - Parameter logits: [rows, classes] (or [classes] for a single draw); finite.
    /// - Returns: one class index per row.
    /// - Complexity: O(rows × classes); the softmax is computed in Double.
    public static func sampleCategorical(logits: Tensor, using generator: inout SeededGenerator) -> [Int] {
        let matrix = logits.rank == 1 ? logits.reshaped(to: [1, logits.scalarCount]) : logits
        precondition(matrix.rank == 2 && matrix.shape[1] > 0, "sampleCategorical needs logits [rows, classes], got \(logits.shape)")
        let (rows, classes) = (matrix.shape[0], matrix.shape[1])
        let probabilities = Tensor<Double>(matrix).softmax(alongAxis: 1)
        var result = [Int](repeating: 0, count: rows)
        probabilities.withUnsafeBufferPointer { p in
            for r in 0..<rows {
                let u = generator.nextUniform(Double.self)
                var cumulative = 0.0, choice = classes - 1
                for c in 0..<classes {
                    cumulative += p[r * classes + c]
                    if u < cumulative { choice = c; break }
                }
                // Never pick a class of probability zero because of rounding at the top.
                while choice > 0 && p[r * classes + choice] == 0 { choice -= 1 }
                result[r] = choice
            }
        }
        return result
    }
}
