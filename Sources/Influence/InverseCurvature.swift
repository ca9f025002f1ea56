import Foundation
import TensorCore

/// What a ``CurvatureStrategy`` fitted: damping-free, so that one fit serves any damping.
public protocol FittedCurvature {
    /// The strategy and its options, for files, messages and resume keys.
    var strategyDescription: String { get }
    /// The tracked Linear layers, in block order.
    var linearLayerNames: [String] { get }
    /// The blocks of the curvature: the Linear layers, then (when it covers every parameter) each
    /// other parameter.
    var blockNames: [String] { get }
    /// (H + λI)⁻¹ for a damping.
    ///
    /// - Throws: ``InfluenceError`` when H + λI is not positive definite, or when the damping is
    ///   `auto` and the strategy has no factors to define it.
    func inverse(damping: Damping) throws -> any InverseCurvature
    /// Writes the fit to `directory` (`factors.safetensors`), atomically.
    func save(to directory: URL) throws
}

extension FittedCurvature {
    /// By default the Linear layers alone.
    public var blockNames: [String] { linearLayerNames }
    /// Whether the blocks include parameters outside Linear layers.
    public var coversOtherParameters: Bool { blockNames.count > linearLayerNames.count }

    /// By default refuses: fits that are computed when scoring are not saved.
    ///
    /// - Throws: ``InfluenceError/malformedFactors(path:reason:)`` always.
    public func save(to directory: URL) throws {
        throw InfluenceError.malformedFactors(path: directory.path, reason: "\(strategyDescription) saves no fit: it is computed when scoring")
    }
}

/// (H + λI)⁻¹ applied to gradients, block by block or jointly over every block.
///
/// Gradients come as one tensor per block, `[n, rows, columns]`: a Linear layer's `[out, in (+1)]`
/// gradients of n examples, or `[n, 1, count]` for another parameter.
public protocol InverseCurvature: AnyObject {
    /// The strategy, its options and the damping, for resume keys (`ekfac`, `cg/1e-06`).
    var description: String { get }
    /// The damping of each block.
    var dampings: [Double] { get }
    /// (H + λI)⁻¹ G for the n gradients of every block, in the same layout.
    func apply(_ gradients: [Tensor<Float>]) throws -> [Tensor<Float>]
    /// Whether ``selfScores(_:)`` is offered (it needs the inverse in memory: factors, a Cholesky
    /// factor or eigenpairs; CG and LiSSA would need one solve per training example).
    var offersSelfInfluence: Bool { get }
    /// gᵀ (H + λI)⁻¹ g for each of the n examples, `[n]`.
    func selfScores(_ gradients: [Tensor<Float>]) throws -> Tensor<Float>
    /// How many examples' gradients to gather before calling ``selfScores(_:)``: a solve that
    /// reads a whole factor is cheaper on a few hundred rows at once.
    var selfScoreRows: Int { get }
    /// Messages about solves that did not converge, gathered while applying.
    var warnings: [String] { get }
    /// Whether ``apply(_:)`` passes over the training data (CG, LiSSA), so that solving many
    /// gradients at once is much cheaper than solving them in small groups.
    var solvesJointly: Bool { get }
}

extension InverseCurvature {
    /// No self-influence by default.
    public var offersSelfInfluence: Bool { false }
    /// Traps by default: call it only when ``offersSelfInfluence`` is true.
    public func selfScores(_ gradients: [Tensor<Float>]) throws -> Tensor<Float> {
        preconditionFailure("\(description) offers no self-influence")
    }
    /// One row at a time by default.
    public var selfScoreRows: Int { 1 }
    /// No warnings by default.
    public var warnings: [String] { [] }
    /// By default a solve does not pass over the training data.
    public var solvesJointly: Bool { false }
}

/// An inverse that acts on the flat concatenation of every block: the solvers' form, with the
/// queries as the columns of a `[dimension, n]` matrix.
final class JointInverse: InverseCurvature {
    let description: String
    let dampings: [Double]
    let solve: (Tensor<Float>) throws -> Tensor<Float>
    let quadraticForms: ((Tensor<Float>) throws -> Tensor<Float>)?
    let solvesJointly: Bool
    private(set) var warnings: [String] = []

    /// - Parameters:
    ///   - solve: (H + λI)⁻¹ applied to the columns of `[dimension, n]`.
    ///   - quadraticForms: gᵀ (H + λI)⁻¹ g for the rows of `[n, dimension]`, when the inverse is kept.
    ///   - solvesJointly: whether a solve passes over the training data (see ``InverseCurvature/solvesJointly``).
    init(
        description: String, damping: Double, blocks: Int, solve: @escaping (Tensor<Float>) throws -> Tensor<Float>,
        quadraticForms: ((Tensor<Float>) throws -> Tensor<Float>)? = nil, solvesJointly: Bool = false
    ) {
        self.description = description
        self.solvesJointly = solvesJointly
        dampings = Array(repeating: damping, count: blocks)
        self.solve = solve
        self.quadraticForms = quadraticForms
    }

    func warn(_ message: String) { warnings.append(message) }

    func apply(_ gradients: [Tensor<Float>]) throws -> [Tensor<Float>] {
        let n = gradients[0].shape[0]
        let flat = Tensor.concatenated(gradients.map { $0.reshaped(to: [n, -1]) }, along: 1).transposed()  // [dimension, n]
        let solved = try solve(flat).transposed()  // [n, dimension]
        var offset = 0
        return gradients.map { g in
            let size = g.shape[1] * g.shape[2]
            defer { offset += size }
            return solved.sliced(along: 1, offset..<(offset + size)).reshaped(to: g.shape)
        }
    }

    var offersSelfInfluence: Bool { quadraticForms != nil }
    var selfScoreRows: Int { 256 }

    func selfScores(_ gradients: [Tensor<Float>]) throws -> Tensor<Float> {
        guard let quadraticForms else { preconditionFailure("\(description) offers no self-influence") }
        let n = gradients[0].shape[0]
        return try quadraticForms(Tensor.concatenated(gradients.map { $0.reshaped(to: [n, -1]) }, along: 1))
    }
}
