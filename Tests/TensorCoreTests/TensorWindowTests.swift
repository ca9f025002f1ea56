import Testing
import TensorCore
import _TestSupport

@Suite("Sliding windows: im2col, its adjoint, first maxima")
struct TensorWindowTests {
    static let geometry = WindowGeometry(kernel: (3, 2), stride: (2, 1), padding: (1, 1), dilation: (1, 2))

    @Test func unfoldingPicksEachWindowElementOrZero() {
        // Oracle: the definition, entry by entry, on a batch large enough to be split across threads.
        var generator = testGenerator(3)
        let x = Tensor<Float>.randomNormal(shape: [40, 2, 7, 6], using: &generator)
        let rows = x.unfoldedWindows(Self.geometry)
        let (oh, ow) = Self.geometry.outputSize(height: 7, width: 6)!
        #expect(rows.shape == [40, oh * ow, 12])
        var mismatches = 0
        for b in [0, 17, 39] {
            for oy in 0..<oh { for ox in 0..<ow { for ch in 0..<2 { for ky in 0..<3 { for kx in 0..<2 {
                let y = oy * 2 - 1 + ky, z = ox - 1 + kx * 2
                let expected: Float = (y >= 0 && y < 7 && z >= 0 && z < 6) ? x[b, ch, y, z] : 0
                if rows[b, oy * ow + ox, (ch * 3 + ky) * 2 + kx] != expected { mismatches += 1 }
            } } } } }
        }
        #expect(mismatches == 0)
    }

    @Test func foldingIsTheAdjointOfUnfolding() {
        // ⟨unfold(x), r⟩ = ⟨x, fold(r)⟩ for any x and r, in Float64 (1e-12 relative).
        var generator = testGenerator(4)
        let x = Tensor<Double>.randomNormal(shape: [33, 2, 7, 6], using: &generator)
        let rows = x.unfoldedWindows(Self.geometry)
        let r = Tensor<Double>.randomNormal(shape: rows.shape, using: &generator)
        let left = (rows * r).sum().scalar
        let right = (x * Tensor.foldedWindows(r, Self.geometry, imageShape: x.shape)).sum().scalar
        #expect(abs(left - right) <= 1e-12 * abs(left), "\(left) vs \(right)")
    }

    @Test func maxPoolingPicksTheFirstMaximumAndNeverThePadding() {
        // One 3×4 plane, 2×2 windows, stride 2, padding 1×1 (so 2×3 windows, the border ones
        // partly in the padding): all values negative, so a zero read from the padding would win.
        let x = Tensor<Float>(shape: [1, 1, 3, 4], scalars: [-1, -1, -5, -2,
                                                             -4, -3, -3, .nan,
                                                             -2, -3, -9, -7])
        let g = WindowGeometry(kernel: (2, 2), stride: (2, 2), padding: (1, 1))
        // Windows (rows −1…0 | 1…2) × (columns −1…0 | 1…2 | 3…4): the first largest, row by row
        // (a three-way tie of −3 in the fifth, a NaN in the last).
        #expect(x.maxPoolingIndices(g) == [0, 1, 3, 8, 5, 7])
        #expect(Tensor<Double>(x).maxPoolingIndices(g) == [0, 1, 3, 8, 5, 7])
    }
}
