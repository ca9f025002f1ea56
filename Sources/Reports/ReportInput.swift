import Foundation

/// A `[rows, columns]` matrix of scores, row-major: `[queries, documents]` for a report.
public struct ScoreMatrix: Sendable, Equatable {
    /// The number of rows (queries, for a report).
    public let rows: Int
    /// The number of columns (documents, for a report).
    public let columns: Int
    /// The `rows × columns` entries, row-major: entry (r, c) is at `r * columns + c`.
    public var values: [Float]

    /// Creates a matrix; `values.count` must be `rows × columns` (checked with a precondition).
    public init(rows: Int, columns: Int, values: [Float]) {
        precondition(values.count == rows * columns, "\(values.count) values for a \(rows) × \(columns) matrix")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// The entry at (`row`, `column`), without bounds checks beyond those of the array.
    public subscript(row: Int, column: Int) -> Float { values[row * columns + column] }

    /// Row `row` as doubles.
    public func row(_ row: Int) -> [Double] { values[(row * columns)..<((row + 1) * columns)].map(Double.init) }
}

/// A piece of a document's text as the report shows it: the text of one token, or of several when
/// one character's bytes are split between tokens, with the tokens it covers.
public struct TokenPiece: Sendable, Equatable {
    /// The text the piece shows; for a special token, its content (not shown as text).
    public var text: String
    /// The document's tokens this piece shows.
    public var tokens: Range<Int>
    /// A special token (padding, end of text, BOS): counted in the scores, never shown as text.
    public var isSpecial: Bool

    /// Creates a piece.
    ///
    /// - Parameters:
    ///   - text: the text shown.
    ///   - tokens: the document's tokens the piece covers.
    ///   - isSpecial: whether it is a special token.
    public init(text: String, tokens: Range<Int>, isSpecial: Bool = false) {
        self.text = text
        self.tokens = tokens
        self.isSpecial = isSpecial
    }
}

/// A query as the report shows it.
public struct ReportQuery: Sendable, Equatable {
    /// The prompt, or the whole text of a query measured on every token.
    public var prompt: String
    /// The completion measured (empty when the whole query is).
    public var completion: String
    /// The `language` field of the query's row, when it has one.
    public var language: String?
    /// The `group` field: queries of one group ask the same thing (translations, say).
    public var group: String?

    /// Creates a query as the report shows it.
    ///
    /// - Parameters:
    ///   - prompt: the prompt, or the whole query when every token is measured.
    ///   - completion: the completion measured, empty when the whole query is.
    ///   - language: the query's `language` field.
    ///   - group: the query's `group` field.
    public init(prompt: String, completion: String = "", language: String? = nil, group: String? = nil) {
        self.prompt = prompt
        self.completion = completion
        self.language = language
        self.group = group
    }
}

/// Everything a report is made from: scores summed per document, the documents and queries, and
/// the facts of the run. Built by the workflow that reads score files and data; the sections only
/// read it.
public struct ReportInput {
    /// The queries, one per row of ``scores``.
    public var queries: [ReportQuery]
    /// The identifier of each training document.
    public var documentIDs: [String]
    /// The `language` of each document's row, when the rows have one.
    public var documentLanguages: [String?]
    /// Tokens per document (every token, special ones included).
    public var tokenCounts: [Int]
    /// `[queries, documents]`: each document's influence, the sum over its rows and tokens.
    public var scores: ScoreMatrix
    /// Per tracked module, in the network's order: `[queries, documents]`, adding up to ``scores``.
    public var moduleScores: [(name: String, scores: ScoreMatrix)]
    /// A document's text.
    public var documentText: (Int) -> String
    /// A document's pieces, one per token or group of tokens; nil without a tokenizer.
    public var documentPieces: ((Int) -> [TokenPiece])?
    /// `(query, document)` → the influence of each of the document's tokens; nil without per-token scores.
    public var tokenScores: ((Int, Int) -> [Float])?
    /// The run's facts, in the order shown.
    public var facts: [(name: String, value: String)]

    /// Creates the input; `scores` must be `[queries.count, documentIDs.count]` and `tokenCounts` have one entry per document (checked with preconditions).
    ///
    /// - Parameters:
    ///   - queries: the queries in score-row order.
    ///   - documentIDs: the documents in score-column order.
    ///   - documentLanguages: each document's language; nil for none known.
    ///   - tokenCounts: tokens per document.
    ///   - scores: `[queries, documents]` influence, each document's sum over rows and tokens.
    ///   - moduleScores: per tracked module, `[queries, documents]` scores that add up to `scores`; empty for none.
    ///   - documentText: the text of document `d`.
    ///   - documentPieces: the token pieces of document `d`; nil without a tokenizer.
    ///   - tokenScores: the per-token influence of `(query, document)`; nil without per-token scores.
    ///   - facts: the run's facts, in the order shown.
    public init(
        queries: [ReportQuery], documentIDs: [String], documentLanguages: [String?]? = nil, tokenCounts: [Int], scores: ScoreMatrix,
        moduleScores: [(name: String, scores: ScoreMatrix)] = [], documentText: @escaping (Int) -> String,
        documentPieces: ((Int) -> [TokenPiece])? = nil, tokenScores: ((Int, Int) -> [Float])? = nil,
        facts: [(name: String, value: String)] = []
    ) {
        precondition(
            scores.rows == queries.count && scores.columns == documentIDs.count,
            "scores of \(scores.rows) × \(scores.columns) for \(queries.count) queries and \(documentIDs.count) documents")
        precondition(tokenCounts.count == documentIDs.count, "\(tokenCounts.count) token counts for \(documentIDs.count) documents")
        self.queries = queries
        self.documentIDs = documentIDs
        self.documentLanguages = documentLanguages ?? Array(repeating: nil, count: documentIDs.count)
        self.tokenCounts = tokenCounts
        self.scores = scores
        self.moduleScores = moduleScores
        self.documentText = documentText
        self.documentPieces = documentPieces
        self.tokenScores = tokenScores
        self.facts = facts
    }
}

/// What a report shows.
public struct ReportOptions: Sendable {
    /// Documents listed per query and sign.
    public var top: Int
    /// Documents in the layer-wise profile of each query.
    public var profileDocuments: Int
    /// Bootstrap repetitions of the power-law goodness of fit (0: none).
    public var bootstrapRepetitions: Int
    /// Seeds the bootstrap of the power-law fits (query q uses `seed + q`).
    public var seed: UInt64
    /// The report's title.
    public var title: String

    /// Creates options; the defaults list 5 documents per sign, profile 10, and bootstrap 200 times.
    ///
    /// - Parameters:
    ///   - top: documents listed per query and sign.
    ///   - profileDocuments: documents in each query's layer-wise profile.
    ///   - bootstrapRepetitions: bootstrap repetitions of the power-law goodness of fit; 0 for none.
    ///   - seed: seeds the bootstrap.
    ///   - title: the report's title.
    public init(
        top: Int = 5, profileDocuments: Int = 10, bootstrapRepetitions: Int = 200, seed: UInt64 = 0,
        title: String = "What influenced these answers"
    ) {
        self.top = top
        self.profileDocuments = profileDocuments
        self.bootstrapRepetitions = bootstrapRepetitions
        self.seed = seed
        self.title = title
    }
}
