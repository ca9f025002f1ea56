import Foundation
import Testing
import TensorCore
import Reports

/// The power-law fit against samples whose law is known.
@Suite("Power-law tails (Clauset, Shalizi & Newman)")
struct PowerLawTests {
    /// n draws from a Pareto law of exponent α above x_min, by inversion with a seeded generator.
    static func pareto(alpha: Double, xMin: Double, count: Int, seed: UInt64) -> [Double] {
        var g = SeededGenerator(seed: seed)
        return (0..<count).map { _ in PowerLaw.sample(alpha: alpha, xMin: xMin, using: &g) }
    }

    @Test(arguments: [1.8, 2.5, 3.5])
    func theExponentOfAParetoSampleIsRecoveredWithinItsStandardError(alpha: Double) throws {
        let samples = Self.pareto(alpha: alpha, xMin: 1, count: 5000, seed: UInt64(alpha * 10))
        let fit = try PowerLaw.fit(samples)
        // The standard error of the maximum-likelihood estimate is (α − 1)/√n; allow four of them
        // (x_min is searched, so the tail is a little shorter than the sample).
        #expect(abs(fit.alpha - alpha) < 4 * fit.standardError, "α̂ = \(fit.alpha) ± \(fit.standardError) for α = \(alpha)")
        #expect(fit.standardError == (fit.alpha - 1) / Double(fit.tailCount).squareRoot())
        // Closed form on the tail the fit chose.
        let tail = samples.filter { $0 >= fit.xMin }
        #expect(tail.count == fit.tailCount)
        let closedForm = 1 + Double(tail.count) / tail.reduce(0) { $0 + log($1 / fit.xMin) }
        #expect(abs(fit.alpha - closedForm) < 1e-9 * closedForm)
        // The distance is the Kolmogorov–Smirnov statistic of that tail, computed here directly.
        let sorted = tail.sorted(), m = Double(sorted.count)
        var d = 0.0
        for (i, x) in sorted.enumerated() {
            let p = 1 - pow(x / fit.xMin, 1 - fit.alpha)
            d = max(d, abs(Double(i + 1) / m - p), abs(p - Double(i) / m))
        }
        #expect(abs(fit.distance - d) < 1e-9)
    }

    @Test func xMinIsFoundAboveABodyThatIsNotAPowerLaw() throws {
        // 3,000 values uniform in (0, 2) below a Pareto tail of 3,000 values above x_min = 2, α = 2.2.
        var g = SeededGenerator(seed: 7)
        let body = (0..<3000).map { _ in Double.random(in: 0.001..<2, using: &g) }
        let samples = body + Self.pareto(alpha: 2.2, xMin: 2, count: 3000, seed: 8)
        let fit = try PowerLaw.fit(samples)
        #expect(fit.xMin > 1.5 && fit.xMin < 3, "x_min = \(fit.xMin)")
        #expect(abs(fit.alpha - 2.2) < 4 * fit.standardError, "α̂ = \(fit.alpha) ± \(fit.standardError)")
    }

    @Test func theBootstrapAcceptsAPowerLawAndRejectsABoundedSample() throws {
        let law = Self.pareto(alpha: 2.5, xMin: 1, count: 1000, seed: 11)
        let fit = try PowerLaw.fit(law)
        let p = PowerLaw.goodnessOfFit(law, fit: fit, repetitions: 100, seed: 1)
        #expect(p > 0.1, "p = \(p) for a true power law")
        // Uniform samples on [1, 2]: bounded, so no tail of them falls like a power law.
        var g = SeededGenerator(seed: 12)
        let uniform = (0..<1000).map { _ in Double.random(in: 1..<2, using: &g) }
        let wrong = try PowerLaw.fit(uniform)
        let q = PowerLaw.goodnessOfFit(uniform, fit: wrong, repetitions: 100, seed: 1)
        #expect(q <= 0.1, "p = \(q) for uniform samples (fit α = \(wrong.alpha), x_min = \(wrong.xMin), tail \(wrong.tailCount))")
        // Seeded: the same p again.
        #expect(PowerLaw.goodnessOfFit(law, fit: fit, repetitions: 100, seed: 1) == p)
    }

    @Test func samplesThatCannotBeFittedSaySo() throws {
        #expect(throws: PowerLaw.Failure.constant(value: 3)) { try PowerLaw.fit(Array(repeating: 3, count: 50)) }
        // One candidate (or none) still searches the two ends of the range instead of dividing by zero.
        let samples = Self.pareto(alpha: 2.5, xMin: 1, count: 2000, seed: 9)
        for candidates in [0, 1] {
            let few = try PowerLaw.fit(samples, maximumCandidates: candidates)
            let two = try PowerLaw.fit(samples, maximumCandidates: 2)
            #expect(few.alpha == two.alpha && few.xMin == two.xMin, "\(candidates) candidates: \(few) against two: \(two)")
        }
        #expect(throws: PowerLaw.Failure.tooFewSamples(positive: 4, needed: 10)) { try PowerLaw.fit([1, 2, 3, 4, -5, 0, .nan]) }
        #expect(throws: PowerLaw.Failure.tooFewSamples(positive: 0, needed: 10)) { try PowerLaw.fit(Array(repeating: 0, count: 100)) }
    }

    @Test func theTopShareAndTheComplementaryCDFFollowTheirDefinitions() {
        // 200 values: the top 1 % are the two largest.
        var values = (0..<198).map { _ in 1.0 }
        values += [50, 100]
        values[0] = -30  // negative values count among documents, not in the positive total
        #expect(PowerLaw.topShare(values) == 150.0 / (150 + 197))
        #expect(PowerLaw.topShare([-1, 0]) == nil)
        let curve = PowerLaw.complementaryCDF([3, 1, 2, 2, -1])
        #expect(curve.map(\.x) == [1, 2, 3])
        #expect(curve.map(\.p) == [1, 0.75, 0.25])
        let long = PowerLaw.complementaryCDF(Self.pareto(alpha: 2, xMin: 1, count: 10000, seed: 3), points: 50)
        #expect(long.count <= 51 && long.count > 20)
        #expect(zip(long, long.dropFirst()).allSatisfy { $0.x < $1.x && $0.p > $1.p })
    }
}
