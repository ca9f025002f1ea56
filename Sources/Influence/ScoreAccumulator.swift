import Foundation
import Formats
import TensorCore

/// What a chunk of queries has gathered of the training stream so far: the dense columns, each
/// query's running top rows, or its candidates' scores; and self-influence. Its state is saved
/// and restored by ``ScoringCheckpoint``, so that an interrupted chunk resumes where it stopped.
final class ScoreAccumulator {
    enum Mode {
        case dense(perModule: Bool, perToken: Bool)
        /// Keep the K highest and K lowest rows per query.
        case top(Int)
        /// The candidate rows of each query of the chunk.
        case candidates([[Int]], perModule: Bool, perToken: Bool)
    }

    let mode: Mode
    let queries: Int
    let modules: Int
    let selfInfluence: Bool
    /// Training rows streamed so far (of this rank's share of ``trainingRows(count:)``).
    private(set) var rowsDone = 0

    // Dense: the columns of each batch.
    private var totalColumns: [Tensor<Float>] = []
    private var moduleColumns: [[Tensor<Float>]]
    private var tokenParts: [Tensor<Float>] = []
    private var maxTokens = 0
    private var selfParts: [Tensor<Float>] = []
    // Top rows: per query, (score, row) pairs, best first / lowest first.
    private var highest: [[(score: Float, row: Int)]] = []
    private var lowest: [[(score: Float, row: Int)]] = []
    // Candidates: per query, where each row sits in its list, and the values found.
    private var positions: [[Int: Int]] = []
    private var candidateScores: [[Float]] = []
    private var candidateModules: [[[Float]]] = []
    private var candidateTokens: [[[Float]]] = []

    init(mode: Mode, queries: Int, modules: Int, selfInfluence: Bool) {
        self.mode = mode
        self.queries = queries
        self.modules = modules
        self.selfInfluence = selfInfluence
        moduleColumns = Array(repeating: [], count: modules)
        switch mode {
        case .dense: break
        case .top:
            highest = Array(repeating: [], count: queries)
            lowest = Array(repeating: [], count: queries)
        case let .candidates(rows, perModule, perToken):
            positions = rows.map { Dictionary(uniqueKeysWithValues: $0.enumerated().map { ($1, $0) }) }
            candidateScores = rows.map { Array(repeating: .nan, count: $0.count) }
            if perModule { candidateModules = rows.map { Array(repeating: [], count: $0.count) } }
            if perToken { candidateTokens = rows.map { Array(repeating: [], count: $0.count) } }
        }
    }

    /// The training rows the chunk streams, in order: all of them, or the union of its queries'
    /// candidates (each row once, for every query that chose it).
    func trainingRows(count: Int) -> [Int] {
        guard case let .candidates(rows, _, _) = mode else { return Array(0..<count) }
        return Array(Set(rows.joined())).sorted()
    }

    /// Adds a batch: `scores` `[q, b]`, per-module `[q, b]` each, per-token `[q, b, t]`.
    func add(rows: [Int], scores: Tensor<Float>, perModule: [Tensor<Float>], perToken: Tensor<Float>?, tokens t: Int) {
        let b = rows.count
        switch mode {
        case let .dense(wantsModules, wantsTokens):
            totalColumns.append(scores)
            if wantsModules { for (i, s) in perModule.enumerated() { moduleColumns[i].append(s) } }
            if wantsTokens, let perToken { tokenParts.append(perToken); maxTokens = Swift.max(maxTokens, t) }
        case let .top(k):
            scores.withUnsafeBufferPointer { s in
                for j in 0..<queries {
                    let incoming = (0..<b).map { (score: s[j * b + $0], row: rows[$0]) }
                    highest[j] = Array((highest[j] + incoming).sorted { $0.score > $1.score || ($0.score == $1.score && $0.row < $1.row) }.prefix(k))
                    lowest[j] = Array((lowest[j] + incoming).sorted { $0.score < $1.score || ($0.score == $1.score && $0.row < $1.row) }.prefix(k))
                }
            }
        case .candidates:
            let moduleValues = perModule.map(\.scalars), tokenValues = perToken?.scalars
            scores.withUnsafeBufferPointer { s in
                for j in 0..<queries {
                    for (c, row) in rows.enumerated() {
                        guard let p = positions[j][row] else { continue }
                        candidateScores[j][p] = s[j * b + c]
                        if !candidateModules.isEmpty { candidateModules[j][p] = moduleValues.map { $0[j * b + c] } }
                        if !candidateTokens.isEmpty, let tokenValues {
                            candidateTokens[j][p] = Array(tokenValues[((j * b + c) * t)..<((j * b + c + 1) * t)])
                        }
                    }
                }
            }
        }
        rowsDone += b
    }

    func addSelfScores(_ s: Tensor<Float>) { selfParts.append(s) }

    /// What the chunk gathered (all of it once every row is in).
    func result(moduleNames: [String]) throws -> ScoringResult {
        let selfScores = selfInfluence ? (selfParts.isEmpty ? Tensor<Float>.zeros(shape: [0]) : Tensor.concatenated(selfParts, along: 0)) : nil
        switch mode {
        case let .dense(wantsModules, wantsTokens):
            let pairwise = totalColumns.isEmpty ? Tensor<Float>.zeros(shape: [queries, 0]) : Tensor.concatenated(totalColumns, along: 1)
            return .dense(
                InfluenceScores(
                    pairwise: pairwise,
                    perModule: wantsModules
                        ? zip(moduleNames, moduleColumns).map { ($0, $1.isEmpty ? Tensor.zeros(shape: [queries, 0]) : Tensor.concatenated($1, along: 1)) } : [],
                    perToken: wantsTokens
                        ? (tokenParts.isEmpty
                            ? Tensor.zeros(shape: [queries, 0, 0])
                            : Tensor.concatenated(tokenParts.map { $0.padded(along: 2, before: 0, after: maxTokens - $0.shape[2]) }, along: 1)) : nil,
                    selfScores: selfScores))
        case .top:
            return .top(
                TopScores(
                    highest: SelectedScores(indices: highest.map { $0.map(\.row) }, scores: highest.map { $0.map(\.score) }),
                    lowest: SelectedScores(indices: lowest.map { $0.map(\.row) }, scores: lowest.map { $0.map(\.score) }),
                    selfScores: selfScores))
        case let .candidates(rows, _, _):
            return .candidates(
                SelectedScores(
                    indices: rows, scores: candidateScores, perModule: candidateModules.isEmpty ? nil : candidateModules,
                    perToken: candidateTokens.isEmpty ? nil : candidateTokens))
        }
    }

    // MARK: Saving and restoring

    func tensors(prefix: String, moduleNames: [String]) throws -> [(name: String, payload: SafeTensorsPayload)] {
        var out: [(name: String, payload: SafeTensorsPayload)] = [("\(prefix).rows_done", .int64([rowsDone], shape: [1]))]
        switch try result(moduleNames: moduleNames) {
        case let .dense(scores): out += ScoringCheckpoint.tensors(scores, prefix: prefix)
        case let .top(top):
            out += top.highest.tensors(prefix: "\(prefix).highest") + top.lowest.tensors(prefix: "\(prefix).lowest")
            if let s = top.selfScores { out.append(("\(prefix).self", .float32(s))) }
        case let .candidates(c): out += c.tensors(prefix: "\(prefix).candidates")
        }
        return out
    }

    /// The accumulator saved under `prefix`, or nil when there is none.
    static func restore(
        _ file: SafeTensorsFile, prefix: String, mode: Mode, queries: Int, moduleNames: [String],
        selfInfluence: Bool
    ) throws -> ScoreAccumulator? {
        guard file.contains(tensorNamed: "\(prefix).rows_done") else { return nil }
        let a = ScoreAccumulator(mode: mode, queries: queries, modules: moduleNames.count, selfInfluence: selfInfluence)
        a.rowsDone = try file.integers(named: "\(prefix).rows_done").first ?? 0
        if let s = try ScoringCheckpoint.optional(file, "\(prefix).self") { a.selfParts = [s] }
        switch mode {
        case let .dense(wantsModules, wantsTokens):
            guard let scores = try ScoringCheckpoint.read(file, prefix: prefix, moduleNames: moduleNames) else { return nil }
            a.totalColumns = [scores.pairwise]
            if wantsModules { a.moduleColumns = scores.perModule.map { [$0.scores] } }
            if wantsTokens, let t = scores.perToken { a.tokenParts = [t]; a.maxTokens = t.shape[2] }
        case .top:
            guard let h = try SelectedScores(file: file, prefix: "\(prefix).highest"),
                let l = try SelectedScores(file: file, prefix: "\(prefix).lowest")
            else { return nil }
            a.highest = zip(h.indices, h.scores).map { zip($1, $0).map { (score: $0, row: $1) } }
            a.lowest = zip(l.indices, l.scores).map { zip($1, $0).map { (score: $0, row: $1) } }
        case .candidates:
            guard let c = try SelectedScores(file: file, prefix: "\(prefix).candidates") else { return nil }
            a.candidateScores = c.scores
            if let m = c.perModule { a.candidateModules = m }
            if let t = c.perToken { a.candidateTokens = t }
        }
        return a
    }
}
