import Foundation
import _TestSupport

/// Runs the `influence` executable built beside the test bundle.
struct CommandResult {
    let exitCode: Int32
    let standardOutput: String
    let standardError: String
}

enum Influence {
    /// The built executable: next to the test runner, else under the package's .build/release.
    static let executable: URL = {
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = runner.deletingLastPathComponent()
        while !directory.path.isEmpty && directory.path != "/" {
            let candidate = directory.appendingPathComponent("influence")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.appendingPathComponent(".build/release/influence")
    }()

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtureModel = packageRoot.appendingPathComponent("Tests/ModelIOTests/Fixtures/tiny-gpt2")

    /// Runs `influence` under `mpirun --oversubscribe -np ranks` (as root too, through OpenMPI's
    /// run-as-root variables), ended after `timeout` seconds so that a hang fails instead of waiting.
    static func runMPI(ranks: Int, _ arguments: [String], timeout: Int = 300, threads: Int = 1) throws -> CommandResult {
        try run(
            arguments,
            launcher: ["/usr/bin/timeout", String(timeout), "mpirun", "--oversubscribe", "-np", String(ranks), executable.path], threads: threads)
    }

    /// Runs `influence` (under `launcher` when given) with `threads` threads in all (`INFLUENCE_NUM_THREADS`).
    static func run(_ arguments: [String], launcher: [String] = [], threads: Int = 1) throws -> CommandResult {
        let process = Process()
        process.executableURL = launcher.isEmpty ? executable : URL(fileURLWithPath: launcher[0])
        process.arguments = launcher.isEmpty ? arguments : Array(launcher.dropFirst()) + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["INFLUENCE_NUM_THREADS"] = String(threads)
        environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes before waiting, so a large output cannot block the child.
        final class Box: @unchecked Sendable { var data = Data() }
        let outBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            outBox.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave()
        }
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let outData = outBox.data
        process.waitUntilExit()
        return CommandResult(
            exitCode: process.terminationStatus, standardOutput: String(decoding: outData, as: UTF8.self),
            standardError: String(decoding: errData, as: UTF8.self))
    }

    /// `train.jsonl` of `{"text"}` rows and `queries.jsonl` of the given JSON lines, in `dir`.
    static func writeRows(_ dir: URL, texts: [String], queryLines: [String]) throws -> (train: URL, queries: URL) {
        let train = dir.appendingPathComponent("train.jsonl"), queries = dir.appendingPathComponent("queries.jsonl")
        try texts.map { "{\"text\": \(String(decoding: try JSONEncoder().encode($0), as: UTF8.self))}" }.joined(separator: "\n")
            .write(to: train, atomically: true, encoding: .utf8)
        try queryLines.joined(separator: "\n").write(to: queries, atomically: true, encoding: .utf8)
        return (train, queries)
    }

    static func temporaryDirectory() -> URL {
        TestTemporaryRoot.directory("influence-cli")
    }
}
