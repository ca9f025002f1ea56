import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A problem reading or writing a JSON Lines file; messages name the file and the 1-based line.
public enum JSONLinesError: Error, CustomStringConvertible, Equatable {
    /// The file cannot be opened or read.
    case unreadableFile(path: String, reason: String)
    /// A line is not valid JSON.
    case invalidJSON(path: String, line: Int, reason: String)
    /// A line is valid JSON but not an object.
    case notAnObject(path: String, line: Int, found: String)
    /// A record cannot be written as JSON (it holds NaN or an infinity).
    case unencodableRecord(path: String, line: Int, reason: String)

    /// A one-line message in the form `path:line: reason` (just `path: reason` for an unreadable file).
    public var description: String {
        switch self {
        case let .unreadableFile(path, reason):
            return "\(path): cannot read: \(reason)"
        case let .invalidJSON(path, line, reason):
            return "\(path):\(line): invalid JSON: \(reason)"
        case let .notAnObject(path, line, found):
            return "\(path):\(line): expected a JSON object, found a \(found)"
        case let .unencodableRecord(path, line, reason):
            return "\(path):\(line): cannot write record as JSON: \(reason)"
        }
    }
}

/// Reads a JSON Lines file (one JSON object per line) one record at a time.
///
/// The file is read in chunks (1 MiB by default) and split on `\n`, so memory use is bounded by
/// the chunk size and the longest line, whatever the file's size. Lines may end in `\r\n`; empty
/// and whitespace-only lines are skipped (but counted, so line numbers match an editor's).
///
/// ```swift
/// let reader = try JSONLinesReader(contentsOf: url)
/// while let record = try reader.nextObject() {
///     guard let text = record["text"]?.stringValue else { continue }
///     ...
/// }
/// ```
public final class JSONLinesReader {
    /// The file being read.
    public let url: URL
    /// The 1-based number of the line that the last call to ``nextObject()`` returned (0 before
    /// the first).
    public private(set) var lineNumber = 0

    private var descriptor: Int32
    private let chunkSize: Int
    private var buffer: [UInt8] = []
    /// The first byte of `buffer` not yet returned.
    private var start = 0
    /// Where to resume looking for a newline (bytes before it, from `start`, have none).
    private var searchFrom = 0
    private var reachedEnd = false
    private var linesRead = 0
    private let decoder = JSONDecoder()

    /// Opens the file at `url`.
    ///
    /// - Parameter chunkSize: bytes read per system call.
    /// - Throws: ``JSONLinesError/unreadableFile(path:reason:)``.
    public init(contentsOf url: URL, chunkSize: Int = 1 << 20) throws {
        precondition(chunkSize > 0, "chunkSize must be positive, got \(chunkSize)")
        self.url = url
        self.chunkSize = chunkSize
        switch openRegularFile(url.path) {
        case .success(let opened): descriptor = opened.descriptor
        case .failure(let failure): throw JSONLinesError.unreadableFile(path: url.path, reason: failure.reason)
        }
    }

    deinit {
        if descriptor >= 0 { systemClose(descriptor) }
    }

    /// The next non-empty line's object, or nil at the end of the file.
    ///
    /// - Throws: ``JSONLinesError`` naming the file and line.
    public func nextObject() throws -> [String: JSONValue]? {
        while let line = try nextLine() {
            linesRead += 1
            var bytes = line[...]
            if linesRead == 1, bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            lineNumber = linesRead
            if let problem = Self.textProblem(bytes) {
                throw JSONLinesError.invalidJSON(path: url.path, line: linesRead, reason: problem)
            }
            let value: JSONValue
            do {
                value = try decoder.decode(JSONValue.self, from: Data(bytes))
            } catch {
                throw JSONLinesError.invalidJSON(path: url.path, line: linesRead, reason: JSONValue.parsingFailureReason(error))
            }
            guard case .object(let object) = value else {
                throw JSONLinesError.notAnObject(path: url.path, line: linesRead, found: value.typeName)
            }
            return object
        }
        return nil
    }

    /// Why a line cannot be JSON text before it is parsed, or nil: bytes that are not UTF-8, or a
    /// raw control character (JSON needs them escaped, as `\u0001`). The decoder reports both as
    /// a type mismatch that names neither.
    static func textProblem(_ bytes: ArraySlice<UInt8>) -> String? {
        if let index = bytes.firstIndex(where: { $0 < 0x20 && $0 != 0x09 && $0 != 0x0D }) {
            return "a raw control character (byte 0x\(String(bytes[index], radix: 16, uppercase: true)), column \(index - bytes.startIndex + 1)); "
                + "inside a string it must be escaped, as \\u\(String(format: "%04X", Int(bytes[index])))"
        }
        if let bad = firstInvalidUTF8(bytes) {
            return "the line is not valid UTF-8 (byte 0x\(String(bytes[bad], radix: 16, uppercase: true)) at column \(bad - bytes.startIndex + 1))"
        }
        return nil
    }

    /// The index of the first byte that does not begin or continue a well-formed UTF-8 sequence
    /// (no overlong forms, surrogates or values above U+10FFFF), or nil.
    static func firstInvalidUTF8(_ bytes: ArraySlice<UInt8>) -> Int? {
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let lead = bytes[i]
            if lead < 0x80 { i += 1; continue }
            let length: Int, low: UInt8, high: UInt8
            switch lead {
            case 0xC2...0xDF: (length, low, high) = (2, 0x80, 0xBF)
            case 0xE0: (length, low, high) = (3, 0xA0, 0xBF)
            case 0xED: (length, low, high) = (3, 0x80, 0x9F)
            case 0xE1...0xEF: (length, low, high) = (3, 0x80, 0xBF)
            case 0xF0: (length, low, high) = (4, 0x90, 0xBF)
            case 0xF4: (length, low, high) = (4, 0x80, 0x8F)
            case 0xF1...0xF3: (length, low, high) = (4, 0x80, 0xBF)
            default: return i
            }
            guard i + length <= bytes.endIndex else { return i }
            // The second byte's range excludes overlong forms and surrogates; the others are plain continuations.
            guard (low...high).contains(bytes[i + 1]) else { return i + 1 }
            for k in 2..<length where !(0x80...0xBF).contains(bytes[i + k]) { return i + k }
            i += length
        }
        return nil
    }

    /// Calls `body` with each record and its line number, in file order.
    ///
    /// - Throws: ``JSONLinesError``, or whatever `body` throws.
    public func forEachObject(_ body: (_ line: Int, _ object: [String: JSONValue]) throws -> Void) throws {
        while let object = try nextObject() { try body(lineNumber, object) }
    }

    /// The bytes of the next line without its `\n` (nil at the end of the file).
    private func nextLine() throws -> ArraySlice<UInt8>? {
        while true {
            let newline: Int? = buffer.withUnsafeBytes { raw in
                guard let base = raw.baseAddress, searchFrom < raw.count else { return nil }
                guard let found = memchr(base + searchFrom, 0x0A, raw.count - searchFrom) else { return nil }
                return base.distance(to: UnsafeRawPointer(found))
            }
            if let newline {
                let line = buffer[start..<newline]
                start = newline + 1
                searchFrom = start
                return line
            }
            if reachedEnd {
                guard start < buffer.count else { return nil }
                let line = buffer[start...]
                start = buffer.count
                searchFrom = start
                return line
            }
            try readChunk()
        }
    }

    /// Drops the consumed prefix of the buffer and appends up to `chunkSize` bytes from the file.
    private func readChunk() throws {
        if start > 0 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        searchFrom = buffer.count
        let oldCount = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: chunkSize))
        let count = buffer.withUnsafeMutableBytes { raw in
            systemRead(descriptor, raw.baseAddress! + oldCount, chunkSize)
        }
        if count < 0 {
            let reason = errnoDescription()
            buffer.removeLast(chunkSize)
            throw JSONLinesError.unreadableFile(path: url.path, reason: reason)
        }
        buffer.removeLast(chunkSize - count)
        if count == 0 { reachedEnd = true }
    }
}
