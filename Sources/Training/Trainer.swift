import Autograd
import Datasets
import Foundation
import NeuralNetworks
import TensorCore

/// What to train for and how.
public struct TrainingConfiguration: Sendable, Equatable {
    public var steps: Int
    public var batchSize: Int
    public var schedule: LearningRateSchedule
    /// Clip gradients to this global norm; nil for no clipping.
    public var maximumGradientNorm: Double?
    /// Compute the validation loss every this many steps (and at the end); 0 for never.
    public var validationInterval: Int
    /// Save a checkpoint every this many steps (and at the end) when a checkpoint file is set; 0 for only at the end.
    public var checkpointInterval: Int
    public var seed: UInt64

    public init(
        steps: Int, batchSize: Int, schedule: LearningRateSchedule, maximumGradientNorm: Double? = 1,
        validationInterval: Int = 50, checkpointInterval: Int = 100, seed: UInt64 = 0
    ) {
        self.steps = steps
        self.batchSize = batchSize
        self.schedule = schedule
        self.maximumGradientNorm = maximumGradientNorm
        self.validationInterval = validationInterval
        self.checkpointInterval = checkpointInterval
        self.seed = seed
    }
}

/// One line of the training history.
public struct TrainingRecord: Codable, Equatable, Sendable {
    public var step: Int
    public var loss: Double
    public var learningRate: Double
    public var validationLoss: Double?

    public init(step: Int, loss: Double, learningRate: Double, validationLoss: Double? = nil) {
        self.step = step
        self.loss = loss
        self.learningRate = learningRate
        self.validationLoss = validationLoss
    }
}

/// Trains a module with an optimizer over an indexed dataset.
///
/// Everything random is a function of the seed and the step: the epoch's shuffled order
/// (``Batching/indexBatches(count:batchSize:shuffle:seed:epoch:dropLast:)``) and the dropout
/// streams (``Module/reseed(_:)``). A checkpoint therefore needs only the parameters, the
/// optimizer state and the step to resume exactly: the same losses follow as without the
/// interruption.
public final class Trainer<O: Optimizer> {
    public typealias Scalar = O.Scalar
    public let model: Module<Scalar>
    public let optimizer: O
    public let configuration: TrainingConfiguration
    public let exampleCount: Int
    /// The mean training loss of a batch of example indices (recorded, to be differentiated).
    public let batchLoss: ([Int]) throws -> Variable<Scalar>
    /// The validation loss (computed in evaluation mode without recording); nil for none.
    public let validationLoss: (() throws -> Double)?
    /// Where checkpoints go; nil for none.
    public let checkpoint: TrainingCheckpoint<Scalar>?
    public private(set) var history: [TrainingRecord] = []
    public private(set) var step = 0
    /// Receives each record as it is made (for logs).
    public var onRecord: ((TrainingRecord) -> Void)?
    /// Show a progress bar on standard error.
    public var showsProgress = true

    public init(
        model: Module<Scalar>, optimizer: O, configuration: TrainingConfiguration, exampleCount: Int,
        checkpoint: TrainingCheckpoint<Scalar>? = nil,
        batchLoss: @escaping ([Int]) throws -> Variable<Scalar>, validationLoss: (() throws -> Double)? = nil
    ) {
        precondition(exampleCount > 0, "training needs at least one example")
        self.model = model
        self.optimizer = optimizer
        self.configuration = configuration
        self.exampleCount = exampleCount
        self.checkpoint = checkpoint
        self.batchLoss = batchLoss
        self.validationLoss = validationLoss
    }

    /// The example indices of a step.
    public func batch(at step: Int) -> [Int] {
        let batchesPerEpoch = (exampleCount + configuration.batchSize - 1) / configuration.batchSize
        let epoch = step / batchesPerEpoch
        let batches = Batching.indexBatches(
            count: exampleCount, batchSize: configuration.batchSize, shuffle: true,
            seed: configuration.seed, epoch: epoch)
        return batches[step % batchesPerEpoch]
    }

    /// Restores the last checkpoint if one exists. Returns the step it resumes at.
    @discardableResult
    public func resumeIfPossible() throws -> Int {
        guard let checkpoint, let state = try checkpoint.load() else { return 0 }
        try model.load(state.parameters)
        try optimizer.restoreState(state.optimizerState, stepCount: state.step)
        step = state.step
        history = state.history
        return step
    }

    /// Trains until `configuration.steps`, or until `stoppingAfter` more steps (to interrupt a run in tests).
    public func run(stoppingAfter limit: Int? = nil) throws {
        let progress = showsProgress ? ProgressBar(total: configuration.steps, label: "train") : nil
        let end = Swift.min(configuration.steps, limit.map { step + $0 } ?? Int.max)
        let parameters = optimizer.parameters
        while step < end {
            model.train()
            model.reseed(configuration.seed &+ UInt64(step) &* 0xD1B5_4A32_D192_ED03)
            let indices = batch(at: step)
            let loss = try batchLoss(indices)
            let lossValue = Double(loss.value.scalar)
            guard lossValue.isFinite else {
                throw TrainingError.nonFiniteLoss(step: step, value: lossValue)
            }
            var grads = gradients(of: loss, at: parameters.map(\.variable)).map(\.value)
            if let maximum = configuration.maximumGradientNorm { GradientClipping.clip(&grads, maximumNorm: maximum) }
            let rate = configuration.schedule.learningRate(at: step)
            optimizer.learningRate = rate
            optimizer.step(gradients: grads)
            step += 1

            var record = TrainingRecord(step: step, loss: lossValue, learningRate: rate, validationLoss: nil)
            let validate = configuration.validationInterval > 0 && (step % configuration.validationInterval == 0 || step == configuration.steps)
            if validate, let validationLoss {
                model.evaluate()
                record.validationLoss = try withoutGradients { try validationLoss() }
                model.train()
                progress?.log(String(format: "step %d: loss %.4f, validation loss %.4f", step, lossValue, record.validationLoss!))
            }
            history.append(record)
            onRecord?(record)
            progress?.update(step, status: String(format: "loss %.3f", lossValue))
            let save =
                step == configuration.steps || step == end
                || (configuration.checkpointInterval > 0 && step % configuration.checkpointInterval == 0)
            if save, let checkpoint { try checkpoint.save(model: model, optimizer: optimizer, step: step, history: history) }
        }
        model.evaluate()
    }
}

public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case nonFiniteLoss(step: Int, value: Double)
    case malformedCheckpoint(path: String, reason: String)

    public var description: String {
        switch self {
        case let .nonFiniteLoss(step, value):
            return "the training loss became \(value) at step \(step); lower the learning rate or enable gradient clipping"
        case let .malformedCheckpoint(path, reason):
            return "checkpoint \(path): \(reason)"
        }
    }
}
