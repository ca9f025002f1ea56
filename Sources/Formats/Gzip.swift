import CZlib
import Foundation

/// A failure to compress, decompress or read a gzip stream. `path` is the file when the data
/// came from one.
public enum GzipError: Error, CustomStringConvertible, Equatable {
    /// The stream is not gzip or zlib, or its contents or checksum are damaged.
    case corruptData(path: String?, reason: String)
    /// The stream ends before its end marker and checksum.
    case truncatedData(path: String?)
    /// zlib failed for a reason that is not the data's fault (memory, version).
    case zlibFailure(path: String?, code: Int32, reason: String)
    /// The file cannot be read.
    case unreadableFile(path: String, reason: String)

    /// A one-line message, prefixed with the file path when the data came from a file.
    public var description: String {
        switch self {
        case let .corruptData(path, reason):
            return "\(path.map { "\($0): " } ?? "")gzip data is corrupt: \(reason)"
        case let .truncatedData(path):
            return "\(path.map { "\($0): " } ?? "")gzip data is truncated (ends before the end of the stream)"
        case let .zlibFailure(path, code, reason):
            return "\(path.map { "\($0): " } ?? "")zlib failed with code \(code): \(reason)"
        case let .unreadableFile(path, reason):
            return "\(path): cannot read: \(reason)"
        }
    }

    /// The same error attributed to the file at `path`.
    func attributed(to path: String) -> GzipError {
        switch self {
        case let .corruptData(_, reason): return .corruptData(path: path, reason: reason)
        case .truncatedData: return .truncatedData(path: path)
        case let .zlibFailure(_, code, reason): return .zlibFailure(path: path, code: code, reason: reason)
        case .unreadableFile: return self
        }
    }
}

/// gzip compression and decompression through zlib.
///
/// ```swift
/// let packed = try Gzip.compress(Data(text.utf8))
/// let text = String(decoding: try Gzip.decompress(packed), as: UTF8.self)
/// let bytes = try Gzip.contentsOfFile(at: url)     // decompressed only if it starts with 1f 8b
/// ```
public enum Gzip {
    /// The two bytes that start every gzip member.
    public static let magic: [UInt8] = [0x1F, 0x8B]

    /// True when `data` starts with the gzip magic bytes `1f 8b`.
    public static func isCompressed(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == magic[0] && data[data.startIndex + 1] == magic[1]
    }

    /// Decompresses gzip or zlib data.
    ///
    /// Inflation uses window bits 15 + 32, with which zlib detects either header. A file made by
    /// concatenating gzip files holds several members; they are decompressed one after another
    /// and joined, as `gzip -d` does. Zero bytes after the last member (tape-block padding) are
    /// ignored.
    ///
    /// - Throws: ``GzipError/corruptData(path:reason:)`` or ``GzipError/truncatedData(path:)``.
    public static func decompress(_ data: Data) throws -> Data { try decompress(data, maximumBytes: nil) }

    /// The first `maximumBytes` bytes of the decompressed data (all of it when nil or when it is
    /// shorter), inflating no further than needed: reading a prefix of a large archive costs the
    /// prefix only. Corruption or truncation before that point is an error as in
    /// ``decompress(_:)``; what follows it is not read.
    public static func decompress(_ data: Data, maximumBytes: Int?) throws -> Data {
        guard !data.isEmpty else { throw GzipError.truncatedData(path: nil) }
        var stream = z_stream()
        var status = inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw zlibError(status, stream, path: nil) }
        defer { inflateEnd(&stream) }

        var output = Data()
        let chunkSize = 1 << 16
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            guard let base = input.baseAddress else { return }
            var consumed = 0
            while true {
                // avail_in is 32 bits wide: feed at most 1 GiB at a time.
                let feed = min(input.count - consumed, 1 << 30)
                stream.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self) + consumed)
                stream.avail_in = uInt(feed)
                status = chunk.withUnsafeMutableBufferPointer { buffer in
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = uInt(chunkSize)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                consumed += feed - Int(stream.avail_in)
                output.append(contentsOf: chunk[0..<(chunkSize - Int(stream.avail_out))])
                if let maximumBytes, output.count >= maximumBytes, status == Z_OK || status == Z_STREAM_END { return }
                switch status {
                case Z_STREAM_END:
                    let rest = UnsafeRawBufferPointer(rebasing: input[consumed...])
                    if rest.allSatisfy({ $0 == 0 }) { return }
                    // Another member follows.
                    guard inflateReset(&stream) == Z_OK else { throw zlibError(Z_STREAM_ERROR, stream, path: nil) }
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    // No progress was possible although output space was offered: the input
                    // is used up and the stream has not ended.
                    throw GzipError.truncatedData(path: nil)
                default:
                    throw zlibError(status, stream, path: nil)
                }
            }
        }
        if let maximumBytes, output.count > maximumBytes { return output.prefix(maximumBytes) }
        return output
    }

    /// Compresses `data` into a single gzip member (default level 6).
    ///
    /// - Throws: ``GzipError/zlibFailure(path:code:reason:)`` only if zlib itself fails.
    public static func compress(_ data: Data, level: Int32 = Z_DEFAULT_COMPRESSION) throws -> Data {
        var stream = z_stream()
        // Window bits 15 + 16 select the gzip wrapper; memory level 8 is zlib's default.
        var status = deflateInit2_(
            &stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
            zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw zlibError(status, stream, path: nil) }
        defer { deflateEnd(&stream) }

        var output = Data()
        let chunkSize = 1 << 16
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            var consumed = 0
            repeat {
                let feed = min(input.count - consumed, 1 << 30)
                let last = consumed + feed == input.count
                if let base = input.baseAddress {
                    stream.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self) + consumed)
                }
                stream.avail_in = uInt(feed)
                // Drain the output until deflate has taken all of this piece (and, for the last
                // piece, written the trailer).
                repeat {
                    status = chunk.withUnsafeMutableBufferPointer { buffer in
                        stream.next_out = buffer.baseAddress
                        stream.avail_out = uInt(chunkSize)
                        return deflate(&stream, last ? Z_FINISH : Z_NO_FLUSH)
                    }
                    guard status != Z_STREAM_ERROR else { throw zlibError(status, stream, path: nil) }
                    output.append(contentsOf: chunk[0..<(chunkSize - Int(stream.avail_out))])
                } while stream.avail_out == 0
                consumed += feed
            } while consumed < input.count
        }
        guard status == Z_STREAM_END else { throw zlibError(status, stream, path: nil) }
        return output
    }

    /// Reads a file, decompressing it when it starts with the gzip magic bytes.
    ///
    /// - Throws: ``GzipError`` naming the file.
    public static func contentsOfFile(at url: URL) throws -> Data { try contentsOfFile(at: url, maximumBytes: nil) }

    /// The first `maximumBytes` bytes of a file's contents, decompressed when it is gzip (see
    /// ``decompress(_:maximumBytes:)``).
    ///
    /// - Throws: ``GzipError`` naming the file.
    public static func contentsOfFile(at url: URL, maximumBytes: Int?) throws -> Data {
        let data = try readFile(at: url)
        guard isCompressed(data) else { return maximumBytes.map { data.prefix($0) } ?? data }
        do {
            return try decompress(data, maximumBytes: maximumBytes)
        } catch let error as GzipError {
            throw error.attributed(to: url.path)
        }
    }

    /// Reads a whole file with POSIX calls, so that failures carry `errno`'s message.
    static func readFile(at url: URL) throws -> Data {
        do { return try readRegularFile(atPath: url.path) } catch { throw GzipError.unreadableFile(path: url.path, reason: error.reason) }
    }

    private static func zlibError(_ status: Int32, _ stream: z_stream, path: String?) -> GzipError {
        let message = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
        switch status {
        case Z_DATA_ERROR, Z_NEED_DICT: return .corruptData(path: path, reason: message)
        case Z_BUF_ERROR: return .truncatedData(path: path)
        default: return .zlibFailure(path: path, code: status, reason: message)
        }
    }
}
