import Foundation
import TensorCore

/// A continuous power law p(x) = ((α − 1)/x_min)·(x/x_min)^(−α) for x ≥ x_min, fitted to the tail
/// of a sample as Clauset, Shalizi & Newman (2009, "Power-law distributions in empirical data")
/// describe:
///
/// - for a given x_min, α by maximum likelihood over the n samples x ≥ x_min:
///   α̂ = 1 + n / Σ ln(x_i / x_min), with standard error (α̂ − 1)/√n;
/// - x_min is the candidate that minimises the Kolmogorov–Smirnov distance
///   D = max_{x ≥ x_min} |S(x) − P(x)| between the tail's empirical CDF S and the fitted
///   P(x) = 1 − (x/x_min)^(1−α);
/// - goodness of fit by their semi-parametric bootstrap: each synthetic sample has the same size,
///   draws from the fitted power law with probability n_tail/n and otherwise from the observed
///   values below x_min; it is fitted the same way (x_min searched again), and the p-value is the
///   fraction whose distance is at least the observed one. p ≤ 0.1 rules the power law out.
public struct PowerLawFit: Sendable, Equatable {
    /// α̂, the maximum-likelihood exponent over the tail; greater than 1.
    public var alpha: Double
    /// The standard error of α̂, (α̂ − 1)/√n_tail.
    public var standardError: Double
    /// The chosen x_min, the smallest value of the tail: one of the samples.
    public var xMin: Double
    /// Samples at or above x_min.
    public var tailCount: Int
    /// Positive samples the fit saw.
    public var sampleCount: Int
    /// The Kolmogorov–Smirnov distance of the fit.
    public var distance: Double
}

/// Fitting power laws to score distributions and describing their tails (see ``PowerLawFit`` for the method).
public enum PowerLaw {
    /// Why a fit is not possible, as a person reads it.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case tooFewSamples(positive: Int, needed: Int)
        case constant(value: Double)

        /// A one-line reason that says how many positive values there are, or which constant they all equal.
        public var description: String {
            switch self {
            case let .tooFewSamples(positive, needed):
                return "a power-law fit needs at least \(needed) positive values; there are \(positive)"
            case let .constant(value):
                return "every positive value equals \(value): a power law cannot be fitted to a constant"
            }
        }
    }

    /// Fits the tail of the positive, finite values of `samples` (others are ignored).
    ///
    /// - Parameters:
    ///   - minimumTail: the smallest tail an x_min may leave (Clauset et al. warn that small tails
    ///     give unreliable α).
    ///   - maximumCandidates: x_min candidates tried, spaced evenly in rank among the distinct
    ///     values (all of them when there are fewer), so that a fit costs O(n · candidates).
    public static func fit(_ samples: [Double], minimumTail: Int = 10, maximumCandidates: Int = 400) throws(Failure) -> PowerLawFit {
        let sorted = samples.filter { $0 > 0 && $0.isFinite }.sorted()
        return try fit(sorted: sorted, minimumTail: minimumTail, maximumCandidates: maximumCandidates)
    }

    /// ``fit(_:minimumTail:maximumCandidates:)`` on positive values sorted ascending.
    static func fit(sorted x: [Double], minimumTail: Int, maximumCandidates: Int) throws(Failure) -> PowerLawFit {
        let n = x.count
        let needed = Swift.max(2, minimumTail)
        guard n >= needed else { throw .tooFewSamples(positive: n, needed: needed) }
        guard x[0] < x[n - 1] else { throw .constant(value: x[0]) }
        // suffix[i] = Σ_{j ≥ i} ln x_j, so that Σ_{j ≥ i} ln(x_j / x_i) = suffix[i] − (n − i) ln x_i.
        let logs = x.map { Foundation.log($0) }
        var suffix = [Double](repeating: 0, count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) { suffix[i] = suffix[i + 1] + logs[i] }
        // Candidates: the first index of each distinct value that leaves a tail of at least `needed`.
        var starts: [Int] = []
        for i in 0...(n - needed) where i == 0 || x[i] != x[i - 1] { starts.append(i) }
        // At least the two ends: evenly spaced picks need two points to space between.
        let candidates = Swift.max(2, maximumCandidates)
        if starts.count > candidates {
            let step = Double(starts.count - 1) / Double(candidates - 1)
            starts = (0..<candidates).map { starts[Int((Double($0) * step).rounded())] }
        }
        var best: PowerLawFit? = nil
        for i in starts {
            let m = n - i
            let sumLog = suffix[i] - Double(m) * logs[i]
            guard sumLog > 0 else { continue }  // the rest of the tail is one value
            let alpha = 1 + Double(m) / sumLog
            var distance = 0.0
            for j in i..<n {
                let model = 1 - Foundation.exp((1 - alpha) * (logs[j] - logs[i]))
                let above = Double(j - i + 1) / Double(m), below = Double(j - i) / Double(m)
                distance = Swift.max(distance, Swift.abs(above - model), Swift.abs(model - below))
            }
            if best == nil || distance < best!.distance {
                best = PowerLawFit(
                    alpha: alpha, standardError: (alpha - 1) / Double(m).squareRoot(), xMin: x[i], tailCount: m,
                    sampleCount: n, distance: distance)
            }
        }
        guard let best else { throw .constant(value: x[n - 1]) }
        return best
    }

    /// The bootstrap p-value of `fit` for `samples` (see ``PowerLaw``); `repetitions` synthetic
    /// samples from a generator seeded with `seed`. Synthetic samples that cannot be fitted count as
    /// fitting worse.
    public static func goodnessOfFit(
        _ samples: [Double], fit: PowerLawFit, repetitions: Int = 200, seed: UInt64 = 0,
        minimumTail: Int = 10, maximumCandidates: Int = 400
    ) -> Double {
        let sorted = samples.filter { $0 > 0 && $0.isFinite }.sorted()
        let below = Array(sorted.prefix { $0 < fit.xMin })
        let n = sorted.count, tailShare = Double(fit.tailCount) / Double(Swift.max(1, n))
        var generator = SeededGenerator(seed: seed)
        var atLeast = 0
        for _ in 0..<repetitions {
            var synthetic: [Double] = []
            synthetic.reserveCapacity(n)
            for _ in 0..<n {
                if below.isEmpty || Double.random(in: 0..<1, using: &generator) < tailShare {
                    synthetic.append(sample(alpha: fit.alpha, xMin: fit.xMin, using: &generator))
                } else {
                    synthetic.append(below[Int.random(in: 0..<below.count, using: &generator)])
                }
            }
            synthetic.sort()
            if let refit = try? Self.fit(sorted: synthetic, minimumTail: minimumTail, maximumCandidates: maximumCandidates) {
                if refit.distance >= fit.distance { atLeast += 1 }
            } else {
                atLeast += 1
            }
        }
        return repetitions == 0 ? .nan : Double(atLeast) / Double(repetitions)
    }

    /// One draw from the power law by inversion: x = x_min (1 − u)^(−1/(α − 1)).
    public static func sample(alpha: Double, xMin: Double, using generator: inout some RandomNumberGenerator) -> Double {
        let u = Double.random(in: 0..<1, using: &generator)
        return xMin * Foundation.pow(1 - u, -1 / (alpha - 1))
    }

    /// The share of the total of the positive values held by the largest `fraction` of all values
    /// (at least one): the paper's "top 1 % of documents" measure. Nil when no value is positive.
    public static func topShare(_ values: [Double], fraction: Double = 0.01) -> Double? {
        let positive = values.filter { $0 > 0 && $0.isFinite }
        let total = positive.reduce(0, +)
        guard total > 0 else { return nil }
        let k = Swift.max(1, Int((Double(values.count) * fraction).rounded(.up)))
        return positive.sorted(by: >).prefix(k).reduce(0, +) / total
    }

    /// The complementary CDF of the positive values, P(X ≥ x) at each distinct x, ascending: the
    /// points of a log-log plot (thinned to at most `points`, evenly in log x, keeping the ends).
    public static func complementaryCDF(_ values: [Double], points: Int = 200) -> [(x: Double, p: Double)] {
        let x = values.filter { $0 > 0 && $0.isFinite }.sorted()
        let n = x.count
        guard n > 0 else { return [] }
        var curve: [(x: Double, p: Double)] = []
        for i in 0..<n where i == 0 || x[i] != x[i - 1] { curve.append((x[i], Double(n - i) / Double(n))) }
        guard curve.count > points, points >= 2, curve[0].x < curve[curve.count - 1].x else { return curve }
        let low = Foundation.log(curve[0].x), high = Foundation.log(curve[curve.count - 1].x)
        var thinned: [(x: Double, p: Double)] = [curve[0]]
        var next = 1
        for point in curve.dropFirst() {
            let position = (Foundation.log(point.x) - low) / (high - low) * Double(points - 1)
            if position >= Double(next) || point.x == curve[curve.count - 1].x {
                thinned.append(point)
                next = Int(position) + 1
            }
        }
        return thinned
    }
}
