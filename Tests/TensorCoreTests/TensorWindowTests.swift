import Testing
import TensorCore
import _TestSupport

@Suite("Sliding windows: im2col, its adjoint, max pooling's choices")
struct TensorWindowTests {
    static let geometry = WindowGeometry(kernel: (3, 2), stride: (2, 1), padding: (1, 1), dilation: (1, 2))

    /// Max pooling's choices by their definition: per plane and window, the first largest value
    /// (or NaN) scanning row by row, inside the image.
    static func maxPoolingOracle(_ x: Tensor<Float>, _ g: WindowGeometry) -> [Int] {
        let (planes, h, w) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = g.outputSize(height: h, width: w)!
        let v = x.scalars
        var result: [Int] = []
        for p in 0..<planes {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var best = -1
                    for ky in 0..<g.kernel.0 {
                        for kx in 0..<g.kernel.1 {
                            let y = oy * g.stride.0 - g.padding.0 + ky, z = ox * g.stride.1 - g.padding.1 + kx
                            guard y >= 0, y < h, z >= 0, z < w else { continue }
                            let i = (p * h + y) * w + z
                            if best < 0 || v[i] > v[best] || (v[i].isNaN && !v[best].isNaN) { best = i }
                        }
                    }
                    result.append(best)
                }
            }
        }
        return result
    }

    @Test func maxPoolingOfManyPlanesEqualsTheDefinition() {
        // 1,024 planes of 16×16: split across threads (at least 256 planes a chunk), with ties
        // (values rounded to a few levels) and padding.
        var generator = testGenerator(5)
        let normal = Tensor<Float>.randomNormal(shape: [64, 16, 16, 16], using: &generator)
        let x = Tensor(shape: normal.shape, scalars: normal.scalars.map { ($0 * 2).rounded() })
        for g in [WindowGeometry(kernel: (2, 2), stride: (2, 2)), WindowGeometry(kernel: (3, 3), stride: (2, 2), padding: (1, 1))] {
            let observed = x.maxPoolingIndices(g), expected = Self.maxPoolingOracle(x, g)
            let wrong = zip(observed, expected).filter { $0 != $1 }.count
            #expect(observed.count == expected.count && wrong == 0, "\(g): \(wrong) of \(expected.count) windows differ")
        }
    }

    @Test func unfoldingPicksEachWindowElementOrZero() {
        // Oracle: the definition, entry by entry, on a batch large enough to be split across
        // threads (the last image in the second chunk).
        var generator = testGenerator(3)
        let x = Tensor<Float>.randomNormal(shape: [16, 2, 40, 36], using: &generator)
        let rows = x.unfoldedWindows(Self.geometry)
        let (oh, ow) = Self.geometry.outputSize(height: 40, width: 36)!
        #expect(rows.shape == [16, oh * ow, 12])
        var mismatches = 0
        for b in [0, 9, 15] {  // 8,640 values an image: chunks of at least 7 images, so two threads split them
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for ch in 0..<2 {
                        for ky in 0..<3 {
                            for kx in 0..<2 {
                                let y = oy * 2 - 1 + ky, z = ox - 1 + kx * 2
                                let expected: Float = (y >= 0 && y < 40 && z >= 0 && z < 36) ? x[b, ch, y, z] : 0
                                if rows[b, oy * ow + ox, (ch * 3 + ky) * 2 + kx] != expected { mismatches += 1 }
                            }
                        }
                    }
                }
            }
        }
        #expect(mismatches == 0)
    }

    @Test func foldingIsTheAdjointOfUnfolding() {
        // ⟨unfold(x), r⟩ = ⟨x, fold(r)⟩ for any x and r, in Float64 (1e-12 relative).
        var generator = testGenerator(4)
        let x = Tensor<Double>.randomNormal(shape: [16, 2, 40, 36], using: &generator)
        let rows = x.unfoldedWindows(Self.geometry)
        let r = Tensor<Double>.randomNormal(shape: rows.shape, using: &generator)
        let left = (rows * r).sum().scalar
        let right = (x * Tensor.foldedWindows(r, Self.geometry, imageShape: x.shape)).sum().scalar
        #expect(abs(left - right) <= 1e-12 * abs(left), "\(left) vs \(right)")
    }

    @Test func maxPoolingPicksTheFirstMaximumAndNeverThePadding() {
        // One 3×4 plane, 2×2 windows, stride 2, padding 1×1 (so 2×3 windows, the border ones
        // partly in the padding): all values negative, so a zero read from the padding would win.
        let x = Tensor<Float>(
            shape: [1, 1, 3, 4],
            scalars: [
                -1, -1, -5, -2,
                -4, -3, -3, .nan,
                -2, -3, -9, -7,
            ])
        let g = WindowGeometry(kernel: (2, 2), stride: (2, 2), padding: (1, 1))
        // Windows (rows −1…0 | 1…2) × (columns −1…0 | 1…2 | 3…4): the first largest, row by row
        // (a three-way tie of −3 in the fifth, a NaN in the last).
        #expect(x.maxPoolingIndices(g) == [0, 1, 3, 8, 5, 7])
        #expect(Tensor<Double>(x).maxPoolingIndices(g) == [0, 1, 3, 8, 5, 7])
    }
}
