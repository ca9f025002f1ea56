import Foundation
import Formats
import TensorCore

/// Partial results of a scoring run in one safetensors file: the rows of the finished query
/// chunks (`done.*`) and the columns of the chunk in progress (`current.*`).
struct ScoringCheckpoint {
    let url: URL
    let key: String

    struct State {
        var completedChunks: Int
        var completed: InfluenceScores?
        var current: InfluenceScores?
        var examplesDone: Int
    }

    static func tensors(_ scores: InfluenceScores?, prefix: String) -> [(name: String, payload: SafeTensorsPayload)] {
        guard let scores else { return [] }
        var result: [(name: String, payload: SafeTensorsPayload)] = [("\(prefix).pairwise", .float32(scores.pairwise))]
        result += scores.perModule.enumerated().map { ("\(prefix).module.\($0.offset)", .float32($0.element.scores)) }
        if let t = scores.perToken { result.append(("\(prefix).per_token", .float32(t))) }
        if let s = scores.selfScores { result.append(("\(prefix).self", .float32(s))) }
        return result
    }

    func save(completedChunks: Int, completed: InfluenceScores?, current: InfluenceScores?, examplesDone: Int) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try SafeTensorsFile.write(Self.tensors(completed, prefix: "done") + Self.tensors(current, prefix: "current"),
                                  metadata: ["key": key, "completed_chunks": String(completedChunks), "examples_done": String(examplesDone)],
                                  to: url)
    }

    /// The saved state when the file exists and belongs to the same run; nil otherwise.
    func load(moduleNames: [String]) throws -> State? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let file = try SafeTensorsFile(contentsOf: url)
        guard file.metadata["key"] == key, let chunks = file.metadata["completed_chunks"].flatMap(Int.init),
              let examples = file.metadata["examples_done"].flatMap(Int.init) else { return nil }
        func read(_ prefix: String) throws -> InfluenceScores? {
            guard file.contains(tensorNamed: "\(prefix).pairwise") else { return nil }
            func optional(_ name: String) throws -> Tensor<Float>? {
                file.contains(tensorNamed: name) ? try file.tensor(named: name, as: Float.self) : nil
            }
            var modules: [(name: String, scores: Tensor<Float>)] = []
            for (i, name) in moduleNames.enumerated() {
                if let t = try optional("\(prefix).module.\(i)") { modules.append((name, t)) }
            }
            return InfluenceScores(pairwise: try file.tensor(named: "\(prefix).pairwise", as: Float.self), perModule: modules,
                                   perToken: try optional("\(prefix).per_token"), selfScores: try optional("\(prefix).self"))
        }
        return State(completedChunks: chunks, completed: try read("done"), current: try read("current"), examplesDone: examples)
    }
}
