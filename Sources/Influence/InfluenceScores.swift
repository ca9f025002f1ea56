import Foundation
import Formats
import TensorCore

/// Influence scores of queries on training examples.
///
/// ```
/// score(q, m) = ∇f(z_q)ᵀ (H + λI)⁻¹ ∇L(z_m)
/// ```
/// A positive score means that up-weighting z_m lowers the query's loss (supports the query).
/// Nothing is normalised: gradients are of the summed loss of one example.
public struct InfluenceScores: Sendable {
    /// `[queries, train]`.
    public var pairwise: Tensor<Float>
    /// Per tracked module, `[queries, train]`; they add up to ``pairwise``.
    public var perModule: [(name: String, scores: Tensor<Float>)]
    /// `[queries, train, tokens]` when asked for: score_t = g_tᵀ P_q ā_t, adding up to the score.
    public var perToken: Tensor<Float>?
    /// `[train]`: ∇L(z_m)ᵀ (H + λI)⁻¹ ∇L(z_m).
    public var selfScores: Tensor<Float>?

    /// Scores as computed, with the optional decompositions.
    ///
    /// - Parameters:
    ///   - pairwise: `[queries, train]`.
    ///   - perModule: per tracked module, its name and `[queries, train]` share; empty when not asked for.
    ///   - perToken: `[queries, train, tokens]`, or nil.
    ///   - selfScores: `[train]`, or nil.
    public init(
        pairwise: Tensor<Float>, perModule: [(name: String, scores: Tensor<Float>)] = [], perToken: Tensor<Float>? = nil,
        selfScores: Tensor<Float>? = nil
    ) {
        self.pairwise = pairwise
        self.perModule = perModule
        self.perToken = perToken
        self.selfScores = selfScores
    }

    /// Writes `pairwise_scores.safetensors` (`all_modules`, one tensor per module, `per_token`) and
    /// `self_scores.safetensors` into `directory`, atomically.
    public func save(to directory: URL, metadata: [String: String]) throws {
        if let problem = firstNonFinite() { throw InfluenceError.nonFinite(what: problem) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var tensors: [(name: String, payload: SafeTensorsPayload)] = [("all_modules", .float32(pairwise))]
        tensors += perModule.map { ($0.name, .float32($0.scores)) }
        if let perToken { tensors.append(("per_token", .float32(perToken))) }
        try SafeTensorsFile.write(tensors, metadata: metadata, to: directory.appendingPathComponent("pairwise_scores.safetensors"))
        if let selfScores {
            try SafeTensorsFile.write(
                [("all_modules", .float32(selfScores))], metadata: metadata,
                to: directory.appendingPathComponent("self_scores.safetensors"))
        }
    }
}

extension InfluenceScores {
    /// The first score that is NaN or infinite, named by query, training row and module (the
    /// first module whose own score is not finite), or nil when every score is finite.
    public func firstNonFinite() -> String? {
        func position(_ t: Tensor<Float>) -> Int? { t.isFinite ? nil : t.scalars.firstIndex { !$0.isFinite } }
        let columns = pairwise.shape.count == 2 ? pairwise.shape[1] : 1
        if let flat = position(pairwise) {
            let (q, m) = (flat / Swift.max(columns, 1), flat % Swift.max(columns, 1))
            let module = perModule.first { !$0.scores[q, m].isFinite }.map { " in module \($0.name)" } ?? ""
            return "the score of query \(q) on training row \(m)\(module) (\(pairwise[q, m]))"
        }
        for (name, scores) in perModule {
            if let flat = position(scores) {
                return "the score of query \(flat / Swift.max(columns, 1)) on training row \(flat % Swift.max(columns, 1)) in module \(name)"
            }
        }
        if let perToken, let flat = position(perToken) {
            let t = perToken.shape[2]
            return "the per-token score of query \(flat / (columns * t)) on training row \(flat / t % columns) at token \(flat % t)"
        }
        if let selfScores, let m = position(selfScores) { return "the self-influence of training row \(m) (\(selfScores.scalars[m]))" }
        return nil
    }

    /// `rows` below these scores: more queries, the same training examples.
    public func appendingRows(_ rows: InfluenceScores) -> InfluenceScores {
        InfluenceScores(
            pairwise: Tensor.concatenated([pairwise, rows.pairwise], along: 0),
            perModule: perModule.indices.map { i in
                (perModule[i].name, Tensor.concatenated([perModule[i].scores, rows.perModule[i].scores], along: 0))
            },
            perToken: perToken.map { Tensor.concatenated([$0, rows.perToken!], along: 0) },
            selfScores: selfScores ?? rows.selfScores)
    }
}
