import Foundation
import Formats

/// The paper's model-size comparison (Grosse et al. 2023, §5.3): the same corpus, queries and
/// strategy on models of several sizes. Per size: how strongly influence follows lexical overlap
/// with the query (Spearman's ρ over documents between influence and the query's TF-IDF score of
/// the document, and between influence and the fraction of the query's distinct tokens the document
/// holds; the paper's claim is that small models rely more on lexical overlap), and how much of the
/// English query's top documents' influence carries over to its translations. Between sizes: the
/// overlap of each query's top documents.
public struct ModelSizeStudy {
    /// One model's scores, with the lexical measures of the same (query, document) pairs.
    public struct Size {
        /// The model's name as the tables show it (e.g. `2 × 64`: layers × width).
        public var label: String
        /// The model's parameter count, shown with grouped digits.
        public var parameters: Int
        /// `[queries, documents]` influence.
        public var scores: ScoreMatrix
        /// `[queries, documents]` TF-IDF score of each document for each query.
        public var termScores: ScoreMatrix
        /// `[queries, documents]` fraction of the query's distinct tokens found in the document.
        public var tokenOverlap: ScoreMatrix
        /// The path or link of this size's own report, shown as a link in the HTML; nil for none.
        public var report: String?

        /// Creates one size's data; the three matrices must have the same `[queries, documents]` shape.
        ///
        /// - Parameters:
        ///   - label: the model's name in the tables.
        ///   - parameters: its parameter count.
        ///   - scores: `[queries, documents]` influence.
        ///   - termScores: `[queries, documents]` TF-IDF scores.
        ///   - tokenOverlap: `[queries, documents]` fraction of each query's distinct tokens in each document.
        ///   - report: a link to the size's own report, if any.
        public init(label: String, parameters: Int, scores: ScoreMatrix, termScores: ScoreMatrix, tokenOverlap: ScoreMatrix, report: String? = nil) {
            self.label = label
            self.parameters = parameters
            self.scores = scores
            self.termScores = termScores
            self.tokenOverlap = tokenOverlap
            self.report = report
        }
    }

    /// What was measured for one size.
    public struct SizeFigures: Sendable {
        /// Mean over queries of Spearman's ρ (influence, TF-IDF) and (influence, token overlap).
        public var termCorrelation: Double?
        /// Mean over queries of Spearman's ρ between influence and token overlap; nil when no query has a defined ρ.
        public var overlapCorrelation: Double?
        /// Per query.
        public var termCorrelations: [Double?]
        /// Spearman's ρ (influence, token overlap) of each query; nil where it is undefined.
        public var overlapCorrelations: [Double?]
        /// The mean carry-over of the translations of each cross-lingual group (see
        /// ``CrossLingualAnalysis/carryOver``), averaged over groups.
        public var crossLingualCarryOver: Double?
    }

    /// The models compared, in the order of the tables.
    public var sizes: [Size]
    /// The queries, the same for every size (one per row of each score matrix).
    public var queries: [ReportQuery]
    /// The `language` of each document, for the cross-lingual carry-over; nil where unknown.
    public var documentLanguages: [String?]
    /// Top documents compared between sizes.
    public var top: Int
    /// One entry per size, in the order of ``sizes``.
    public let figures: [SizeFigures]
    /// `[a][b]`: mean over queries of |top_a ∩ top_b| / top.
    public let topOverlap: [[Double]]

    /// Computes every figure of the study.
    ///
    /// - Parameters:
    ///   - sizes: the models, each with `[queries, documents]` matrices for the same queries and documents.
    ///   - queries: the queries, whose `language` and `group` define the cross-lingual groups.
    ///   - documentLanguages: the language of each document.
    ///   - top: the number of top documents compared between sizes and used for carry-over.
    public init(sizes: [Size], queries: [ReportQuery], documentLanguages: [String?], top: Int = 10) {
        self.sizes = sizes
        self.queries = queries
        self.documentLanguages = documentLanguages
        self.top = top
        func mean(_ values: [Double?]) -> Double? {
            let v = values.compactMap { $0 }
            return v.isEmpty ? nil : v.reduce(0, +) / Double(v.count)
        }
        figures = sizes.map { size in
            let q = size.scores.rows
            let terms = (0..<q).map { Correlation.spearman(size.scores.row($0), size.termScores.row($0)) }
            let overlaps = (0..<q).map { Correlation.spearman(size.scores.row($0), size.tokenOverlap.row($0)) }
            let input = ReportInput(
                queries: queries, documentIDs: (0..<size.scores.columns).map(String.init), documentLanguages: documentLanguages,
                tokenCounts: Array(repeating: 1, count: size.scores.columns), scores: size.scores, documentText: { _ in "" })
            let carry = CrossLingualAnalysis.groups(input, top: top).map { group in mean(Array(group.carryOver.dropFirst())) }
            return SizeFigures(
                termCorrelation: mean(terms), overlapCorrelation: mean(overlaps), termCorrelations: terms,
                overlapCorrelations: overlaps, crossLingualCarryOver: mean(carry))
        }
        let tops: [[Set<Int>]] = sizes.map { size in
            (0..<size.scores.rows).map { q in
                let row = size.scores.row(q)
                return Set(row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }.prefix(top))
            }
        }
        topOverlap = sizes.indices.map { a in
            sizes.indices.map { b in
                let shared = zip(tops[a], tops[b]).map { Double($0.intersection($1).count) / Double(Swift.max(1, top)) }
                return shared.reduce(0, +) / Double(Swift.max(1, shared.count))
            }
        }
    }

    static func format(_ value: Double?) -> String { value.map { String(format: "%.3f", $0) } ?? "–" }

    /// An integer with its thousands grouped by commas (3,700,224).
    static func grouped(_ n: Int) -> String {
        var digits = String(n.magnitude), groups: [Substring] = []
        while digits.count > 3 {
            groups.insert(Substring(digits.suffix(3)), at: 0)
            digits.removeLast(3)
        }
        return (n < 0 ? "-" : "") + ([Substring(digits)] + groups).joined(separator: ",")
    }

    /// The study's tables as text, for the terminal.
    public func table() -> String {
        var lines = ["size            parameters   ρ(influence, TF-IDF)   ρ(influence, token overlap)   cross-lingual carry-over"]
        for (size, f) in zip(sizes, figures) {
            lines.append(
                size.label.padding(toLength: 16, withPad: " ", startingAt: 0) + Self.grouped(size.parameters).leftPadded(10)
                    + "   " + Self.format(f.termCorrelation).padding(toLength: 23, withPad: " ", startingAt: 0)
                    + Self.format(f.overlapCorrelation).padding(toLength: 30, withPad: " ", startingAt: 0) + Self.format(f.crossLingualCarryOver))
        }
        lines.append("")
        lines.append("top-\(top) overlap   " + sizes.map { $0.label.padding(toLength: 10, withPad: " ", startingAt: 0) }.joined())
        for (a, size) in sizes.enumerated() {
            lines.append(
                size.label.padding(toLength: 16, withPad: " ", startingAt: 0)
                    + topOverlap[a].map { Self.format($0).padding(toLength: 10, withPad: " ", startingAt: 0) }.joined())
        }
        return lines.joined(separator: "\n")
    }

    /// The study as JSON: `top`, per size its label, parameters, mean and per-query correlations and carry-over, and `top_overlap`.
    ///
    /// Non-finite numbers are written as `null`.
    public func json() -> JSONValue {
        .object([
            "top": .number(Double(top)),
            "sizes": .array(
                zip(sizes, figures).map { size, f in
                    var e: [String: JSONValue] = [
                        "label": .string(size.label), "parameters": .number(Double(size.parameters)),
                        "spearman_influence_tfidf": f.termCorrelation.map(HTML.json) ?? .null,
                        "spearman_influence_token_overlap": f.overlapCorrelation.map(HTML.json) ?? .null,
                        "per_query_spearman_tfidf": .array(f.termCorrelations.map { $0.map(HTML.json) ?? .null }),
                        "per_query_spearman_token_overlap": .array(f.overlapCorrelations.map { $0.map(HTML.json) ?? .null }),
                        "crosslingual_carry_over": f.crossLingualCarryOver.map(HTML.json) ?? .null,
                    ]
                    if let report = size.report { e["report"] = .string(report) }
                    return .object(e)
                }),
            "top_overlap": .array(topOverlap.map { .array($0.map(HTML.json)) }),
        ])
    }

    /// The study as one self-contained HTML page: the table of correlations and carry-over, the per-query ρ and the top-document overlap grid.
    ///
    /// - Parameters:
    ///   - title: the page's title and heading.
    ///   - facts: name–value pairs shown in a table under the introduction.
    public func html(title: String = "Influence across model sizes", facts: [(name: String, value: String)] = []) -> String {
        var out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>"
        out += "<title>\(HTML.escape(title))</title><style>\(HTML.style)</style></head><body>\n<h1>\(HTML.escape(title))</h1>\n"
        out +=
            "<p class=\"muted\">The same corpus, queries and strategy on models of \(sizes.count) sizes. ρ is Spearman's correlation over documents, averaged over the \(queries.count) queries.</p>"
        if !facts.isEmpty {
            out += "<table class=\"facts\">" + facts.map { "<tr><td>\(HTML.escape($0.name))</td><td>\(HTML.escape($0.value))</td></tr>" }.joined() + "</table>"
        }
        out +=
            "<h2 class=\"first\">Lexical overlap and languages</h2><table><tr><th>model</th><th class=\"n\">parameters</th><th class=\"n\">ρ(influence, TF-IDF)</th>"
        out += "<th class=\"n\">ρ(influence, token overlap)</th><th class=\"n\">cross-lingual carry-over</th><th>report</th></tr>"
        for (size, f) in zip(sizes, figures) {
            out +=
                "<tr><td>\(HTML.escape(size.label))</td><td class=\"n\">\(Self.grouped(size.parameters))</td><td class=\"n\">\(Self.format(f.termCorrelation))</td>"
            out += "<td class=\"n\">\(Self.format(f.overlapCorrelation))</td><td class=\"n\">\(Self.format(f.crossLingualCarryOver))</td>"
            out += "<td>\(size.report.map { "<a href=\"\(HTML.escape($0))\">\(HTML.escape($0))</a>" } ?? "")</td></tr>"
        }
        out +=
            "</table><p class=\"small muted\">Carry-over: the mean influence of the English query's top \(top) documents on each translation ÷ their mean influence on the English query, averaged over translations. "
        out +=
            "The paper reports that larger models rely less on lexical overlap and carry more influence across languages; these figures are what was measured here, whatever their trend.</p>"
        out += "<h3>Per query</h3><table><tr><th>query</th>" + sizes.map { "<th class=\"n\">\(HTML.escape($0.label)): ρ TF-IDF</th>" }.joined() + "</tr>"
        for (q, query) in queries.enumerated() {
            out += "<tr><td>\(query.language.map { "[\(HTML.escape($0))] " } ?? "")\(HTML.escape(query.prompt))</td>"
            out += figures.map { "<td class=\"n\">\(Self.format($0.termCorrelations[q]))</td>" }.joined() + "</tr>"
        }
        out += "</table><h2>Overlap of the top \(top) documents between sizes</h2><table class=\"grid\"><tr><th></th>"
        out += sizes.map { "<th class=\"n\">\(HTML.escape($0.label))</th>" }.joined() + "</tr>"
        for (a, size) in sizes.enumerated() {
            out += "<tr><td>\(HTML.escape(size.label))</td>" + topOverlap[a].map { "<td>\(Self.format($0))</td>" }.joined() + "</tr>"
        }
        return out + "</table></body></html>\n"
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
