#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation

/// An output folder held by one process: created if needed, then locked with an advisory
/// `flock` on `.influence.lock` inside it, which names the holder's process id. A second run on
/// the same folder is refused with that id instead of both writing into it and the last one
/// silently winning. The lock ends with the process (or ``release()``); the file stays, empty of
/// meaning once no process holds it.
public final class OutputLock {
    /// The default name of the lock file inside the output folder.
    public static let fileName = ".influence.lock"
    /// The locked folder, as given to ``init(directory:option:name:)``.
    public let directory: URL
    private var descriptor: Int32

    /// Why an output folder cannot be used.
    public struct Failure: Error, CustomStringConvertible {
        /// The message, naming the folder, the option it came from and, when it is held, the holder's process id.
        public let description: String
    }

    /// Creates `directory` (and its parents) when missing and locks it.
    ///
    /// - Throws: ``Failure`` when the path is empty or the root, names a file, cannot be created
    ///   or written, or is held by another process (named by its id).
    /// - Parameter name: the lock file; another name (one per partition of a job array) lets
    ///   several runs share the folder while each part is held by one run.
    public init(directory: URL, option: String = "--out", name: String = OutputLock.fileName) throws(Failure) {
        let path = directory.path
        guard !path.isEmpty else { throw Failure(description: "option '\(option)' names no folder") }
        let standardized = directory.standardizedFileURL.path
        guard standardized != "/" else { throw Failure(description: "option '\(option)' is the root folder /; name a folder for this run's outputs") }
        self.directory = directory
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw Failure(description: "\(path) (\(option)) is a file, not a folder") }
        } else {
            if let reason = Self.makeDirectories(standardized) {
                throw Failure(description: "cannot create the output folder \(path) (\(option)): \(reason)")
            }
        }
        let lockPath = directory.appendingPathComponent(name).path
        descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o644)
        guard descriptor >= 0 else {
            throw Failure(description: "cannot write in the output folder \(path) (\(option)): \(errnoDescription())")
        }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = pread(descriptor, &buffer, buffer.count, 0)
            let holder = count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
            systemClose(descriptor)
            descriptor = -1
            if code == EWOULDBLOCK {
                throw Failure(
                    description: "the output folder \(path) is in use by another influence run"
                        + (holder.isEmpty ? "" : " (process \(holder))") + "; wait for it to finish or choose another \(option)")
            }
            throw Failure(description: "cannot lock the output folder \(path): \(String(cString: strerror(code)))")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pid.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    /// `mkdir -p` with POSIX calls, so that a failure carries errno's message; nil on success.
    private static func makeDirectories(_ path: String) -> String? {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { return "\(prefix): \(errnoDescription())" }
        }
        var status = stat()
        guard stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else { return "\(path) is not a folder" }
        return nil
    }

    /// Releases the lock (also done when the process ends).
    public func release() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        systemClose(descriptor)
        descriptor = -1
    }

    deinit { release() }
}
