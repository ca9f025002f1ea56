import Foundation
import Formats

/// The models kept during training for TracIn: `checkpoints.json` in a directory of model
/// directories, one entry per kept step with the learning rate that step used (TracIn's η_k).
public struct CheckpointIndex: Sendable, Equatable {
    /// One kept model: its directory, the step at which it was saved and that step's learning rate.
    public struct Entry: Sendable, Equatable {
        /// The model directory, relative to the index's directory.
        public var path: String
        /// The number of optimizer steps taken when the model was kept; 0 when the file gives none.
        public var step: Int
        /// The learning rate η_k of that step, by which TracIn weighs the checkpoint; positive and finite.
        public var learningRate: Double

        /// Creates an entry.
        ///
        /// - Parameters:
        ///   - path: the model directory, relative to the index's directory (no `..`, not absolute).
        ///   - step: the number of optimizer steps taken.
        ///   - learningRate: the learning rate of that step.
        public init(path: String, step: Int, learningRate: Double) {
            self.path = path
            self.step = step
            self.learningRate = learningRate
        }
    }

    /// The name of the index file inside ``directory``.
    public static let fileName = "checkpoints.json"
    /// The directory that holds `checkpoints.json` and the model directories it lists.
    public let directory: URL
    /// The kept models in file order (the order in which they were recorded).
    public private(set) var entries: [Entry]

    /// The index in `directory`, empty when it has none yet.
    public init(directory: URL) throws {
        self.directory = directory
        let url = directory.appendingPathComponent(Self.fileName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            entries = []
            return
        }
        let data: Data
        do { data = try readRegularFile(atPath: url.path) } catch { throw CheckpointIndexError(path: url.path, reason: "cannot be read: \(error.reason)") }
        guard let list = (try? JSONValue(parsing: data))?.arrayValue else {
            throw CheckpointIndexError(path: url.path, reason: "not a JSON array")
        }
        let root = directory.standardizedFileURL.resolvingSymlinksInPath().path
        var paths = Set<String>(), steps = Set<Int>()
        entries = try list.enumerated().map { i, entry in
            guard let path = entry["path"]?.stringValue, let rate = entry["learning_rate"]?.doubleValue else {
                throw CheckpointIndexError(path: url.path, reason: "entry \(i) lacks path or learning_rate")
            }
            let components = path.split(separator: "/", omittingEmptySubsequences: false)
            guard !path.isEmpty, !path.hasPrefix("/"), !components.contains(".."), !components.contains("") else {
                throw CheckpointIndexError(path: url.path, reason: "entry \(i): path '\(path)' is not a folder inside \(directory.path)")
            }
            // A symbolic link inside the folder may still lead out of it.
            let resolved = directory.appendingPathComponent(path).standardizedFileURL.resolvingSymlinksInPath().path
            guard resolved.hasPrefix(root + "/") else {
                throw CheckpointIndexError(path: url.path, reason: "entry \(i): path '\(path)' leads out of \(directory.path) (to \(resolved))")
            }
            guard rate > 0, rate.isFinite else {
                throw CheckpointIndexError(
                    path: url.path, reason: "entry \(i): learning_rate \(rate) is not a positive number (TracIn weighs each checkpoint by it)")
            }
            if let raw = entry["step"], !raw.isNull, raw.intValue == nil {
                throw CheckpointIndexError(path: url.path, reason: "entry \(i): step \(raw) is not a whole number")
            }
            let step = entry["step"]?.intValue ?? 0
            guard step >= 0 else { throw CheckpointIndexError(path: url.path, reason: "entry \(i): step \(step) is negative") }
            guard paths.insert(path).inserted else {
                throw CheckpointIndexError(path: url.path, reason: "entry \(i): path '\(path)' is listed twice (it would be counted twice)")
            }
            if entry["step"] != nil, !steps.insert(step).inserted {
                throw CheckpointIndexError(path: url.path, reason: "entry \(i): step \(step) is listed twice")
            }
            return Entry(path: path, step: step, learningRate: rate)
        }
    }

    /// The directory of an entry's model.
    public func url(of entry: Entry) -> URL { directory.appendingPathComponent(entry.path) }

    /// The conventional name of the model kept at `step`.
    public static func name(step: Int) -> String { String(format: "step-%06d", step) }

    /// Adds (or replaces) the entry of a step and writes the index atomically.
    public mutating func record(_ entry: Entry) throws {
        entries.removeAll { $0.path == entry.path }
        entries.append(entry)
        let rows: [JSONValue] = entries.map {
            .object(["step": .number(Double($0.step)), "learning_rate": .number($0.learningRate), "path": .string($0.path)])
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try AtomicFile.write(Data(try JSONValue.array(rows).serialized().utf8), to: directory.appendingPathComponent(Self.fileName))
    }
}

/// A `checkpoints.json` that cannot be used, naming the file.
public struct CheckpointIndexError: Error, CustomStringConvertible, Equatable {
    /// The path of the `checkpoints.json` at fault.
    public let path: String
    /// What is wrong with it, e.g. `entry 2: step 5 is listed twice`.
    public let reason: String
    /// `path: reason`.
    public var description: String { "\(path): \(reason)" }
}
