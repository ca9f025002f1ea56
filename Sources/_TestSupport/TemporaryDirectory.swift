import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// The directory under which a test process makes its temporary directories, removed with
/// everything in it when the process exits: tests that stop early (or keep their files for the
/// next step) leave nothing behind in the system temporary directory.
public enum TestTemporaryRoot {
    /// The root, `swift-influence-tests-<pid>-<random>` in the system temporary directory: created on first use and removed by an `atexit` handler.
    public static let url: URL = {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("swift-influence-tests-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: TestTemporaryRoot.url) }
        return url
    }()

    /// A fresh, empty directory named `prefix-UUID` under the root.
    public static func directory(_ prefix: String) -> URL {
        let url = self.url.appendingPathComponent("\(prefix)-\(UUID().uuidString)", isDirectory: true)
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// A fresh, empty directory under the test process's temporary root, deleted with its contents
/// when the value is released.
public final class TemporaryDirectory {
    /// The directory, `<prefix>-<UUID>` under ``TestTemporaryRoot/url``; it exists from initialisation until the value is released.
    public let url: URL

    /// - Parameter prefix: the start of the directory's name, to tell test runs apart.
    public init(prefix: String = "swift-influence-tests") throws {
        url = TestTemporaryRoot.directory(prefix)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// The URL of `name` inside the directory.
    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// The names of the files in the directory, sorted (hidden ones included).
    public func contents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
    }

    /// Writes `text` as UTF-8 to `name` (creating intermediate directories) and returns its URL.
    @discardableResult
    public func write(_ text: String, to name: String) throws -> URL {
        let target = file(name)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: target)
        return target
    }

    /// Writes raw bytes to `name` (creating intermediate directories) and returns its URL.
    @discardableResult
    public func write(_ bytes: [UInt8], to name: String) throws -> URL {
        let target = file(name)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: target)
        return target
    }
}
