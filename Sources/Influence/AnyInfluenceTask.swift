import Autograd
import NeuralNetworks
import TensorCore

/// Any Float ``InfluenceTask`` behind one concrete type: what curvature strategies work on.
///
/// A strategy is reached through the registry as an existential, so code it runs that is generic
/// over the task would run unspecialised — looking up generic metadata at every tensor operation,
/// two to three times slower on small models. Strategies therefore take this one type, for which
/// the engine (factor fits, curvature operators, scoring) is compiled once and specialised, while
/// the wrapped task's own methods are captured where its type is known, so that they run as
/// compiled for it too.
public final class AnyInfluenceTask: InfluenceTask {
    /// Erased tasks are always Float.
    public typealias Scalar = Float
    /// The wrapped task (never itself an ``AnyInfluenceTask``: wrapping one unwraps it).
    public let base: any InfluenceTask<Float>
    private let loss: ([Int], LabelSource, inout SeededGenerator) -> TaskLoss<Float>
    private let measurement: ([Int]) -> TaskLoss<Float>
    private let outputs: ([Int]) -> (outputs: Variable<Float>, loss: (Variable<Float>) -> Variable<Float>)

    /// Wraps `task`, capturing its loss, measurement and output methods while its concrete type is known.
    ///
    /// Wrapping an ``AnyInfluenceTask`` reuses its base and captured methods instead of nesting.
    public init<Task: InfluenceTask>(_ task: Task) where Task.Scalar == Float {
        if let erased = task as? AnyInfluenceTask {
            base = erased.base
            loss = erased.loss
            measurement = erased.measurement
            outputs = erased.outputs
            return
        }
        base = task
        loss = { task.trainingLoss(indices: $0, labels: $1, generator: &$2) }
        measurement = { task.queryMeasurement(indices: $0) }
        outputs = { task.trainingOutputs(indices: $0) }
    }

    /// The wrapped task's model.
    public var model: Module<Float> { base.model }
    /// The wrapped task's number of training examples.
    public var trainingExampleCount: Int { base.trainingExampleCount }
    /// The wrapped task's number of queries.
    public var queryCount: Int { base.queryCount }
    /// The wrapped task's training-data fingerprint.
    public var trainingDataFingerprint: String { base.trainingDataFingerprint }
    /// The wrapped task's query-data fingerprint.
    public var queryDataFingerprint: String { base.queryDataFingerprint }
    /// The wrapped task's tokens of training example `index`, or nil for non-sequence data.
    public func trainingTokens(_ index: Int) -> [Int]? { base.trainingTokens(index) }

    /// Calls the wrapped task's ``InfluenceTask/trainingLoss(indices:labels:generator:)``, compiled for its concrete type.
    public func trainingLoss(indices: [Int], labels: LabelSource, generator: inout SeededGenerator) -> TaskLoss<Float> {
        loss(indices, labels, &generator)
    }

    /// Calls the wrapped task's ``InfluenceTask/queryMeasurement(indices:)``, compiled for its concrete type.
    public func queryMeasurement(indices: [Int]) -> TaskLoss<Float> { measurement(indices) }

    /// Calls the wrapped task's ``InfluenceTask/trainingOutputs(indices:)``, compiled for its concrete type.
    public func trainingOutputs(indices: [Int]) -> (outputs: Variable<Float>, loss: (Variable<Float>) -> Variable<Float>) {
        outputs(indices)
    }
}
