import Autograd
import Testing
import TensorCore
import _TestSupport

@Suite("Function transforms: gradient, vjp, jvp, hvp, Hessian, Jacobian")
struct DifferentiationTests {
    @Test func secondDerivativeOfCubeIsSixX() {
        let xs: [Double] = [-2, -0.5, 0, 1, 3]
        let x = Variable(Tensor(xs), requiresGradient: true)
        let y = x.raised(to: 3).sum()
        let first = gradients(of: y, at: [x], createGraph: true)[0]
        #expect(first.requiresGradient, "a gradient taken with createGraph must be differentiable")
        let second = gradients(of: first.sum(), at: [x])[0]
        let r1 = compare(first.value, Tensor(xs.map { 3 * $0 * $0 }), tolerance: 1e-14, "d/dx x³")
        let r2 = compare(second.value, Tensor(xs.map { 6 * $0 }), tolerance: 1e-14, "d²/dx² x³")
        #expect(r1.passed, "\(r1)")
        #expect(r2.passed, "\(r2)")
    }

    @Test func thirdDerivativeOfExpIsExp() {
        let x = Variable(Tensor<Double>([0.3, -1.2]), requiresGradient: true)
        var g = x.exp().sum()
        for _ in 0..<3 { g = gradients(of: g, at: [x], createGraph: true)[0].sum() }
        let d3 = gradients(of: g, at: [x])[0]  // the fourth derivative, still exp
        let result = compare(d3.value, Tensor<Double>([0.3, -1.2]).exp(), tolerance: 1e-14, "d⁴/dx⁴ exp")
        #expect(result.passed, "\(result)")
    }

    @Test(arguments: [false, true])
    func thirdDerivativeOfGeluMatchesFiniteDifferences(approximate: Bool) {
        // The rule of GELU's first derivative is composite, so third derivatives must be exact too.
        let points: [Double] = [-1.7, -0.2, 0.4, 2.1]
        func second(_ t: Tensor<Double>) -> Tensor<Double> {
            let x = Variable(t, requiresGradient: true)
            let d1 = gradients(of: x.gelu(approximate: approximate).sum(), at: [x], createGraph: true)[0]
            return gradients(of: d1.sum(), at: [x])[0].value
        }
        let x = Variable(Tensor(points), requiresGradient: true)
        var g = x.gelu(approximate: approximate).sum()
        for _ in 0..<2 { g = gradients(of: g, at: [x], createGraph: true)[0].sum() }
        let third = gradients(of: g, at: [x])[0].value
        let h = 1e-5
        let numeric = (second(Tensor(points) + h) - second(Tensor(points) - h)) / (2 * h)
        let result = compare(third, numeric, tolerance: 1e-7, "GELU‴")
        #expect(result.passed, "\(result)")
    }

    @Test func fusedCrossEntropyEqualsItsComposition() {
        var generator = testGenerator(41)
        let z = Variable(Tensor<Double>.randomNormal(shape: [6, 7], standardDeviation: 3, using: &generator), requiresGradient: true)
        let labels = [0, 6, 3, 3, 1, 5]
        let w = Variable(Tensor<Double>.randomNormal(shape: [6], using: &generator))
        let fused = (z.crossEntropy(labels: labels) * w).sum()
        let composed = (-(z.logSoftmax(alongAxis: 1).gather(along: 1, indices: labels).reshaped(to: [6])) * w).sum()
        let r0 = compare(fused.value, composed.value, tolerance: 1e-14, "value")
        #expect(r0.passed, "\(r0)")
        let gf = gradients(of: fused, at: [z], createGraph: true)[0], gc = gradients(of: composed, at: [z], createGraph: true)[0]
        let r1 = compare(gf.value, gc.value, tolerance: 1e-13, "gradient")
        #expect(r1.passed, "\(r1)")
        // Second order: the gradient of ⟨∇, v⟩.
        let v = Variable(Tensor<Double>.randomNormal(shape: [6, 7], using: &generator))
        let hf = gradients(of: (gf * v).sum(), at: [z])[0], hc = gradients(of: (gc * v).sum(), at: [z])[0]
        let r2 = compare(hf.value, hc.value, tolerance: 1e-12, "Hessian–vector product")
        #expect(r2.passed, "\(r2)")
    }

    @Test func vectorJacobianProductMatchesFiniteDifferenceJacobian() {
        var generator = testGenerator(3)
        let x = Tensor<Double>.randomNormal(shape: [4], using: &generator)
        let w = Tensor<Double>.randomNormal(shape: [3, 4], using: &generator)
        let f: (Variable<Double>) -> Variable<Double> = { Variable.matmul(Variable(w), $0.reshaped(to: [4, 1])).tanh().reshaped(to: [3]) }
        let u = Tensor<Double>([0.5, -1, 2])
        let (_, vjp) = Differentiation.vjp(at: [x], cotangent: u) { f($0[0]) }
        let jacobian = FiniteDifferences.jacobian(at: x) { t in withoutGradients { f(Variable(t)).value } }
        let expected = Tensor.matvec(jacobian, u, transpose: true)
        let result = compare(vjp[0], expected, tolerance: 1e-8, "Jᵀu")
        #expect(result.passed, "\(result)")
    }

    @Test func jacobianVectorProductMatchesFiniteDifferenceJacobian() {
        var generator = testGenerator(4)
        let x = Tensor<Double>.randomNormal(shape: [2, 3], using: &generator)
        let t = Tensor<Double>.randomNormal(shape: [2, 3], using: &generator)
        let f: (Variable<Double>) -> Variable<Double> = { ($0.exp() * $0.sigmoid()).logSoftmax(alongAxis: 1) }
        let (value, tangent) = Differentiation.jvp(at: [x], tangents: [t]) { f($0[0]) }
        let jacobian = FiniteDifferences.jacobian(at: x) { v in withoutGradients { f(Variable(v)).value } }
        let expected = Tensor.matvec(jacobian, t.flattened()).reshaped(to: [2, 3])
        let result = compare(tangent, expected, tolerance: 1e-8, "J·t")
        #expect(result.passed, "\(result)")
        #expect(value == withoutGradients { f(Variable(x)).value })
    }

    @Test func jacobianMatchesFiniteDifferences() {
        var generator = testGenerator(5)
        let x = Tensor<Double>.randomNormal(shape: [3], using: &generator)
        let f: (Variable<Double>) -> Variable<Double> = { Variable.stacked([$0.sum(), ($0 * $0).sum(), $0.tanh().sum()]) }
        let observed = Differentiation.jacobian(at: x, of: f)
        let expected = FiniteDifferences.jacobian(at: x) { v in withoutGradients { f(Variable(v)).value } }
        let result = compare(observed, expected, tolerance: 1e-8, "Jacobian")
        #expect(result.passed, "\(result)")
    }

    @Test func gradientOfUnusedInputIsZero() {
        let x = Variable(Tensor<Double>([1, 2]), requiresGradient: true)
        let unused = Variable(Tensor<Double>([3, 4, 5]), requiresGradient: true)
        let g = gradients(of: (x * x).sum(), at: [x, unused])
        #expect(g[1].value == Tensor.zeros(shape: [3]))
        #expect(g[0].value == Tensor([2, 4]))
    }

    @Test func gradientOfConstantIsZero() {
        let x = Variable(Tensor<Double>([1, 2]), requiresGradient: true)
        let constant = Variable(Tensor<Double>(3))
        #expect(gradients(of: constant, at: [x])[0].value == Tensor.zeros(shape: [2]))
    }

    @Test func gradientWithRespectToIntermediateValue() {
        let x = Variable(Tensor<Double>([0.5, -1]), requiresGradient: true)
        let h = x * 3
        let y = h.tanh().sum()
        let g = gradients(of: y, at: [h])[0]
        let expected = 1 - (Tensor<Double>([0.5, -1]) * 3).tanh().squared()
        let result = compare(g.value, expected, tolerance: 1e-14, "∂y/∂h")
        #expect(result.passed, "\(result)")
    }

    @Test func floatGradientsAgreeWithDouble() {
        var generator = testGenerator(8)
        let x = Tensor<Double>.randomNormal(shape: [5, 4], using: &generator)
        func f<T: TensorScalar>(_ v: Variable<T>) -> Variable<T> { v.tanh().logSumExp(alongAxis: 1).sum() }
        let g64 = Differentiation.gradient(at: x) { f($0) }
        let g32 = Differentiation.gradient(at: Tensor<Float>(x)) { f($0) }
        let result = compare(g32, g64, tolerance: 1e-5, "Float vs Double")
        #expect(result.passed, "\(result)")
    }
}
