import Foundation
import Formats
import TensorCore

/// Scores of chosen (query, training row) pairs: each query's K highest and K lowest training rows
/// (``ScoreSelection/top(_:)``), or the candidates a filter chose for it
/// (``ScoreSelection/candidates(_:)``). Memory is O(queries × K) whatever the training set.
public struct SelectedScores: Sendable, Equatable {
    /// Per query, the training rows: best first for the highest, lowest first for the lowest, in
    /// the given order for candidates.
    public var indices: [[Int]]
    /// Per query, the score of each row of ``indices``.
    public var scores: [[Float]]
    /// Per query and row, the score of each tracked module (candidates with per-module scores).
    public var perModule: [[[Float]]]?
    /// Per query and row, the score of each token (candidates with per-token scores).
    public var perToken: [[[Float]]]?

    /// Selected pairs as ragged per-query lists; `scores` (and any per-module or per-token values) parallel `indices`.
    public init(indices: [[Int]], scores: [[Float]], perModule: [[[Float]]]? = nil, perToken: [[[Float]]]? = nil) {
        self.indices = indices
        self.scores = scores
        self.perModule = perModule
        self.perToken = perToken
    }

    /// The number of queries (rows of ``indices``).
    public var queryCount: Int { indices.count }

    /// These queries followed by `other`'s.
    func appending(_ other: SelectedScores) -> SelectedScores {
        SelectedScores(
            indices: indices + other.indices, scores: scores + other.scores,
            perModule: perModule.map { $0 + (other.perModule ?? []) }, perToken: perToken.map { $0 + (other.perToken ?? []) })
    }

    /// Ragged rows as flat tensors with offsets, for safetensors: `<prefix>.offsets` [q + 1],
    /// `<prefix>.indices` and `<prefix>.scores` [Σ rows], and the per-module and per-token values
    /// flattened the same way with their own offsets.
    func tensors(prefix: String) -> [(name: String, payload: SafeTensorsPayload)] {
        var offsets = [0]
        for row in indices { offsets.append(offsets.last! + row.count) }
        var result: [(name: String, payload: SafeTensorsPayload)] = [
            ("\(prefix).offsets", .int64(offsets, shape: [offsets.count])),
            ("\(prefix).indices", .int64(indices.flatMap { $0 }, shape: [offsets.last!])),
            ("\(prefix).scores", .float32(Tensor(shape: [offsets.last!], scalars: scores.flatMap { $0 }))),
        ]
        for (name, values) in [("per_module", perModule), ("per_token", perToken)] {
            guard let values else { continue }
            let flat = values.flatMap { $0 }
            var inner = [0]
            for v in flat { inner.append(inner.last! + v.count) }
            result.append(("\(prefix).\(name).offsets", .int64(inner, shape: [inner.count])))
            result.append(("\(prefix).\(name)", .float32(Tensor(shape: [inner.last!], scalars: flat.flatMap { $0 }))))
        }
        return result
    }

    /// Reads what ``tensors(prefix:)`` wrote, or nil when the file holds none under `prefix`.
    init?(file: SafeTensorsFile, prefix: String) throws {
        guard file.contains(tensorNamed: "\(prefix).offsets") else { return nil }
        let offsets = try file.integers(named: "\(prefix).offsets")
        let flatIndices = try file.integers(named: "\(prefix).indices")
        let flatScores = try file.tensor(named: "\(prefix).scores", as: Float.self).scalars
        guard let last = offsets.last, offsets.first == 0, zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 }),
            last == flatIndices.count, last == flatScores.count
        else {
            throw InfluenceError.malformedFactors(path: file.url.path, reason: "\(prefix): offsets do not fit the rows")
        }
        func split<T>(_ flat: [T], _ bounds: [Int]) -> [[T]] { zip(bounds, bounds.dropFirst()).map { Array(flat[$0..<$1]) } }
        indices = split(flatIndices, offsets)
        scores = split(flatScores, offsets)
        func nested(_ name: String) throws -> [[[Float]]]? {
            guard file.contains(tensorNamed: "\(prefix).\(name).offsets") else { return nil }
            let inner = try file.integers(named: "\(prefix).\(name).offsets")
            let values = try file.tensor(named: "\(prefix).\(name)", as: Float.self).scalars
            guard inner.count == last + 1, inner.last == values.count, zip(inner, inner.dropFirst()).allSatisfy({ $0 <= $1 }) else {
                throw InfluenceError.malformedFactors(path: file.url.path, reason: "\(prefix).\(name): offsets do not fit the values")
            }
            return split(split(values, inner), offsets)
        }
        perModule = try nested("per_module")
        perToken = try nested("per_token")
    }
}

/// The K highest and K lowest scores of every query, with self-influence when asked for.
public struct TopScores: Sendable, Equatable {
    /// Per query, the K training rows with the highest scores (the strongest supporters), best first.
    public var highest: SelectedScores
    /// Per query, the K training rows with the lowest scores (the strongest opponents), lowest first.
    public var lowest: SelectedScores
    /// `[train]`, as in ``InfluenceScores/selfScores``.
    public var selfScores: Tensor<Float>?

    /// Writes `top_scores.safetensors` (`highest.*`, `lowest.*`: offsets, indices, scores) atomically.
    public func save(to directory: URL, metadata: [String: String]) throws {
        for (kind, selected) in [("highest", highest), ("lowest", lowest)] {
            if let problem = selected.firstNonFinite() { throw InfluenceError.nonFinite(what: "among the \(kind) scores, " + problem) }
        }
        if let selfScores, !selfScores.isFinite, let m = selfScores.scalars.firstIndex(where: { !$0.isFinite }) {
            throw InfluenceError.nonFinite(what: "the self-influence of training row \(m) (\(selfScores.scalars[m]))")
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try SafeTensorsFile.write(
            highest.tensors(prefix: "highest") + lowest.tensors(prefix: "lowest"), metadata: metadata,
            to: directory.appendingPathComponent("top_scores.safetensors"))
        if let selfScores {
            try SafeTensorsFile.write(
                [("all_modules", .float32(selfScores))], metadata: metadata,
                to: directory.appendingPathComponent("self_scores.safetensors"))
        }
    }
}

extension SelectedScores {
    /// The first score that is NaN or infinite, named by query and training row, or nil.
    public func firstNonFinite() -> String? {
        for (q, row) in scores.enumerated() {
            if let k = row.firstIndex(where: { !$0.isFinite }) { return "the score of query \(q) on training row \(indices[q][k]) (\(row[k]))" }
        }
        return nil
    }

    /// Writes `candidate_scores.safetensors` (offsets, indices, scores, and per-module or
    /// per-token values when present) atomically.
    public func save(to directory: URL, metadata: [String: String]) throws {
        if let problem = firstNonFinite() { throw InfluenceError.nonFinite(what: problem) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try SafeTensorsFile.write(tensors(prefix: "candidates"), metadata: metadata, to: directory.appendingPathComponent("candidate_scores.safetensors"))
    }
}

/// Which (query, training row) pairs a scoring run keeps.
public enum ScoreSelection: Sendable, Equatable {
    /// Every pair: the dense `[queries, train]` matrix (the default).
    case all
    /// Per query, the K highest and K lowest training rows, streamed: memory O(queries × K).
    case top(Int)
    /// Per query, only the given training rows (from a candidate filter); each row is read once
    /// for every query that chose it.
    case candidates([[Int]])
}
