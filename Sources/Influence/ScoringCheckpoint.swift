import Foundation
import Formats
import TensorCore

/// Partial results of a scoring run in one safetensors file: the rows of the finished queries
/// (`done.*`) and the state of the chunk in progress (`current.*`), with where it ends.
struct ScoringCheckpoint {
    let url: URL
    let key: String

    struct State {
        var completedQueries: Int
        var completed: ScoringResult?
        var current: ScoreAccumulator?
        var currentEnd: Int
    }

    static func tensors(_ scores: InfluenceScores?, prefix: String) -> [(name: String, payload: SafeTensorsPayload)] {
        guard let scores else { return [] }
        var result: [(name: String, payload: SafeTensorsPayload)] = [("\(prefix).pairwise", .float32(scores.pairwise))]
        result += scores.perModule.enumerated().map { ("\(prefix).module.\($0.offset)", .float32($0.element.scores)) }
        if let t = scores.perToken { result.append(("\(prefix).per_token", .float32(t))) }
        if let s = scores.selfScores { result.append(("\(prefix).self", .float32(s))) }
        return result
    }

    static func optional(_ file: SafeTensorsFile, _ name: String) throws -> Tensor<Float>? {
        file.contains(tensorNamed: name) ? try file.tensor(named: name, as: Float.self) : nil
    }

    /// Dense scores saved under `prefix`, or nil.
    static func read(_ file: SafeTensorsFile, prefix: String, moduleNames: [String]) throws -> InfluenceScores? {
        guard file.contains(tensorNamed: "\(prefix).pairwise") else { return nil }
        var modules: [(name: String, scores: Tensor<Float>)] = []
        for (i, name) in moduleNames.enumerated() {
            if let t = try optional(file, "\(prefix).module.\(i)") { modules.append((name, t)) }
        }
        return InfluenceScores(
            pairwise: try file.tensor(named: "\(prefix).pairwise", as: Float.self), perModule: modules,
            perToken: try optional(file, "\(prefix).per_token"), selfScores: try optional(file, "\(prefix).self"))
    }

    func save(
        completedQueries: Int, completed: ScoringResult?, current: ScoreAccumulator?, currentEnd: Int,
        moduleNames: [String]
    ) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        var tensors: [(name: String, payload: SafeTensorsPayload)] = []
        switch completed {
        case nil: break
        case let .dense(scores)?: tensors += Self.tensors(scores, prefix: "done")
        case let .top(top)?:
            tensors += top.highest.tensors(prefix: "done.highest") + top.lowest.tensors(prefix: "done.lowest")
            if let s = top.selfScores { tensors.append(("done.self", .float32(s))) }
        case let .candidates(c)?: tensors += c.tensors(prefix: "done.candidates")
        }
        if let current { tensors += try current.tensors(prefix: "current", moduleNames: moduleNames) }
        try SafeTensorsFile.write(
            tensors, metadata: ["key": key, "completed_queries": String(completedQueries), "current_end": String(currentEnd)],
            to: url)
    }

    /// The saved state when the file exists and belongs to the same run; nil otherwise.
    ///
    /// - Parameter mode: the accumulator mode of the chunk that starts at a given query.
    func load(moduleNames: [String], mode: (Range<Int>) -> ScoreAccumulator.Mode, selfInfluence: Bool) throws -> State? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do { return try read(moduleNames: moduleNames, mode: mode, selfInfluence: selfInfluence) } catch {
            throw InfluenceError.unreadablePartial(path: url.path, reason: "\(error)")
        }
    }

    private func read(moduleNames: [String], mode: (Range<Int>) -> ScoreAccumulator.Mode, selfInfluence: Bool) throws -> State? {
        let file = try SafeTensorsFile(contentsOf: url)
        guard file.metadata["key"] == key, let completedQueries = file.metadata["completed_queries"].flatMap(Int.init),
            let end = file.metadata["current_end"].flatMap(Int.init), end >= completedQueries
        else { return nil }
        var completed: ScoringResult? = nil
        if let scores = try Self.read(file, prefix: "done", moduleNames: moduleNames) {
            completed = .dense(scores)
        } else if let h = try SelectedScores(file: file, prefix: "done.highest"), let l = try SelectedScores(file: file, prefix: "done.lowest") {
            completed = .top(TopScores(highest: h, lowest: l, selfScores: try Self.optional(file, "done.self")))
        } else if let c = try SelectedScores(file: file, prefix: "done.candidates") {
            completed = .candidates(c)
        }
        let range = completedQueries..<end
        let current = try ScoreAccumulator.restore(
            file, prefix: "current", mode: mode(range), queries: range.count, moduleNames: moduleNames,
            selfInfluence: selfInfluence && completedQueries == 0)
        return State(completedQueries: completedQueries, completed: completed, current: current, currentEnd: end)
    }
}

/// The files in which fits and scoring runs keep an interrupted run's partial results, beside
/// their outputs, so that a rerun resumes.
public enum PartialResults {
    /// The file in which a merge of a job array's fit keeps the eigenbases the parts' Λ pass needs.
    public static let eigenbasesFileName = "partition-eigenbases.safetensors"

    /// The partial-results files of `directory`: every `partial-*.safetensors` (fits keep one per
    /// pass and run of blocks, scoring runs one per run of training rows).
    public static func files(in directory: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasPrefix("partial-") && $0.hasSuffix(".safetensors") }.sorted().map { directory.appendingPathComponent($0) }
    }

    /// Removes every partial-results file from `directory` (`--restart`): the next run starts over.
    public static func discard(in directory: URL) throws {
        for url in files(in: directory) { try FileManager.default.removeItem(at: url) }
    }

    /// Removes the partial sums of fits (not of scoring runs) from `directory`: of one pass, or of all.
    static func discardFits(in directory: URL, pass: String? = nil) {
        let passes = pass.map { [$0] } ?? PartialSums.passes
        for url in files(in: directory) where passes.contains(where: { url.lastPathComponent.hasPrefix("partial-\($0)") }) {
            try? FileManager.default.removeItem(at: url)
        }
    }
}
