import TensorCore

/// The outcome of comparing an observed tensor with an expected one, with a message that prints
/// both, the largest absolute difference and the relative error.
public struct Comparison: CustomStringConvertible {
    /// Whether the relative error is within the tolerance, the shapes agree and every observed element is finite.
    public let passed: Bool
    /// ‖observed − expected‖ / max(‖expected‖, floor) in the Frobenius norm; infinite when the shapes differ.
    public let relativeError: Double
    /// The largest elementwise |observed − expected|; infinite when the shapes differ.
    public let maximumAbsoluteError: Double
    let detail: String

    /// The label, the values (only the shape beyond 12 elements), the relative error and tolerance, and the largest absolute difference.
    public var description: String { detail }
}

/// Compares `observed` with `expected` by relative error in the Frobenius norm:
///
/// ```
/// ‖observed − expected‖ / max(‖expected‖, floor) ≤ tolerance
/// ```
public func compare<T: TensorScalar, U: TensorScalar>(
    _ observed: Tensor<T>, _ expected: Tensor<U>, tolerance: Double, floor: Double = 1e-12, _ label: String = ""
) -> Comparison {
    let o = Tensor<Double>(observed), e = Tensor<Double>(expected)
    guard o.shape == e.shape else {
        return Comparison(
            passed: false, relativeError: .infinity, maximumAbsoluteError: .infinity,
            detail: "\(label) shape \(o.shape) differs from expected \(e.shape)")
    }
    var difference = 0.0, norm = 0.0, maxAbs = 0.0
    for (x, y) in zip(o.scalars, e.scalars) {
        difference += (x - y) * (x - y)
        norm += y * y
        maxAbs = max(maxAbs, abs(x - y))
    }
    let relative = difference.squareRoot() / max(norm.squareRoot(), floor)
    let passed = relative <= tolerance && o.isFinite
    let shown = o.scalarCount <= 12 ? "expected \(e.scalars), observed \(o.scalars)" : "shape \(o.shape)"
    return Comparison(
        passed: passed, relativeError: relative, maximumAbsoluteError: maxAbs,
        detail: "\(label) \(shown): relative error \(relative) (tolerance \(tolerance)), max |Δ| \(maxAbs)")
}

/// Compares two numbers by relative error.
public func compare(_ observed: Double, _ expected: Double, tolerance: Double, floor: Double = 1e-12, _ label: String = "") -> Comparison {
    compare(Tensor<Double>(observed), Tensor<Double>(expected), tolerance: tolerance, floor: floor, label)
}
