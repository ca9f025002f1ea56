import Foundation
import Formats

/// The candidate file: JSON Lines, one line per query, in query order.
///
///     {"query_index":0,"candidates":[812,3,95],"scores":[7.25,7.25,6.5]}
///     {"query_index":1,"candidates":[4,17,2],"scores":[3.1,2.0,0.0]}
///
/// `query_index` is the line's position, 0, 1, 2, …; `candidates` are document (row) numbers
/// best first and `scores[i]` is the score of `candidates[i]`, written in Swift's shortest
/// round-trip form, so reading gives back the same `Double`s. A writer given a `data`
/// fingerprint adds it to every line as `"data":"…"`, so that a reader can refuse a file made
/// for other data. Files are written atomically.
public enum CandidateFile {
    /// Writes one line per candidate list, the `i`-th with `query_index` `i`, atomically.
    ///
    /// - Throws: ``RetrievalFileError`` of kind `.unwritable` naming the file.
    public static func write<Lists: Sequence>(_ candidates: Lists, to url: URL, data: String? = nil) throws where Lists.Element == Candidates {
        try write(to: url, data: data) { writer in
            for list in candidates { try writer.append(list) }
        }
    }

    /// Writes the lines that `body` appends, one query at a time; the file appears, complete,
    /// only when `body` returns, and not at all if it throws.
    ///
    /// - Throws: ``RetrievalFileError`` of kind `.unwritable` naming the file, or what `body` throws.
    public static func write(to url: URL, data: String? = nil, _ body: (inout CandidateFileWriter) throws -> Void) throws {
        try writeAtomically(to: url) { output in
            var writer = CandidateFileWriter(output: output, data: data)
            try body(&writer)
        }
    }

    /// The JSON text of one record, without the newline.
    ///
    /// - Precondition: every score is finite (JSON has no infinity or NaN).
    public static func line(queryIndex: Int, candidates: Candidates, data: String? = nil) -> String {
        var text = "{\"query_index\":\(queryIndex),\"candidates\":["
        for (position, document) in candidates.documents.enumerated() {
            if position > 0 { text += "," }
            text += String(document)
        }
        text += "],\"scores\":["
        for (position, score) in candidates.scores.enumerated() {
            precondition(score.isFinite, "query \(queryIndex): score \(score) of document \(candidates.documents[position]) is not finite")
            if position > 0 { text += "," }
            text += score.description
        }
        text += "]"
        // A string always serialises (only non-finite numbers cannot).
        if let data { text += ",\"data\":" + (try! JSONValue.string(data).serialized()) }
        return text + "}"
    }
}

/// Appends records to a candidate file being written by ``CandidateFile/write(to:_:)``.
public struct CandidateFileWriter {
    private let output: AtomicFileWriter
    /// The number of records written; the next one gets this `query_index`.
    public private(set) var recordCount = 0

    private let data: String?

    fileprivate init(output: AtomicFileWriter, data: String?) {
        self.output = output
        self.data = data
    }

    /// Appends the line of the next query.
    public mutating func append(_ candidates: Candidates) throws {
        try output.write(CandidateFile.line(queryIndex: recordCount, candidates: candidates, data: data) + "\n")
        recordCount += 1
    }
}
