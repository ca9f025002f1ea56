import Foundation
import Testing
import TensorCore
import Training
import _TestSupport

@Suite("Learning-rate schedules")
struct LearningRateScheduleTests {
    static let peak = 1e-3, minimum = 1e-5
    /// Warm-up over steps 0…9, cosine decay over steps 10…110.
    static let schedule = LearningRateSchedule.warmupCosine(peak: peak, warmupSteps: 10, totalSteps: 110, minimum: minimum)

    /// Closed forms: warm-up is η·(t + 1)/w, so the last warm-up step and the first decay step
    /// are both at the peak; the cosine is 1, 1/√2, 0, −1/√2, −1 at progress 0, ¼, ½, ¾, 1.
    static let closedForms: [(step: Int, rate: Double)] = {
        let (p, m) = (peak, minimum)
        let quarter: Double = m + (p - m) * (2 + 2.0.squareRoot()) / 4
        let threeQuarters: Double = m + (p - m) * (2 - 2.0.squareRoot()) / 4
        return [
            (0, p / 10), (4, p * 5 / 10), (9, p), (10, p), (35, quarter), (60, (p + m) / 2), (85, threeQuarters),
            (110, m), (111, m), (10_000, m),
        ]
    }()

    @Test(arguments: closedForms)
    func warmupCosineHasItsClosedFormValue(step: Int, expected: Double) {
        let r = compare(Self.schedule.learningRate(at: step), expected, tolerance: 1e-14, "rate at step \(step)")
        #expect(r.passed, "\(r)")
    }

    @Test func warmupRisesAndDecayFalls() {
        let rates = (0...120).map { Self.schedule.learningRate(at: $0) }
        #expect(zip(rates[0..<9], rates[1..<10]).allSatisfy { $0 < $1 }, "warm-up must increase")
        #expect(rates[9] == rates[10], "warm-up ends at the peak where the decay starts")
        #expect(zip(rates[10..<110], rates[11..<111]).allSatisfy { $0 > $1 }, "decay must decrease")
        #expect(rates.allSatisfy { $0 > 0 && $0 <= Self.peak })
    }

    @Test func withoutWarmupTheFirstStepIsAtThePeak() {
        let schedule = LearningRateSchedule.warmupCosine(peak: 0.5, warmupSteps: 0, totalSteps: 4, minimum: 0)
        // cos(π/4) = 1/√2: rates 0.5, 0.25(1 + 1/√2), 0.25, 0.25(1 − 1/√2), 0.
        let closedForm = [0.5, 0.25 * (1 + 1 / 2.0.squareRoot()), 0.25, 0.25 * (1 - 1 / 2.0.squareRoot()), 0]
        for (step, value) in closedForm.enumerated() {
            let r = compare(schedule.learningRate(at: step), value, tolerance: 1e-14, "step \(step)")
            #expect(r.passed, "\(r)")
        }
    }

    @Test(arguments: [0, 1, 99, 1_000_000])
    func constantScheduleIgnoresTheStep(step: Int) {
        #expect(LearningRateSchedule.constant(3e-4).learningRate(at: step) == 3e-4)
    }
}

@Suite("Gradient clipping by global norm")
struct GradientClippingTests {
    /// ‖(3, 4, 12)‖ = 13 across a [2] and a [1, 1] tensor.
    static let pythagorean = [Tensor<Double>([3, 4]), Tensor<Double>(shape: [1, 1], scalars: [12])]

    @Test func globalNormSpansEveryTensor() {
        #expect(GradientClipping.globalNorm(Self.pythagorean) == 13)
        #expect(GradientClipping.globalNorm([Tensor<Float>([1, 2, 2]), Tensor<Float>([4])]) == 5)
        #expect(GradientClipping.globalNorm([Tensor<Double>]()) == 0)
    }

    @Test func clippingScalesEveryTensorToExactlyTheMaximumNorm() {
        var gradients = Self.pythagorean
        let before = GradientClipping.clip(&gradients, maximumNorm: 6.5)
        #expect(before == 13, "clip returns the norm before clipping")
        #expect(gradients[0] == Tensor([1.5, 2]))
        #expect(gradients[1] == Tensor(shape: [1, 1], scalars: [6]))
        #expect(GradientClipping.globalNorm(gradients) == 6.5)
    }

    @Test(arguments: [1e-3, 0.7, 20.0])
    func clippingRandomGradientsKeepsTheirDirection(maximumNorm: Double) {
        var generator = testGenerator(7)
        let original = [
            Tensor<Double>.randomNormal(shape: [5, 3], using: &generator),
            Tensor<Double>.randomNormal(shape: [4], standardDeviation: 10, using: &generator),
        ]
        // The norm by a plain loop over every scalar, independent of Tensor.dot.
        let norm = original.flatMap(\.scalars).map { $0 * $0 }.reduce(0, +).squareRoot()
        #expect(norm > maximumNorm)
        var clipped = original
        let reported = GradientClipping.clip(&clipped, maximumNorm: maximumNorm)
        #expect(compare(reported, norm, tolerance: 1e-14).passed)
        let after = clipped.flatMap(\.scalars).map { $0 * $0 }.reduce(0, +).squareRoot()
        let r = compare(after, maximumNorm, tolerance: 1e-14, "norm after clipping")
        #expect(r.passed, "\(r)")
        for (c, o) in zip(clipped, original) {
            let d = compare(c, o * (maximumNorm / norm), tolerance: 1e-14, "direction")
            #expect(d.passed, "\(d)")
        }
    }

    @Test(arguments: [13.0, 13.5, 1e9])
    func gradientsAtOrBelowTheMaximumAreUnchanged(maximumNorm: Double) {
        var gradients = Self.pythagorean
        #expect(GradientClipping.clip(&gradients, maximumNorm: maximumNorm) == 13)
        #expect(gradients == Self.pythagorean)
    }

    @Test func floatGradientsAreClippedToo() {
        var gradients = [Tensor<Float>([30, 40])]
        GradientClipping.clip(&gradients, maximumNorm: 5)
        #expect(gradients[0] == Tensor([3, 4]))
    }
}
