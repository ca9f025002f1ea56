extension Tensor {
    /// Draws one class per row from the categorical distribution `softmax(logits)`.
    ///
    /// Used to sample labels from a model's own predictive distribution (the true Fisher). The
    /// softmax runs in the tensor's precision; each row's cumulative sum is accumulated in Double
    /// and scaled by the row's own total, so rounding never moves mass outside the row.
    /// - Parameter logits: [rows, classes] (or [classes] for a single draw); finite.
    /// - Returns: one class index per row; a class of probability zero is never drawn.
    /// - Complexity: O(rows × classes), one uniform draw per row.
    public static func sampleCategorical(logits: Tensor, using generator: inout SeededGenerator) -> [Int] {
        let matrix = logits.rank == 1 ? logits.reshaped(to: [1, logits.scalarCount]) : logits
        precondition(matrix.rank == 2 && matrix.shape[1] > 0, "sampleCategorical needs logits [rows, classes], got \(logits.shape)")
        let (rows, classes) = (matrix.shape[0], matrix.shape[1])
        let probabilities = matrix.softmax(alongAxis: 1)
        let uniforms = (0..<rows).map { _ in generator.nextUniform(Double.self) }
        var result = [Int](repeating: 0, count: rows)
        probabilities.withUnsafeBufferPointer { p in
            let raw = UnsafeRawPointer(p.baseAddress!)
            if Scalar.self == Float.self {
                Sampling.inverseCDF(raw.assumingMemoryBound(to: Float.self), rows: rows, classes: classes, uniforms: uniforms, into: &result)
            } else {
                Sampling.inverseCDF(raw.assumingMemoryBound(to: Double.self), rows: rows, classes: classes, uniforms: uniforms, into: &result)
            }
        }
        return result
    }
}

/// Concrete sampling loops (called with a known element type, so they are specialised).
enum Sampling {
    static func inverseCDF<T: BinaryFloatingPoint>(_ p: UnsafePointer<T>, rows: Int, classes: Int, uniforms: [Double], into result: inout [Int]) {
        for r in 0..<rows {
            let row = p + r * classes
            var total = 0.0
            for c in 0..<classes { total += Double(row[c]) }
            let target = uniforms[r] * total
            var cumulative = 0.0, choice = classes - 1
            for c in 0..<classes {
                cumulative += Double(row[c])
                if target < cumulative { choice = c; break }
            }
            while choice > 0 && row[choice] == 0 { choice -= 1 }
            result[r] = choice
        }
    }
}
