import Foundation
import Testing
import _TestSupport
import Training

@Suite("checkpoints.json")
struct CheckpointIndexTests {
    static func index(_ json: String) throws -> URL {
        let dir = TestTemporaryRoot.directory("checkpoints")
        try json.write(to: dir.appendingPathComponent(CheckpointIndex.fileName), atomically: true, encoding: .utf8)
        return dir
    }

    @Test(arguments: [
        (#"[{"path": "../elsewhere", "learning_rate": 0.1}]"#, "is not a folder inside"),
        (#"[{"path": "/etc", "learning_rate": 0.1}]"#, "is not a folder inside"),
        (#"[{"path": "a//b", "learning_rate": 0.1}]"#, "is not a folder inside"),
        (#"[{"path": "step-1", "learning_rate": -0.1}]"#, "is not a positive number"),
        (#"[{"path": "step-1", "learning_rate": 0}]"#, "is not a positive number"),
        (#"[{"path": "step-1", "learning_rate": 0.1}, {"path": "step-1", "learning_rate": 0.1}]"#, "listed twice"),
        (#"[{"path": "a", "step": 3, "learning_rate": 0.1}, {"path": "b", "step": 3, "learning_rate": 0.1}]"#, "step 3 is listed twice"),
        (#"[{"path": "a", "step": -1, "learning_rate": 0.1}]"#, "negative"),
        (#"[{"path": "a", "step": "5", "learning_rate": 0.1}]"#, "is not a whole number"),
        (#"[{"path": "a", "step": 2.5, "learning_rate": 0.1}]"#, "is not a whole number"),
    ])
    func badEntriesAreNamed(json: String, message: String) throws {
        let error = #expect(throws: CheckpointIndexError.self) { try CheckpointIndex(directory: try Self.index(json)) }
        #expect(error?.reason.contains(message) == true, "\(String(describing: error))")
    }

    @Test func aSymbolicLinkLeadingOutOfTheFolderIsRefused() throws {
        let dir = try Self.index(#"[{"path": "step-1", "learning_rate": 0.1}]"#)
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("step-1").path, withDestinationPath: "/tmp")
        let error = #expect(throws: CheckpointIndexError.self) { try CheckpointIndex(directory: dir) }
        #expect(error?.reason.contains("leads out of") == true, "\(String(describing: error))")
    }

    @Test func goodEntriesAreRead() throws {
        let index = try CheckpointIndex(
            directory: try Self.index(#"[{"path": "step-1", "step": 1, "learning_rate": 0.1}, {"path": "step-2", "step": 2, "learning_rate": 0.1}]"#))
        #expect(index.entries.map(\.path) == ["step-1", "step-2"] && index.entries.allSatisfy { $0.learningRate == 0.1 })
    }
}
