import Foundation
import Formats
import NeuralNetworks
import Testing
import TensorCore
import Training
import _TestSupport

@Suite("Training checkpoints: one safetensors file with parameters, optimizer state, step and history")
struct TrainingCheckpointTests {
    /// Records as a trainer makes them (the type has no public initialiser), with values whose
    /// shortest decimal forms are long: 0.1 + 0.2 and 1/3.
    static func history() throws -> [TrainingRecord] {
        let json = """
            [{"step": 1, "loss": 2.5, "learningRate": 0.001},
             {"step": 2, "loss": \(0.1 + 0.2), "learningRate": 0.0003, "validationLoss": \(1.0 / 3.0)}]
            """
        let records = try JSONDecoder().decode([TrainingRecord].self, from: Data(json.utf8))
        #expect(records.map(\.loss) == [2.5, 0.1 + 0.2] && records.map(\.validationLoss) == [nil, 1.0 / 3.0])
        return records
    }

    /// A model and an AdamW that has taken two steps, so that its moments are not zero.
    static func trained<Scalar: TensorScalar>(_: Scalar.Type) -> (MultilayerPerceptron<Scalar>, AdamW<Scalar>) {
        let model = MultilayerPerceptron<Scalar>(sizes: [3, 4, 2], seed: 9)
        let optimizer = AdamW(parameters: model.parameters, learningRate: 1e-2)
        var generator = testGenerator(3)
        for _ in 0..<2 {
            optimizer.step(gradients: model.parameters.map { Tensor.randomNormal(shape: $0.shape, using: &generator) })
        }
        return (model, optimizer)
    }

    @Test func doubleStateRoundTripsExactly() throws {
        let directory = try TemporaryDirectory()
        let (model, optimizer) = Self.trained(Double.self)
        let checkpoint = TrainingCheckpoint<Double>(url: directory.file("nested/dir/checkpoint.safetensors"))
        let history = try Self.history()
        try checkpoint.save(model: model, optimizer: optimizer, step: 2, history: history)

        let state = try #require(try checkpoint.load())
        #expect(state.step == 2)
        #expect(state.history == history, "history must round-trip exactly, Doubles included")
        #expect(state.parameters == Dictionary(uniqueKeysWithValues: model.state().map { ($0.name, $0.value) }))
        #expect(state.optimizerState == Dictionary(uniqueKeysWithValues: optimizer.exportState().map { ($0.name, $0.value) }))
        #expect(
            Set(state.optimizerState.keys) == [
                "adamw.m.0", "adamw.m.1", "adamw.m.2", "adamw.m.3",
                "adamw.v.0", "adamw.v.1", "adamw.v.2", "adamw.v.3",
            ])

        // The state loads into a fresh model and optimizer.
        let fresh = MultilayerPerceptron<Double>(sizes: [3, 4, 2], seed: 10)
        try fresh.load(state.parameters)
        #expect(fresh.state().map(\.value) == model.state().map(\.value))
        try AdamW(parameters: fresh.parameters, learningRate: 1e-2).restoreState(state.optimizerState, stepCount: state.step)
    }

    @Test func floatStateIsStoredAsF32AndRoundTripsExactly() throws {
        let directory = try TemporaryDirectory()
        let (model, optimizer) = Self.trained(Float.self)
        let url = directory.file("checkpoint.safetensors")
        try TrainingCheckpoint<Float>(url: url).save(model: model, optimizer: optimizer, step: 7, history: [])
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.entries.allSatisfy { $0.dtype == .float32 })
        #expect(file.tensorNames.contains("optimizer.adamw.m.0") && file.tensorNames.contains("layers.0.weight"))
        let state = try #require(try TrainingCheckpoint<Float>(url: url).load())
        #expect(state.step == 7 && state.history.isEmpty)
        #expect(state.parameters == Dictionary(uniqueKeysWithValues: model.state().map { ($0.name, $0.value) }))
        #expect(state.optimizerState == Dictionary(uniqueKeysWithValues: optimizer.exportState().map { ($0.name, $0.value) }))
    }

    @Test func savingAgainReplacesTheCheckpoint() throws {
        let directory = try TemporaryDirectory()
        let (model, optimizer) = Self.trained(Double.self)
        let checkpoint = TrainingCheckpoint<Double>(url: directory.file("c.safetensors"))
        let history = try Self.history()
        try checkpoint.save(model: model, optimizer: optimizer, step: 1, history: Array(history.prefix(1)))
        try checkpoint.save(model: model, optimizer: optimizer, step: 2, history: history)
        let state = try #require(try checkpoint.load())
        #expect(state.step == 2 && state.history.count == 2)
    }

    @Test func loadReturnsNilWhenThereIsNoFile() throws {
        let directory = try TemporaryDirectory()
        #expect(try TrainingCheckpoint<Double>(url: directory.file("missing.safetensors")).load() == nil)
    }

    @Test func aFileThatIsNotSafetensorsThrowsAnErrorNamingIt() throws {
        let directory = try TemporaryDirectory()
        let url = directory.file("notes.safetensors")
        try Data("these are my training notes, not a checkpoint".utf8).write(to: url)
        let error = #expect(throws: SafeTensorsError.self) { try TrainingCheckpoint<Double>(url: url).load() }
        #expect(error.map { "\($0)".contains(url.path) } == true, "\(String(describing: error))")
    }

    @Test(arguments: [[:], ["step": "twelve"], ["step": "-1"], ["step": ""], ["format": "swift-influence-checkpoint"]])
    func aCheckpointWithoutAValidStepThrowsNamingTheFile(metadata: [String: String]) throws {
        let directory = try TemporaryDirectory()
        let url = directory.file("checkpoint.safetensors")
        try SafeTensorsFile.write([("layers.0.weight", .float64(Tensor.ones(shape: [2, 2])))], metadata: metadata, to: url)
        let error = #expect(throws: TrainingError.self) { try TrainingCheckpoint<Double>(url: url).load() }
        guard case let .malformedCheckpoint(path, reason)? = error else {
            Issue.record("expected malformedCheckpoint, got \(String(describing: error))")
            return
        }
        #expect(path == url.path)
        #expect(reason.contains("step"))
        #expect("\(error!)".hasPrefix("checkpoint \(url.path):"))
    }

    @Test func aCheckpointWithUnreadableHistoryThrowsNamingTheFile() throws {
        let directory = try TemporaryDirectory()
        let url = directory.file("checkpoint.safetensors")
        try SafeTensorsFile.write([("w", .float64(Tensor.ones(shape: [1])))], metadata: ["step": "3", "history": "[{\"step\": 1}]"], to: url)
        let error = #expect(throws: TrainingError.self) { try TrainingCheckpoint<Double>(url: url).load() }
        guard case let .malformedCheckpoint(path, reason)? = error else {
            Issue.record("expected malformedCheckpoint, got \(String(describing: error))")
            return
        }
        #expect(path == url.path && reason.contains("history"))
    }
}
