import NeuralNetworks
import Testing
import TensorCore
import Training
import _TestSupport

/// Parameters at the fixture's initial values, in the fixture's shapes.
func referenceParameters<Scalar: TensorScalar>(_: Scalar.Type = Scalar.self) -> [Parameter<Scalar>] {
    zip(OptimizerReferenceValues.initialParameters, OptimizerReferenceValues.shapes).map { values, shape in
        Parameter(Tensor<Scalar>(Tensor<Double>(shape: shape, scalars: values)))
    }
}

/// The fixture's gradients of one step, as tensors.
func referenceGradients<Scalar: TensorScalar>(step: Int, _: Scalar.Type = Scalar.self) -> [Tensor<Scalar>] {
    zip(OptimizerReferenceValues.gradients[step], OptimizerReferenceValues.shapes).map { values, shape in
        Tensor<Scalar>(Tensor<Double>(shape: shape, scalars: values))
    }
}

/// The optimizer a reference trajectory names, SGD or AdamW, behind one interface (the
/// `Optimizer` protocol has no primary associated type, so `any Optimizer<Double>` is not available).
struct ReferenceOptimizer<Scalar: TensorScalar> {
    let setLearningRate: (Double) -> Void
    let step: ([Tensor<Scalar>]) -> Void
    let stepCount: () -> Int
    let exportState: () -> [(name: String, value: Tensor<Scalar>)]
    let restoreState: ([String: Tensor<Scalar>], Int) throws -> Void

    init<O: Optimizer>(_ optimizer: O) where O.Scalar == Scalar {
        setLearningRate = { optimizer.learningRate = $0 }
        step = { optimizer.step(gradients: $0) }
        stepCount = { optimizer.stepCount }
        exportState = { optimizer.exportState() }
        restoreState = { try optimizer.restoreState($0, stepCount: $1) }
    }

    init(_ reference: OptimizerReferenceTrajectory, parameters: [Parameter<Scalar>]) {
        if reference.optimizer == "SGD" {
            self.init(
                SGD(
                    parameters: parameters, learningRate: reference.learningRates[0], momentum: reference.momentum,
                    weightDecay: reference.weightDecay))
        } else {
            self.init(
                AdamW(
                    parameters: parameters, learningRate: reference.learningRates[0], beta1: reference.beta1,
                    beta2: reference.beta2, epsilon: reference.epsilon, weightDecay: reference.weightDecay))
        }
    }

    /// The exported state by name.
    var stateByName: [String: Tensor<Scalar>] { Dictionary(uniqueKeysWithValues: exportState().map { ($0.name, $0.value) }) }

    /// Sets the step's learning rate, as the trainer's schedule does, and applies the step's gradients.
    func takeStep(_ reference: OptimizerReferenceTrajectory, step index: Int) {
        setLearningRate(reference.learningRates[index])
        step(referenceGradients(step: index))
    }
}

/// Checks every parameter against the PyTorch values after `step`.
func expectReferenceParameters<Scalar>(
    _ parameters: [Parameter<Scalar>], _ reference: OptimizerReferenceTrajectory,
    afterStep step: Int, tolerance: Double,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    for (index, parameter) in parameters.enumerated() {
        let expected = Tensor<Double>(
            shape: OptimizerReferenceValues.shapes[index],
            scalars: reference.parametersAfterStep[step][index])
        let r = compare(parameter.value, expected, tolerance: tolerance, "\(reference.name) step \(step + 1) parameter \(index)")
        #expect(r.passed, "\(r)", sourceLocation: sourceLocation)
    }
}

@Suite("Optimizers: SGD and AdamW against PyTorch")
struct OptimizerTests {
    /// The trajectories with a constant rate check the update rules; those whose rate changes
    /// before every step (including a step at rate 0) check that ``Optimizer/learningRate`` is
    /// read at each step, as a schedule needs.
    @Test(arguments: OptimizerReferenceValues.trajectories)
    func doubleOptimizerFollowsPyTorchStepByStep(_ reference: OptimizerReferenceTrajectory) {
        let parameters: [Parameter<Double>] = referenceParameters()
        let optimizer = ReferenceOptimizer(reference, parameters: parameters)
        for step in 0..<reference.learningRates.count {
            optimizer.takeStep(reference, step: step)
            #expect(optimizer.stepCount() == step + 1)
            expectReferenceParameters(parameters, reference, afterStep: step, tolerance: 1e-12)
        }
    }

    @Test func changingTheLearningRateChangesTheTrajectory() {
        // Guards the fixture itself: if the changing-rate runs coincided with the constant-rate
        // ones, the test above could not tell whether the rate is honoured.
        let byName = Dictionary(uniqueKeysWithValues: OptimizerReferenceValues.trajectories.map { ($0.name, $0) })
        for (constant, changing) in [("sgdMomentum", "sgdMomentumChangingRate"), ("adamW", "adamWChangingRate")] {
            let a = byName[constant]!.parametersAfterStep.last!, b = byName[changing]!.parametersAfterStep.last!
            #expect(a != b, "\(constant) and \(changing) end at the same parameters")
        }
    }

    @Test func aStepAtRateZeroLeavesParametersButNotMomentumUnchanged() {
        let parameters: [Parameter<Double>] = referenceParameters()
        let optimizer = SGD(parameters: parameters, learningRate: 0.1, momentum: 0.9)
        optimizer.step(gradients: referenceGradients(step: 0))
        let before = parameters.map(\.value)
        optimizer.learningRate = 0
        optimizer.step(gradients: referenceGradients(step: 1))
        #expect(parameters.map(\.value) == before)
        let velocity = Dictionary(uniqueKeysWithValues: optimizer.exportState().map { ($0.name, $0.value) })
        // b = 0.9 g₀ + g₁ after the two steps.
        let expected =
            0.9 * Tensor<Double>(shape: [3], scalars: OptimizerReferenceValues.gradients[0][1])
            + Tensor<Double>(shape: [3], scalars: OptimizerReferenceValues.gradients[1][1])
        let r = compare(velocity["sgd.velocity.1"]!, expected, tolerance: 1e-15, "velocity of parameter 1")
        #expect(r.passed, "\(r)")
    }

    /// Exports the state after two steps, restores it into a fresh optimizer over copies of the
    /// parameters, and continues both: the remaining steps must agree bit for bit (and with PyTorch).
    @Test(arguments: OptimizerReferenceValues.trajectories.filter { $0.name == "sgdMomentum" || $0.name == "adamW" })
    func exportedStateRestoresIntoAFreshOptimizerAndContinuesIdentically(_ reference: OptimizerReferenceTrajectory) throws {
        let parameters: [Parameter<Double>] = referenceParameters()
        let original = ReferenceOptimizer(reference, parameters: parameters)
        for step in 0..<2 { original.takeStep(reference, step: step) }

        let copies = parameters.map { Parameter($0.value) }
        let restored = ReferenceOptimizer(reference, parameters: copies)
        let state = original.stateByName
        #expect(!state.isEmpty, "\(reference.name) exported no state")
        try restored.restoreState(state, original.stepCount())
        #expect(restored.stepCount() == 2)

        for step in 2..<reference.learningRates.count {
            original.takeStep(reference, step: step)
            restored.takeStep(reference, step: step)
            #expect(copies.map(\.value) == parameters.map(\.value), "\(reference.name) diverged at step \(step + 1)")
        }
        expectReferenceParameters(copies, reference, afterStep: reference.learningRates.count - 1, tolerance: 1e-12)
    }

    @Test func restoringWithoutStateDiffersFromTheUninterruptedRun() throws {
        // The counterpart of the round trip: a fresh AdamW told only the step count (zero moments)
        // must not land on the reference, or the round-trip test would prove nothing.
        let reference = OptimizerReferenceValues.trajectories.first { $0.name == "adamW" }!
        let parameters: [Parameter<Double>] = referenceParameters()
        let original = ReferenceOptimizer(reference, parameters: parameters)
        for step in 0..<2 { original.takeStep(reference, step: step) }
        let copies = parameters.map { Parameter($0.value) }
        let fresh = ReferenceOptimizer(reference, parameters: copies)
        let zeros = original.stateByName.mapValues { Tensor<Double>.zeros(shape: $0.shape) }
        try fresh.restoreState(zeros, 2)
        for step in 2..<5 { fresh.takeStep(reference, step: step) }
        let expected = Tensor<Double>(shape: [2, 3], scalars: reference.parametersAfterStep[4][0])
        #expect(!compare(copies[0].value, expected, tolerance: 1e-6).passed)
    }

    @Test func plainSGDHasNoStateAndRestoresFromNothing() throws {
        let parameters: [Parameter<Double>] = referenceParameters()
        let optimizer = SGD(parameters: parameters, learningRate: 0.1)
        optimizer.step(gradients: referenceGradients(step: 0))
        #expect(optimizer.exportState().isEmpty)
        try optimizer.restoreState([:], stepCount: 7)
        #expect(optimizer.stepCount == 7)
    }

    @Test func restoringAdamWWithAMissingMomentThrowsAndChangesNothing() throws {
        let reference = OptimizerReferenceValues.trajectories.first { $0.name == "adamW" }!
        let parameters: [Parameter<Double>] = referenceParameters()
        let optimizer = ReferenceOptimizer(reference, parameters: parameters)
        for step in 0..<2 { optimizer.takeStep(reference, step: step) }
        var state = optimizer.stateByName
        #expect(Set(state.keys) == ["adamw.m.0", "adamw.m.1", "adamw.v.0", "adamw.v.1"])
        state["adamw.v.1"] = nil
        #expect(throws: OptimizerError.missingState(name: "adamw.v.1")) {
            try optimizer.restoreState(state, 99)
        }
        // The failed restore kept the moments and the step count: the run still follows PyTorch.
        #expect(optimizer.stepCount() == 2)
        for step in 2..<5 { optimizer.takeStep(reference, step: step) }
        expectReferenceParameters(parameters, reference, afterStep: 4, tolerance: 1e-12)
    }

    @Test func restoringAdamWWithAWrongShapeThrowsNamingTheEntryAndShapes() throws {
        let parameters: [Parameter<Double>] = referenceParameters()
        let optimizer = AdamW(parameters: parameters, learningRate: 1e-2)
        var state = Dictionary(uniqueKeysWithValues: optimizer.exportState().map { ($0.name, $0.value) })
        state["adamw.m.0"] = Tensor.zeros(shape: [3, 2])
        let expected = OptimizerError.stateShapeMismatch(name: "adamw.m.0", expected: [2, 3], found: [3, 2])
        #expect(throws: expected) { try optimizer.restoreState(state, stepCount: 1) }
        #expect(expected.description.contains("adamw.m.0") && expected.description.contains("[3, 2]"))
    }

    @Test func restoringSGDWithMissingOrWrongShapedVelocityThrows() throws {
        let parameters: [Parameter<Double>] = referenceParameters()
        let optimizer = SGD(parameters: parameters, learningRate: 0.1, momentum: 0.9)
        optimizer.step(gradients: referenceGradients(step: 0))
        let state = Dictionary(uniqueKeysWithValues: optimizer.exportState().map { ($0.name, $0.value) })
        #expect(Set(state.keys) == ["sgd.velocity.0", "sgd.velocity.1"])
        var missing = state; missing["sgd.velocity.0"] = nil
        #expect(throws: OptimizerError.missingState(name: "sgd.velocity.0")) { try optimizer.restoreState(missing, stepCount: 1) }
        var wrong = state; wrong["sgd.velocity.1"] = Tensor.zeros(shape: [1, 3])
        #expect(throws: OptimizerError.stateShapeMismatch(name: "sgd.velocity.1", expected: [3], found: [1, 3])) {
            try optimizer.restoreState(wrong, stepCount: 1)
        }
    }
}
