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
    public typealias Scalar = Float
    public let base: any InfluenceTask<Float>
    private let loss: ([Int], LabelSource, inout SeededGenerator) -> TaskLoss<Float>
    private let measurement: ([Int]) -> TaskLoss<Float>
    private let outputs: ([Int]) -> (outputs: Variable<Float>, loss: (Variable<Float>) -> Variable<Float>)

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

    public var model: Module<Float> { base.model }
    public var trainingExampleCount: Int { base.trainingExampleCount }
    public var queryCount: Int { base.queryCount }
    public var trainingDataFingerprint: String { base.trainingDataFingerprint }
    public var queryDataFingerprint: String { base.queryDataFingerprint }
    public func trainingTokens(_ index: Int) -> [Int]? { base.trainingTokens(index) }

    public func trainingLoss(indices: [Int], labels: LabelSource, generator: inout SeededGenerator) -> TaskLoss<Float> {
        loss(indices, labels, &generator)
    }

    public func queryMeasurement(indices: [Int]) -> TaskLoss<Float> { measurement(indices) }

    public func trainingOutputs(indices: [Int]) -> (outputs: Variable<Float>, loss: (Variable<Float>) -> Variable<Float>) {
        outputs(indices)
    }
}
