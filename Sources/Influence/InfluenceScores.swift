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

    /// Writes `pairwise_scores.safetensors` (`all_modules`, one tensor per module, `per_token`) and
    /// `self_scores.safetensors` into `directory`, atomically.
    public func save(to directory: URL, metadata: [String: String]) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var tensors: [(name: String, payload: SafeTensorsPayload)] = [("all_modules", .float32(pairwise))]
        tensors += perModule.map { ($0.name, .float32($0.scores)) }
        if let perToken { tensors.append(("per_token", .float32(perToken))) }
        try SafeTensorsFile.write(tensors, metadata: metadata, to: directory.appendingPathComponent("pairwise_scores.safetensors"))
        if let selfScores {
            try SafeTensorsFile.write([("all_modules", .float32(selfScores))], metadata: metadata,
                                      to: directory.appendingPathComponent("self_scores.safetensors"))
        }
    }
}

extension InfluenceScores {
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
