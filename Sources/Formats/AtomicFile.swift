import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An error from ``AtomicFile``; every message names the destination path.
public enum AtomicFileError: Error, CustomStringConvertible, Equatable {
    /// The temporary file beside the destination could not be created (missing directory,
    /// no permission, full disk).
    case cannotCreateTemporaryFile(path: String, reason: String)
    /// Writing or flushing the temporary file failed.
    case writeFailed(path: String, reason: String)
    /// The finished temporary file could not be renamed onto the destination.
    case renameFailed(path: String, reason: String)

    /// A one-line message that starts with the destination path and gives the system's reason.
    public var description: String {
        switch self {
        case let .cannotCreateTemporaryFile(path, reason):
            return "\(path): cannot create a temporary file in its directory: \(reason)"
        case let .writeFailed(path, reason):
            return "\(path): writing failed: \(reason)"
        case let .renameFailed(path, reason):
            return "\(path): cannot move the finished file into place: \(reason)"
        }
    }
}

/// Writes files atomically: readers see either the old file or the complete new one, never a
/// partial file.
///
/// The bytes go to a temporary file in the destination's directory (so both are on one file
/// system), which is flushed with `fsync(2)` and then renamed onto the destination with
/// `rename(2)`, an atomic replacement on POSIX file systems. When anything fails, including the
/// caller's own closure, the temporary file is removed and the destination is left untouched.
///
/// ```swift
/// try AtomicFile.write(Data("hello\n".utf8), to: url)
/// try AtomicFile.write(to: url) { writer in
///     for line in lines { try writer.write(line + "\n") }
/// }
/// ```
public enum AtomicFile {
    /// Replaces the file at `url` with `data`.
    ///
    /// - Throws: ``AtomicFileError`` naming the destination.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { writer in try writer.write(data) }
    }

    /// Replaces the file at `url` with whatever `body` writes through the ``AtomicFileWriter``.
    ///
    /// The writer buffers small writes, so `body` may write piece by piece. The writer must not
    /// be used after `body` returns.
    ///
    /// - Returns: whatever `body` returns.
    /// - Throws: ``AtomicFileError`` naming the destination, or whatever `body` throws; in every
    ///   case no temporary file remains and the destination is unchanged.
    @discardableResult
    public static func write<Result>(to url: URL, _ body: (AtomicFileWriter) throws -> Result) throws -> Result {
        let destination = url.path
        let directory = url.deletingLastPathComponent().path
        let template = (directory.isEmpty ? "." : directory) + "/." + url.lastPathComponent + ".tmp-XXXXXX"
        var templateBytes = Array(template.utf8CString)
        let descriptor = templateBytes.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else {
            throw AtomicFileError.cannotCreateTemporaryFile(path: destination, reason: errnoDescription())
        }
        let temporaryPath = String(cString: templateBytes)
        let writer = AtomicFileWriter(descriptor: descriptor, destination: destination)
        let result: Result
        do {
            // mkstemp creates the file with mode 0600; give the result the mode of the file it
            // replaces, or the usual 0644 of a new file.
            var status = stat()
            let mode: mode_t = stat(destination, &status) == 0 ? status.st_mode & 0o7777 : 0o644
            _ = fchmod(descriptor, mode)
            result = try body(writer)
            try writer.flush()
            guard fsync(descriptor) == 0 else {
                throw AtomicFileError.writeFailed(path: destination, reason: errnoDescription())
            }
            writer.close()
            guard rename(temporaryPath, destination) == 0 else {
                throw AtomicFileError.renameFailed(path: destination, reason: errnoDescription())
            }
        } catch {
            writer.close()
            unlink(temporaryPath)
            throw error
        }
        // Persist the directory entry too; a failure here cannot undo the rename, so it is ignored.
        let directoryDescriptor = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            _ = fsync(directoryDescriptor)
            systemClose(directoryDescriptor)
        }
        return result
    }
}

/// The sink handed to the closure of ``AtomicFile/write(to:_:)``: buffers bytes and writes them
/// to the temporary file.
public final class AtomicFileWriter {
    private var descriptor: Int32
    private let destination: String
    private var buffer: [UInt8] = []
    private static let bufferCapacity = 1 << 18

    /// The number of bytes accepted so far.
    public private(set) var byteCount = 0

    init(descriptor: Int32, destination: String) {
        self.descriptor = descriptor
        self.destination = destination
        buffer.reserveCapacity(Self.bufferCapacity)
    }

    /// Appends raw bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        byteCount += bytes.count
        if buffer.count + bytes.count <= Self.bufferCapacity {
            buffer.append(contentsOf: bytes)
            return
        }
        try flush()
        if bytes.count >= Self.bufferCapacity {
            try writeFully(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    /// Appends the bytes of `data`.
    public func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    /// Appends bytes.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Appends the UTF-8 encoding of `string`.
    public func write(_ string: String) throws {
        var string = string
        try string.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Writes the buffered bytes to the file.
    func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try writeFully($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    func close() {
        if descriptor >= 0 {
            systemClose(descriptor)
            descriptor = -1
        }
    }

    private func writeFully(_ bytes: UnsafeRawBufferPointer) throws {
        guard descriptor >= 0, let base = bytes.baseAddress else {
            if bytes.isEmpty { return }
            throw AtomicFileError.writeFailed(path: destination, reason: "the writer was used after the write finished")
        }
        var offset = 0
        while offset < bytes.count {
            let written = systemWrite(descriptor, base + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw AtomicFileError.writeFailed(path: destination, reason: errnoDescription())
            }
            offset += written
        }
    }
}
