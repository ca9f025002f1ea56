import TensorCore

/// One-pass optimizer updates. Each is written for `Float` and `Double` concretely and chosen by
/// the scalar type at run time, so the loops are specialised although the optimizers are generic.
enum FusedUpdates {
    static func sgd<Scalar: TensorScalar>(
        _ theta: UnsafeMutableBufferPointer<Scalar>, _ velocity: UnsafeMutableBufferPointer<Scalar>,
        _ g: UnsafeBufferPointer<Scalar>, learningRate: Double, momentum: Double,
        weightDecay: Double, first: Bool
    ) {
        if Scalar.self == Float.self {
            sgdLoop(
                theta.withMemoryRebound(to: Float.self) { $0 }, velocity.withMemoryRebound(to: Float.self) { $0 },
                g.withMemoryRebound(to: Float.self) { $0 }, Float(learningRate), Float(momentum), Float(weightDecay), first)
        } else {
            sgdLoop(
                theta.withMemoryRebound(to: Double.self) { $0 }, velocity.withMemoryRebound(to: Double.self) { $0 },
                g.withMemoryRebound(to: Double.self) { $0 }, learningRate, momentum, weightDecay, first)
        }
    }

    @inline(__always)
    private static func sgdLoop<T: BinaryFloatingPoint>(
        _ theta: UnsafeMutableBufferPointer<T>, _ b: UnsafeMutableBufferPointer<T>,
        _ g: UnsafeBufferPointer<T>, _ lr: T, _ mu: T, _ wd: T, _ first: Bool
    ) {
        for i in 0..<theta.count {
            let d = g[i] + wd * theta[i]
            if mu != 0 {
                b[i] = first ? d : mu * b[i] + d
                theta[i] -= lr * b[i]
            } else {
                theta[i] -= lr * d
            }
        }
    }

    static func adamW<Scalar: TensorScalar>(
        _ theta: UnsafeMutableBufferPointer<Scalar>, _ m: UnsafeMutableBufferPointer<Scalar>,
        _ v: UnsafeMutableBufferPointer<Scalar>, _ g: UnsafeBufferPointer<Scalar>,
        learningRate: Double, beta1: Double, beta2: Double, epsilon: Double,
        weightDecay: Double, correction1: Double, correction2: Double
    ) {
        if Scalar.self == Float.self {
            adamLoop(
                theta.withMemoryRebound(to: Float.self) { $0 }, m.withMemoryRebound(to: Float.self) { $0 },
                v.withMemoryRebound(to: Float.self) { $0 }, g.withMemoryRebound(to: Float.self) { $0 },
                Float(learningRate), Float(beta1), Float(beta2), Float(epsilon), Float(weightDecay),
                Float(correction1), Float(correction2))
        } else {
            adamLoop(
                theta.withMemoryRebound(to: Double.self) { $0 }, m.withMemoryRebound(to: Double.self) { $0 },
                v.withMemoryRebound(to: Double.self) { $0 }, g.withMemoryRebound(to: Double.self) { $0 },
                learningRate, beta1, beta2, epsilon, weightDecay, correction1, correction2)
        }
    }

    @inline(__always)
    private static func adamLoop<T: BinaryFloatingPoint>(
        _ theta: UnsafeMutableBufferPointer<T>, _ m: UnsafeMutableBufferPointer<T>,
        _ v: UnsafeMutableBufferPointer<T>, _ g: UnsafeBufferPointer<T>,
        _ lr: T, _ b1: T, _ b2: T, _ eps: T, _ wd: T, _ c1: T, _ c2: T
    ) {
        let decay = 1 - lr * wd
        let stepSize = lr / c1
        let inverseSqrtC2 = 1 / c2.squareRoot()
        for i in 0..<theta.count {
            let gi = g[i]
            let mi = b1 * m[i] + (1 - b1) * gi
            let vi = b2 * v[i] + (1 - b2) * gi * gi
            m[i] = mi
            v[i] = vi
            theta[i] = theta[i] * decay - stepSize * mi / (vi.squareRoot() * inverseSqrtC2 + eps)
        }
    }
}
