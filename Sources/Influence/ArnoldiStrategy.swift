import Foundation
import TensorCore

/// The low-rank inverse on the top eigenpairs of H, V diag(1/(μ + λ)) Vᵀ, with the eigenpairs
/// found once in a Krylov space by the Lanczos method (the symmetric case of Arnoldi's iteration,
/// with full reorthogonalisation). The eigenvalues kept are the largest, or the largest in
/// absolute value (pyDVL's choice). Self-influence is offered.
public struct ArnoldiStrategy: OperatorCurvatureStrategy {
    /// `arnoldi`.
    public static let name = "arnoldi"
    /// True: the eigenpairs are kept, so gᵀ V diag(1/(μ + λ)) Vᵀ g comes without a solve per example.
    public static let offersSelfInfluence = true
    /// One line for the command line's help.
    public static let abstract = "low-rank inverse on the top eigenpairs of H (Lanczos)"
    /// `arnoldi-rank` (20), `arnoldi-krylov` (40) and `arnoldi-order` (`largest` or `magnitude`).
    public static let options: [StrategyOption] = [
        .value("arnoldi-rank", "K", default: "20", "With --strategy arnoldi: top eigenpairs kept."),
        .value("arnoldi-krylov", "M", default: "40", "With --strategy arnoldi: Krylov space dimension (≥ rank)."),
        .value(
            "arnoldi-order", "largest|magnitude", default: "largest",
            "With --strategy arnoldi: keep the largest eigenvalues, or the largest in absolute value (pyDVL's choice)."),
    ]

    /// The eigenpairs kept (≤ `krylovDimension` and the dimension), the Krylov space's size, and whether the largest
    /// eigenvalues in absolute value are kept instead of the largest.
    public var rank: Int, krylovDimension: Int, byMagnitude: Bool

    /// An Arnoldi strategy keeping `rank` eigenpairs from a Krylov space of `krylovDimension` products.
    public init(rank: Int = 20, krylovDimension: Int = 40, byMagnitude: Bool = false) {
        (self.rank, self.krylovDimension, self.byMagnitude) = (rank, krylovDimension, byMagnitude)
    }

    /// Reads `arnoldi-rank`, `arnoldi-krylov` and `arnoldi-order`.
    ///
    /// - Throws: ``StrategyOptionError`` when a count is not a positive integer or the order is neither `largest` nor `magnitude`.
    public init(options: StrategyOptions) throws {
        self.init(
            rank: try options.integer("arnoldi-rank") ?? 20, krylovDimension: try options.integer("arnoldi-krylov") ?? 40,
            byMagnitude: try options.choice("arnoldi-order", from: ["largest", "magnitude"]) == "magnitude")
    }

    /// `arnoldi/<rank>/<krylov>`, with `/magnitude` when eigenvalues are kept by absolute value.
    public var description: String { "arnoldi/\(rank)/\(krylovDimension)" + (byMagnitude ? "/magnitude" : "") }

    /// Finds the eigenpairs once by Lanczos (seed 0); each inverse shifts them by λ.
    ///
    /// - Throws: ``StrategyOptionError`` when the rank exceeds the Krylov dimension or the operator's dimension;
    ///   ``LinearAlgebraError`` when the eigendecomposition fails.
    public func fit(operator op: CurvatureOperator<AnyInfluenceTask>) throws -> any FittedCurvature {
        guard rank <= Swift.min(krylovDimension, op.dimension) else {
            throw StrategyOptionError("--arnoldi-rank \(rank) must not exceed --arnoldi-krylov \(krylovDimension) or the dimension \(op.dimension)")
        }
        let pairs = try CurvatureSolver.Eigenpairs(op, rank: rank, krylovDimension: krylovDimension, byMagnitude: byMagnitude)
        let blocks = op.blockNames.count
        return OperatorFit(description, op) { damping in
            let inverse = try CurvatureSolver.LowRankInverse<Float>(pairs, damping: damping)
            return JointInverse(
                description: description, damping: damping, blocks: blocks, solve: { inverse.solve($0) },
                quadraticForms: { inverse.quadraticForms($0) })
        }
    }
}
