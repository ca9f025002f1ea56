import Foundation

/// One ranked document of a query.
public struct RankedDocument: Sendable, Equatable {
    /// The document's index in ``ReportInput/documentIDs``.
    public var document: Int
    /// The document's influence on the query, summed over its rows, tokens and tracked layers.
    public var score: Float
    /// score ÷ the query's total positive influence (supporting documents), or ÷ its total
    /// negative influence (opposing documents); nil when that total is zero.
    public var share: Double?
    /// The document's token count, special tokens included.
    public var tokens: Int
    /// score ÷ tokens.
    public var meanPerToken: Double
}

/// A document's influence per tracked module, for the layer-wise profile.
public struct LayerProfileRow: Sendable, Equatable {
    /// The document's index in ``ReportInput/documentIDs``.
    public var document: Int
    /// One score per module, in the network's order; they add up to the document's score.
    public var scores: [Float]
    /// Σ_i i·|s_i| / Σ_i |s_i| over module indices i = 0 … L − 1: where in depth the document's
    /// influence sits (nil when every module's score is zero).
    public var centreOfMass: Double?
}

/// The tail of a query's influence distribution over documents.
public struct TailAnalysis: Sendable {
    /// Documents with positive influence, and all documents.
    public var positiveCount: Int
    /// The number of documents scored against the query.
    public var documentCount: Int
    /// The power law fitted to the positive influences; nil when no fit is possible (see ``failure``).
    public var fit: PowerLawFit?
    /// Why there is no fit.
    public var failure: String?
    /// The bootstrap p-value and its repetitions (nil without a fit or with 0 repetitions).
    public var pValue: Double?
    /// The bootstrap repetitions asked for (``ReportOptions/bootstrapRepetitions``).
    public var repetitions: Int
    /// The share of the total positive influence held by the top 1 % of documents.
    public var topPercentShare: Double?
    /// The complementary CDF of the positive influences, thinned for plotting.
    public var curve: [(x: Double, p: Double)]
}

/// Everything the report says about one query.
public struct QueryAnalysis {
    /// The query's index in ``ReportInput/queries``.
    public var query: Int
    /// The documents with the highest positive influence, at most ``ReportOptions/top``, highest first.
    public var supporting: [RankedDocument]
    /// The documents with the most negative influence, at most ``ReportOptions/top``, most negative first.
    public var opposing: [RankedDocument]
    /// The highest mean influence per token (documents of at least ``minimumTokensForMean`` tokens).
    public var byMeanPerToken: [RankedDocument]
    /// The sum of the query's positive document scores.
    public var totalPositive: Double
    /// The sum of the query's negative document scores (zero or negative).
    public var totalNegative: Double
    /// With per-module scores: the profile of the top supporting documents.
    public var profile: [LayerProfileRow]
    /// The mean over the profiled documents of each module's share of the document's score.
    public var meanModuleShare: [Double]
    /// The shape of the distribution of positive influence: power-law fit, top-1 % share and the curve to plot.
    public var tail: TailAnalysis

    /// Documents shorter than this are left out of the per-token ranking, where a two-token
    /// document's mean would say little.
    public static let minimumTokensForMean = 4

    /// Analyses query `q` of `input`: the rankings, the layer-wise profile (with per-module scores) and the tail, bootstrapped with seed `options.seed + q`.
    ///
    /// - Parameters:
    ///   - input: the scores and documents of the report.
    ///   - q: the query's index in `input.queries`.
    ///   - options: the list lengths and bootstrap settings.
    public init(_ input: ReportInput, query q: Int, options: ReportOptions) {
        query = q
        let row = input.scores.row(q)
        let n = row.count
        let positive = row.filter { $0 > 0 }.reduce(0, +), negative = row.filter { $0 < 0 }.reduce(0, +)
        totalPositive = positive
        totalNegative = negative
        func ranked(_ d: Int, opposing: Bool) -> RankedDocument {
            let total = opposing ? negative : positive
            let tokens = input.tokenCounts[d]
            return RankedDocument(
                document: d, score: input.scores[q, d], share: total != 0 ? row[d] / total : nil, tokens: tokens,
                meanPerToken: row[d] / Double(Swift.max(1, tokens)))
        }
        // Ties broken by document order, so that the report is deterministic.
        let descending = (0..<n).sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
        supporting = descending.prefix(options.top).filter { row[$0] > 0 }.map { ranked($0, opposing: false) }
        opposing = descending.reversed().prefix(options.top).filter { row[$0] < 0 }.map { ranked($0, opposing: true) }
        let counts = input.tokenCounts
        let eligible: [Int] = (0..<n).filter { counts[$0] >= Self.minimumTokensForMean }
        let mean: [Double] = (0..<n).map { row[$0] / Double(Swift.max(1, counts[$0])) }
        let byMean: [Int] = eligible.sorted { (a: Int, b: Int) -> Bool in mean[a] > mean[b] || (mean[a] == mean[b] && a < b) }
        byMeanPerToken = byMean.prefix(options.top).filter { mean[$0] > 0 }.map { ranked($0, opposing: false) }

        var profile: [LayerProfileRow] = []
        var shares = [Double](repeating: 0, count: input.moduleScores.count)
        if !input.moduleScores.isEmpty {
            for d in descending.prefix(options.profileDocuments) where row[d] > 0 {
                let scores = input.moduleScores.map { $0.scores[q, d] }
                let weights = scores.map { Swift.abs(Double($0)) }
                let mass = weights.reduce(0, +)
                let centre = mass > 0 ? weights.enumerated().reduce(0) { $0 + Double($1.offset) * $1.element } / mass : nil
                profile.append(LayerProfileRow(document: d, scores: scores, centreOfMass: centre))
                let total = scores.reduce(0) { $0 + Double($1) }
                if total != 0 { for i in shares.indices { shares[i] += Double(scores[i]) / total } }
            }
            if !profile.isEmpty { shares = shares.map { $0 / Double(profile.count) } }
        }
        self.profile = profile
        meanModuleShare = profile.isEmpty ? [] : shares

        var tail = TailAnalysis(
            positiveCount: row.filter { $0 > 0 }.count, documentCount: n, fit: nil, failure: nil, pValue: nil,
            repetitions: options.bootstrapRepetitions, topPercentShare: PowerLaw.topShare(row),
            curve: PowerLaw.complementaryCDF(row))
        do {
            let fit = try PowerLaw.fit(row)
            tail.fit = fit
            if options.bootstrapRepetitions > 0 {
                tail.pValue = PowerLaw.goodnessOfFit(row, fit: fit, repetitions: options.bootstrapRepetitions, seed: options.seed &+ UInt64(q))
            }
        } catch {
            tail.failure = "\(error)"
        }
        self.tail = tail
    }
}

/// The cross-lingual view of one group of queries that ask the same thing in several languages
/// (the paper's Fig. 15–16): the reference query's top documents and their influence on each
/// query of the group, and each query's mean influence by document language.
public struct CrossLingualAnalysis: Sendable {
    /// The `group` field shared by the queries of the group.
    public var group: String
    /// The queries of the group; the first is the reference (English when the group has it).
    public var queries: [Int]
    /// The reference query's top supporting documents.
    public var documents: [Int]
    /// `[document][query]`: the documents' influence on each query of the group.
    public var grid: [[Float]]
    /// The document languages, sorted.
    public var languages: [String]
    /// `[query][language]`: mean influence of the documents of each language.
    public var meanByLanguage: [[Double]]

    /// Per query of the group: the mean influence of the reference's top documents on it ÷ their
    /// mean influence on the reference (1 for the reference): how much of the top documents'
    /// influence carries over to the translation. Nil when the reference's mean is zero.
    public var carryOver: [Double?] {
        let means = queries.indices.map { j in grid.reduce(0) { $0 + Double($1[j]) } / Double(Swift.max(1, grid.count)) }
        return means.map { means[0] != 0 ? $0 / means[0] : nil }
    }

    /// The groups of `input` with queries in at least two languages.
    public static func groups(_ input: ReportInput, top: Int = 10) -> [CrossLingualAnalysis] {
        var order: [String] = []
        var members: [String: [Int]] = [:]
        for (q, query) in input.queries.enumerated() {
            guard let group = query.group else { continue }
            if members[group] == nil { order.append(group) }
            members[group, default: []].append(q)
        }
        let languages = Array(Set(input.documentLanguages.compactMap { $0 })).sorted()
        return order.compactMap { group in
            var queries = members[group]!
            guard Set(queries.compactMap { input.queries[$0].language }).count >= 2 else { return nil }
            if let english = queries.firstIndex(where: { input.queries[$0].language == "en" }) { queries.insert(queries.remove(at: english), at: 0) }
            let reference = queries[0]
            let row = input.scores.row(reference)
            let documents = Array((0..<row.count).sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }.prefix(top))
            let grid = documents.map { d in queries.map { input.scores[$0, d] } }
            let means = queries.map { q in
                languages.map { language -> Double in
                    let docs = input.documentLanguages.indices.filter { input.documentLanguages[$0] == language }
                    return docs.isEmpty ? .nan : docs.reduce(0) { $0 + Double(input.scores[q, $1]) } / Double(docs.count)
                }
            }
            return CrossLingualAnalysis(group: group, queries: queries, documents: documents, grid: grid, languages: languages, meanByLanguage: means)
        }
    }
}
