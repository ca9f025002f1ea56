import Formats
import TensorCore

extension InfluenceScores {
    /// The training rows with the highest and lowest score per query, as the `summary.json` of a
    /// scoring run: `{"queries": [{"query_index", "query", "highest": [{"train_index", "score",
    /// "text"}], "lowest": [...]}]}`, texts cut to 200 characters.
    ///
    /// - Parameters:
    ///   - top: rows listed per query and sign.
    ///   - dampings: with `moduleNames`, recorded as `damping_per_module`.
    public func summary(trainTexts: [String], queryTexts: [String], top: Int = 10, moduleNames: [String] = [],
                        dampings: [Double] = []) -> JSONValue {
        let (q, n) = (pairwise.shape[0], pairwise.shape[1])
        var queries: [JSONValue] = []
        for query in 0..<q {
            let row = (0..<n).map { pairwise[query, $0] }
            let order = row.indices.sorted { row[$0] > row[$1] }
            func entries(_ indices: ArraySlice<Int>) -> JSONValue {
                .array(indices.map { i in
                    var e: [String: JSONValue] = ["train_index": .number(Double(i)), "score": .number(Double(row[i]))]
                    if i < trainTexts.count && !trainTexts[i].isEmpty { e["text"] = .string(String(trainTexts[i].prefix(200))) }
                    return .object(e)
                })
            }
            var entry: [String: JSONValue] = ["query_index": .number(Double(query)), "highest": entries(order.prefix(top)),
                                              "lowest": entries(order.reversed().prefix(top))]
            if query < queryTexts.count && !queryTexts[query].isEmpty { entry["query"] = .string(queryTexts[query]) }
            queries.append(.object(entry))
        }
        return .object([
            "queries": .array(queries),
            "damping_per_module": .object(Dictionary(zip(moduleNames, dampings.map { JSONValue.number($0) }), uniquingKeysWith: { a, _ in a })),
        ])
    }
}
