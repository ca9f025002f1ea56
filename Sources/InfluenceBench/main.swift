import Autograd
import Foundation
import TensorCore

// The benchmark: every speed figure is a ratio to the machine's own sgemm throughput, measured in
// the same run, so that numbers from different machines can be compared.

setvbuf(stdout, nil, _IOLBF, 0)

/// Median wall time in seconds of `body` over `repeats` runs after `warmup` unmeasured runs.
func medianSeconds(warmup: Int = 2, repeats: Int, _ body: () -> Void) -> Double {
    for _ in 0..<warmup { body() }
    let clock = ContinuousClock()
    var times: [Double] = []
    for _ in 0..<repeats {
        let d = clock.measure(body)
        times.append(Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
    }
    return times.sorted()[times.count / 2]
}

func sgemmGFLOPs(n: Int) -> Double {
    var generator = SeededGenerator(seed: 1)
    let a = Tensor<Float>.randomNormal(shape: [n, n], using: &generator)
    let b = Tensor<Float>.randomNormal(shape: [n, n], using: &generator)
    var c = Tensor<Float>.zeros(shape: [n, n])
    let seconds = medianSeconds(repeats: n >= 2048 ? 5 : 15) { c.addMatrixProduct(a, b, beta: 0) }
    return 2 * Double(n * n * n) / seconds / 1e9
}

/// One forward and backward pass of a 784→1024→1024→10 ReLU MLP with softmax cross-entropy.
func mlpStep(batch: Int) -> (seconds: Double, flops: Double) {
    var generator = SeededGenerator(seed: 2)
    let sizes = [784, 1024, 1024, 10]
    var parameters: [Variable<Float>] = []
    for (fanIn, fanOut) in zip(sizes, sizes.dropFirst()) {
        let scale = Float(1 / Double(fanIn).squareRoot())
        parameters.append(Variable(Tensor.randomNormal(shape: [fanOut, fanIn], standardDeviation: scale, using: &generator),
                                   requiresGradient: true))
        parameters.append(Variable(Tensor.zeros(shape: [fanOut]), requiresGradient: true))
    }
    let x = Variable(Tensor<Float>.randomNormal(shape: [batch, 784], using: &generator))
    let labels = (0..<batch).map { $0 % 10 }
    let seconds = medianSeconds(warmup: 3, repeats: 20) {
        var h = x
        for layer in 0..<3 {
            h = Variable.matmul(h, parameters[2 * layer], transposeB: true) + parameters[2 * layer + 1]
            if layer < 2 { h = h.relu() }
        }
        let loss = Variable.softmaxCrossEntropy(logits: h, labels: labels)
        let grads = gradients(of: loss, at: parameters)
        precondition(grads.count == parameters.count && loss.value.scalar.isFinite)
    }
    let weights = zip(sizes, sizes.dropFirst()).map { Double($0 * $1) }
    let forward = 2 * Double(batch) * weights.reduce(0, +)
    // Backward: every weight gradient, and input gradients of all layers but the first.
    let backward = forward + 2 * Double(batch) * weights.dropFirst().reduce(0, +)
    return (seconds, forward + backward)
}

let threads = Parallelism.threadCount
print("swift-influence benchmark — \(threads) thread(s), OpenBLAS threads \(Parallelism.blasThreadCount)")
let sgemm1024 = sgemmGFLOPs(n: 1024)
let sgemm2048 = sgemmGFLOPs(n: 2048)
print(String(format: "sgemm n=1024: %.1f GFLOP/s", sgemm1024))
print(String(format: "sgemm n=2048: %.1f GFLOP/s", sgemm2048))
let reference = max(sgemm1024, sgemm2048)
let mlp = mlpStep(batch: 512)
let mlpRate = mlp.flops / mlp.seconds / 1e9
print(String(format: "MLP 784-1024-1024-10, batch 512, forward+backward: %.2f ms/step, %.1f GFLOP/s, %.0f%% of sgemm",
             mlp.seconds * 1e3, mlpRate, 100 * mlpRate / reference))
