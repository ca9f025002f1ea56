import Distributed
import Foundation
import Formats
import Influence
import Workflows

/// A job array's plan, kept beside its parts as `partition.json`: the command every part runs
/// (its arguments without `--partition`), the folder it ran in, and the number of parts. Every
/// part writes the same plan, so that a merge knows what was run and refuses parts of another.
struct PartitionPlan: Equatable {
    static let fileName = "partition.json"
    var command: String
    var arguments: [String]
    var directory: String
    var parts: Int

    /// The plan of a part running `command` with `arguments` (its own raw arguments).
    init(command: String, arguments: [String], parts: Int) {
        self.command = command
        var kept: [String] = []
        var skipNext = false
        for a in arguments {
            if skipNext {
                skipNext = false
                continue
            }
            if a == "--partition" { skipNext = true; continue }
            if a.hasPrefix("--partition=") || a == "--restart" { continue }
            kept.append(a)
        }
        self.arguments = kept
        self.directory = FileManager.default.currentDirectoryPath
        self.parts = parts
    }

    init(contentsOf url: URL) throws {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw UsageError(
                "\(url.deletingLastPathComponent().path) holds no job array's parts (\(Self.fileName) is missing); run the parts with --partition i/n first")
        }
        let value: JSONValue
        do { value = try JSONValue(parsing: Data(contentsOf: url)) } catch { throw UsageError("\(url.path) is not a job array's plan: \(error)") }
        guard case let .object(o) = value, case let .string(command)? = o["command"], case let .array(list)? = o["arguments"],
            case let .string(directory)? = o["directory"], case let .number(parts)? = o["parts"], parts >= 1, parts <= Double(1 << 20), parts == parts.rounded()
        else { throw UsageError("\(url.path) is not a job array's plan (command, arguments, directory, parts)") }
        let arguments = list.compactMap {
            if case let .string(s) = $0 { return s }; return nil
        }
        guard arguments.count == list.count else { throw UsageError("\(url.path) lists an argument that is not a string") }
        (self.command, self.arguments, self.directory, self.parts) = (command, arguments, directory, Int(parts))
    }

    var json: JSONValue {
        .object([
            "command": .string(command), "arguments": .array(arguments.map { .string($0) }), "directory": .string(directory),
            "parts": .number(Double(parts)),
        ])
    }

    /// Writes the plan into `folder`, or checks that the plan already there is this one.
    func record(in folder: URL) throws {
        let url = folder.appendingPathComponent(Self.fileName)
        if FileManager.default.fileExists(atPath: url.path) {
            let existing = try PartitionPlan(contentsOf: url)
            guard existing == self else {
                throw UsageError(
                    "\(folder.path) holds the parts of another job array (\(existing.parts) parts of `influence \(existing.command) \(existing.arguments.joined(separator: " "))`); use another --out, or delete \(url.path) and its parts"
                )
            }
            return
        }
        try AtomicFile.write(Data(try json.serialized().utf8), to: url)
    }
}

/// A command whose work a job array can split (`--partition i/n`) and `influence merge` join.
protocol PartitionedCommand: Subcommand {
    /// The command as the merge of `parts` parts runs it.
    init(_ arguments: ParsedArguments, merging parts: Int) throws
}

extension PartitionedCommand {
    /// The part `--partition` names.
    static func partition(_ arguments: ParsedArguments) throws -> Partition? {
        guard let text = arguments.string("partition") else { return nil }
        guard let p = Partition(text) else { throw UsageError("--partition takes I/N with 0 ≤ I < N, got '\(text)'") }
        guard world.size == 1 else { throw UsageError("--partition splits a run into separate jobs; under mpirun the ranks share it already") }
        return p
    }

    static func recordPlan(_ partition: Partition, folder: URL) throws {
        try PartitionPlan(command: name, arguments: commandArguments, parts: partition.count).record(in: folder)
    }
}

/// `influence merge`: joins the parts of a job array into the output of one process.
struct MergeCommand: Subcommand {
    static let name = "merge"
    static let abstract = "Join the parts of a job array (fit or scores with --partition i/n) into one run's output."
    static let options: [OptionSpecification] = [
        .value("out", "PARTS_DIR", required: true, "The --out folder every part wrote into.")
    ]
    static let discussion = """
        Every part records the command it ran in PARTS_DIR/partition.json; merge runs that command once
        more, reading the parts' partial results instead of computing, and writes the same files as one
        process. It refuses when a part is missing, unfinished, or of another run. An EK-FAC fit takes two
        rounds: the parts sum covariances, merge eigendecomposes, the parts sum Λ, merge writes the factors.
        """
    static let commands: [any PartitionedCommand.Type] = [FitCommand.self, ScoresCommand.self]

    let folder: URL

    init(_ arguments: ParsedArguments) throws {
        folder = arguments.path("out")!
    }

    func run() throws {
        let plan = try PartitionPlan(contentsOf: folder.appendingPathComponent(PartitionPlan.fileName))
        guard let command = Self.commands.first(where: { $0.name == plan.command }) else {
            throw UsageError("\(folder.path)/\(PartitionPlan.fileName) names the command '\(plan.command)', which has no parts to merge")
        }
        guard FileManager.default.changeCurrentDirectoryPath(plan.directory) else {
            throw UsageError("the parts ran in \(plan.directory), which is gone; merge needs their relative paths to mean the same")
        }
        let parsed = try ParsedArguments(plan.arguments, specification: command.options)
        guard let out = parsed.path("out"), out.standardizedFileURL.resolvingSymlinksInPath() == folder.standardizedFileURL.resolvingSymlinksInPath() else {
            throw UsageError("\(folder.path)/\(PartitionPlan.fileName) is the plan of another folder's parts")
        }
        let merging = try command.init(parsed, merging: plan.parts)
        try merging.run()
    }
}
