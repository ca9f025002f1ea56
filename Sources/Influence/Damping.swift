/// The damping λ added to the eigenvalues (or to the diagonal, or to H).
public enum Damping: Sendable, Equatable, CustomStringConvertible {
    /// 0.1 × the mean of the layer's Λ (or of λ_S λ_Aᵀ for K-FAC), per layer: the paper's heuristic.
    /// Only fitted factors define it.
    case automatic
    case value(Double)

    /// The largest damping accepted. Beyond it (H + λI)⁻¹ is I/λ to within float precision, and
    /// gradients divided by λ fall below single precision's range: every score would come out 0.
    public static let maximum = 1e15

    /// `auto` or a number in [0, ``maximum``].
    public init?(_ text: String) {
        if text == "auto" { self = .automatic } else if let v = Double(text), v >= 0, v <= Self.maximum { self = .value(v) } else { return nil }
    }

    /// `auto`, or the number as Swift prints a `Double` (`0.001`); the text ``init(_:)`` reads back.
    public var description: String {
        switch self {
        case .automatic: return "auto";
        case let .value(v): return String(v)
        }
    }
}
