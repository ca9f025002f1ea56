import Foundation
import Testing
import TensorCore
import _TestSupport

let reductionAxisSets: [[Int]] = [[0], [1], [2], [-1], [0, 2], [1, 2], [0, 1], [2, 0], [-1, 0], [0, 1, 2], []]

enum NaiveReduction: String, Sendable, CaseIterable { case sum, mean, max, min }

/// Reduces `x` over `axes` by visiting every element once and folding it into its output slot.
func naiveReduce<T: TensorScalar>(_ x: Tensor<T>, _ op: NaiveReduction, axes: [Int], keepingDimensions: Bool) -> Tensor<Double> {
    let axes = Set(axes.map { $0 < 0 ? $0 + x.rank : $0 })
    let keptShape = x.shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
    let count = keptShape.reduce(1, *)
    var accumulator = [Double](repeating: op == .max ? -.infinity : (op == .min ? .infinity : 0), count: count)
    for (f, v) in x.scalars.enumerated() {
        var index = unravel(f, x.shape)
        for a in axes { index[a] = 0 }
        let o = ravel(index, keptShape)
        switch op {
        case .sum, .mean: accumulator[o] += Double(v)
        case .max: accumulator[o] = Swift.max(accumulator[o], Double(v))
        case .min: accumulator[o] = Swift.min(accumulator[o], Double(v))
        }
    }
    if op == .mean {
        let n = Double(axes.map { x.shape[$0] }.reduce(1, *))
        accumulator = accumulator.map { $0 / n }
    }
    let shape = keepingDimensions ? keptShape : x.shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
    return Tensor(shape: shape, scalars: accumulator)
}

extension Tensor {
    func reduce(_ op: NaiveReduction, axes: [Int], keepingDimensions: Bool) -> Tensor {
        switch op {
        case .sum: return sum(alongAxes: axes, keepingDimensions: keepingDimensions)
        case .mean: return mean(alongAxes: axes, keepingDimensions: keepingDimensions)
        case .max: return max(alongAxes: axes, keepingDimensions: keepingDimensions)
        case .min: return min(alongAxes: axes, keepingDimensions: keepingDimensions)
        }
    }
}

@Suite("Tensor reductions")
struct TensorReductionTests {
    /// Float to 1e-6, Double to 1e-14, against accumulation in Double over a [3, 4, 5] tensor
    /// (a dimension of 1 included in [3, 1, 5] to cover its special case).
    @Test(arguments: NaiveReduction.allCases, reductionAxisSets)
    func reductionMatchesNaiveLoop(op: NaiveReduction, axes: [Int]) {
        for keep in [false, true] {
            for shape in [[3, 4, 5], [3, 1, 5]] {
                let xd: Tensor<Double> = randomTensor(shape, seed: 1)
                let xf: Tensor<Float> = randomTensor(shape, seed: 1)
                let d = xd.reduce(op, axes: axes, keepingDimensions: keep)
                let f = xf.reduce(op, axes: axes, keepingDimensions: keep)
                var c = compare(
                    d, naiveReduce(xd, op, axes: axes, keepingDimensions: keep), tolerance: 1e-14,
                    "\(op) \(shape) axes \(axes) keep \(keep) Double")
                #expect(c.passed, "\(c)")
                c = compare(
                    f, naiveReduce(xf, op, axes: axes, keepingDimensions: keep), tolerance: 1e-6,
                    "\(op) \(shape) axes \(axes) keep \(keep) Float")
                #expect(c.passed, "\(c)")
            }
        }
    }

    /// Shapes large enough that the reduction splits rows across threads, and long contiguous rows.
    @Test(arguments: [[200, 30, 20], [3, 70_000], [70_000, 3], [1, 1 << 17]])
    func largeReductionsMatchNaiveLoop(shape: [Int]) {
        let x: Tensor<Float> = randomTensor(shape, seed: 2)
        for axes in (0..<shape.count).map({ [$0] }) + [Array(0..<shape.count)] {
            for op in NaiveReduction.allCases {
                let c = compare(
                    x.reduce(op, axes: axes, keepingDimensions: false), naiveReduce(x, op, axes: axes, keepingDimensions: false),
                    tolerance: 1e-5, "\(op) \(shape) axes \(axes)")
                #expect(c.passed, "\(c)")
            }
        }
    }

    @Test func wholeTensorReductionsGiveScalars() {
        let x: Tensor<Double> = randomTensor([7, 13], seed: 3)
        let v = x.scalars
        #expect(x.sum().shape == [] && x.mean().shape == [] && x.max().shape == [] && x.min().shape == [])
        var c = compare(x.sum(), Tensor(v.reduce(0, +)), tolerance: 1e-14, "sum()")
        #expect(c.passed, "\(c)")
        c = compare(x.mean(), Tensor(v.reduce(0, +) / 91), tolerance: 1e-14, "mean()")
        #expect(c.passed, "\(c)")
        #expect(x.max().scalar == v.max()!)
        #expect(x.min().scalar == v.min()!)
    }

    /// 2²⁴ + 8 ones in Float: one running Float sum would stall at 2²⁴; the kernel's split
    /// accumulators must give the exact count.
    @Test func sumOfManyOnesIsExact() {
        let n = (1 << 24) + 8
        let x = Tensor<Float>.ones(shape: [n])
        #expect(x.sum().scalar == Float(n))
        #expect(x.sum(alongAxes: [0]).scalar == Float(n))
    }

    @Test func maxAndMinPropagateNaN() {
        for position in 0..<3 {
            var values: [Float] = [1, 2, 3]
            values[position] = .nan
            let x = Tensor<Float>(values)
            #expect(x.max().scalar.isNaN, "NaN at \(position)")
            #expect(x.min().scalar.isNaN, "NaN at \(position)")
        }
        let m = Tensor<Double>(rows: [[1, .nan], [3, 4]]).max(alongAxes: [0])
        #expect(m[0] == 3 && m[1].isNaN)
    }

    // MARK: Log-sum-exp and softmax

    @Test(arguments: [0, 1, 2, -1])
    func logSumExpMatchesNaiveFormula(axis: Int) {
        let x: Tensor<Double> = randomTensor([3, 4, 5], seed: 4)
        let a = axis < 0 ? axis + 3 : axis
        let expected = naiveReduce(x.exp(), .sum, axes: [a], keepingDimensions: false).log()
        var c = compare(x.logSumExp(alongAxis: axis), expected, tolerance: 1e-14, "logSumExp axis \(axis)")
        #expect(c.passed, "\(c)")
        let kept = x.logSumExp(alongAxis: axis, keepingDimensions: true)
        var keptShape = x.shape; keptShape[a] = 1
        #expect(kept.shape == keptShape)
        c = compare(kept, expected.reshaped(to: keptShape), tolerance: 1e-14, "logSumExp keeping dims")
        #expect(c.passed, "\(c)")
    }

    /// exp(1000) overflows; the stable form gives max + log Σ exp(x − max).
    @Test func logSumExpIsStableForLargeInputs() {
        let x = Tensor<Float>(rows: [[1000, 1000, 999], [-1000, -1000, -1001], [0, 0, 0]])
        let observed = x.logSumExp(alongAxis: 1)
        let tail = Foundation.log(2 + Foundation.exp(-1.0))
        let expected = Tensor<Double>([1000 + tail, -1000 + tail, Foundation.log(3.0)])
        let c = compare(observed, expected, tolerance: 1e-6, "stable logSumExp")
        #expect(c.passed, "\(c)")
        let allNegativeInfinity = Tensor<Double>(rows: [[-.infinity, -.infinity]]).logSumExp(alongAxis: 1)
        #expect(allNegativeInfinity.scalar == -.infinity)
    }

    @Test(arguments: [0, 1, 2, -1])
    func softmaxSumsToOneAndMatchesNaiveFormula(axis: Int) {
        let x: Tensor<Float> = randomTensor([3, 4, 5], seed: 5) * 3
        let a = axis < 0 ? axis + 3 : axis
        let s = x.softmax(alongAxis: axis)
        #expect(s.shape == x.shape)
        let sums = naiveReduce(s, .sum, axes: [a], keepingDimensions: false)
        var c = compare(sums, Tensor<Double>.ones(shape: sums.shape), tolerance: 1e-6, "softmax sums along \(axis)")
        #expect(c.passed, "\(c)")
        let xd = Tensor<Double>(x)
        let e = xd.exp()
        let denominator = naiveReduce(e, .sum, axes: [a], keepingDimensions: true)
        let expected = naiveElementwise(.divide, e, denominator)
        c = compare(s, expected, tolerance: 1e-6, "softmax along \(axis)")
        #expect(c.passed, "\(c)")
    }

    @Test func softmaxIsStableForLargeInputs() {
        let x = Tensor<Float>(rows: [[1000, 0, 1000], [-1000, -1001, -1002]])
        let s = x.softmax()
        #expect(s.isFinite, "\(s)")
        let e1 = Foundation.exp(-1.0), e2 = Foundation.exp(-2.0)
        let expected = Tensor<Double>(rows: [[0.5, 0, 0.5], [1 / (1 + e1 + e2), e1 / (1 + e1 + e2), e2 / (1 + e1 + e2)]])
        let c = compare(s, expected, tolerance: 1e-6, "stable softmax")
        #expect(c.passed, "\(c)")
    }

    @Test(arguments: [0, 1, -1])
    func logSoftmaxEqualsLogOfSoftmax(axis: Int) {
        let x: Tensor<Double> = randomTensor([6, 7], seed: 6)
        let c = compare(x.logSoftmax(alongAxis: axis), x.softmax(alongAxis: axis).log(), tolerance: 1e-14, "logSoftmax axis \(axis)")
        #expect(c.passed, "\(c)")
    }

    @Test func logSoftmaxIsStableForLargeInputs() {
        let x = Tensor<Float>(rows: [[1000, 0, 999]])
        let observed = x.logSoftmax()
        let lse = 1000 + Foundation.log(1 + Foundation.exp(-1.0))
        let expected = Tensor<Double>(rows: [[1000 - lse, -lse, 999 - lse]])
        #expect(observed.isFinite)
        let c = compare(observed, expected, tolerance: 1e-6, "stable logSoftmax")
        #expect(c.passed, "\(c)")
    }

    /// Large batches so that the row-wise kernels run on several threads.
    @Test func largeSoftmaxRowsSumToOne() {
        let x: Tensor<Float> = randomTensor([20_000, 10], seed: 7)
        let rowSums = naiveReduce(x.softmax(), .sum, axes: [1], keepingDimensions: false)
        var c = compare(rowSums, Tensor<Double>.ones(shape: [20_000]), tolerance: 1e-6, "row sums")
        #expect(c.passed, "\(c)")
        let xd = Tensor<Double>(x)
        let expectedLSE = naiveReduce(xd.exp(), .sum, axes: [1], keepingDimensions: false).log()
        c = compare(x.logSumExp(alongAxis: 1), expectedLSE, tolerance: 1e-6, "large logSumExp")
        #expect(c.passed, "\(c)")
    }

    // MARK: Argmax

    @Test(arguments: [0, 1, 2, -1])
    func argmaxMatchesNaiveLoop(axis: Int) {
        // Small integers make ties common; the first maximum must win.
        let x: Tensor<Float> = integerTensor([4, 5, 6], from: [0, 1, 2, 3], seed: 8)
        let a = axis < 0 ? axis + 3 : axis
        var outShape = x.shape; outShape.remove(at: a)
        var expected: [Int] = []
        for f in 0..<outShape.reduce(1, *) {
            var index = unravel(f, outShape)
            index.insert(0, at: a)
            var best = 0, bestValue = -Float.infinity
            for c in 0..<x.shape[a] {
                index[a] = c
                let v = x[index[0], index[1], index[2]]
                if v > bestValue { best = c; bestValue = v }
            }
            expected.append(best)
        }
        #expect(x.argmax(alongAxis: axis) == expected)
    }

    @Test func argmaxPicksFirstOfTies() {
        #expect(Tensor<Double>(rows: [[1, 3, 3], [5, 5, 5], [-1, -2, 0]]).argmax() == [1, 0, 2])
    }
}
