import Formats
import Foundation
import Testing

/// Inputs a hostile or careless user gives, each run through the whole command: an error naming
/// what and where, never a crash (exit 132/134), a hang or exit 0 with a wrong result.
@Suite("hostile input to influence", .serialized)
struct HostileInputTests {
    /// A copy of the tiny GPT-2 with `key` of config.json set to `value` (JSON text).
    static func model(_ key: String, _ value: String) throws -> URL {
        let dir = Influence.temporaryDirectory().appendingPathComponent("model")
        try FileManager.default.copyItem(at: Influence.fixtureModel, to: dir)
        let url = dir.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        config[key] = try JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
        try JSONSerialization.data(withJSONObject: config).write(to: url)
        return dir
    }

    static func data() throws -> URL {
        let url = Influence.temporaryDirectory().appendingPathComponent("rows.jsonl")
        try "{\"text\": \"hello world\"}\n".write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test(arguments: [
        ("n_embd", "1000000000", "beyond any machine's memory"),
        ("n_embd", "4611686018427387904", "field n_embd is 4611686018427387904, beyond any size"),
        ("n_layer", "1000000", "12704013376 parameters"),  // beyond memory here; beyond the checkpoint on any machine
        ("n_embd", "32.5", "field n_embd must be an integer, got 32.5"),
        ("n_embd", "1e23", "field n_embd must be an integer"),
        ("model_type", "5", "field model_type must be a string"),
    ])
    func implausibleConfigurationsAreRefusedBeforeAllocation(key: String, value: String, message: String) throws {
        let r = try Influence.run(["loss", "--model", try Self.model(key, value).path, "--data", try Self.data().path])
        #expect(r.exitCode == 1, "exit \(r.exitCode): \(r.standardError)")
        #expect(r.standardError.contains("config.json") && r.standardError.contains(message), "\(r.standardError)")
    }

    @Test func aModelLargerThanMemoryIsRefusedForTraining() throws {
        let r = try Influence.run([
            "train", "--architecture", "mlp", "--dataset", "fashion-mnist", "--hidden", "100000,100000", "--max-examples", "10",
            "--out", Influence.temporaryDirectory().appendingPathComponent("m").path,
        ])
        #expect(r.exitCode == 1 && r.standardError.contains("of memory to train"), "exit \(r.exitCode): \(r.standardError)")
        let huge = try Influence.run([
            "train", "--architecture", "mlp", "--dataset", "fashion-mnist", "--hidden", "1099511627776",
            "--out", Influence.temporaryDirectory().appendingPathComponent("m").path,
        ])
        #expect(huge.exitCode == 64 && huge.standardError.contains("at most 2147483647"), "\(huge.standardError)")
    }

    @Test func aFIFOIsRefusedInsteadOfBlocking() throws {
        let model = Influence.temporaryDirectory().appendingPathComponent("model")
        try FileManager.default.copyItem(at: Influence.fixtureModel, to: model)
        let weights = model.appendingPathComponent("model.safetensors")
        try FileManager.default.removeItem(at: weights)
        #expect(mkfifo(weights.path, 0o644) == 0)
        let r = try Influence.run(["loss", "--model", model.path, "--data", try Self.data().path])
        #expect(r.exitCode == 1 && r.standardError.contains("model.safetensors") && r.standardError.contains("not a regular file"), "\(r.standardError)")
        let fifo = Influence.temporaryDirectory().appendingPathComponent("rows.jsonl")
        #expect(mkfifo(fifo.path, 0o644) == 0)
        let d = try Influence.run(["loss", "--model", Influence.fixtureModel.path, "--data", fifo.path])
        #expect(d.exitCode == 1 && d.standardError.contains("not a regular file"), "\(d.standardError)")
    }

    @Test func aFailedWriteToStandardOutputFailsTheCommand() throws {
        let process = Process()
        process.executableURL = Influence.executable
        process.arguments = ["loss", "--model", Influence.fixtureModel.path, "--data", try Self.data().path]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/full")
        let err = Pipe()
        process.standardError = err
        try process.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1 && message.contains("writing to standard output failed"), "\(message)")
    }

    @Test func aSecondRunOnAHeldOutputFolderIsRefusedWithTheHoldersProcessID() throws {
        let out = Influence.temporaryDirectory().appendingPathComponent("factors")
        let lock = try OutputLock(directory: out)
        let r = try Influence.run(["fit", "--model", Influence.fixtureModel.path, "--data", try Self.data().path, "--strategy", "ekfac", "--out", out.path])
        #expect(r.exitCode == 1 && r.standardError.contains("in use by another influence run (process \(getpid()))"), "\(r.standardError)")
        lock.release()
        let again = try Influence.run([
            "fit", "--model", Influence.fixtureModel.path, "--data", try Self.data().path, "--strategy", "identity", "--out", out.path,
        ])
        #expect(again.exitCode == 0, "\(again.standardError)")
    }

    @Test(arguments: [("", "names no folder"), ("/", "root folder"), ("/proc/influence-out", "cannot create the output folder /proc/influence-out")])
    func unusableOutputFoldersAreRefusedBeforeAnyWork(out: String, message: String) throws {
        let r = try Influence.run(["fit", "--model", Influence.fixtureModel.path, "--data", try Self.data().path, "--strategy", "identity", "--out", out])
        #expect(r.exitCode != 0 && r.standardError.contains(message), "\(r.standardError)")
    }

    @Test func aCorruptedPartialFileNamesRestartWhichDiscardsIt() throws {
        let out = Influence.temporaryDirectory().appendingPathComponent("factors")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try Data("not a safetensors file".utf8).write(to: out.appendingPathComponent("partial-covariance.safetensors"))
        let arguments = ["fit", "--model", Influence.fixtureModel.path, "--data", try Self.data().path, "--strategy", "ekfac", "--out", out.path]
        let r = try Influence.run(arguments)
        #expect(r.exitCode == 1 && r.standardError.contains("partial-covariance.safetensors") && r.standardError.contains("--restart"), "\(r.standardError)")
        let restarted = try Influence.run(arguments + ["--restart"])
        #expect(restarted.exitCode == 0, "\(restarted.standardError)")
    }

    @Test func aDampingThatZeroesEveryScoreIsRefused() throws {
        let r = try Influence.run(["scores", "--model", "m", "--strategy", "cg", "--train", "t", "--queries", "q", "--damping", "1e300", "--out", "o"])
        #expect(r.exitCode == 64 && r.standardError.contains("1e15"), "\(r.standardError)")
    }
}
