import Autograd
import Datasets
import Foundation
import NeuralNetworks
import TensorCore

/// What to train for and how.
public struct TrainingConfiguration: Sendable, Equatable {
    /// The number of optimizer steps to train for in all (a resumed run counts the steps already taken).
    public var steps: Int
    /// The number of examples per step; the last batch of an epoch may be smaller.
    public var batchSize: Int
    /// The learning rate of each step.
    public var schedule: LearningRateSchedule
    /// Clip gradients to this global norm; nil for no clipping.
    public var maximumGradientNorm: Double?
    /// Compute the validation loss every this many steps (and at the end); 0 for never.
    public var validationInterval: Int
    /// Save a checkpoint every this many steps (and at the end) when a checkpoint file is set; 0 for only at the end.
    public var checkpointInterval: Int
    /// Seeds the shuffled order of each epoch and the dropout streams.
    public var seed: UInt64

    /// Creates a configuration.
    ///
    /// - Parameters:
    ///   - steps: the number of optimizer steps in all.
    ///   - batchSize: examples per step.
    ///   - schedule: the learning rate of each step.
    ///   - maximumGradientNorm: clip to this global norm; nil for none.
    ///   - validationInterval: steps between validation losses; 0 for never.
    ///   - checkpointInterval: steps between checkpoints; 0 for only at the end.
    ///   - seed: seeds shuffling and dropout.
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
    /// The number of steps taken, counting this one (1 for the first).
    public var step: Int
    /// The mean training loss of the step's batch, before the update.
    public var loss: Double
    /// The learning rate the step used.
    public var learningRate: Double
    /// The validation loss after the step, when it was computed at this step; nil otherwise.
    public var validationLoss: Double?

    /// Creates a record.
    ///
    /// - Parameters:
    ///   - step: the number of steps taken, counting this one.
    ///   - loss: the batch's training loss before the update.
    ///   - learningRate: the learning rate of the step.
    ///   - validationLoss: the validation loss after the step, if computed.
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
    /// The scalar type of the model and the optimizer.
    public typealias Scalar = O.Scalar
    /// The module trained; left in evaluation mode when ``run(stoppingAfter:)`` returns.
    public let model: Module<Scalar>
    /// The optimizer, which holds the parameters updated.
    public let optimizer: O
    /// The number of steps, batch size, schedule, clipping, intervals and seed.
    public let configuration: TrainingConfiguration
    /// The number of examples in the training set; batches are drawn from `0..<exampleCount`.
    public let exampleCount: Int
    /// The mean training loss of a batch of example indices (recorded, to be differentiated).
    public let batchLoss: ([Int]) throws -> Variable<Scalar>
    /// The validation loss (computed in evaluation mode without recording); nil for none.
    public let validationLoss: (() throws -> Double)?
    /// Where checkpoints go; nil for none.
    public let checkpoint: TrainingCheckpoint<Scalar>?
    /// One record per step taken, in order; restored with a checkpoint.
    public private(set) var history: [TrainingRecord] = []
    /// The number of steps taken so far (restored by ``resumeIfPossible()``).
    public private(set) var step = 0
    /// Receives each record as it is made (for logs).
    public var onRecord: ((TrainingRecord) -> Void)?
    /// Show a progress bar on standard error.
    public var showsProgress = true

    /// Creates a trainer; nothing runs until ``run(stoppingAfter:)``.
    ///
    /// - Parameters:
    ///   - model: the module to train.
    ///   - optimizer: the optimizer over the model's trainable parameters.
    ///   - configuration: steps, batch size, schedule, clipping, intervals and seed.
    ///   - exampleCount: the number of training examples (positive).
    ///   - checkpoint: where to save resumable state; nil for none.
    ///   - batchLoss: the mean training loss of a batch of example indices, recorded for differentiation.
    ///   - validationLoss: the validation loss, computed in evaluation mode without gradients; nil for none.
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

/// A failure during training or while reading a checkpoint.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case nonFiniteLoss(step: Int, value: Double)
    case malformedCheckpoint(path: String, reason: String)

    /// A one-line message; for a non-finite loss it suggests a remedy.
    public var description: String {
        switch self {
        case let .nonFiniteLoss(step, value):
            return "the training loss became \(value) at step \(step); lower the learning rate or enable gradient clipping"
        case let .malformedCheckpoint(path, reason):
            return "checkpoint \(path): \(reason)"
        }
    }
}
