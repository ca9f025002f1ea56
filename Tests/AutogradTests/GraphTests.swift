import Autograd
import Testing
import TensorCore
import _TestSupport

@Suite("Graph recording: accumulation, no-grad scope, hooks")
struct GraphTests {
    @Test func valueUsedTwiceAccumulatesCotangents() {
        // y = x·x + x  ⇒  dy/dx = 2x + 1
        let x = Variable(Tensor<Double>([1.5, -2]), requiresGradient: true)
        let y = (x * x + x).sum()
        #expect(gradients(of: y, at: [x])[0].value == Tensor([4, -3]))
    }

    @Test func intermediateUsedInManyBranchesAccumulates() {
        // h = exp(x); y = Σ h² + Σ h + Σ tanh(h)  ⇒  dy/dx = (2h + 1 + 1 − tanh²h)·h
        let values: [Double] = [0.2, -0.7, 1.1]
        let x = Variable(Tensor(values), requiresGradient: true)
        let h = x.exp()
        let y = h.squared().sum() + h.sum() + h.tanh().sum()
        let hv = Tensor(values).exp()
        let expected = (hv * 2 + 2 - hv.tanh().squared()) * hv
        let result = compare(gradients(of: y, at: [x])[0].value, expected, tolerance: 1e-14, "dy/dx")
        #expect(result.passed, "\(result)")
    }

    @Test func nothingIsRecordedWithoutGradients() {
        let x = Variable(Tensor<Double>([1, 2]), requiresGradient: true)
        let inside = withoutGradients { () -> Variable<Double> in
            #expect(!GradientRecording.isRecording)
            return (x * x).exp().sum()
        }
        #expect(!inside.requiresGradient && inside.node == nil, "an op inside the no-grad scope was recorded")
        #expect(gradients(of: inside, at: [x])[0].value == Tensor.zeros(shape: [2]))
        #expect(GradientRecording.isRecording)
        let outside = (x * x).sum()
        #expect(outside.requiresGradient)
    }

    @Test func recordingCanBeForcedInsideNoGradScope() {
        let x = Variable(Tensor<Double>([3]), requiresGradient: true)
        let y = withoutGradients { withGradients { (x * x).sum() } }
        #expect(gradients(of: y, at: [x])[0].value == Tensor([6]))
    }

    @Test func opsOnConstantsAreNotRecorded() {
        let a = Variable(Tensor<Double>([1, 2])), b = Variable(Tensor<Double>([3, 4]))
        #expect((a * b + a).node == nil)
    }

    @Test func hookReceivesTheAccumulatedCotangentOnce() {
        // h = W x used twice: y = Σ w ⊙ tanh(h) + Σ h  ⇒  ∂y/∂h = w ⊙ (1 − tanh² h) + 1
        var generator = testGenerator(31)
        let x = Variable(Tensor<Double>.randomNormal(shape: [3, 4], using: &generator))
        let weight = Variable(Tensor<Double>.randomNormal(shape: [2, 4], using: &generator), requiresGradient: true)
        let w = Tensor<Double>.randomNormal(shape: [3, 2], using: &generator)
        let h = Variable.matmul(x, weight, transposeB: true)
        var received: [Tensor<Double>] = []
        h.registerHook { received.append($0) }
        let y = (h.tanh() * Variable(w)).sum() + h.sum()
        _ = gradients(of: y, at: [weight])
        #expect(received.count == 1)
        let expected = w * (1 - h.value.tanh().squared()) + 1
        let result = compare(received[0], expected, tolerance: 1e-14, "hook cotangent")
        #expect(result.passed, "\(result)")
    }

    @Test func hookRunsWhenOnlyTheHookNeedsTheBackwardPass() {
        let x = Variable(Tensor<Double>([1, 2]), requiresGradient: true)
        let h = x * 2
        var received: Tensor<Double>? = nil
        h.registerHook { received = $0 }
        backward(from: (h * h).sum())
        #expect(received == Tensor([4, 8]))
    }

    @Test func removedHookIsNotCalled() {
        let x = Variable(Tensor<Double>([1]), requiresGradient: true)
        let h = x * 2
        var calls = 0
        let handle = h.registerHook { _ in calls += 1 }
        _ = gradients(of: h.sum(), at: [x])
        handle.remove()
        _ = gradients(of: h.sum(), at: [x])
        #expect(calls == 1)
    }

    @Test func backwardSkipsBranchesThatNoRequestedValueNeeds() {
        // A custom recorded op whose rule counts its calls: asking only for ∂y/∂b must not run it.
        let a = Variable(Tensor<Double>([1, 2]), requiresGradient: true)
        let b = Variable(Tensor<Double>([3, 4]), requiresGradient: true)
        var calls = 0
        let counted = Variable.record(a.value * 2, name: "counted", inputs: [a]) { c in
            calls += 1
            return [c.cotangent * 2]
        }
        let y = (counted * b).sum()
        #expect(gradients(of: y, at: [b])[0].value == Tensor([2, 4]))
        #expect(calls == 0, "the rule of a branch no requested value needs ran \(calls) time(s)")
        #expect(gradients(of: y, at: [a])[0].value == Tensor([6, 8]))
        #expect(calls == 1)
    }
}
