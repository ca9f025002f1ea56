import Datasets
import Foundation
import Influence
import Retrieval

/// What `influence candidates` does: for every query, the training rows that share the most
/// informative terms with it (the paper's TF-IDF filter, §3.2.1), written as a candidate file
/// that `influence scores --candidates` takes.
public struct CandidatesRequest {
    /// The model directory (for its tokenizer and context length: training documents are cut into
    /// the same rows as `scores` cuts them), the training rows and the queries.
    public var inputs: TaskInputs
    /// Candidates per query: a count or a fraction of the training rows.
    public var count: Candidates.Count
    /// Token ids (the default) or lower-cased words of the rows' text.
    public var terms: TermKind
    /// Where the inverted index is kept: loaded when the file exists (and refused if it was built
    /// over other rows), built and saved there otherwise; nil to build it in memory only.
    public var index: URL?
    /// The candidate file (JSON Lines) to write.
    public var output: URL
    /// Threads scoring queries against the index.
    public var threadCount: Int

    /// Creates a request.
    ///
    /// - Parameters:
    ///   - inputs: the model directory, the training rows and the queries.
    ///   - count: candidates per query, a count or a fraction of the training rows.
    ///   - terms: what a term is: token ids or lower-cased words.
    ///   - index: the inverted index file to load or write; nil to build it in memory only.
    ///   - output: the candidate file (JSON Lines) to write.
    ///   - threadCount: threads scoring queries; the active processor count by default.
    public init(
        inputs: TaskInputs, count: Candidates.Count, terms: TermKind = .tokenIDs, index: URL? = nil, output: URL,
        threadCount: Int = ProcessInfo.processInfo.activeProcessorCount
    ) {
        self.inputs = inputs
        self.count = count
        self.terms = terms
        self.index = index
        self.output = output
        self.threadCount = threadCount
    }
}

/// What a candidates run found and wrote.
public struct CandidatesReport {
    /// The number of queries given candidates.
    public var queryCount: Int
    /// The number of training rows (chunks of documents) the index covers.
    public var trainingCount: Int
    /// Candidates kept per query (the resolved count).
    public var candidatesPerQuery: Int
    /// The number of distinct terms in the index.
    public var termCount: Int
    /// The number of (term, row) entries in the index.
    public var postingCount: Int
    /// Whether the index was built here (rather than loaded from ``CandidatesRequest/index``).
    public var builtIndex: Bool
    /// Wall-clock seconds of the whole run, loading included.
    public var seconds: Double
    /// The candidate lists, in query order.
    public var candidates: [Candidates]
}

extension Workflows {
    /// The fingerprint of the data a candidate file belongs to: the training rows and the queries
    /// of a task. `scores --candidates` refuses a file whose `data` member differs.
    public static func candidateDataFingerprint(_ task: any InfluenceTask<Float>) -> String {
        "train:\(task.trainingDataFingerprint);queries:\(task.queryDataFingerprint)"
    }

    /// Builds (or loads) the inverted index over the training rows, picks each query's best
    /// candidates and writes the candidate file atomically.
    ///
    /// - Throws: ``WorkflowError`` for a model that is not a language model or a query set that
    ///   is empty; ``Retrieval/RetrievalFileError`` naming an index file that is malformed or was
    ///   built over other rows.
    public static func candidates(_ request: CandidatesRequest, progress: ((String, Int, Int) -> Void)? = nil) throws -> CandidatesReport {
        let started = Date()
        let loaded = try TaskLoader.load(request.inputs)
        guard let task = loaded.task as? LoadedTask.LanguageTask else {
            throw WorkflowError(
                "\(request.inputs.model.path) is not a language model: candidates are training rows that share terms with a query, which needs token sequences")
        }
        guard task.queryCount > 0 else {
            throw WorkflowError("\(request.inputs.queries ?? "the queries"): no query rows")
        }
        let rows = task.trainingExampleCount
        let indexFingerprint = "\(request.terms):\(task.trainingDataFingerprint)"
        var index: TermIndex
        var built = false
        if let url = request.index, FileManager.default.fileExists(atPath: url.path) {
            let (file, fingerprint) = try TermIndex.load(contentsOf: url)
            guard file.termKind == request.terms else {
                throw WorkflowError(
                    "\(url.path): the index is over \(file.termKind), not \(request.terms); give --terms \(file.termKind == .tokenIDs ? "ids" : "words") or another --index file"
                )
            }
            guard fingerprint == indexFingerprint, file.documentCount == rows else {
                throw WorkflowError(
                    "\(url.path): the index was built over other training rows (\(file.documentCount) of them, fingerprint \(fingerprint)); "
                        + "these \(rows) rows have \(indexFingerprint). Remove the file to build it again")
            }
            index = file
        } else {
            var builder = TermIndexBuilder(termKind: request.terms)
            for row in 0..<rows {
                switch request.terms {
                case .tokenIDs: builder.add(tokens: task.training[row])
                case .words: builder.add(text: loaded.trainTexts[row])
                }
                if row % 1024 == 0 || row == rows - 1 { progress?("index", row + 1, rows) }
            }
            index = builder.build()
            built = true
            if let url = request.index { try index.save(to: url, fingerprint: indexFingerprint) }
        }
        progress?("candidates", 0, task.queryCount)
        let lists: [Candidates]
        switch request.terms {
        case .tokenIDs: lists = index.candidates(forTokenQueries: task.queries, count: request.count, threadCount: request.threadCount)
        case .words: lists = index.candidates(forTextQueries: loaded.queryTexts, count: request.count, threadCount: request.threadCount)
        }
        progress?("candidates", task.queryCount, task.queryCount)
        try CandidateFile.write(lists, to: request.output, data: candidateDataFingerprint(task))
        return CandidatesReport(
            queryCount: task.queryCount, trainingCount: rows, candidatesPerQuery: request.count.resolved(documentCount: rows),
            termCount: index.termCount, postingCount: index.postingCount, builtIndex: built,
            seconds: Date().timeIntervalSince(started), candidates: lists)
    }
}
