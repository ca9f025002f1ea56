import Foundation

extension CandidateFile {
    /// Reads a candidate file and validates it against the collection it was made for.
    ///
    /// Each non-empty line must be a JSON object with `query_index` (an integer), `candidates`
    /// (integers) and `scores` (numbers), and may have `data` (a string); other members are
    /// ignored. Checked: line `i` (1-based)
    /// has `query_index` `i − 1`; `candidates` and `scores` have the same length; every
    /// candidate is in `0..<documentCount` and appears once; scores are finite and
    /// non-increasing (best first). Only a final newline may leave an empty line.
    ///
    /// - Parameters:
    ///   - documentCount: C of the training set the candidates index into.
    ///   - queryCount: when given, the number of records the file must have.
    ///   - data: when given, the fingerprint of the training and query data: a record whose
    ///     `data` member differs was made for other data and is refused (of kind
    ///     `.fingerprintMismatch`); records without the member are accepted.
    /// - Returns: `[queryCount]` candidate lists, in query order.
    /// - Throws: ``RetrievalFileError`` naming `file:line`, the field (`candidates[3]`) and what
    ///   is wrong.
    public static func read(contentsOf url: URL, documentCount: Int, queryCount: Int? = nil, data: String? = nil) throws -> [Candidates] {
        precondition(documentCount >= 0, "negative document count \(documentCount)")
        let file = url.path
        let bytes = try readWholeFile(url)
        var lists: [Candidates] = []
        var lineStart = 0
        var lineNumber = 0
        while lineStart < bytes.count {
            lineNumber += 1
            let lineEnd = bytes[lineStart...].firstIndex(of: 0x0A) ?? bytes.count
            defer { lineStart = lineEnd + 1 }
            func invalid(_ field: String?, _ message: String, _ kind: RetrievalFileError.Kind = .invalidValue) -> RetrievalFileError {
                RetrievalFileError(kind, file: file, line: lineNumber, field: field, message: message)
            }
            let line = bytes[lineStart..<lineEnd]
            guard line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else {
                throw invalid(nil, "empty line; every line must be the record of one query", .malformed)
            }
            let record: CandidateRecord
            do {
                var parser = CandidateRecordParser(line)
                record = try parser.parse()
            } catch {
                throw invalid(error.field, error.message, .malformed)
            }
            let expectedIndex = lists.count
            guard record.queryIndex == expectedIndex else {
                throw invalid("query_index", "\(record.queryIndex), expected \(expectedIndex): records must be queries 0, 1, 2, … in order")
            }
            if let data, let recorded = record.data, recorded != data {
                throw invalid(
                    "data",
                    "\(recorded.debugDescription) is not the fingerprint of these data (\(data.debugDescription)): the candidates were made for other training rows or queries",
                    .fingerprintMismatch)
            }
            guard record.candidates.count == record.scores.count else {
                throw invalid("scores", "\(record.scores.count) scores for \(record.candidates.count) candidates")
            }
            var positions: [Int: Int] = [:]
            positions.reserveCapacity(record.candidates.count)
            for (position, document) in record.candidates.enumerated() {
                guard document >= 0 && document < documentCount else {
                    throw invalid("candidates[\(position)]", "\(document) is outside the documents 0..<\(documentCount)")
                }
                if let earlier = positions.updateValue(position, forKey: document) {
                    throw invalid("candidates[\(position)]", "document \(document) already appears at candidates[\(earlier)]")
                }
            }
            for (position, score) in record.scores.enumerated() {
                guard score.isFinite else { throw invalid("scores[\(position)]", "\(score) is not finite") }
                if position > 0 && score > record.scores[position - 1] {
                    throw invalid("scores[\(position)]", "\(score) is above the previous score \(record.scores[position - 1]); candidates must be best first")
                }
            }
            lists.append(Candidates(documents: record.candidates, scores: record.scores))
        }
        if let queryCount, lists.count != queryCount {
            throw RetrievalFileError(.invalidValue, file: file, message: "\(lists.count) records, expected one for each of \(queryCount) queries")
        }
        return lists
    }
}
