import Autograd
import Testing
import TensorCore
import _TestSupport

/// A 4 → 5 → 3 MLP with tanh and softmax cross-entropy whose parameters are one flat vector θ,
/// so that the dense Hessian is a plain matrix.
struct TinyMLP {
    static let shapes: [[Int]] = [[5, 4], [5], [3, 5], [3]]
    static var parameterCount: Int { shapes.map { $0.reduce(1, *) }.reduce(0, +) }
    let x: Tensor<Double>
    let labels = [0, 2, 1, 2, 0, 1]

    init() {
        var generator = testGenerator(21)
        x = Tensor.randomNormal(shape: [6, 4], using: &generator)
    }

    func loss(_ theta: Variable<Double>) -> Variable<Double> {
        var offset = 0
        var p: [Variable<Double>] = []
        for shape in Self.shapes {
            let n = shape.reduce(1, *)
            p.append(theta.sliced(along: 0, offset..<(offset + n)).reshaped(to: shape))
            offset += n
        }
        let h = (Variable.matmul(Variable(x), p[0], transposeB: true) + p[1]).tanh()
        let logits = Variable.matmul(h, p[2], transposeB: true) + p[3]
        return Variable.softmaxCrossEntropy(logits: logits, labels: labels)
    }
}

@Suite("Second order on a small MLP with tanh and softmax cross-entropy")
struct MultilayerHessianTests {
    let model = TinyMLP()
    let theta: Tensor<Double> = {
        var generator = testGenerator(22)
        return Tensor.randomNormal(shape: [TinyMLP.parameterCount], standardDeviation: 0.7, using: &generator)
    }()

    /// The oracle: the Hessian by central differences of first-order gradients (no second-order
    /// machinery involved), symmetrised.
    func finiteDifferenceHessian() -> Tensor<Double> {
        let jacobian = FiniteDifferences.jacobian(at: theta, step: 1e-5) { t in
            Differentiation.gradient(at: t) { model.loss($0) }
        }
        return (jacobian + jacobian.transposed()) * 0.5
    }

    @Test func hessianVectorProductMatchesDenseHessian() {
        let hessian = finiteDifferenceHessian()
        var generator = testGenerator(23)
        for trial in 0..<3 {
            let v = Tensor<Double>.randomNormal(shape: [TinyMLP.parameterCount], using: &generator)
            let hv = Differentiation.hvp(at: [theta], vector: [v]) { model.loss($0[0]) }[0]
            let result = compare(hv, Tensor.matvec(hessian, v), tolerance: 1e-7, "Hv, trial \(trial)")
            #expect(result.passed, "\(result)")
        }
    }

    @Test func denseHessianMatchesFiniteDifferencesAndIsSymmetric() {
        let observed = Differentiation.hessian(at: theta) { model.loss($0) }
        #expect(observed.shape == [TinyMLP.parameterCount, TinyMLP.parameterCount])
        let result = compare(observed, finiteDifferenceHessian(), tolerance: 1e-7, "H")
        #expect(result.passed, "\(result)")
        let symmetry = compare(observed, observed.transposed(), tolerance: 1e-12, "H vs Hᵀ")
        #expect(symmetry.passed, "\(symmetry)")
    }

    @Test func hessianVectorProductOnRecordedParameters() {
        // The same product from an already recorded graph over separate parameter tensors.
        let hessian = finiteDifferenceHessian()
        let theta = Variable(self.theta, requiresGradient: true)
        let loss = model.loss(theta)
        var generator = testGenerator(24)
        let v = Tensor<Double>.randomNormal(shape: [TinyMLP.parameterCount], using: &generator)
        let hv = Differentiation.hessianVectorProduct(of: loss, at: [theta], vector: [v])[0]
        let result = compare(hv, Tensor.matvec(hessian, v), tolerance: 1e-7, "Hv")
        #expect(result.passed, "\(result)")
    }
}
