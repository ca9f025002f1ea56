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
