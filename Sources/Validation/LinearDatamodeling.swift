import Foundation
import Reports
import TensorCore

/// The linear datamodeling score (Park et al. 2023): how well sums of influence scores over random
/// subsets of the training data predict what a model retrained on each subset measures.
///
/// For M subsets S_j of a fraction α of the N training rows, retrain on each (several seeds
/// averaged) and measure f_q; the datamodel's prediction for S_j is Σ_{m ∈ S_j} score(q, m). A
/// positive score lowers the query loss, so the LDS of query q is Spearman's ρ over subsets between
/// the prediction and −f_q(S_j); the score of a strategy is the mean over queries.
public enum LinearDatamodeling {
    /// M subsets of ⌊α N⌋ distinct rows each (sorted), drawn with `seed`: the same for every strategy.
    public static func subsets(count: Int, fraction: Double, of rows: Int, seed: UInt64) -> [[Int]] {
        precondition(fraction > 0 && fraction < 1, "subset fraction \(fraction) should be in (0, 1)")
        let size = Swift.max(1, Int((fraction * Double(rows)).rounded(.down)))
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            var all = Array(0..<rows)
            // A partial Fisher–Yates shuffle: the first `size` entries are a uniform sample.
            for i in 0..<size {
                let j = i + Int(generator.next() % UInt64(rows - i))
                all.swapAt(i, j)
            }
            return all.prefix(size).sorted()
        }
    }

    /// The predictions Σ_{m ∈ S} score(q, m), `[queries][subsets]`, of a `[queries, rows]` score matrix.
    public static func predictions(scores: [[Double]], subsets: [[Int]]) -> [[Double]] {
        scores.map { row in subsets.map { subset in subset.reduce(0) { $0 + row[$1] } } }
    }

    /// Per query, Spearman's ρ between the prediction and −f over subsets (nil when either is
    /// constant), from `measurements` `[subsets][queries]`.
    public static func perQuery(scores: [[Double]], subsets: [[Int]], measurements: [[Double]]) -> [Double?] {
        precondition(measurements.count == subsets.count, "\(measurements.count) measurements for \(subsets.count) subsets")
        let predicted = predictions(scores: scores, subsets: subsets)
        return predicted.indices.map { q in
            Correlation.spearman(predicted[q], measurements.map { -$0[q] })
        }
    }

    /// The mean over queries of ``perQuery(scores:subsets:measurements:)`` (queries with no
    /// correlation left out); nil when no query has one.
    public static func score(scores: [[Double]], subsets: [[Int]], measurements: [[Double]]) -> Double? {
        let values = perQuery(scores: scores, subsets: subsets, measurements: measurements).compactMap { $0 }
        return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }
}

/// Mislabel detection by self-influence: flipped labels are expected among the training points
/// with the highest self-influence ∇L(z_m)ᵀ (H + λI)⁻¹ ∇L(z_m) (Koh & Liang 2017; Pruthi et al. 2020).
public enum MislabelDetection {
    /// Flips ⌊fraction · N⌋ labels, drawn with `seed`, each to another class chosen uniformly:
    /// the new labels and the sorted indices of the flipped rows.
    public static func flip(labels: [Int], classCount: Int, fraction: Double, seed: UInt64) -> (labels: [Int], flipped: [Int]) {
        precondition(classCount >= 2, "flipping labels needs at least two classes")
        precondition(fraction > 0 && fraction < 1, "flip fraction \(fraction) should be in (0, 1)")
        let chosen = LinearDatamodeling.subsets(count: 1, fraction: fraction, of: labels.count, seed: seed)[0]
        var generator = SeededGenerator(seed: seed &+ 1)
        var result = labels
        for i in chosen {
            let shift = 1 + Int(generator.next() % UInt64(classCount - 1))
            result[i] = (labels[i] + shift) % classCount
        }
        return (result, chosen)
    }

    /// The fraction of the flipped rows found among the top `inspected` fractions of the rows ranked
    /// by `selfInfluence` (highest first; ties by index).
    public static func foundFractions(selfInfluence: [Double], flipped: [Int], inspected: [Double]) -> [Double] {
        let order = selfInfluence.indices.sorted { selfInfluence[$0] != selfInfluence[$1] ? selfInfluence[$0] > selfInfluence[$1] : $0 < $1 }
        let isFlipped = Set(flipped)
        return inspected.map { fraction in
            let top = Int((fraction * Double(order.count)).rounded())
            let found = order.prefix(top).filter { isFlipped.contains($0) }.count
            return flipped.isEmpty ? 0 : Double(found) / Double(flipped.count)
        }
    }

    /// The area under the ROC curve of self-influence as a detector of the flipped rows: the
    /// probability that a flipped row outranks a clean one (ties count one half).
    public static func areaUnderCurve(selfInfluence: [Double], flipped: [Int]) -> Double? {
        let isFlipped = Set(flipped)
        let positives = selfInfluence.indices.filter { isFlipped.contains($0) }.map { selfInfluence[$0] }
        let negatives = selfInfluence.indices.filter { !isFlipped.contains($0) }.map { selfInfluence[$0] }
        guard !positives.isEmpty, !negatives.isEmpty else { return nil }
        // Mann–Whitney U from mid-ranks over the pooled values.
        let ranks = Correlation.ranks(positives + negatives)
        let rankSum = ranks.prefix(positives.count).reduce(0, +)
        let p = Double(positives.count), n = Double(negatives.count)
        return (rankSum - p * (p + 1) / 2) / (p * n)
    }
}
