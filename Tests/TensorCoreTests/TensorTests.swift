import Testing
import TensorCore
import _TestSupport

@Suite("Tensor")
struct TensorTests {
    @Test func shapeScalarsAndRankRoundTrip() {
        let values: [Float] = (0..<24).map { Float($0) * 0.5 - 3 }
        let t = Tensor<Float>(shape: [2, 3, 4], scalars: values)
        #expect(t.shape == [2, 3, 4])
        #expect(t.rank == 3)
        #expect(t.scalarCount == 24)
        #expect(t.scalars == values)
    }

    @Test func subscriptReadsRowMajorOrder() {
        let shape = [2, 3, 4]
        let t = Tensor<Double>(shape: shape, scalars: (0..<24).map(Double.init))
        for i in 0..<2 {
            for j in 0..<3 {
                for k in 0..<4 {
                    #expect(t[i, j, k] == Double((i * 3 + j) * 4 + k), "t[\(i), \(j), \(k)]")
                }
            }
        }
    }

    @Test func subscriptWriteDoesNotAffectCopies() {
        let original = Tensor<Float>(rows: [[1, 2], [3, 4]])
        var copy = original
        copy[1, 0] = 99
        #expect(copy.scalars == [1, 2, 99, 4])
        #expect(original.scalars == [1, 2, 3, 4], "copy-on-write: the original must be unchanged")
    }

    @Test func mutableBufferWriteCopiesSharedStorage() {
        let original = Tensor<Double>([1, 2, 3])
        var copy = original
        copy.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] *= 10 } }
        #expect(copy.scalars == [10, 20, 30])
        #expect(original.scalars == [1, 2, 3])
        // A uniquely held tensor is written in place and the change is visible through reads.
        var unique = Tensor<Double>([5, 6])
        unique.withUnsafeMutableBufferPointer { $0[1] = -1 }
        #expect(unique.scalars == [5, -1])
    }

    @Test func convenienceInitialisers() {
        let rank1 = Tensor<Float>([1, 2, 3])
        #expect(rank1.shape == [3] && rank1.scalars == [1, 2, 3])
        let matrix = Tensor<Float>(rows: [[1, 2, 3], [4, 5, 6]])
        #expect(matrix.shape == [2, 3] && matrix.scalars == [1, 2, 3, 4, 5, 6])
        let scalar = Tensor<Double>(2.5)
        #expect(scalar.shape == [] && scalar.rank == 0 && scalar.scalar == 2.5)
        let filled = Tensor<Double>(repeating: 7, shape: [2, 2])
        #expect(filled.scalars == [7, 7, 7, 7])
        let empty = Tensor<Float>(shape: [0, 3], scalars: [])
        #expect(empty.scalarCount == 0 && empty.shape == [0, 3])
        let written = Tensor<Double>(shape: [4]) { p in for i in 0..<4 { p[i] = Double(i * i) } }
        #expect(written.scalars == [0, 1, 4, 9])
    }

    @Test func conversionBetweenScalarTypes() {
        let d = Tensor<Double>(shape: [2, 2], scalars: [0.1, -2, 3.5, 1e10])
        let f = Tensor<Float>(d)
        #expect(f.shape == [2, 2])
        #expect(f.scalars == [Float(0.1), -2, 3.5, Float(1e10)])
        // Float → Double is exact, so the round trip through Double is the identity.
        #expect(Tensor<Float>(Tensor<Double>(f)) == f)
    }

    @Test(arguments: [[Int](), [5], [2, 3], [4, 1, 3], [2, 3, 4, 5]])
    func stridesAreRowMajor(shape: [Int]) {
        let strides = Tensor<Float>.strides(of: shape)
        #expect(strides.count == shape.count)
        for d in shape.indices {
            #expect(strides[d] == shape[(d + 1)...].reduce(1, *), "stride \(d) of \(shape)")
        }
    }

    @Test func isFiniteDetectsNaNAndInfinity() {
        #expect(Tensor<Float>([1, 2, 3]).isFinite)
        #expect(!Tensor<Float>([1, .nan, 3]).isFinite)
        #expect(!Tensor<Double>([.infinity, 0]).isFinite)
        #expect(!Tensor<Double>([0, -.infinity]).isFinite)
        #expect(Tensor<Double>(shape: [0], scalars: []).isFinite)
    }

    @Test func equalityNeedsEqualShapesAndElements() {
        let a = Tensor<Float>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect(a == Tensor<Float>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]))
        #expect(a != Tensor<Float>(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6]))
        #expect(a != Tensor<Float>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 7]))
        #expect(Tensor<Float>([.nan]) != Tensor<Float>([.nan]), "NaN compares unequal, as for Float")
    }

    @Test func descriptionNestsRows() {
        #expect(Tensor<Float>(rows: [[1, 2], [3, 4]]).description == "[[1.0, 2.0], [3.0, 4.0]]")
        #expect(Tensor<Double>(2).description == "2.0")
        #expect(Tensor<Float>.zeros(shape: [2000]).description == "Tensor<Float>(shape: [2000])")
    }

    @Test func readingBufferSeesAllElements() {
        let t = Tensor<Double>(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])
        let sum = t.withUnsafeBufferPointer { p in p.reduce(0, +) }
        #expect(sum == 21)
    }

    @Test func wrongScalarCountTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor<Float>(shape: [2, 2], scalars: [1, 2, 3])
        }
    }

    @Test func outOfRangeSubscriptTraps() async {
        await #expect(processExitsWith: .failure) {
            let t = Tensor<Float>.zeros(shape: [2, 2])
            _ = t[2, 0]
        }
    }
}
