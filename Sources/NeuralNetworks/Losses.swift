import Autograd
import TensorCore

/// Loss functions. Every one states exactly what it sums or averages.
public enum Losses {
    /// The label value that marks a position to skip (PyTorch's default `ignore_index`).
    public static let ignoredLabel = -100

    /// Softmax cross-entropy, −log softmax(logits)[label], per row.
    ///
    /// - Parameters:
    ///   - logits: `[rows, classes]`.
    ///   - labels: one class per row, or `ignoreIndex` to skip the row (loss 0, not counted).
    ///   - reduction: `.none` gives the `[rows]` vector (0 at skipped rows); `.sum` sums it;
    ///     `.mean` divides the sum by the number of rows not skipped (as PyTorch).
    public static func crossEntropy<Scalar>(
        logits: Variable<Scalar>, labels: [Int], reduction: LossReduction = .mean,
        ignoreIndex: Int = ignoredLabel
    ) -> Variable<Scalar> {
        precondition(
            logits.rank == 2 && logits.shape[0] == labels.count,
            "crossEntropy: logits \(logits.shape) need [\(labels.count), classes] for \(labels.count) labels")
        let classes = logits.shape[1]
        for l in labels where l != ignoreIndex {
            precondition(l >= 0 && l < classes, "crossEntropy: label \(l) out of range 0..<\(classes)")
        }
        let kept = labels.map { $0 == ignoreIndex ? 0 : 1 }
        let safe = labels.map { $0 == ignoreIndex ? 0 : $0 }
        var losses = logits.crossEntropy(labels: safe)
        let keptCount = kept.reduce(0, +)
        if keptCount < labels.count {
            losses = losses.masked(by: Tensor(shape: [labels.count], scalars: kept.map { Scalar($0) }))
        }
        switch reduction {
        case .none: return losses
        case .sum: return losses.sum()
        case .mean: return losses.sum() * (1 / Scalar(Swift.max(1, keptCount)))
        }
    }

    /// Next-token cross-entropy of a language model, per predicted position.
    ///
    /// ```
    /// ℓ[b, t] = −log p(x[b, t+1] | x[b, ≤t]),   t = 0 … time − 2
    /// ```
    /// - Parameters:
    ///   - logits: `[batch, time, vocabulary]`.
    ///   - tokens: `batch × time` ids, row-major.
    ///   - mask: `batch × time` flags, 1 for tokens and 0 for padding; a position counts when the
    ///     predicted token is not padding. Nil counts every position.
    /// - Returns: `[batch, time − 1]` losses, 0 where not counted; sum them for the summed loss.
    public static func nextTokenLosses<Scalar>(logits: Variable<Scalar>, tokens: [Int], mask: [Int]? = nil) -> Variable<Scalar> {
        let (batch, time, vocabulary) = (logits.shape[0], logits.shape[1], logits.shape[2])
        precondition(tokens.count == batch * time, "nextTokenLosses: \(tokens.count) tokens for logits \(logits.shape)")
        if let mask { precondition(mask.count == tokens.count, "nextTokenLosses: mask has \(mask.count) entries for \(tokens.count) tokens") }
        precondition(time >= 2, "nextTokenLosses needs sequences of at least 2 tokens, got \(time)")
        let predicting = logits.sliced(along: 1, 0..<(time - 1)).reshaped(to: [batch * (time - 1), vocabulary])
        var labels: [Int] = []
        labels.reserveCapacity(batch * (time - 1))
        for b in 0..<batch {
            for t in 1..<time {
                let counted = mask.map { $0[b * time + t] != 0 } ?? true
                labels.append(counted ? tokens[b * time + t] : ignoredLabel)
            }
        }
        return crossEntropy(logits: predicting, labels: labels, reduction: .none).reshaped(to: [batch, time - 1])
    }

    /// Squared error summed over output features, per row: `ℓ_i = Σ_j (prediction_ij − target_ij)²`,
    /// then reduced over rows (`.mean` divides by the number of rows).
    public static func meanSquaredError<Scalar>(
        _ prediction: Variable<Scalar>, _ target: Tensor<Scalar>,
        reduction: LossReduction = .mean
    ) -> Variable<Scalar> {
        precondition(prediction.shape == target.shape, "meanSquaredError: prediction \(prediction.shape) vs target \(target.shape)")
        let perRow = (prediction - Variable(target)).squared()
        let rows = prediction.rank == 0 ? perRow : perRow.reshaped(to: [prediction.shape[0], -1]).sum(alongAxes: [1])
        switch reduction {
        case .none: return rows
        case .sum: return rows.sum()
        case .mean: return rows.mean()
        }
    }
}

/// Labels drawn from a model's own predictive distribution, for the true Fisher (= the
/// Gauss–Newton matrix for these losses).
public enum LabelSampling {
    /// One class per row from `softmax(logits)`: `logits` `[rows, classes]` (or `[..., classes]`).
    public static func categorical<Scalar>(logits: Tensor<Scalar>, using generator: inout SeededGenerator) -> [Int] {
        let classes = logits.shape[logits.rank - 1]
        return Tensor.sampleCategorical(logits: logits.reshaped(to: [-1, classes]), using: &generator)
    }

    /// Regression targets `prediction + σ·ε` with ε ~ N(0, 1): the Gaussian whose negative
    /// log-likelihood is, up to constants, the squared error.
    ///
    /// The default σ = √½ matches ``Losses/meanSquaredError(_:_:reduction:)``, which has no ½:
    /// Σ (f − y)² is the negative log-likelihood of N(f, ½) up to a constant, so its gradient
    /// 2(f − y) = −2σε has second moment 4σ² = 2, the loss's Hessian in f, and the Fisher of
    /// these labels is the Gauss–Newton matrix (with σ = 1 it would be twice that).
    public static func gaussian<Scalar>(
        prediction: Tensor<Scalar>, standardDeviation: Scalar = Scalar(0.5).squareRoot(),
        using generator: inout SeededGenerator
    ) -> Tensor<Scalar> {
        prediction + Tensor.randomNormal(shape: prediction.shape, standardDeviation: standardDeviation, using: &generator)
    }
}
