import TensorCore

/// The learning rate as a function of the step (0-based).
public enum LearningRateSchedule: Sendable, Equatable {
    case constant(Double)
    /// Linear warm-up from 0 to `peak` over `warmupSteps`, then cosine decay to `minimum` at `totalSteps`.
    case warmupCosine(peak: Double, warmupSteps: Int, totalSteps: Int, minimum: Double)

    /// The rate for the 0-based `step`.
    ///
    /// With ``warmupCosine(peak:warmupSteps:totalSteps:minimum:)`` step s < w gives peak · (s + 1) / w; after it, with p = min(1, (s − w) / max(1, T − w)):
    ///
    /// ```
    /// minimum + (peak − minimum) · (1 + cos(π p)) / 2
    /// ```
    public func learningRate(at step: Int) -> Double {
        switch self {
        case let .constant(rate):
            return rate
        case let .warmupCosine(peak, warmup, total, minimum):
            if step < warmup { return peak * Double(step + 1) / Double(warmup) }
            let span = Swift.max(1, total - warmup)
            let progress = Swift.min(1, Double(step - warmup) / Double(span))
            return minimum + (peak - minimum) * 0.5 * (1 + cosine(Double.pi * progress))
        }
    }
}

#if canImport(Glibc)
    import Glibc
    private func cosine(_ x: Double) -> Double { Glibc.cos(x) }
#else
    import Darwin
    private func cosine(_ x: Double) -> Double { Darwin.cos(x) }
#endif

/// Gradient clipping by the global Euclidean norm over every tensor.
public enum GradientClipping {
    /// The global norm ‖(g₁, …, gₙ)‖₂.
    public static func globalNorm<Scalar>(_ gradients: [Tensor<Scalar>]) -> Double {
        gradients.map { Double(Tensor.dot($0, $0)) }.reduce(0, +).squareRoot()
    }

    /// Scales every gradient by min(1, maximumNorm / ‖g‖) and returns the norm before clipping.
    @discardableResult
    public static func clip<Scalar>(_ gradients: inout [Tensor<Scalar>], maximumNorm: Double) -> Double {
        let norm = globalNorm(gradients)
        if norm > maximumNorm && norm.isFinite {
            let scale = Scalar(maximumNorm / norm)
            gradients = gradients.map { $0 * scale }
        }
        return norm
    }
}
