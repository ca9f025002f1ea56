#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation

// Thin wrappers over the POSIX calls that the readers and writers use, so that types with
// methods named `read`, `write` or `close` can reach the C functions unambiguously.

/// `close(2)`.
@discardableResult
func systemClose(_ descriptor: Int32) -> Int32 {
    #if canImport(Glibc)
        return Glibc.close(descriptor)
    #else
        return Darwin.close(descriptor)
    #endif
}

/// `write(2)`.
func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
        return Glibc.write(descriptor, bytes, count)
    #else
        return Darwin.write(descriptor, bytes, count)
    #endif
}

/// `read(2)`, retried when interrupted by a signal.
func systemRead(_ descriptor: Int32, _ bytes: UnsafeMutableRawPointer, _ count: Int) -> Int {
    while true {
        #if canImport(Glibc)
            let result = Glibc.read(descriptor, bytes, count)
        #else
            let result = Darwin.read(descriptor, bytes, count)
        #endif
        if result < 0 && errno == EINTR { continue }
        return result
    }
}

/// The message for the current `errno`, e.g. `No such file or directory (errno 2)`.
func errnoDescription() -> String {
    let code = errno
    return String(cString: strerror(code)) + " (errno \(code))"
}

/// Opens a regular file for reading.
///
/// The file is opened without blocking, so that a FIFO or a device given where a file is expected
/// is refused at once instead of blocking the open until a writer appears; reads of a regular
/// file are unaffected by the flag.
///
/// - Returns: the descriptor and the file's size, or a reason for failure (a missing file, a
///   directory, a FIFO, no permission).
func openRegularFile(_ path: String) -> Result<(descriptor: Int32, size: Int), SystemCallFailure> {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard descriptor >= 0 else { return .failure(SystemCallFailure(errnoDescription())) }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else {
        let failure = SystemCallFailure(errnoDescription())
        systemClose(descriptor)
        return .failure(failure)
    }
    guard (status.st_mode & S_IFMT) == S_IFREG else {
        systemClose(descriptor)
        return .failure(SystemCallFailure((status.st_mode & S_IFMT) == S_IFDIR ? "is a directory" : "is not a regular file"))
    }
    return .success((descriptor, Int(status.st_size)))
}

/// The reason a system call failed, for wrapping into a format's own error.
struct SystemCallFailure: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// Why reading a whole file failed: its path and the system's reason.
public struct FileReadError: Error, CustomStringConvertible {
    /// The path of the file that could not be read.
    public let path: String
    /// The system's reason, e.g. `No such file or directory (errno 2)` or `is a directory`.
    public let reason: String
    /// The message `<path>: cannot be read: <reason>`.
    public var description: String { "\(path): cannot be read: \(reason)" }
}

/// The contents of the regular file at `path`, read with POSIX calls: a missing file, a
/// directory, a FIFO (which would block `FileManager`'s reads forever) or an unreadable file is a
/// ``FileReadError`` naming the path and `errno`'s message.
public func readRegularFile(atPath path: String) throws(FileReadError) -> Data {
    let (descriptor, size): (Int32, Int)
    switch openRegularFile(path) {
    case .success(let opened): (descriptor, size) = opened
    case .failure(let failure): throw FileReadError(path: path, reason: failure.reason)
    }
    defer { systemClose(descriptor) }
    var data = Data(count: size)
    var filled = 0
    var failure: String? = nil
    data.withUnsafeMutableBytes { (buffer: UnsafeMutableRawBufferPointer) in
        while filled < size, let base = buffer.baseAddress {
            let count = systemRead(descriptor, base + filled, size - filled)
            if count < 0 { failure = errnoDescription(); return }
            if count == 0 { break }  // the file shrank while being read
            filled += count
        }
    }
    if let failure { throw FileReadError(path: path, reason: failure) }
    data.count = filled
    return data
}
