import Autograd
import Foundation
import NeuralNetworks
import Testing
import TensorCore
import Training
import _TestSupport

/// Two classes split by the line x₀ + x₁ = 0, with a margin of 0.5 either side: separable.
struct SeparableProblem {
    let features: Tensor<Double>
    let labels: [Int]

    init(count: Int, seed: UInt64) {
        var generator = testGenerator(seed)
        var rows: [[Double]] = [], labels: [Int] = []
        while rows.count < count {
            let x = [2 * generator.nextNormal(), 2 * generator.nextNormal()]
            let side = x[0] + x[1]
            guard abs(side) > 0.5 else { continue }
            rows.append(x)
            labels.append(side > 0 ? 1 : 0)
        }
        features = Tensor(rows: rows)
        self.labels = labels
    }

    /// The mean cross-entropy of `model` on the rows at `indices` (recorded, to be differentiated).
    func loss(_ model: MultilayerPerceptron<Double>, _ indices: [Int]) -> Variable<Double> {
        Losses.crossEntropy(logits: model(Variable(features.indexSelect(along: 0, indices: indices))), labels: indices.map { labels[$0] })
    }

    var all: [Int] { Array(0..<labels.count) }

    func accuracy(_ model: MultilayerPerceptron<Double>) -> Double {
        let predicted = withoutGradients { model(Variable(features)).value.argmax(alongAxis: 1) }
        return Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }
}

/// A trainer over a small MLP whose loss closure can be swapped, for the bookkeeping tests.
func bookkeepingTrainer(
    steps: Int, exampleCount: Int = 10, batchSize: Int = 3, validationInterval: Int = 0,
    checkpointInterval: Int = 0, seed: UInt64 = 0, checkpoint: URL? = nil,
    batchLoss: (([Int]) throws -> Variable<Double>)? = nil,
    validationLoss: (() throws -> Double)? = nil
) -> (Trainer<SGD<Double>>, MultilayerPerceptron<Double>) {
    let problem = SeparableProblem(count: exampleCount, seed: 1)
    let model = MultilayerPerceptron<Double>(sizes: [2, 4, 2], seed: 2)
    let optimizer = SGD(parameters: model.parameters, learningRate: 0.1)
    let configuration = TrainingConfiguration(
        steps: steps, batchSize: batchSize, schedule: .constant(0.1), maximumGradientNorm: nil,
        validationInterval: validationInterval, checkpointInterval: checkpointInterval, seed: seed)
    let trainer = Trainer(
        model: model, optimizer: optimizer, configuration: configuration, exampleCount: exampleCount,
        checkpoint: checkpoint.map { TrainingCheckpoint(url: $0) },
        batchLoss: batchLoss ?? { problem.loss(model, $0) }, validationLoss: validationLoss)
    trainer.showsProgress = false
    return (trainer, model)
}

@Suite("Trainer: learning, exact resume, bookkeeping")
struct TrainerTests {
    @Test func lossFallsOnASeparableProblem() throws {
        let problem = SeparableProblem(count: 64, seed: 3)
        let model = MultilayerPerceptron<Double>(sizes: [2, 16, 2], activation: .tanh, seed: 4)
        let optimizer = AdamW(parameters: model.parameters, learningRate: 0.05, weightDecay: 0)
        let configuration = TrainingConfiguration(steps: 80, batchSize: 16, schedule: .constant(0.05), validationInterval: 0)
        let trainer = Trainer(
            model: model, optimizer: optimizer, configuration: configuration, exampleCount: 64,
            batchLoss: { problem.loss(model, $0) })
        trainer.showsProgress = false
        let before = withoutGradients { problem.loss(model, problem.all).value.scalar }
        try trainer.run()
        let after = withoutGradients { problem.loss(model, problem.all).value.scalar }
        #expect(trainer.history.count == 80 && trainer.step == 80)
        #expect(after < 0.1 * before, "full-data loss went from \(before) to \(after)")
        #expect(problem.accuracy(model) >= 0.98, "accuracy \(problem.accuracy(model))")
        let firstLosses = trainer.history.prefix(5).map(\.loss), lastLosses = trainer.history.suffix(5).map(\.loss)
        #expect(lastLosses.reduce(0, +) < 0.2 * firstLosses.reduce(0, +), "batch losses \(firstLosses) … \(lastLosses)")
    }

    @Test func gradientsAreClippedToTheConfiguredNormBeforeTheStep() throws {
        // Plain SGD moves the parameters by η·g, so after clipping ‖Δθ‖ = η · maximumNorm exactly.
        let problem = SeparableProblem(count: 8, seed: 5)
        let model = MultilayerPerceptron<Double>(sizes: [2, 3, 2], seed: 6)
        let before = model.parameters.map(\.value)
        let configuration = TrainingConfiguration(steps: 1, batchSize: 8, schedule: .constant(0.1), maximumGradientNorm: 1e-3)
        let trainer = Trainer(
            model: model, optimizer: SGD(parameters: model.parameters, learningRate: 0),
            configuration: configuration, exampleCount: 8, batchLoss: { problem.loss(model, $0) })
        trainer.showsProgress = false
        let unclipped = GradientClipping.globalNorm(gradients(of: problem.loss(model, problem.all), at: model.parameters.map(\.variable)).map(\.value))
        #expect(unclipped > 1e-2, "the test needs a gradient above the maximum, got \(unclipped)")
        try trainer.run()
        let moved = zip(model.parameters.map(\.value), before).map { Double(Tensor.dot($0 - $1, $0 - $1)) }.reduce(0, +).squareRoot()
        let r = compare(moved, 0.1 * 1e-3, tolerance: 1e-10, "‖Δθ‖")
        #expect(r.passed, "\(r)")
    }

    // MARK: Exact resume

    static let languageModel = GPT2Configuration(
        vocabularySize: 16, contextLength: 8, embeddingSize: 8, layerCount: 2, headCount: 2,
        residualDropout: 0.1, embeddingDropout: 0.1, attentionDropout: 0.1)

    /// 24 training and 4 validation sequences of 8 tokens: counting runs with random starts and
    /// strides, so that there is something to learn.
    static let sequences: [[Int]] = {
        var generator = testGenerator(21)
        return (0..<28).map { _ in
            let start = Int(generator.next() % 16), stride = 1 + Int(generator.next() % 3)
            return (0..<8).map { (start + $0 * stride) % 16 }
        }
    }()

    /// A fresh model, optimizer and trainer, identical on every call.
    static func languageModelTrainer(checkpoint: URL) -> (Trainer<AdamW<Float>>, GPT2LanguageModel<Float>) {
        let model = GPT2LanguageModel<Float>(configuration: languageModel, seed: 3)
        let optimizer = AdamW(parameters: model.parameters, learningRate: 0, weightDecay: 0.1)
        let configuration = TrainingConfiguration(
            steps: 12, batchSize: 4, schedule: .warmupCosine(peak: 3e-3, warmupSteps: 3, totalSteps: 12, minimum: 1e-4),
            maximumGradientNorm: 1, validationInterval: 4, checkpointInterval: 4, seed: 11)
        let training = Array(sequences.prefix(24)), validation = Array(sequences.suffix(4))
        func loss(_ batch: [[Int]]) -> Variable<Float> {
            let tokens = batch.flatMap { $0 }
            return Losses.nextTokenLosses(logits: model(tokens: tokens, batchSize: batch.count), tokens: tokens).mean()
        }
        let trainer = Trainer(
            model: model, optimizer: optimizer, configuration: configuration, exampleCount: training.count,
            checkpoint: TrainingCheckpoint(url: checkpoint),
            batchLoss: { indices in loss(indices.map { training[$0] }) },
            validationLoss: { Double(loss(validation).value.scalar) })
        trainer.showsProgress = false
        return (trainer, model)
    }

    /// 12 steps straight versus 5 steps, then a brand-new model, optimizer and trainer resuming
    /// from the checkpoint file for the remaining 7: with dropout on, the losses and the final
    /// parameters must be bit-identical, which holds only if the batch order, the dropout masks,
    /// the schedule, the AdamW moments and the step count all come back exactly.
    @Test func interruptedRunResumesBitIdenticallyWithDropoutAndAdamW() throws {
        let directory = try TemporaryDirectory()
        let (straight, straightModel) = Self.languageModelTrainer(checkpoint: directory.file("straight.safetensors"))
        try straight.run()
        #expect(straight.history.map(\.step) == Array(1...12))
        #expect(straight.history.compactMap(\.validationLoss).count == 3, "validation at steps 4, 8, 12")

        let interruptedURL = directory.file("interrupted/checkpoint.safetensors")
        let (first, _) = Self.languageModelTrainer(checkpoint: interruptedURL)
        try first.run(stoppingAfter: 5)
        #expect(first.step == 5 && first.history.count == 5)
        #expect(try TrainingCheckpoint<Float>(url: interruptedURL).load()?.step == 5, "the interruption must leave a checkpoint at step 5")

        let (resumed, resumedModel) = Self.languageModelTrainer(checkpoint: interruptedURL)
        #expect(try resumed.resumeIfPossible() == 5)
        #expect(resumed.optimizer.stepCount == 5)
        try resumed.run()

        #expect(resumed.step == 12)
        for (a, b) in zip(straight.history, resumed.history) where a != b {
            Issue.record("step \(a.step): straight \(a), resumed \(b)")
        }
        #expect(resumed.history == straight.history)
        let straightState = straightModel.state(), resumedState = resumedModel.state()
        #expect(straightState.map(\.name) == resumedState.map(\.name))
        for (a, b) in zip(straightState, resumedState) {
            let largest = zip(a.value.scalars, b.value.scalars).map { abs($0 - $1) }.max() ?? 0
            #expect(a.value == b.value, "\(a.name) differs, max |Δ| \(largest)")
        }

        // Running a finished trainer again changes nothing.
        try resumed.run()
        #expect(resumed.history.count == 12)
    }

    @Test func dropoutIsActiveDuringTrainingSteps() throws {
        // Guards the resume test: its first recorded loss must differ from the same batch's loss
        // without dropout, or the dropout streams would not be exercised.
        let directory = try TemporaryDirectory()
        let (trainer, model) = Self.languageModelTrainer(checkpoint: directory.file("c.safetensors"))
        model.evaluate()
        let withoutDropout = try withoutGradients { try trainer.batchLoss(trainer.batch(at: 0)) }.value.scalar
        try trainer.run(stoppingAfter: 1)
        #expect(trainer.history[0].loss != Double(withoutDropout))
    }

    // MARK: Failure and bookkeeping

    @Test(arguments: [Double.nan, .infinity])
    func nonFiniteLossStopsTrainingBeforeTheUpdate(value: Double) throws {
        let problem = SeparableProblem(count: 10, seed: 1)
        var calls = 0
        var model: MultilayerPerceptron<Double>!
        let (trainer, m) = bookkeepingTrainer(
            steps: 10,
            batchLoss: { indices in
                defer { calls += 1 }
                return calls == 3 ? Variable(Tensor(value)) : problem.loss(model, indices)
            })
        model = m
        var parametersAfterStep3: [Tensor<Double>] = []
        trainer.onRecord = { if $0.step == 3 { parametersAfterStep3 = m.parameters.map(\.value) } }
        let error = #expect(throws: TrainingError.self) { try trainer.run() }
        guard case let .nonFiniteLoss(step, loss)? = error else {
            Issue.record("expected nonFiniteLoss, got \(String(describing: error))")
            return
        }
        #expect(step == 3)
        #expect(value.isNaN ? loss.isNaN : loss == value)
        #expect(trainer.step == 3 && trainer.history.count == 3 && trainer.optimizer.stepCount == 3)
        #expect(m.parameters.map(\.value) == parametersAfterStep3, "the non-finite step must not update the parameters")
        #expect("\(error!)".contains("step 3"))
    }

    @Test func batchesArePermutationsOfAllExamplesInEachEpoch() {
        let (trainer, _) = bookkeepingTrainer(steps: 12, exampleCount: 10, batchSize: 3, seed: 5)
        var orders: [[Int]] = []
        for epoch in 0..<3 {
            let batches = (0..<4).map { trainer.batch(at: 4 * epoch + $0) }
            #expect(batches.map(\.count) == [3, 3, 3, 1], "epoch \(epoch)")
            let order = batches.flatMap { $0 }
            #expect(order.sorted() == Array(0..<10), "epoch \(epoch) is not a permutation: \(order)")
            orders.append(order)
        }
        #expect(Set(orders).count == 3, "epochs repeat an order: \(orders)")
        #expect(orders[0] != Array(0..<10), "the first epoch is not shuffled")
        #expect(trainer.batch(at: 6) == trainer.batch(at: 6))
        let (other, _) = bookkeepingTrainer(steps: 12, exampleCount: 10, batchSize: 3, seed: 6)
        #expect((0..<4).flatMap { other.batch(at: $0) } != orders[0], "another seed gives the same order")
    }

    @Test func validationLossIsRecordedAtTheIntervalAndAtTheEnd() throws {
        var validationCalls = 0
        var model: MultilayerPerceptron<Double>!
        var trainingModeInBatches: [Bool] = []
        let problem = SeparableProblem(count: 10, seed: 1)
        let (trainer, m) = bookkeepingTrainer(
            steps: 7, validationInterval: 3,
            batchLoss: { indices in
                trainingModeInBatches.append(model.isTraining)
                return problem.loss(model, indices)
            },
            validationLoss: {
                validationCalls += 1
                #expect(!model.isTraining, "validation must run in evaluation mode")
                #expect(!GradientRecording.isRecording, "validation must not record gradients")
                return Double(100 + validationCalls)
            })
        model = m
        var seen: [TrainingRecord] = []
        trainer.onRecord = { seen.append($0) }
        try trainer.run()
        #expect(trainer.history.map(\.validationLoss) == [nil, nil, 101, nil, nil, 102, 103])
        #expect(seen == trainer.history)
        #expect(trainingModeInBatches == Array(repeating: true, count: 7), "steps after a validation must train with dropout on")
        #expect(!m.isTraining, "the model is left in evaluation mode")
        #expect(trainer.history.allSatisfy { $0.learningRate == 0.1 })
    }

    @Test func validationIntervalZeroNeverValidates() throws {
        var calls = 0
        let (trainer, _) = bookkeepingTrainer(
            steps: 4, validationInterval: 0,
            validationLoss: {
                calls += 1; return 0
            })
        try trainer.run()
        #expect(calls == 0 && trainer.history.allSatisfy { $0.validationLoss == nil })
    }

    @Test func recordsCarryTheScheduledLearningRate() throws {
        let problem = SeparableProblem(count: 12, seed: 1)
        let model = MultilayerPerceptron<Double>(sizes: [2, 4, 2], seed: 2)
        let optimizer = SGD(parameters: model.parameters, learningRate: 99)
        let schedule = LearningRateSchedule.warmupCosine(peak: 0.2, warmupSteps: 2, totalSteps: 6, minimum: 0.01)
        let trainer = Trainer(
            model: model, optimizer: optimizer, configuration: TrainingConfiguration(steps: 6, batchSize: 4, schedule: schedule),
            exampleCount: 12, batchLoss: { problem.loss(model, $0) })
        trainer.showsProgress = false
        try trainer.run()
        #expect(trainer.history.map(\.learningRate) == (0..<6).map { schedule.learningRate(at: $0) })
        #expect(optimizer.learningRate == schedule.learningRate(at: 5))
    }

    @Test func checkpointsAreWrittenAtTheIntervalAndAtTheEnd() throws {
        let directory = try TemporaryDirectory()
        let url = directory.file("run/checkpoint.safetensors")
        let (trainer, _) = bookkeepingTrainer(steps: 5, checkpointInterval: 2, checkpoint: url)
        var stepOnDiskWhenRecorded: [Int?] = []
        trainer.onRecord = { _ in stepOnDiskWhenRecorded.append(try? TrainingCheckpoint<Double>(url: url).load()?.step) }
        try trainer.run()
        // Each record is made before that step's save: the file lags by the save interval.
        #expect(stepOnDiskWhenRecorded == [nil, nil, 2, 2, 4])
        #expect(try TrainingCheckpoint<Double>(url: url).load()?.step == 5)
    }

    @Test func resumeWithoutACheckpointStartsAtZero() throws {
        let directory = try TemporaryDirectory()
        let (withFile, _) = bookkeepingTrainer(steps: 3, checkpoint: directory.file("absent.safetensors"))
        #expect(try withFile.resumeIfPossible() == 0)
        let (withoutFile, _) = bookkeepingTrainer(steps: 3)
        #expect(try withoutFile.resumeIfPossible() == 0)
        #expect(withoutFile.step == 0 && withoutFile.history.isEmpty)
    }
}
