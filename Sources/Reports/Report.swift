import Foundation
import Formats

/// The report of a scoring run: per query its most supporting and most opposing documents with
/// token heat maps, the ranking by mean influence per token, the layer-wise profile and the tail of
/// the distribution; the cross-lingual grids of query groups; the run's facts. One self-contained
/// HTML file (inline CSS and SVG, no script) and the same analyses as JSON.
public struct Report {
    /// The scores, documents, queries and facts the report is made from.
    public let input: ReportInput
    /// The list lengths, bootstrap settings and title.
    public let options: ReportOptions
    /// One analysis per query, in the order of ``ReportInput/queries``.
    public let analyses: [QueryAnalysis]
    /// One analysis per group of queries in at least two languages, in order of the groups' first queries.
    public let crossLingual: [CrossLingualAnalysis]

    /// Computes every analysis of the report; nothing is written until ``write(html:json:)``.
    ///
    /// - Parameters:
    ///   - input: the scores and what they are about.
    ///   - options: what the report shows.
    public init(_ input: ReportInput, options: ReportOptions = ReportOptions()) {
        self.input = input
        self.options = options
        analyses = input.queries.indices.map { QueryAnalysis(input, query: $0, options: options) }
        crossLingual = CrossLingualAnalysis.groups(input)
    }

    /// Writes the HTML and the JSON, each atomically.
    public func write(html: URL, json: URL) throws {
        try AtomicFile.write(Data(self.html().utf8), to: html)
        try AtomicFile.write(Data(try self.json().serialized().utf8), to: json)
    }

    // MARK: - HTML

    /// The report as one self-contained HTML page: inline CSS and SVG, no script.
    public func html() -> String {
        var out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
        out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>"
        out += "<title>\(HTML.escape(options.title))</title><style>\(HTML.style)</style></head><body>\n"
        out += "<h1>\(HTML.escape(options.title))</h1>\n"
        out += "<p class=\"muted\">\(input.queries.count) queries against \(input.documentIDs.count) training documents. "
        out += "Influence is score(q, d) = ∇f(z_q)ᵀ (H + λI)⁻¹ ∇L(z_d): <span class=\"pos\">positive</span> when training on d lowers the query's loss "
        out +=
            "(raises the completion's log-likelihood), <span class=\"neg\">negative</span> when it raises it. A document's influence is the sum over its rows, tokens and tracked layers.</p>\n"
        out += factsHTML()
        out += "<nav><h3>Queries</h3><ol>"
        for (q, query) in input.queries.enumerated() {
            out +=
                "<li><a href=\"#q\(q)\">\(languageTag(query.language))\(HTML.escape(query.prompt))\(query.completion.isEmpty ? "" : " → " + HTML.escape(query.completion))</a></li>"
        }
        if !crossLingual.isEmpty { out += "<li><a href=\"#crosslingual\">Across languages</a></li>" }
        out += "<li><a href=\"#conventions\">How to read this report</a></li></ol></nav>\n"
        for analysis in analyses { out += queryHTML(analysis) }
        if !crossLingual.isEmpty { out += crossLingualHTML() }
        out += conventionsHTML()
        return out + "</body></html>\n"
    }

    func factsHTML() -> String {
        guard !input.facts.isEmpty else { return "" }
        var out = "<table class=\"facts\">"
        for fact in input.facts { out += "<tr><td>\(HTML.escape(fact.name))</td><td>\(HTML.escape(fact.value))</td></tr>" }
        return out + "</table>\n"
    }

    func languageTag(_ language: String?) -> String { language.map { "[\(HTML.escape($0))] " } ?? "" }

    func queryHTML(_ a: QueryAnalysis) -> String {
        let query = input.queries[a.query]
        var out = "<h2 id=\"q\(a.query)\"\(a.query == 0 ? " class=\"first\"" : "")>Query \(a.query + 1) \(languageTag(query.language))</h2>\n"
        out += "<div class=\"query\">\(HTML.escape(query.prompt))"
        if !query.completion.isEmpty { out += "<span class=\"completion\">\(HTML.escape(query.completion))</span>" }
        out += "</div>\n<p class=\"small muted\">"
        out += query.completion.isEmpty ? "Measured: the loss of the whole query. " : "Measured: −log p(completion | prompt), the underlined part. "
        out += "Total positive influence \(HTML.short(a.totalPositive)) over \(a.tail.positiveCount) of \(a.tail.documentCount) documents; "
        out += "total negative \(HTML.short(a.totalNegative)).</p>\n"

        out += "<h3>Most supporting documents <span class=\"muted small\">(ranked by the sum over tokens, as in the paper)</span></h3>\n"
        out +=
            a.supporting.isEmpty
            ? "<p class=\"muted\">No document has a positive influence on this query.</p>"
            : a.supporting.enumerated().map { documentHTML($1, rank: $0 + 1, query: a.query, opposing: false) }.joined()
        out += "<h3>Most opposing documents</h3>\n"
        out +=
            a.opposing.isEmpty
            ? "<p class=\"muted\">No document has a negative influence on this query.</p>"
            : a.opposing.enumerated().map { documentHTML($1, rank: $0 + 1, query: a.query, opposing: true) }.joined()
        out += meanPerTokenHTML(a)
        out += profileHTML(a)
        out += tailHTML(a)
        return out
    }

    func documentHTML(_ d: RankedDocument, rank: Int, query q: Int, opposing: Bool) -> String {
        var out = "<article class=\"doc\" data-query=\"\(q)\" data-document=\"\(d.document)\"><header>"
        out += "<b>#\(rank)</b><span>influence <b>\(HTML.score(d.score))</b></span>"
        if let share = d.share { out += "<span>\(HTML.percent(share)) of the query's total \(opposing ? "negative" : "positive") influence</span>" }
        out += "<span>document \(HTML.escape(input.documentIDs[d.document]))</span>"
        if let language = input.documentLanguages[d.document] { out += "<span>language \(HTML.escape(language))</span>" }
        out += "<span>\(d.tokens) tokens, \(HTML.short(d.meanPerToken)) per token</span></header>"
        out += "<div class=\"text\">\(heatMap(query: q, document: d.document))</div></article>\n"
        return out
    }

    /// The document's text with each piece coloured by its influence; plain text without pieces or per-token scores.
    func heatMap(query q: Int, document d: Int) -> String {
        guard let pieces = input.documentPieces?(d) else { return HTML.escape(input.documentText(d)) }
        let tokenScores = input.tokenScores?(q, d)
        let values: [Double]? = tokenScores.map { scores in
            pieces.map { piece in piece.tokens.reduce(0) { $0 + ($1 < scores.count ? Double(scores[$1]) : 0) } }
        }
        let scale = values.map { v in zip(pieces, v).filter { !$0.0.isSpecial }.map { Swift.abs($0.1) }.max() ?? 0 } ?? 0
        var out = ""
        var hidden = 0.0, hiddenCount = 0
        for (i, piece) in pieces.enumerated() {
            if piece.isSpecial {
                hiddenCount += 1
                hidden += values?[i] ?? 0
                continue
            }
            if let values {
                out +=
                    "<span style=\"background:\(HTML.heat(values[i], scale: scale))\" title=\"\(HTML.escape(HTML.short(values[i])))\">\(HTML.escape(piece.text))</span>"
            } else {
                out += HTML.escape(piece.text)
            }
        }
        if hiddenCount > 0 {
            out +=
                "\n<span class=\"muted small\">(\(hiddenCount) special token\(hiddenCount == 1 ? "" : "s") not shown\(values != nil ? ", influence \(HTML.short(hidden))" : ""))</span>"
        }
        return out
    }

    func meanPerTokenHTML(_ a: QueryAnalysis) -> String {
        guard !a.byMeanPerToken.isEmpty else { return "" }
        var out =
            "<h3>Highest mean influence per token <span class=\"muted small\">(the sum ÷ the document's tokens; documents of at least \(QueryAnalysis.minimumTokensForMean) tokens)</span></h3>\n"
        out += "<p class=\"small muted\">Sums favour long documents; this ranking does not.</p>"
        out += "<table><tr><th>#</th><th class=\"n\">per token</th><th class=\"n\">tokens</th><th class=\"n\">influence</th><th>document</th><th>text</th></tr>"
        for (i, d) in a.byMeanPerToken.enumerated() {
            let text = input.documentText(d.document).replacingOccurrences(of: "\n", with: " ")
            let shown = text.count > 90 ? String(text.prefix(87)) + "…" : text
            out +=
                "<tr><td>\(i + 1)</td><td class=\"n\">\(HTML.short(d.meanPerToken))</td><td class=\"n\">\(d.tokens)</td><td class=\"n\">\(HTML.score(d.score))</td>"
            out += "<td>\(HTML.escape(input.documentIDs[d.document]))</td><td>\(HTML.escape(shown))</td></tr>"
        }
        return out + "</table>\n"
    }

    var moduleLabels: [String] { Self.shortNames(input.moduleScores.map(\.name)) }

    func profileHTML(_ a: QueryAnalysis) -> String {
        guard !input.moduleScores.isEmpty else {
            return
                "<h3>Influence by layer</h3><p class=\"muted small\">Not in these scores: run <code>influence scores --per-module</code> for the layer-wise profile.</p>\n"
        }
        guard !a.profile.isEmpty else { return "" }
        let labels = moduleLabels
        var out = "<h3>Influence by layer <span class=\"muted small\">(the top \(a.profile.count) supporting documents)</span></h3>\n"
        out += "<h4>Mean share of each document's influence per tracked layer</h4>"
        out += SVGPlot.bars(a.meanModuleShare, labels: labels, label: "mean share of influence per layer")
        out +=
            "<table class=\"grid\"><tr><th>document</th>" + labels.map { "<th class=\"n\">\(HTML.escape($0))</th>" }.joined()
            + "<th class=\"n\">centre of mass</th></tr>"
        for row in a.profile {
            let scale = row.scores.map { Swift.abs(Double($0)) }.max() ?? 0
            out += "<tr><td>\(HTML.escape(input.documentIDs[row.document]))</td>"
            for s in row.scores { out += "<td style=\"background:\(HTML.heat(Double(s), scale: scale))\">\(HTML.score(s))</td>" }
            out += "<td>\(row.centreOfMass.map { String(format: "%.2f", $0) } ?? "–")</td></tr>"
        }
        out +=
            "</table><p class=\"small muted\">Centre of mass: Σ i·|s_i| ÷ Σ |s_i| over the layers i = 0 … \(labels.count - 1) in the network's order (0 = nearest the input).</p>\n"
        return out
    }

    func tailHTML(_ a: QueryAnalysis) -> String {
        let t = a.tail
        var out = "<h3>The tail of the distribution</h3>\n"
        if let share = t.topPercentShare {
            out +=
                "<p>The top 1 % of documents (\(Swift.max(1, Int((Double(t.documentCount) * 0.01).rounded(.up))))) hold <b>\(HTML.percent(share))</b> of the total positive influence.</p>"
        }
        if let fit = t.fit {
            out += SVGPlot.complementaryCDF(
                t.curve, fit: (fit.xMin, fit.alpha, Double(fit.tailCount) / Double(Swift.max(1, fit.sampleCount))),
                label: "complementary CDF of positive influence, log-log")
            out +=
                "<table><tr><th>α</th><th>standard error</th><th>x_min</th><th class=\"n\">documents in the tail</th><th>KS distance</th><th>p (bootstrap)</th></tr>"
            out += "<tr><td>\(String(format: "%.3f", fit.alpha))</td><td>\(String(format: "%.3f", fit.standardError))</td><td>\(HTML.short(fit.xMin))</td>"
            out += "<td class=\"n\">\(fit.tailCount) of \(fit.sampleCount)</td><td>\(String(format: "%.4f", fit.distance))</td>"
            out += "<td>\(t.pValue.map { String(format: "%.3f", $0) + " (\(t.repetitions) samples)" } ?? "not computed")</td></tr></table>"
            out +=
                "<p class=\"small muted\">A power law p(x) ∝ x^(−α) for x ≥ x_min, fitted by maximum likelihood with x_min chosen by the Kolmogorov–Smirnov distance (Clauset, Shalizi &amp; Newman 2009); "
            out += "p ≤ 0.1 rules it out.</p>\n"
        } else {
            if !t.curve.isEmpty { out += SVGPlot.complementaryCDF(t.curve, fit: nil, label: "complementary CDF of positive influence, log-log") }
            out += "<p class=\"muted\">No power-law fit: \(HTML.escape(t.failure ?? "no positive influence")).</p>\n"
        }
        return out
    }

    func crossLingualHTML() -> String {
        var out = "<h2 id=\"crosslingual\">Across languages</h2>\n"
        out +=
            "<p>For queries that ask the same thing in several languages: the reference query's top documents and their influence on each translation, and the mean influence of the documents of each language.</p>"
        for c in crossLingual {
            out += "<h3>Group \(HTML.escape(c.group))</h3>"
            out += "<table class=\"grid\"><tr><th>document</th>"
            for q in c.queries { out += "<th class=\"n\">\(HTML.escape(input.queries[q].language ?? "?")): query \(q + 1)</th>" }
            out += "</tr>"
            let scale = c.grid.flatMap { $0 }.map { Swift.abs(Double($0)) }.max() ?? 0
            for (i, d) in c.documents.enumerated() {
                out += "<tr><td>\(HTML.escape(input.documentIDs[d]))\(input.documentLanguages[d].map { " [\(HTML.escape($0))]" } ?? "")</td>"
                for s in c.grid[i] { out += "<td style=\"background:\(HTML.heat(Double(s), scale: scale))\">\(HTML.score(s))</td>" }
                out += "</tr>"
            }
            out +=
                "<tr><td><i>mean ÷ the reference's mean</i></td>" + c.carryOver.map { "<td>\($0.map { String(format: "%.3f", $0) } ?? "–")</td>" }.joined()
                + "</tr>"
            out += "</table><h4>Mean influence by document language</h4><table class=\"grid\"><tr><th>query</th>"
            out += c.languages.map { "<th class=\"n\">\(HTML.escape($0)) documents</th>" }.joined() + "</tr>"
            for (j, q) in c.queries.enumerated() {
                out += "<tr><td>\(languageTag(input.queries[q].language))query \(q + 1)</td>"
                out += c.meanByLanguage[j].map { "<td>\(HTML.short($0))</td>" }.joined() + "</tr>"
            }
            out += "</table>"
        }
        return out + "\n"
    }

    func conventionsHTML() -> String {
        """
        <h2 id="conventions">How to read this report</h2>
        <ul class="small">
        <li><b>Sign.</b> Positive influence: up-weighting the document lowers the query's loss (it supports the answer). Negative: it raises the loss.</li>
        <li><b>Sums.</b> A document longer than the model's context is scored as several rows; its influence is the sum over them. A row's score is the sum over its tokens and over the tracked layers. Nothing is normalised.</li>
        <li><b>Token colours.</b> A token's value is Σ over tracked layers of g_tᵀ P_q ā_t at its position t: the layer's input there (ā_t, the token read at t) times the gradient of the row's training loss with respect to the layer's output at t (g_t, which carries the loss of predicting the next token and, through attention, of later ones). The values of a document add up to its influence. <span class="legend" style="background:rgba(214,96,77,.85)"></span> positive, <span class="legend" style="background:rgba(67,147,195,.85)"></span> negative; intensity is relative to the largest magnitude in that document; hover for the value. Special tokens (padding, end of text) are counted but not shown.</li>
        <li><b>Shares.</b> A supporting document's share is its influence ÷ the sum of all positive influences on the query; an opposing document's, ÷ the sum of all negative ones.</li>
        </ul>
        """
    }

    /// Module names with their common dotted prefix removed (`transformer.h.0.mlp.c_fc` → `0.mlp.c_fc`).
    public static func shortNames(_ names: [String]) -> [String] {
        guard names.count > 1 else { return names }
        let parts = names.map { $0.split(separator: ".", omittingEmptySubsequences: false) }
        var common = 0
        while parts.allSatisfy({ $0.count > common + 1 }) && Set(parts.map { $0[common] }).count == 1 { common += 1 }
        return parts.map { $0.dropFirst(common).joined(separator: ".") }
    }

    // MARK: - JSON

    /// The report's analyses as JSON: `facts`, `documents`, per query its rankings, tail and layer profile, and `crosslingual`.
    ///
    /// Non-finite numbers are written as `null`, so the value always serialises.
    public func json() -> JSONValue {
        func document(_ d: RankedDocument) -> JSONValue {
            var e: [String: JSONValue] = [
                "document": .number(Double(d.document)), "id": .string(input.documentIDs[d.document]),
                "score": HTML.json(d.score), "tokens": .number(Double(d.tokens)), "mean_per_token": HTML.json(d.meanPerToken),
            ]
            e["share"] = d.share.map(HTML.json) ?? .null
            if let language = input.documentLanguages[d.document] { e["language"] = .string(language) }
            return .object(e)
        }
        let queries: [JSONValue] = analyses.map { a in
            let query = input.queries[a.query]
            var tail: [String: JSONValue] = [
                "positive_documents": .number(Double(a.tail.positiveCount)),
                "documents": .number(Double(a.tail.documentCount)),
                "top_1_percent_share": a.tail.topPercentShare.map(HTML.json) ?? .null,
            ]
            if let fit = a.tail.fit {
                tail["power_law"] = .object([
                    "alpha": HTML.json(fit.alpha), "standard_error": HTML.json(fit.standardError), "x_min": HTML.json(fit.xMin),
                    "tail_documents": .number(Double(fit.tailCount)), "ks_distance": HTML.json(fit.distance),
                    "p_value": a.tail.pValue.map(HTML.json) ?? .null, "bootstrap_samples": .number(Double(a.tail.repetitions)),
                ])
            } else {
                tail["power_law"] = .null
                tail["no_fit_because"] = .string(a.tail.failure ?? "no positive influence")
            }
            var entry: [String: JSONValue] = [
                "query": .number(Double(a.query)), "prompt": .string(query.prompt), "completion": .string(query.completion),
                "total_positive": HTML.json(a.totalPositive), "total_negative": HTML.json(a.totalNegative),
                "supporting": .array(a.supporting.map(document)), "opposing": .array(a.opposing.map(document)),
                "by_mean_per_token": .array(a.byMeanPerToken.map(document)), "tail": .object(tail),
            ]
            if let language = query.language { entry["language"] = .string(language) }
            if let group = query.group { entry["group"] = .string(group) }
            if !a.profile.isEmpty {
                entry["layer_profile"] = .object([
                    "modules": .array(input.moduleScores.map { .string($0.name) }),
                    "mean_share": .array(a.meanModuleShare.map(HTML.json)),
                    "documents": .array(
                        a.profile.map { row in
                            .object([
                                "document": .number(Double(row.document)), "id": .string(input.documentIDs[row.document]),
                                "scores": .array(row.scores.map(HTML.json)), "centre_of_mass": row.centreOfMass.map(HTML.json) ?? .null,
                            ])
                        }),
                ])
            }
            return .object(entry)
        }
        var root: [String: JSONValue] = [
            "facts": .object(Dictionary(input.facts.map { ($0.name, JSONValue.string($0.value)) }, uniquingKeysWith: { a, _ in a })),
            "documents": .number(Double(input.documentIDs.count)), "queries": .array(queries),
        ]
        root["crosslingual"] = .array(
            crossLingual.map { c in
                .object([
                    "group": .string(c.group), "queries": .array(c.queries.map { .number(Double($0)) }),
                    "documents": .array(c.documents.map { .number(Double($0)) }),
                    "grid": .array(c.grid.map { .array($0.map(HTML.json)) }), "languages": .array(c.languages.map { .string($0) }),
                    "mean_by_language": .array(c.meanByLanguage.map { .array($0.map(HTML.json)) }),
                    "carry_over": .array(c.carryOver.map { $0.map(HTML.json) ?? .null }),
                ])
            })
        return .object(root)
    }
}
