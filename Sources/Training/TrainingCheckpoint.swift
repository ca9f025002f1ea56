import Foundation
import Formats
import NeuralNetworks
import TensorCore

/// A resumable training state in one safetensors file: the parameters under their own names,
/// the optimizer state under `optimizer.*`, and the step and history in the metadata. One file,
/// written atomically, so a checkpoint is either the old one or the new one, never half of each.
public struct TrainingCheckpoint<Scalar: TensorScalar> {
    /// The safetensors file that holds the state.
    public let url: URL

    /// A checkpoint at `url`; nothing is read or written until ``load()`` or ``save(model:optimizer:step:history:)``.
    public init(url: URL) { self.url = url }

    /// A state read back from disk.
    public struct State {
        /// The model's tensors under their own names.
        public var parameters: [String: Tensor<Scalar>]
        /// The optimizer's tensors, with the `optimizer.` prefix removed.
        public var optimizerState: [String: Tensor<Scalar>]
        /// The number of steps taken when the checkpoint was written.
        public var step: Int
        /// The training history up to that step.
        public var history: [TrainingRecord]
    }

    static func payload(_ t: Tensor<Scalar>) -> SafeTensorsPayload {
        if let f = t as? Tensor<Float> { return .float32(f) }
        if let d = t as? Tensor<Double> { return .float64(d) }
        return .float64(Tensor<Double>(t))
    }

    /// Writes the state atomically.
    public func save<O: Optimizer>(model: Module<Scalar>, optimizer: O, step: Int, history: [TrainingRecord]) throws where O.Scalar == Scalar {
        var tensors: [(name: String, payload: SafeTensorsPayload)] = model.state().map { ($0.name, Self.payload($0.value)) }
        tensors += optimizer.exportState().map { ("optimizer." + $0.name, Self.payload($0.value)) }
        let historyJSON = String(decoding: try JSONEncoder().encode(history), as: UTF8.self)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try SafeTensorsFile.write(tensors, metadata: ["step": String(step), "history": historyJSON, "format": "swift-influence-checkpoint"], to: url)
    }

    /// Reads the state, or nil when there is no checkpoint file.
    ///
    /// - Throws: ``TrainingError/malformedCheckpoint(path:reason:)`` or a ``SafeTensorsError``
    ///   naming the file when it exists but cannot be used.
    public func load() throws -> State? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let file = try SafeTensorsFile(contentsOf: url)
        guard let stepText = file.metadata["step"], let step = Int(stepText), step >= 0 else {
            throw TrainingError.malformedCheckpoint(path: url.path, reason: "metadata has no valid 'step'")
        }
        var history: [TrainingRecord] = []
        if let text = file.metadata["history"] {
            do { history = try JSONDecoder().decode([TrainingRecord].self, from: Data(text.utf8)) } catch {
                throw TrainingError.malformedCheckpoint(path: url.path, reason: "metadata 'history' is not valid: \(error)")
            }
        }
        var parameters: [String: Tensor<Scalar>] = [:], optimizerState: [String: Tensor<Scalar>] = [:]
        for name in file.tensorNames {
            let t = try file.tensor(named: name, as: Scalar.self)
            if name.hasPrefix("optimizer.") { optimizerState[String(name.dropFirst("optimizer.".count))] = t } else { parameters[name] = t }
        }
        return State(parameters: parameters, optimizerState: optimizerState, step: step, history: history)
    }
}
