import Foundation

/// Reading and writing whole JSON Lines files.
public enum JSONLines {
    /// Every record of the file at `url`, in order. For large files prefer ``JSONLinesReader``.
    ///
    /// - Throws: ``JSONLinesError`` naming the file and line.
    public static func readObjects(from url: URL) throws -> [[String: JSONValue]] {
        let reader = try JSONLinesReader(contentsOf: url)
        var objects: [[String: JSONValue]] = []
        while let object = try reader.nextObject() { objects.append(object) }
        return objects
    }

    /// Writes `objects`, one compact JSON object per line with sorted keys, atomically.
    ///
    /// - Throws: ``JSONLinesError/unencodableRecord(path:line:reason:)`` (and no file is written)
    ///   or ``AtomicFileError``.
    public static func write<Records: Sequence>(_ objects: Records, to url: URL) throws
    where Records.Element == [String: JSONValue] {
        try write(to: url) { writer in
            for object in objects { try writer.append(object) }
        }
    }

    /// Writes records produced one at a time by `body`, atomically: the file appears only when
    /// `body` returns, and not at all if it throws.
    public static func write(to url: URL, _ body: (JSONLinesWriter) throws -> Void) throws {
        try AtomicFile.write(to: url) { file in
            try body(JSONLinesWriter(file: file, path: url.path))
        }
    }
}

/// Appends records to a JSON Lines file being written by ``JSONLines/write(to:_:)``.
public final class JSONLinesWriter {
    private let file: AtomicFileWriter
    private let path: String
    /// The number of records written so far.
    public private(set) var recordCount = 0

    init(file: AtomicFileWriter, path: String) {
        self.file = file
        self.path = path
    }

    /// Appends one record as a line of compact JSON with sorted keys.
    ///
    /// - Throws: ``JSONLinesError/unencodableRecord(path:line:reason:)`` for NaN or infinity.
    public func append(_ object: [String: JSONValue]) throws {
        let text: String
        do {
            text = try JSONValue.object(object).serialized()
        } catch let failure as JSONSerializationFailure {
            throw JSONLinesError.unencodableRecord(path: path, line: recordCount + 1, reason: failure.reason)
        }
        try file.write(text + "\n")
        recordCount += 1
    }
}
