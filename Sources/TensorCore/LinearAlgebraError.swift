/// A failure of a LAPACK routine or of its input.
public enum LinearAlgebraError: Error, CustomStringConvertible, Equatable {
    /// The input holds NaN or infinity.
    case nonFiniteInput(routine: String, shape: [Int])
    /// The routine returned `info` ≠ 0.
    case routineFailed(routine: String, info: Int32, shape: [Int])
    /// Cholesky found a non-positive pivot: the matrix is not positive definite.
    case notPositiveDefinite(routine: String, order: Int, pivot: Int)

    /// A one-line message naming the routine, the matrix size and the cause; a failed Cholesky suggests adding damping.
    public var description: String {
        switch self {
        case let .nonFiniteInput(routine, shape):
            return "\(routine): the \(shape.map(String.init).joined(separator: "×")) input contains NaN or infinity"
        case let .routineFailed(routine, info, shape):
            let reason = info < 0 ? "argument \(-info) had an illegal value" : "the algorithm failed to converge (info = \(info))"
            return "\(routine) on a \(shape.map(String.init).joined(separator: "×")) matrix: \(reason)"
        case let .notPositiveDefinite(routine, order, pivot):
            return "\(routine): the \(order)×\(order) matrix is not positive definite (leading minor \(pivot) is not positive); add damping"
        }
    }
}
