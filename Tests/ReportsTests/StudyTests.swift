import Foundation
import Testing
import Reports

/// Correlations and the model-size study on scores whose answers are known.
@Suite("Correlations and the model-size study")
struct StudyTests {
    @Test func correlationsFollowTheirDefinitions() throws {
        // Pearson of an exact line is 1, of its mirror −1.
        let x: [Double] = [1, 2, 3, 4, 5]
        #expect(abs(Correlation.pearson(x, x.map { 3 * $0 + 1 })! - 1) < 1e-12)
        #expect(abs(Correlation.pearson(x, x.map { -$0 })! + 1) < 1e-12)
        // Ties get their mean rank: [10, 20, 20, 30] → [1, 2.5, 2.5, 4].
        #expect(Correlation.ranks([10, 20, 20, 30]) == [1, 2.5, 2.5, 4])
        // Spearman is Pearson of the ranks; a monotone but curved relation gives 1.
        #expect(abs(Correlation.spearman(x, x.map { exp($0) })! - 1) < 1e-12)
        // A hand-computed case: ranks [1, 2, 3, 4] and [2, 1, 4, 3]: ρ = 1 − 6·Σd²/(n(n²−1)) = 1 − 6·4/60 = 0.6.
        #expect(abs(Correlation.spearman([1, 2, 3, 4], [20, 10, 40, 30])! - 0.6) < 1e-12)
        // A constant sample has no correlation.
        #expect(Correlation.pearson([1, 1, 1], [1, 2, 3]) == nil)
    }

    @Test func theStudyMeasuresLexicalRelianceOverlapAndCarryOver() throws {
        let q = 2, d = 30
        // TF-IDF scores and token overlaps made up; size "small" follows TF-IDF exactly, size
        // "large" its opposite.
        let terms = (0..<(q * d)).map { Float(($0 * 7919) % 97) }
        let overlap = (0..<(q * d)).map { Float(($0 * 31) % 11) / 10 }
        let small = ScoreMatrix(rows: q, columns: d, values: terms)
        let large = ScoreMatrix(rows: q, columns: d, values: terms.map { -$0 })
        let t = ScoreMatrix(rows: q, columns: d, values: terms), o = ScoreMatrix(rows: q, columns: d, values: overlap)
        let queries = [ReportQuery(prompt: "a", language: "en", group: "g"), ReportQuery(prompt: "b", language: "de", group: "g")]
        let study = ModelSizeStudy(
            sizes: [
                .init(label: "small", parameters: 10, scores: small, termScores: t, tokenOverlap: o),
                .init(label: "large", parameters: 100, scores: large, termScores: t, tokenOverlap: o),
            ],
            queries: queries, documentLanguages: (0..<d).map { $0 % 2 == 0 ? "en" : "de" }, top: 5)
        #expect(abs(study.figures[0].termCorrelation! - 1) < 1e-12)
        #expect(abs(study.figures[1].termCorrelation! + 1) < 1e-12)
        let overlapRho = (0..<q).map { Correlation.spearman(small.row($0), o.row($0))! }.reduce(0, +) / Double(q)
        #expect(abs(study.figures[0].overlapCorrelation! - overlapRho) < 1e-12)
        // The same model against itself: its top documents coincide; opposite rankings share none.
        #expect(study.topOverlap[0][0] == 1 && study.topOverlap[1][1] == 1)
        #expect(study.topOverlap[0][1] == 0)
        // Carry-over: the English query's top 5 documents' mean on the German query over their mean on the English one.
        let english = small.row(0), german = small.row(1)
        let top = english.indices.sorted { english[$0] > english[$1] || (english[$0] == english[$1] && $0 < $1) }.prefix(5)
        let expected = top.map { german[$0] }.reduce(0, +) / top.map { english[$0] }.reduce(0, +)
        #expect(abs(study.figures[0].crossLingualCarryOver! - expected) < 1e-9)
        // Written out: the JSON has every size and the HTML parses as the report does.
        let json = try study.json().serialized()
        #expect(json.contains("\"label\":\"small\"") && json.contains("spearman_influence_tfidf"))
        #expect(study.html().contains("<table") && study.table().contains("small"))
    }
}
