import NeuralNetworks
import Testing
import TensorCore
import Training
import _TestSupport

/// The fused update loops are chosen by scalar type at run time; the Double loop is checked
/// against PyTorch in `OptimizerTests`, these check the Float loop and closed forms of both.
@Suite("Fused optimizer updates: the Float loop and closed forms")
struct FusedUpdatesTests {
    /// The Float loop must follow the float64 PyTorch run to single precision over all five steps
    /// (a loop reading the buffers as the wrong type would give garbage, not a small error).
    @Test(arguments: OptimizerReferenceValues.trajectories)
    func floatOptimizerFollowsPyTorchToSinglePrecision(_ reference: OptimizerReferenceTrajectory) {
        let parameters: [Parameter<Float>] = referenceParameters()
        let optimizer = ReferenceOptimizer(reference, parameters: parameters)
        for step in 0..<reference.learningRates.count {
            optimizer.takeStep(reference, step: step)
            expectReferenceParameters(parameters, reference, afterStep: step, tolerance: 2e-6)
        }
    }

    @Test func adamWWithZeroGradientOnlyDecaysTheWeights() {
        // m = v = 0 after a zero gradient, so the Adam term is 0 / (0 + ε) = 0 and only the
        // decoupled decay θ(1 − ηλ) remains.
        let theta = Tensor<Double>(shape: [2, 2], scalars: [1.5, -2, 0.25, 8])
        let p = Parameter(theta), q = Parameter(Tensor<Float>(theta))
        AdamW(parameters: [p], learningRate: 0.1, weightDecay: 0.5).step(gradients: [Tensor.zeros(shape: [2, 2])])
        AdamW(parameters: [q], learningRate: 0.1, weightDecay: 0.5).step(gradients: [Tensor.zeros(shape: [2, 2])])
        #expect(p.value == theta * 0.95)
        #expect(q.value == Tensor<Float>(theta) * 0.95)
    }

    @Test func adamWFirstStepMovesEachWeightByTheLearningRate() {
        // At t = 1 the bias-corrected m̂ = g and v̂ = g², so without decay each weight moves by
        // η·g/(|g| + ε) ≈ η·sign(g), whatever the gradient's size.
        let p = Parameter(Tensor<Double>([0, 0, 0, 0]))
        AdamW(parameters: [p], learningRate: 0.01, weightDecay: 0).step(gradients: [Tensor([1e3, -2, 1e-3, -7e-5])])
        let g = [1e3, -2, 1e-3, -7e-5]
        let expected = Tensor<Double>(g.map { -0.01 * $0 / (abs($0) + 1e-8) })
        let r = compare(p.value, expected, tolerance: 1e-15, "first AdamW step")
        #expect(r.passed, "\(r)")
    }

    @Test func sgdWithoutMomentumIsThetaMinusRateTimesDecayedGradient() {
        let theta = Tensor<Float>([1, -2, 4])
        let p = Parameter(theta)
        SGD(parameters: [p], learningRate: 0.5, weightDecay: 0.25).step(gradients: [Tensor([2, 2, -2])])
        // θ − η(g + λθ) = [1 − 0.5(2 + 0.25), −2 − 0.5(2 − 0.5), 4 − 0.5(−2 + 1)]
        #expect(p.value == Tensor([-0.125, -2.75, 4.5]))
    }
}
