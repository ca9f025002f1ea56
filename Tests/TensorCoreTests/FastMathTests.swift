import Foundation
import Testing
import TensorCore
import _TestSupport

/// Float's exp and tanh are vectorisable approximations; these tests bound their error against
/// Double libm over the whole useful range and check the special values.
@Suite("Single-precision exp and tanh")
struct FastMathTests {
    static let points: [Float] = stride(from: -87.0, through: 88.5, by: 0.0137).map { Float($0) }

    @Test func expRelativeErrorIsBelowTwoMillionths() {
        let y = Tensor(Self.points).exp().scalars
        var worst = 0.0
        for (x, v) in zip(Self.points, y) {
            let exact = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(v) - exact) / exact)
        }
        #expect(worst < 2e-7, "worst relative error \(worst)")
    }

    @Test func tanhErrorIsBelowTwoMillionths() {
        let xs = Self.points.map { $0 / 10 } + [1e-6, -3e-4, 0.06, 0.0626, -0.0624, 20, -20]
        let y = Tensor(xs).tanh().scalars
        var worst = 0.0
        for (x, v) in zip(xs, y) {
            let exact = Foundation.tanh(Double(x))
            worst = max(worst, abs(Double(v) - exact) / max(abs(exact), 1e-30))
        }
        #expect(worst < 2e-6, "worst relative error \(worst)")
    }

    @Test func specialValues() {
        let e = Tensor<Float>([-.infinity, -200, -88, 0, 89, 1000, .infinity, .nan, -100, -105]).exp().scalars
        #expect(e[0] == 0 && e[1] == 0 && e[9] == 0)
        // Subnormal results are kept: e^−88 ≈ 6.05e-39, e^−100 ≈ 3.72e-44.
        #expect(abs(Double(e[2]) - 6.0546e-39) < 1e-42, "e^-88 = \(e[2])")
        #expect(e[8] > 0 && abs(Double(e[8]) - 3.72e-44) < 3e-45, "e^-100 = \(e[8])")
        #expect(e[3] == 1)
        #expect(e[4] == .infinity && e[5] == .infinity && e[6] == .infinity)
        #expect(e[7].isNaN)
        let t = Tensor<Float>([-.infinity, -50, 0, 50, .infinity, .nan]).tanh().scalars
        #expect(t[0] == -1 && t[1] == -1 && t[2] == 0 && t[3] == 1 && t[4] == 1 && t[5].isNaN)
        let s = Tensor<Float>([-200, 0, 200]).sigmoid().scalars
        #expect(s[0] == 0 && s[1] == 0.5 && s[2] == 1)
    }

    @Test func softmaxOfMaskedEntriesIsExactlyZero() {
        let p = Tensor<Float>(rows: [[0.5, -1e9, 1.5, -1e9]]).softmax(alongAxis: 1).scalars
        #expect(p[1] == 0 && p[3] == 0)
        #expect(abs(p[0] + p[2] - 1) < 1e-6)
    }
}

/// The C kernels (AVX2 + FMA where the CPU has them, baseline x86-64 otherwise) against Double
/// libm, in both builds: each is checked on the calling thread with inputs small enough not to be
/// split across threads.
@Suite("Elementwise kernels, both builds")
struct ElementwiseKernelBuildTests {
    static let points: [Float] = stride(from: -20.0, through: 20.0, by: 0.0131).map { Float($0) } + [0, -0, 1e-7, -1e-7, 0.0625, -0.0624]

    /// Applies `body` to the points in pieces below the threading grain, on this thread.
    static func evaluate(_ baseline: Bool, _ body: (Tensor<Float>) -> Tensor<Float>) -> [Float] {
        Parallelism.useBaselineKernels(baseline)
        defer { Parallelism.useBaselineKernels(false) }
        return stride(from: 0, to: points.count, by: 1000).flatMap { start in
            body(Tensor(Array(points[start..<min(points.count, start + 1000)]))).scalars
        }
    }

    static func worstRelativeError(_ values: [Float], _ exact: (Double) -> Double, floor: Double = 1e-30) -> Double {
        zip(points, values).map { x, v in abs(Double(v) - exact(Double(x))) / max(abs(exact(Double(x))), floor) }.max() ?? 0
    }

    @Test(arguments: [false, true]) func functionsMatchDoubleLibm(baseline: Bool) {
        let gelu: (Double) -> Double = { x in 0.5 * x * (1 + Foundation.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))) }
        let geluDerivative: (Double) -> Double = { x in (gelu(x + 1e-6) - gelu(x - 1e-6)) / 2e-6 }
        #expect(Self.worstRelativeError(Self.evaluate(baseline) { $0.exp() }, Foundation.exp) < 2e-7)
        #expect(Self.worstRelativeError(Self.evaluate(baseline) { $0.tanh() }, Foundation.tanh) < 2e-6)
        #expect(Self.worstRelativeError(Self.evaluate(baseline) { $0.sigmoid() }, { 1 / (1 + Foundation.exp(-$0)) }) < 1e-6)
        // Absolute error for GELU, whose value crosses zero.
        let g = Self.evaluate(baseline) { $0.geluTanh() }
        #expect(zip(Self.points, g).map { abs(Double($1) - gelu(Double($0))) / max(1, abs(gelu(Double($0)))) }.max()! < 1e-6)
        let d = Self.evaluate(baseline) { $0.applying(.geluTanhDerivative) }
        #expect(zip(Self.points, d).map { abs(Double($1) - geluDerivative(Double($0))) }.max()! < 1e-5)
    }

    @Test(arguments: [false, true]) func rowKernelsMatchDoubleSums(baseline: Bool) {
        Parallelism.useBaselineKernels(baseline)
        defer { Parallelism.useBaselineKernels(false) }
        // Rows of 1, 7, 8, 9, 33 and 515 columns: every tail length of both vector widths.
        for columns in [1, 7, 8, 9, 33, 515] {
            let rows = 3
            let values = (0..<(rows * columns)).map { Float(sin(Double($0) * 1.7) * 9) }
            let x = Tensor(shape: [rows, columns], scalars: values)
            let lse = x.logSumExp(alongAxis: 1).scalars
            let softmax = x.softmax(alongAxis: 1).scalars
            for r in 0..<rows {
                let row = values[(r * columns)..<((r + 1) * columns)].map(Double.init)
                let m = row.max()!
                let sum = row.reduce(0) { $0 + Foundation.exp($1 - m) }
                #expect(abs(Double(lse[r]) - (m + Foundation.log(sum))) < 1e-5 * max(1, abs(m)), "columns \(columns)")
                for c in 0..<columns {
                    #expect(abs(Double(softmax[r * columns + c]) - Foundation.exp(row[c] - m) / sum) < 1e-6)
                }
            }
        }
        // A NaN anywhere in a row makes its log-sum-exp NaN; −∞ rows stay −∞.
        let special = Tensor<Float>(shape: [2, 4], scalars: [1, .nan, 2, 3, -.infinity, -.infinity, -.infinity, -.infinity]).logSumExp(alongAxis: 1).scalars
        #expect(special[0].isNaN && special[1] == -.infinity)
    }
}
