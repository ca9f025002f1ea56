import Formats
import Foundation
import Testing
import Reports
#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Collects the elements of a well-formed document, failing on the first parse error.
final class ElementCollector: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String], text: String)] = []
    var open: [Int] = []
    var error: Error?

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String]) {
        open.append(elements.count)
        elements.append((name, attributes, ""))
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) {
        for i in open { elements[i].text += string }
    }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) { open.removeLast() }
    func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) { error = parseError }

    static func parse(_ text: String) throws -> ElementCollector {
        let collector = ElementCollector()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = collector
        let ok = parser.parse()
        if let error = collector.error ?? parser.parserError { throw error }
        #expect(ok)
        return collector
    }
}

@Suite("HTML reports")
struct ReportTests {
    /// 3 queries × 40 documents of known scores; two modules that add up to them; per-token scores.
    static func input(constantThird: Bool = true) -> ReportInput {
        let q = 3, d = 40
        var values = [Float](repeating: 0, count: q * d)
        for j in 0..<d {
            values[j] = Float(100 / Double(j + 1)) - 3  // a heavy head, then negatives
            values[d + j] = Float(j % 7) - 2.5
            values[2 * d + j] = constantThird ? 0 : Float(j)
        }
        let scores = ScoreMatrix(rows: q, columns: d, values: values)
        let first = ScoreMatrix(rows: q, columns: d, values: values.map { $0 * 0.25 })
        let second = ScoreMatrix(rows: q, columns: d, values: values.map { $0 * 0.75 })
        let words = (0..<d).map { doc -> [String] in
            var generator = Self.rng(UInt64(doc))
            return ["doc", "<b>&amp;", "\u{00E9}t\u{00E9}", "line\nbreak", "z"].shuffled(using: &generator)
        }
        return ReportInput(
            queries: [
                ReportQuery(prompt: "The meaning of life is", completion: " to love.", language: "en", group: "meaning"),
                ReportQuery(prompt: "Der Sinn des Lebens ist", completion: " zu lieben.", language: "de", group: "meaning"),
                ReportQuery(prompt: "Nothing at all"),
            ],
            documentIDs: (0..<d).map { "doc-\($0)" }, documentLanguages: (0..<d).map { $0 % 2 == 0 ? "en" : "de" },
            tokenCounts: Array(repeating: 6, count: d), scores: scores,
            moduleScores: [("transformer.h.0.mlp.c_fc", first), ("transformer.h.0.mlp.c_proj", second)],
            documentText: { words[$0].joined(separator: " ") },
            documentPieces: { doc in
                var pieces = words[doc].enumerated().map { TokenPiece(text: ($0.offset == 0 ? "" : " ") + $0.element, tokens: $0.offset..<($0.offset + 1)) }
                pieces.append(TokenPiece(text: "<|endoftext|>", tokens: 5..<6, isSpecial: true))
                return pieces
            },
            tokenScores: { query, doc in
                // Six tokens adding up to the document's score.
                let s = scores[query, doc]
                return [0.5, -0.25, 0.25, 0.25, 0.125, 0.125].map { $0 * s }
            },
            facts: [("model", "a test model"), ("strategy", "ekfac")])
    }

    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 { state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407; return state }
    }
    static func rng(_ seed: UInt64) -> Generator { Generator(state: seed) }

    @Test func theReportIsWellFormedSelfContainedAndShowsTheScoresOfTheFiles() throws {
        let input = Self.input()
        let report = Report(input, options: ReportOptions(top: 4, bootstrapRepetitions: 20))
        let html = report.html()
        let parsed = try ElementCollector.parse(html)
        // Nothing from the network, no script.
        #expect(!parsed.elements.contains { $0.name == "script" || $0.name == "link" || $0.name == "img" })
        #expect(!html.contains("http://") && !html.contains("https://"))
        // Every document card names its query and document; its score is the matrix's, exactly and as shown.
        let cards = parsed.elements.filter { $0.name == "article" }
        #expect(cards.count == 4 + 4 + 4 + 4)  // two queries with supporting and opposing; the constant one has neither
        for card in cards {
            let q = Int(card.attributes["data-query"]!)!, d = Int(card.attributes["data-document"]!)!
            let index = parsed.elements.firstIndex { $0.name == "article" && $0.attributes == card.attributes }!
            let number = parsed.elements[index...].first { $0.attributes["class"] == "num" }!
            #expect(Float(number.attributes["data-value"]!)! == input.scores[q, d])
            #expect(number.text == HTML.short(Double(input.scores[q, d])))
        }
        // The first query's ranking: largest sums first, with shares of the positive total.
        let first = report.analyses[0]
        #expect(first.supporting.map(\.document) == [0, 1, 2, 3])
        let positive = input.scores.row(0).filter { $0 > 0 }.reduce(0, +)
        #expect(abs(first.supporting[0].share! - Double(input.scores[0, 0]) / positive) < 1e-12)
        #expect(html.contains(HTML.percent(Double(input.scores[0, 0]) / positive) + " of the query's total positive influence"))
        #expect(first.opposing.map(\.document) == [39, 38, 37, 36])
        // Text is escaped, special tokens are never shown.
        #expect(html.contains("&lt;b&gt;&amp;amp;"))
        #expect(!html.contains("&lt;|endoftext|&gt;") && !html.contains("<|endoftext|>"))
        // The heat map: five coloured pieces per card, titles adding up to the document's score.
        let card = parsed.elements.firstIndex { $0.name == "article" && $0.attributes["data-query"] == "0" && $0.attributes["data-document"] == "0" }!
        let spans = parsed.elements[card...].filter { $0.name == "span" && $0.attributes["title"] != nil }.prefix(5)
        let total = spans.map { Double($0.attributes["title"]!)! }.reduce(0, +)
        let special = 0.125 * Double(input.scores[0, 0])
        #expect(abs(total + special - Double(input.scores[0, 0])) < 1e-3 * Double(input.scores[0, 0]))
    }

    @Test func aConstantRowSaysTheFitIsNotPossibleAndNothingIsNaN() throws {
        let report = Report(Self.input(), options: ReportOptions(bootstrapRepetitions: 10))
        let html = report.html(), json = try report.json().serialized()
        #expect(html.contains("No power-law fit: a power-law fit needs at least 10 positive values; there are 0"))
        #expect(html.contains("No document has a positive influence on this query."))
        #expect(!html.contains("nan") && !html.contains("NaN") && !json.contains("nan") && !json.contains("NaN"))
        let parsed = try JSONValue(parsing: Data(json.utf8))
        let third = parsed["queries"]![2]!
        #expect(third["tail"]?["power_law"] == .null)
        #expect(third["tail"]?["no_fit_because"]?.stringValue?.contains("positive values") == true)
        #expect(third["supporting"]?.arrayValue?.isEmpty == true)
    }

    @Test func theJSONCarriesTheSameAnalyses() throws {
        let input = Self.input(constantThird: false)
        let report = Report(input, options: ReportOptions(top: 3, bootstrapRepetitions: 20))
        let json = try JSONValue(parsing: Data(try report.json().serialized().utf8))
        for (q, a) in report.analyses.enumerated() {
            let entry = json["queries"]![q]!
            #expect(entry["supporting"]?.arrayValue?.map { $0["document"]!.intValue! } == a.supporting.map(\.document))
            #expect(entry["supporting"]?.arrayValue?.map { Float($0["score"]!.doubleValue!) } == a.supporting.map(\.score))
            if let fit = a.tail.fit {
                #expect(entry["tail"]?["power_law"]?["alpha"]?.doubleValue == fit.alpha)
                #expect(entry["tail"]?["power_law"]?["p_value"]?.doubleValue == a.tail.pValue)
            }
            // The layer profile: per-module scores of the top documents, adding up to their totals.
            for row in a.profile {
                #expect(abs(row.scores.reduce(0, +) - input.scores[q, row.document]) <= 1e-5 * abs(input.scores[q, row.document]))
                // Weights 1 : 3 on modules 0 and 1: the centre of mass is 0.75.
                #expect(abs(row.centreOfMass! - 0.75) < 1e-6)
            }
        }
        #expect(json["facts"]?["strategy"]?.stringValue == "ekfac")
    }

    @Test func groupsInSeveralLanguagesGetACrossLingualGrid() throws {
        let input = Self.input()
        let groups = CrossLingualAnalysis.groups(input, top: 5)
        #expect(groups.count == 1)
        let g = groups[0]
        #expect(g.queries == [0, 1])  // the English query first
        #expect(g.documents == [0, 1, 2, 3, 4])
        for (i, d) in g.documents.enumerated() { #expect(g.grid[i] == [input.scores[0, d], input.scores[1, d]]) }
        #expect(g.languages == ["de", "en"])
        let english = stride(from: 0, to: 40, by: 2).map { Double(input.scores[1, $0]) }.reduce(0, +) / 20
        #expect(abs(g.meanByLanguage[1][1] - english) < 1e-9)
        #expect(Report(input).html().contains("id=\"crosslingual\""))
    }

    @Test func moduleNamesLoseTheirCommonPrefix() {
        #expect(Report.shortNames(["transformer.h.0.mlp.c_fc", "transformer.h.1.mlp.c_proj"]) == ["0.mlp.c_fc", "1.mlp.c_proj"])
        #expect(Report.shortNames(["a.b", "a.b"]) == ["b", "b"])
        #expect(Report.shortNames(["fc1"]) == ["fc1"])
    }
}
