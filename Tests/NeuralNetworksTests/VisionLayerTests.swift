import Autograd
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

/// A convolution computed from its definition, one output entry at a time:
/// y[n, o, i, j] = b[o] + Σ_{c, u, v} W[o, c, u, v] · x[n, c, i·s₀ − p₀ + u·d₀, j·s₁ − p₁ + v·d₁] (zero outside).
private func directConvolution(_ x: Tensor<Double>, _ w: Tensor<Double>, _ b: Tensor<Double>?, _ g: WindowGeometry) -> Tensor<Double> {
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (o, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
    let (oh, ow) = g.outputSize(height: h, width: wd)!
    let xs = x.scalars, ws = w.scalars
    var out = [Double](repeating: 0, count: n * o * oh * ow)
    for b0 in 0..<n {
        for f in 0..<o {
            for i in 0..<oh {
                for j in 0..<ow {
                    var s = b?.scalars[f] ?? 0
                    for ch in 0..<c {
                        for u in 0..<kh {
                            for v in 0..<kw {
                                let y = i * g.stride.0 - g.padding.0 + u * g.dilation.0, z = j * g.stride.1 - g.padding.1 + v * g.dilation.1
                                guard y >= 0, y < h, z >= 0, z < wd else { continue }
                                s += ws[((f * c + ch) * kh + u) * kw + v] * xs[((b0 * c + ch) * h + y) * wd + z]
                            }
                        }
                    }
                    out[((b0 * o + f) * oh + i) * ow + j] = s
                }
            }
        }
    }
    return Tensor(shape: [n, o, oh, ow], scalars: out)
}

/// Pooling from its definition: max over the window's entries inside the image (padding never
/// wins), or the sum over them divided by the full window size (padding counted as zeros).
private func directPooling(_ x: Tensor<Double>, _ kind: PoolingKind, _ g: WindowGeometry) -> Tensor<Double> {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (oh, ow) = g.outputSize(height: h, width: w)!
    let xs = x.scalars
    var out: [Double] = []
    for plane in 0..<(n * c) {
        for i in 0..<oh {
            for j in 0..<ow {
                var best = -Double.infinity, sum = 0.0
                for u in 0..<g.kernel.0 {
                    for v in 0..<g.kernel.1 {
                        let y = i * g.stride.0 - g.padding.0 + u, z = j * g.stride.1 - g.padding.1 + v
                        guard y >= 0, y < h, z >= 0, z < w else { continue }
                        best = max(best, xs[(plane * h + y) * w + z]); sum += xs[(plane * h + y) * w + z]
                    }
                }
                out.append(kind == .max ? best : sum / Double(g.windowSize))
            }
        }
    }
    return Tensor(shape: [n, c, oh, ow], scalars: out)
}

struct ConvolutionCase: CustomStringConvertible, Sendable {
    let description: String
    let input: [Int]
    let outChannels: Int
    let kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int)
    let bias: Bool
}

let convolutionCases: [ConvolutionCase] = [
    ConvolutionCase(
        description: "3×3, same padding", input: [2, 3, 6, 5], outChannels: 4, kernel: (3, 3), stride: (1, 1), padding: (1, 1),
        dilation: (1, 1), bias: true),
    ConvolutionCase(
        description: "2×3, stride 2×1, no bias", input: [2, 2, 7, 6], outChannels: 3, kernel: (2, 3), stride: (2, 1),
        padding: (0, 0), dilation: (1, 1), bias: false),
    ConvolutionCase(
        description: "dilation 2×1 with padding 2×0", input: [1, 2, 6, 7], outChannels: 2, kernel: (3, 2), stride: (1, 2),
        padding: (2, 0), dilation: (2, 1), bias: true),
    ConvolutionCase(
        description: "1×1 kernel", input: [3, 4, 3, 3], outChannels: 2, kernel: (1, 1), stride: (1, 1), padding: (0, 0),
        dilation: (1, 1), bias: true),
    ConvolutionCase(
        description: "kernel as large as the padded image", input: [2, 1, 3, 4], outChannels: 2, kernel: (5, 4), stride: (3, 3),
        padding: (1, 0), dilation: (1, 1), bias: true),
]

@Suite("Conv2d and pooling against their definitions and finite differences")
struct VisionLayerTests {
    private func convolution(_ c: ConvolutionCase, seed: UInt64) -> Conv2d<Double> {
        var generator = testGenerator(seed)
        return Conv2d<Double>(
            inputChannels: c.input[1], outputChannels: c.outChannels, kernelSize: c.kernel, stride: c.stride,
            padding: c.padding, dilation: c.dilation, hasBias: c.bias, using: &generator)
    }

    @Test("forward equals the direct sum", arguments: convolutionCases)
    func convolutionEqualsDirectSum(_ c: ConvolutionCase) {
        let layer = convolution(c, seed: 1)
        var generator = testGenerator(2)
        let x = Tensor<Double>.randomNormal(shape: c.input, using: &generator)
        let y = layer(Variable(x)).value
        let expected = directConvolution(x, layer.weight.value, layer.bias?.value, layer.geometry)
        #expect(y.shape == expected.shape)
        let r = compare(y, expected, tolerance: 1e-13, c.description)
        #expect(r.passed, "\(r)")
    }

    @Test("gradients of input, weight and bias against finite differences", arguments: convolutionCases)
    func convolutionGradients(_ c: ConvolutionCase) {
        let layer = convolution(c, seed: 3)
        var generator = testGenerator(4)
        let x = Tensor<Double>.randomNormal(shape: c.input, using: &generator)
        let outShape = layer(Variable(x)).shape
        let r = Variable(Tensor<Double>.randomNormal(shape: outShape, using: &generator))
        let g = checkGradients(layer, input: x) { x in
            let y = layer(x)
            return (y * r).sum() + y.squared().sum() * 0.25
        }
        #expect(g.passed, "\(g)")
    }

    @Test("pooling equals the direct reduction", arguments: [PoolingKind.max, .average])
    func poolingEqualsDirectReduction(_ kind: PoolingKind) {
        var generator = testGenerator(5)
        // All values negative, so that padding read as zero would win a maximum.
        let x = Tensor<Double>.randomNormal(shape: [2, 3, 7, 6], using: &generator).magnitude() * -1 - 0.1
        for (kernel, stride, padding) in [((2, 2), (2, 2), (0, 0)), ((3, 2), (2, 1), (1, 1)), ((3, 3), (1, 2), (1, 0))] {
            let pool = Pool2d<Double>(kind, kernelSize: kernel, stride: stride, padding: padding)
            let y = pool(Variable(x)).value
            let r = compare(y, directPooling(x, kind, pool.geometry), tolerance: 1e-14, "\(kind) \(pool.geometry)")
            #expect(r.passed, "\(r)")
        }
    }

    @Test("pooling gradients against finite differences", arguments: [PoolingKind.max, .average])
    func poolingGradients(_ kind: PoolingKind) {
        var generator = testGenerator(6)
        let x = Tensor<Double>.randomNormal(shape: [2, 2, 5, 6], using: &generator)
        for (kernel, stride, padding) in [((2, 2), (2, 2), (0, 0)), ((3, 2), (2, 1), (1, 1))] {
            let pool = Pool2d<Double>(kind, kernelSize: kernel, stride: stride, padding: padding)
            let r = Variable(Tensor<Double>.randomNormal(shape: pool(Variable(x)).shape, using: &generator))
            let g = checkGradients(pool, input: x) { (pool($0) * r).sum() + pool($0).squared().sum() * 0.5 }
            #expect(g.passed, "\(kind) \(pool.geometry): \(g)")
        }
    }

    /// PyTorch's convention for ties: the first largest element of each window, row-major, takes
    /// the whole gradient (others none), so per-position output gradients match nn.MaxPool2d's.
    @Test func maxPoolingTiesGiveTheGradientToTheFirstMaximum() {
        // A 4×4 image of 2×2 windows: constant; a tie of the last two; a strict maximum; a NaN after a value.
        let x = Variable(
            Tensor<Double>(
                shape: [1, 1, 4, 4],
                scalars: [
                    1, 1, 0, 3,
                    1, 1, 3, 3,
                    5, 2, 4, .nan,
                    2, 9, 4, 1,
                ]), requiresGradient: true)
        let pool = Pool2d<Double>(.max, kernelSize: (2, 2))
        let y = pool(x)
        #expect(y.value.scalars[0] == 1 && y.value.scalars[1] == 3 && y.value.scalars[2] == 9 && y.value.scalars[3].isNaN)
        let g = gradients(of: (y * Variable(Tensor(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 4]))).sum(), at: [x])[0].value.scalars
        #expect(
            g == [
                1, 0, 0, 2,
                0, 0, 0, 0,
                0, 0, 0, 4,
                0, 3, 0, 0,
            ])
    }

    private static let smallNetwork: [NetworkStep] = [
        .conv2d(outChannels: 3, kernelSize: (3, 2), stride: (1, 1), padding: (1, 1), dilation: (1, 2), bias: true),
        .activation(.tanh),
        .pool(.max, kernelSize: (2, 2), stride: (2, 2), padding: (0, 0)),
        .conv2d(outChannels: 2, kernelSize: (2, 2), stride: (1, 1), padding: (0, 0), dilation: (1, 1), bias: false),
        .activation(.gelu),
        .pool(.average, kernelSize: (2, 2), stride: (1, 1), padding: (1, 1)),
        .flatten,
        .linear(outFeatures: 4, bias: true),
    ]

    @Test func sequentialNetworkGradientsMatchFiniteDifferences() throws {
        let network = SequentialNetwork<Double>(steps: Self.smallNetwork, inputShape: [2, 6, 7], seed: 7)
        #expect(try SequentialNetwork<Double>.shapes(of: Self.smallNetwork, input: [2, 6, 7]).last == [4])
        var generator = testGenerator(8)
        let x = Tensor<Double>.randomNormal(shape: [3, 2 * 6 * 7], using: &generator)
        let g = checkGradients(network, input: x, tolerance: 1e-6) { Losses.crossEntropy(logits: network($0), labels: [0, 3, 1]) }
        #expect(g.passed, "\(g)")
        // Named like PyTorch's nn.Sequential: parameterless steps keep their index.
        let names = network.namedParameters().map(\.name)
        #expect(names == ["layers.0.weight", "layers.0.bias", "layers.3.weight", "layers.7.weight", "layers.7.bias"])
        #expect(network.moduleGroups["conv"] == ["layers.0", "layers.3"])
    }

    /// Gradients of gradients through convolution and both poolings: H·v over the parameters
    /// from two reverse passes against central differences of first-order gradients.
    @Test func sequentialNetworkHessianVectorProductMatchesFiniteDifferences() {
        let network = SequentialNetwork<Double>(steps: Self.smallNetwork, inputShape: [2, 6, 7], seed: 9)
        var generator = testGenerator(10)
        let x = Variable(Tensor<Double>.randomNormal(shape: [2, 2 * 6 * 7], using: &generator))
        let params = network.parameters
        let vector = params.map { Tensor<Double>.randomNormal(shape: $0.shape, using: &generator) }
        func loss() -> Variable<Double> { Losses.crossEntropy(logits: network(x), labels: [2, 1]) }
        let hv = withGradients { Differentiation.hessianVectorProduct(of: loss(), at: params.map(\.variable), vector: vector) }
        func gradient() -> Tensor<Double> {
            let g = withGradients { gradients(of: loss(), at: params.map(\.variable)) }
            return Tensor.concatenated(g.map { $0.value.flattened() }, along: 0)
        }
        let h = 1e-5, originals = params.map(\.value)
        for (p, (o, v)) in zip(params, zip(originals, vector)) { p.value = o + v * h }
        let plus = gradient()
        for (p, (o, v)) in zip(params, zip(originals, vector)) { p.value = o - v * h }
        let minus = gradient()
        for (p, o) in zip(params, originals) { p.value = o }
        let r = compare(Tensor.concatenated(hv.map { $0.flattened() }, along: 0), (plus - minus) / (2 * h), tolerance: 1e-6, floor: 1e-6, "H·v")
        #expect(r.passed, "\(r)")
    }

    @Test func shapesThatDoNotFitNameTheStep() throws {
        do {
            _ = try SequentialNetwork<Float>.shapes(
                of: [
                    .conv2d(
                        outChannels: 2, kernelSize: (5, 5), stride: (1, 1), padding: (0, 0), dilation: (1, 1),
                        bias: true)
                ], input: [1, 4, 4])
            Issue.record("a 5×5 kernel on a 4×4 image was accepted")
        } catch let error as NetworkShapeError {
            #expect(error.step == 0 && error.description == "step 0: conv2d with kernel 5×5, stride 1×1, padding 0×0, dilation 1×1 does not fit [1, 4, 4]")
        }
        #expect(throws: NetworkShapeError.self) { try SequentialNetwork<Float>.shapes(of: [.linear(outFeatures: 3, bias: true)], input: [1, 4, 4]) }
        #expect(throws: NetworkShapeError.self) {
            try SequentialNetwork<Float>.shapes(
                of: [
                    .flatten,
                    .conv2d(
                        outChannels: 2, kernelSize: (1, 1), stride: (1, 1), padding: (0, 0),
                        dilation: (1, 1), bias: true),
                ], input: [1, 4, 4])
        }
    }
}
