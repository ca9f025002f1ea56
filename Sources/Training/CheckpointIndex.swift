import Foundation
import Formats

/// The models kept during training for TracIn: `checkpoints.json` in a directory of model
/// directories, one entry per kept step with the learning rate that step used (TracIn's η_k).
public struct CheckpointIndex: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        /// The model directory, relative to the index's directory.
        public var path: String
        public var step: Int
        public var learningRate: Double

        public init(path: String, step: Int, learningRate: Double) {
            self.path = path
            self.step = step
            self.learningRate = learningRate
        }
    }

    public static let fileName = "checkpoints.json"
    public let directory: URL
    public private(set) var entries: [Entry]

    /// The index in `directory`, empty when it has none yet.
    public init(directory: URL) throws {
        self.directory = directory
        let url = directory.appendingPathComponent(Self.fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            entries = []
            return
        }
        guard let list = (try? JSONValue(parsing: data))?.arrayValue else {
            throw CheckpointIndexError(path: url.path, reason: "not a JSON array")
        }
        entries = try list.enumerated().map { i, entry in
            guard let path = entry["path"]?.stringValue, let rate = entry["learning_rate"]?.doubleValue else {
                throw CheckpointIndexError(path: url.path, reason: "entry \(i) lacks path or learning_rate")
            }
            guard !path.contains(".."), !path.hasPrefix("/") else {
                throw CheckpointIndexError(path: url.path, reason: "entry \(i): path \(path) is not inside the directory")
            }
            return Entry(path: path, step: entry["step"]?.intValue ?? 0, learningRate: rate)
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
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}
