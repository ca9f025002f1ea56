import TensorCore

extension Variable {
    /// Softmax cross-entropy of logits against class labels.
    ///
    /// ```
    /// ℓ_i = −log softmax(logits_i)[labels_i] = logsumexp(logits_i) − logits_i[labels_i]
    /// ```
    /// - Parameters:
    ///   - logits: [rows, classes].
    ///   - labels: one class index per row.
    ///   - reduction: `.sum` or `.mean` over rows, or `.none` for the [rows] vector.
    public static func softmaxCrossEntropy(logits: Variable, labels: [Int], reduction: LossReduction = .mean) -> Variable {
        precondition(
            logits.rank == 2 && logits.shape[0] == labels.count,
            "softmaxCrossEntropy: logits \(logits.shape) need [\(labels.count), classes] for \(labels.count) labels")
        return reduction.apply(logits.crossEntropy(labels: labels))
    }
}

/// How a per-example loss is reduced.
public enum LossReduction: Sendable {
    case none, sum, mean

    func apply<Scalar>(_ losses: Variable<Scalar>) -> Variable<Scalar> {
        switch self {
        case .none: return losses
        case .sum: return losses.sum()
        case .mean: return losses.mean()
        }
    }
}
