import Foundation
import Formats
import TensorCore

extension ScoringResult {
    /// The training rows with the highest and lowest score per query, as the `summary.json` of a
    /// scoring run: `{"queries": [{"query_index", "query", "highest": [{"train_index", "score",
    /// "text"}], "lowest": [...]}]}`, texts cut to 200 characters. With candidates, the highest and
    /// lowest among each query's candidates.
    ///
    /// - Parameters:
    ///   - top: rows listed per query and sign.
    ///   - dampings: with `moduleNames`, recorded as `damping_per_module`.
    public func summary(
        trainTexts: [String], queryTexts: [String], top: Int = 10, moduleNames: [String] = [],
        dampings: [Double] = []
    ) -> JSONValue {
        // Per query: (rows, scores) best first and lowest first.
        var ranked: [(highest: [(Int, Float)], lowest: [(Int, Float)])] = []
        func order(_ pairs: [(Int, Float)]) -> (highest: [(Int, Float)], lowest: [(Int, Float)]) {
            let highest = pairs.sorted { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
            let lowest = pairs.sorted { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
            return (Array(highest.prefix(top)), Array(lowest.prefix(top)))
        }
        switch self {
        case let .dense(scores):
            let (q, n) = (scores.pairwise.shape[0], scores.pairwise.shape[1])
            for query in 0..<q { ranked.append(order((0..<n).map { ($0, scores.pairwise[query, $0]) })) }
        case let .top(t):
            for query in 0..<t.highest.queryCount {
                ranked.append(
                    (
                        Array(zip(t.highest.indices[query], t.highest.scores[query]).prefix(top)),
                        Array(zip(t.lowest.indices[query], t.lowest.scores[query]).prefix(top))
                    ))
            }
        case let .candidates(c):
            for query in 0..<c.queryCount { ranked.append(order(Array(zip(c.indices[query], c.scores[query])))) }
        }
        var queries: [JSONValue] = []
        for (query, rows) in ranked.enumerated() {
            func entries(_ list: [(Int, Float)]) -> JSONValue {
                .array(
                    list.map { i, score in
                        var e: [String: JSONValue] = ["train_index": .number(Double(i)), "score": .number(Double(score))]
                        if i < trainTexts.count && !trainTexts[i].isEmpty { e["text"] = .string(String(trainTexts[i].prefix(200))) }
                        return .object(e)
                    })
            }
            var entry: [String: JSONValue] = ["query_index": .number(Double(query)), "highest": entries(rows.highest), "lowest": entries(rows.lowest)]
            if query < queryTexts.count && !queryTexts[query].isEmpty { entry["query"] = .string(queryTexts[query]) }
            queries.append(.object(entry))
        }
        return .object([
            "queries": .array(queries),
            "damping_per_module": .object(Dictionary(zip(moduleNames, dampings.map { JSONValue.number($0) }), uniquingKeysWith: { a, _ in a })),
        ])
    }

    /// Writes the result's files into `directory`: `pairwise_scores.safetensors` (and
    /// `self_scores.safetensors`), `top_scores.safetensors` or `candidate_scores.safetensors`.
    public func save(to directory: URL, metadata: [String: String]) throws {
        switch self {
        case let .dense(s): try s.save(to: directory, metadata: metadata)
        case let .top(t): try t.save(to: directory, metadata: metadata)
        case let .candidates(c): try c.save(to: directory, metadata: metadata)
        }
    }
}

extension InfluenceScores {
    /// The summary of dense scores (see ``ScoringResult/summary(trainTexts:queryTexts:top:moduleNames:dampings:)``).
    public func summary(
        trainTexts: [String], queryTexts: [String], top: Int = 10, moduleNames: [String] = [],
        dampings: [Double] = []
    ) -> JSONValue {
        ScoringResult.dense(self).summary(trainTexts: trainTexts, queryTexts: queryTexts, top: top, moduleNames: moduleNames, dampings: dampings)
    }
}
