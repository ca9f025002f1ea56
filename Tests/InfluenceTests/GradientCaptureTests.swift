import Autograd
import Influence
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

@Suite("Gradient capture: per-example gradients of tracked Linear layers")
struct GradientCaptureTests {
    /// Records one batch of a task's training loss (data labels) over `indices`.
    func record<Task: InfluenceTask>(_ task: Task, _ capture: GradientCapture<Task.Scalar>, _ indices: [Int]) -> BatchRecord<Task.Scalar> {
        var generator = testGenerator()
        return capture.record { task.trainingLoss(indices: indices, labels: .data, generator: &generator) }
    }

    @Test func perExampleGradientsOfAClassifierEqualEachExampleAlone() throws {
        // Oracle: an ordinary backward pass over each example taken alone, weight and bias
        // gradients concatenated. Both sides are Float64 and algebraically identical: 1e-11.
        let task = Fixtures.classificationTask(Double.self)
        let capture = try GradientCapture(model: task.model, patterns: [])
        let layers = task.model.linearLayers().map(\.layer)
        let indices = Array(0..<task.trainingExampleCount)
        let batch = record(task, capture, indices)
        let expected = perExampleTrainingGradients(task, layers: layers, examples: indices)
        #expect(capture.names == ["layers.0", "layers.1"])
        #expect(capture.gradientShapes == [[4, 4], [3, 5]])
        #expect(batch.exampleCount == indices.count && batch.rowsPerExample == 1 && batch.tokenCount == indices.count)
        for (i, layer) in batch.layers.enumerated() {
            let r = compare(layer.perExampleGradients(examples: batch.exampleCount), expected[i], tolerance: 1e-11, capture.names[i])
            #expect(r.passed, "\(r)")
        }
    }

    @Test func perExampleGradientsOfAClassifierSumToTheBatchGradient() throws {
        // Oracle: one backward pass over the summed loss of the whole batch; 1e-11 in Float64.
        let task = Fixtures.classificationTask(Double.self, seed: 9)
        let capture = try GradientCapture(model: task.model, patterns: [])
        let layers = task.model.linearLayers().map(\.layer)
        let indices = [6, 0, 3, 4]
        let batch = record(task, capture, indices)
        var generator = testGenerator()
        let expected = layerGradients(layers) { task.trainingLoss(indices: indices, labels: .data, generator: &generator).loss }
        for (i, layer) in batch.layers.enumerated() {
            let summed = layer.perExampleGradients(examples: indices.count).sum(alongAxes: [0])
            let r = compare(summed, expected[i], tolerance: 1e-11, "\(capture.names[i]) summed")
            #expect(r.passed, "\(r)")
        }
    }

    @Test func paddedLanguageModelBatchGivesEachSequenceItsUnpaddedGradient() throws {
        // Every Linear layer of a one-layer GPT-2 (c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj and
        // the bias-free lm_head), sequences of lengths 6, 2, 4, 5, 3 in one padded batch. Oracle:
        // each sequence alone (no padding, no attention mask); 1e-10 in Float64.
        let model = Fixtures.languageModel(Double.self)
        let task = LanguageModelingTask(model: model, training: Fixtures.sequences, queries: [])
        let capture = try GradientCapture(model: model, patterns: [])
        let layers = model.linearLayers().map(\.layer)
        let indices = Array(0..<task.trainingExampleCount)
        let batch = record(task, capture, indices)
        #expect(capture.names.count == 5 && capture.names.last == "lm_head")
        #expect(capture.gradientShapes.last == [11, 8], "lm_head has no bias column")
        #expect(batch.rowsPerExample == 6 && batch.exampleCount == 5)
        #expect(batch.tokenCount == Fixtures.sequences.map(\.count).reduce(0, +))
        let expected = perExampleTrainingGradients(task, layers: layers, examples: indices)
        for (i, layer) in batch.layers.enumerated() {
            let r = compare(layer.perExampleGradients(examples: 5), expected[i], tolerance: 1e-10, capture.names[i])
            #expect(r.passed, "\(r)")
        }
    }

    @Test func paddingRowsRecordNoActivationAndNoGradient() throws {
        let model = Fixtures.languageModel(Double.self, seed: 4)
        let task = LanguageModelingTask(model: model, training: Fixtures.sequences, queries: [])
        let capture = try GradientCapture(model: model, patterns: ["*.mlp.*"])
        let batch = record(task, capture, [1, 0])  // lengths 2 and 6: rows 2..<6 are padding
        for layer in batch.layers {
            let padding = layer.activations.sliced(along: 0, 2..<6)
            #expect(padding == Tensor.zeros(shape: padding.shape))
            let paddingGradients = layer.outputGradients.sliced(along: 0, 2..<6)
            #expect(paddingGradients.magnitude().max().scalar == 0)
        }
    }

    @Test func perExampleGradientsOfALanguageModelSumToTheBatchGradient() throws {
        // Oracle: the batch's summed loss differentiated by autograd; 1e-10 in Float64.
        let model = Fixtures.languageModel(Double.self, seed: 8)
        let task = LanguageModelingTask(model: model, training: Fixtures.sequences, queries: [])
        let capture = try GradientCapture(model: model, patterns: ["transformer.h.0.*"])
        let layers = capture.layers
        let indices = [3, 1, 4]
        let batch = record(task, capture, indices)
        var generator = testGenerator()
        let expected = layerGradients(layers) { task.trainingLoss(indices: indices, labels: .data, generator: &generator).loss }
        for (i, layer) in batch.layers.enumerated() {
            let r = compare(layer.perExampleGradients(examples: 3).sum(alongAxes: [0]), expected[i], tolerance: 1e-10, capture.names[i])
            #expect(r.passed, "\(r)")
        }
    }

    @Test func singleTokenSequenceHasNoGradientAndDoesNotDisturbItsBatch() throws {
        // A one-token sequence predicts nothing: its gradient is zero, alone or padded beside a
        // longer one, whose gradient stays that of the longer sequence alone (1e-10).
        let model = Fixtures.languageModel(Double.self, seed: 10)
        let task = LanguageModelingTask(model: model, training: [[5], [1, 2, 3, 4]], queries: [])
        let capture = try GradientCapture(model: model, patterns: [])
        let alone = record(task, capture, [0])
        #expect(alone.tokenCount == 1 && alone.loss == 0)
        for layer in alone.layers { #expect(layer.perExampleGradients(examples: 1).magnitude().max().scalar == 0) }
        let batch = record(task, capture, [0, 1])
        let expected = perExampleTrainingGradients(task, layers: capture.layers, examples: [1])
        for (i, layer) in batch.layers.enumerated() {
            let g = layer.perExampleGradients(examples: 2)
            #expect(g.sliced(along: 0, 0..<1).magnitude().max().scalar == 0)
            let r = compare(g.sliced(along: 0, 1..<2), expected[i], tolerance: 1e-10, capture.names[i])
            #expect(r.passed, "\(r)")
        }
    }

    @Test func patternsMatchingNothingAreRefused() {
        let model = MultilayerPerceptron<Double>(sizes: [3, 4, 3])
        #expect(throws: InfluenceError.noTrackedModules(patterns: ["transformer.*"], available: ["layers.0", "layers.1"])) {
            try GradientCapture(model: model, patterns: ["transformer.*"])
        }
    }

    @Test func recordingRestoresWhichParametersRequireGradients() throws {
        let task = Fixtures.classificationTask(Double.self)
        task.model.freeze(matching: ["layers.1.bias", "layers.0.weight"])
        let before = task.model.namedParameters().map { "\($0.name)=\($0.parameter.requiresGradient)" }
        let capture = try GradientCapture(model: task.model, patterns: ["layers.0"])
        _ = record(task, capture, [0, 1])
        let after = task.model.namedParameters().map { "\($0.name)=\($0.parameter.requiresGradient)" }
        #expect(after == before)
        #expect(before == ["layers.0.weight=false", "layers.0.bias=true", "layers.1.weight=true", "layers.1.bias=false"])
    }

    @Test func frozenLayerIsStillCapturedWithItsBiasColumn() throws {
        // A tracked layer whose parameters are frozen by the user still gets its gradients; the
        // oracle unfreezes them for an ordinary backward pass. 1e-11 in Float64.
        let task = Fixtures.classificationTask(Double.self, seed: 6)
        task.model.freeze()
        let capture = try GradientCapture(model: task.model, patterns: ["layers.1"])
        let observed = record(task, capture, [2, 5]).layers[0].perExampleGradients(examples: 2)
        task.model.unfreeze()
        let expected = perExampleTrainingGradients(task, layers: capture.layers, examples: [2, 5])[0]
        let r = compare(observed, expected, tolerance: 1e-11, "layers.1")
        #expect(r.passed, "\(r)")
    }
}
