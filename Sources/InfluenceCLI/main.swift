import Distributed
import Foundation
import Formats
import Influence
import MPITransport
import TensorCore

/// The `influence` command: subcommands over the swift-influence library.
let subcommands: [any Subcommand.Type] = [
    InspectCommand.self, TokenizeCommand.self, LossCommand.self, TrainCommand.self, FitCommand.self,
    ScoresCommand.self, CandidatesCommand.self, ReportCommand.self, CrossLingualStudyCommand.self,
    ModelSizeStudyCommand.self, ValidatePBRFCommand.self, ValidateLDSCommand.self,
    ValidateMislabelsCommand.self, MergeCommand.self, DemoCommand.self,
]

let topLevelUsage = "influence <subcommand> [options]; subcommands: " + subcommands.map { $0.name }.joined(separator: ", ")

func topLevelHelp() -> String {
    var text = "influence — which training examples made a neural network say this?\n\nUsage: \(topLevelUsage)\n\nSubcommands:\n"
    let width = (subcommands.map { $0.name.count }.max() ?? 0) + 2
    for s in subcommands { text += "  " + s.name.padding(toLength: width, withPad: " ", startingAt: 0) + s.abstract + "\n" }
    text += "\nRun 'influence <subcommand> --help' for the options of each."
    return text
}

Parallelism.relaunchWithShortBLASSpinIfNeeded()
// Ranks of an mpirun job share the threads of their machine: each takes its part.
if MPICommunicator.isLaunchedByMPI {
    Parallelism.threadCount = max(1, Parallelism.configuredThreadCount / max(1, MPICommunicator.localSize))
}
setvbuf(stdout, nil, _IOLBF, 0)
let arguments = Array(CommandLine.arguments.dropFirst())
guard let first = arguments.first else {
    printError("Error: no subcommand given\nUsage: \(topLevelUsage)")
    exit(64)
}
if first == "--help" || first == "-h" || first == "help" {
    print(topLevelHelp())
    exit(0)
}
// A subcommand is one word, or two for the studies (`study crosslingual`).
let twoWords = arguments.count > 1 ? first + " " + arguments[1] : nil
guard let command = subcommands.first(where: { $0.name == first || $0.name == twoWords }) else {
    if first == "study" || first == "validate" {
        let kinds = subcommands.map { $0.name }.filter { $0.hasPrefix(first + " ") }.map { String($0.dropFirst(first.count + 1)) }
        let noun = first == "study" ? "study" : "validation"
        printError(
            "Error: \(arguments.count > 1 ? "unknown \(noun) '\(arguments[1])'" : "no \(noun) given"); \(noun == "study" ? "studies" : "validations"): \(kinds.joined(separator: ", "))\nUsage: influence \(first) \(kinds.joined(separator: "|")) [options]"
        )
    } else {
        printError("Error: unknown subcommand '\(first)'\nUsage: \(topLevelUsage)")
    }
    exit(64)
}
/// The subcommands whose work ranks of an mpirun job share.
let distributedCommands = [FitCommand.name, ScoresCommand.name, "validate pbrf", "validate lds"]
/// The ranks of this run: an mpirun job's, or this process alone.
let world: any Communicator = {
    guard MPICommunicator.isLaunchedByMPI else { return SingleProcess() }
    let rank = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"].flatMap(Int.init) ?? 0
    guard distributedCommands.contains(command.name) else {
        if rank == 0 {
            printError(
                "Error: influence \(command.name) runs in one process; under mpirun only \(distributedCommands.joined(separator: ", ")) share their work across ranks"
            )
        }
        exit(64)
    }
    guard let mpi = MPICommunicator.shared else {
        printError("Error: this process was started by mpirun but MPI could not be initialised (rank \(rank))")
        exit(1)
    }
    // Only rank 0 prints results and shows progress.
    if !mpi.isRoot { _ = freopen("/dev/null", "w", stdout) }
    return mpi
}()

/// Ends the run with `message`: in an mpirun job, every rank ends with it (rank 0's words plain,
/// another rank's prefixed with its number), so that no rank waits for one that failed.
func fail(_ message: String, code: Int32) -> Never {
    if world.size > 1 {
        world.abort(message: world.isRoot ? message : "rank \(world.rank) of \(world.size): " + message, code: code)
    }
    printError(message)
    exit(code)
}

let rest = Array(arguments.dropFirst(command.name.split(separator: " ").count))
/// The subcommand's own arguments, as a job array's parts record them.
let commandArguments = rest
if rest.contains("--help") || rest.contains("-h") {
    print(command.help, terminator: "")
    exit(0)
}
/// The lock on this run's output folder, held until the process ends.
nonisolated(unsafe) var outputLock: OutputLock? = nil
do {
    let parsed = try ParsedArguments(rest, specification: command.options)
    let instance = try command.init(parsed)
    // An output folder is checked (created, writable) before any work, and held by this run alone.
    if command.options.contains(where: { $0.name == "out" && $0.valueName?.hasSuffix("DIR") == true }), let text = parsed.string("out") {
        guard !text.isEmpty else { throw UsageError("option '--out' names no folder") }
        // The ranks of a job share the folder: rank 0 holds the lock; the others wait until it does.
        // The parts of a job array share the folder; each part is held by one run.
        let part = parsed.string("partition").flatMap(Partition.init).map { ".influence.lock.part-\($0.index)-of-\($0.count)" }
        if world.isRoot { outputLock = try OutputLock(directory: URL(fileURLWithPath: text), name: part ?? OutputLock.fileName) }
        try world.barrier()
    }
    try instance.run()
    // Output written to standard output that did not reach it (a full disk, a closed pipe) fails
    // the command, instead of a truncated last record and exit status 0.
    if fflush(stdout) != 0 || ferror(stdout) != 0 {
        printError("Error: writing to standard output failed: \(String(cString: strerror(errno))); the output is incomplete")
        exit(1)
    }
} catch let error as UsageError {
    fail("Error: \(error)\nUsage: \(command.usage)", code: 64)
} catch let error as StrategyOptionError {
    fail("Error: \(error)\nUsage: \(command.usage)", code: 64)
} catch {
    fail("Error: \(error)", code: 1)
}
