import Testing
import TensorCore
import _TestSupport

@Suite("Tensor indexing")
struct TensorIndexingTests {
    static let shape = [3, 4, 5]
    /// Repeated, unordered indices; more of them than the axis is long on axis 0.
    static func indices(for axis: Int) -> [Int] { axis == 0 ? [2, 0, 2, 1, 2] : [3, 1, 1, 0, 3, 3] }

    @Test(arguments: [0, 1, 2, -1])
    func indexSelectMatchesIndexArithmetic(axis: Int) {
        let a = axis < 0 ? axis + 3 : axis
        let x: Tensor<Float> = randomTensor(Self.shape, seed: 1)
        let idx = Self.indices(for: a).filter { $0 < Self.shape[a] }
        let y = x.indexSelect(along: axis, indices: idx)
        var outShape = Self.shape; outShape[a] = idx.count
        let expected = makeTensor(shape: outShape) { i in
            var j = i; j[a] = idx[i[a]]
            return x[j[0], j[1], j[2]]
        }
        let c = compare(y, expected, tolerance: 0, "indexSelect axis \(axis) \(idx)")
        #expect(c.passed, "\(c)")
    }

    /// ⟨indexSelect(x), y⟩ = ⟨x, indexAdd(y)⟩ with repeated indices, to 1e-12 in Double.
    @Test(arguments: [0, 1, 2])
    func indexAddIsTheAdjointOfIndexSelect(axis: Int) {
        let x: Tensor<Double> = randomTensor(Self.shape, seed: 2)
        let idx = Self.indices(for: axis).filter { $0 < Self.shape[axis] }
        var yShape = Self.shape; yShape[axis] = idx.count
        let y: Tensor<Double> = randomTensor(yShape, seed: 3)
        let left = naiveDot(x.indexSelect(along: axis, indices: idx), y)
        let added = Tensor.indexAdd(y, along: axis, indices: idx, into: Self.shape)
        #expect(added.shape == Self.shape)
        let right = naiveDot(x, added)
        let c = compare(left, right, tolerance: 1e-12, "adjoint along \(axis)")
        #expect(c.passed, "\(c)")
    }

    @Test func indexAddAccumulatesRepeatedIndices() {
        let source = Tensor<Float>(rows: [[1, 2], [10, 20], [100, 200]])
        let result = Tensor.indexAdd(source, along: 0, indices: [2, 0, 2], into: [4, 2])
        #expect(result.scalars == [10, 20, 0, 0, 101, 202, 0, 0])
    }

    /// An embedding lookup: rows of a table.
    @Test func indexSelectAlongZeroIsEmbeddingLookup() {
        let table = Tensor<Double>(rows: [[0, 0.5], [1, 1.5], [2, 2.5]])
        #expect(table.indexSelect(along: 0, indices: [2, 2, 0]).scalars == [2, 2.5, 2, 2.5, 0, 0.5])
        #expect(table.indexSelect(along: 0, indices: []).shape == [0, 2])
    }

    /// `gather` picks `x[o, indices[o, j, i], i]`.
    @Test(arguments: [0, 1, 2])
    func gatherMatchesIndexArithmetic(axis: Int) {
        let x: Tensor<Float> = randomTensor(Self.shape, seed: 4)
        var outShape = Self.shape; outShape[axis] = 2
        var g = testGenerator(5)
        let idx = (0..<outShape.reduce(1, *)).map { _ in Int(g.next() % UInt64(Self.shape[axis])) }
        let y = x.gather(along: axis, indices: idx)
        #expect(y.shape == outShape)
        let expected = makeTensor(shape: outShape) { i in
            var j = i; j[axis] = idx[ravel(i, outShape)]
            return x[j[0], j[1], j[2]]
        }
        let c = compare(y, expected, tolerance: 0, "gather axis \(axis)")
        #expect(c.passed, "\(c)")
    }

    /// ⟨gather(x), y⟩ = ⟨x, scatterAdd(y)⟩; with 7 picks from an axis of 3, indices repeat.
    @Test(arguments: [0, 1, 2, -1])
    func scatterAddIsTheAdjointOfGather(axis: Int) {
        let shape = [3, 3, 3]
        let a = axis < 0 ? axis + 3 : axis
        let x: Tensor<Double> = randomTensor(shape, seed: 6)
        var outShape = shape; outShape[a] = 7
        var g = testGenerator(7)
        let idx = (0..<outShape.reduce(1, *)).map { _ in Int(g.next() % 3) }
        let y: Tensor<Double> = randomTensor(outShape, seed: 8)
        let left = naiveDot(x.gather(along: axis, indices: idx), y)
        let scattered = Tensor.scatterAdd(y, along: axis, indices: idx, into: shape)
        let right = naiveDot(x, scattered)
        let c = compare(left, right, tolerance: 1e-12, "adjoint along \(axis)")
        #expect(c.passed, "\(c)")
    }

    /// The cross-entropy pattern: one logit per row at its label.
    @Test func gatherPicksLabelPerRow() {
        let logits = Tensor<Float>(rows: [[0.1, 0.2, 0.3], [1, 2, 3], [-1, -2, -3]])
        let picked = logits.gather(along: 1, indices: [2, 0, 1])
        #expect(picked.shape == [3, 1])
        #expect(picked.scalars == [0.3, 1, -2])
        let back = Tensor.scatterAdd(Tensor<Float>(shape: [3, 1], scalars: [1, 1, 1]), along: 1, indices: [2, 0, 1], into: [3, 3])
        #expect(back.scalars == [0, 0, 1, 1, 0, 0, 0, 1, 0])
    }

    @Test func scatterAddAccumulatesRepeatedIndices() {
        let source = Tensor<Double>(shape: [1, 4], scalars: [1, 2, 4, 8])
        let result = Tensor.scatterAdd(source, along: 1, indices: [0, 2, 0, 0], into: [1, 3])
        #expect(result.scalars == [13, 0, 2])
    }

    @Test func oneHotRows() {
        let labels = [2, 0, 3, 3]
        let h = Tensor<Float>.oneHot(labels, classCount: 4)
        #expect(h.shape == [4, 4])
        let expected = makeTensor(shape: [4, 4]) { i -> Float in labels[i[0]] == i[1] ? 1 : 0 }
        let c = compare(h, expected, tolerance: 0, "oneHot")
        #expect(c.passed, "\(c)")
        #expect(h.argmax(alongAxis: 1) == labels)
    }

    @Test func outOfRangeIndexTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor<Float>.zeros(shape: [3, 2]).indexSelect(along: 0, indices: [0, 3])
        }
        await #expect(processExitsWith: .failure) {
            _ = Tensor<Float>.oneHot([4], classCount: 4)
        }
    }
}
