import Testing
import TensorCore
import _TestSupport

/// All permutations of `0..<n`.
func permutations(_ n: Int) -> [[Int]] {
    if n == 0 { return [[]] }
    return permutations(n - 1).flatMap { p in
        (0...p.count).map { i in
            var q = p; q.insert(n - 1, at: i); return q
        }
    }
}

/// `x.permuted(perm)` by index arithmetic: output index `o` reads input index `i` with `i[perm[d]] = o[d]`.
func naivePermute<T: TensorScalar>(_ x: Tensor<T>, _ perm: [Int]) -> Tensor<T> {
    let s = x.scalars
    return makeTensor(shape: perm.map { x.shape[$0] }) { o in
        var i = [Int](repeating: 0, count: perm.count)
        for d in perm.indices { i[perm[d]] = o[d] }
        return s[ravel(i, x.shape)]
    }
}

@Suite("Tensor shape")
struct TensorShapeTests {
    // MARK: Reshape

    @Test(arguments: [[-1, 4], [6, -1], [2, -1, 4], [-1], [3, 2, 2, -1], [24, -1]])
    func reshapeInfersTheMinusOneDimension(newShape: [Int]) {
        let x: Tensor<Float> = randomTensor([2, 3, 4], seed: 1)
        let y = x.reshaped(to: newShape)
        let known = newShape.filter { $0 != -1 }.reduce(1, *)
        let expectedShape = newShape.map { $0 == -1 ? 24 / known : $0 }
        #expect(y.shape == expectedShape)
        #expect(y.scalars == x.scalars, "reshape keeps row-major order")
    }

    @Test func reshapeThenWriteLeavesOriginalUnchanged() {
        let x = Tensor<Double>(shape: [2, 2], scalars: [1, 2, 3, 4])
        var y = x.reshaped(to: [4])
        y[0] = 100
        #expect(x.scalars == [1, 2, 3, 4])
        #expect(y.scalars == [100, 2, 3, 4])
    }

    @Test func flattenExpandAndSqueeze() {
        let x: Tensor<Float> = randomTensor([2, 3], seed: 2)
        #expect(x.flattened().shape == [6] && x.flattened().scalars == x.scalars)
        #expect(x.expandingShape(at: 0).shape == [1, 2, 3])
        #expect(x.expandingShape(at: 1).shape == [2, 1, 3])
        #expect(x.expandingShape(at: 2).shape == [2, 3, 1])
        #expect(x.expandingShape(at: -1).shape == [2, 3, 1])
        #expect(x.expandingShape(at: -3).shape == [1, 2, 3])
        #expect(x.expandingShape(at: 1).squeezingShape(at: 1) == x)
        #expect(x.expandingShape(at: 2).squeezingShape(at: -1) == x)
        #expect(x.normalizedAxis(-1) == 1 && x.normalizedAxis(-2) == 0 && x.normalizedAxis(1) == 1)
    }

    @Test func reshapeToWrongCountTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor<Float>.zeros(shape: [2, 3]).reshaped(to: [4, -1])
        }
    }

    // MARK: Permute and transpose

    @Test(arguments: permutations(3))
    func permuteRank3MatchesIndexArithmetic(perm: [Int]) {
        let x: Tensor<Float> = randomTensor([2, 3, 4], seed: 3)
        let c = compare(x.permuted(perm), naivePermute(x, perm), tolerance: 0, "permute \(perm)")
        #expect(c.passed, "\(c)")
        #expect(x.permuted(perm).shape == perm.map { x.shape[$0] })
    }

    @Test(arguments: permutations(4))
    func permuteRank4MatchesIndexArithmetic(perm: [Int]) {
        let x: Tensor<Double> = randomTensor([2, 3, 4, 5], seed: 4)
        let c = compare(x.permuted(perm), naivePermute(x, perm), tolerance: 0, "permute \(perm)")
        #expect(c.passed, "\(c)")
    }

    @Test func permuteThenInverseIsIdentity() {
        let x: Tensor<Float> = randomTensor([3, 1, 4, 2], seed: 5)
        let perm = [2, 0, 3, 1]
        var inverse = [Int](repeating: 0, count: 4)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        #expect(x.permuted(perm).permuted(inverse) == x)
    }

    /// The blocked rank-2 transpose, with sizes that are not multiples of its 32-element block, and
    /// a large one that runs on several threads.
    @Test(arguments: [[1, 1], [1, 7], [7, 1], [33, 65], [70, 45], [300, 257]])
    func matrixTransposeMatchesIndexArithmetic(shape: [Int]) {
        let x: Tensor<Float> = randomTensor(shape, seed: 6)
        let c = compare(x.transposed(), naiveTranspose(x), tolerance: 0, "transpose \(shape)")
        #expect(c.passed, "\(c)")
    }

    /// A large rank-3 permute that runs on several threads.
    @Test func largePermuteMatchesIndexArithmetic() {
        let x: Tensor<Float> = randomTensor([50, 41, 37], seed: 7)
        for perm in [[2, 0, 1], [1, 0, 2], [0, 2, 1]] {
            let c = compare(x.permuted(perm), naivePermute(x, perm), tolerance: 0, "permute \(perm)")
            #expect(c.passed, "\(c)")
        }
    }

    @Test func transposedSwapsTheLastTwoAxesOrTheGivenPair() {
        let x: Tensor<Double> = randomTensor([2, 3, 4], seed: 8)
        var c = compare(x.transposed(), naivePermute(x, [0, 2, 1]), tolerance: 0, "batched transpose")
        #expect(c.passed, "\(c)")
        c = compare(x.transposed(0, 2), naivePermute(x, [2, 1, 0]), tolerance: 0, "transposed(0, 2)")
        #expect(c.passed, "\(c)")
        c = compare(x.transposed(-1, 0), naivePermute(x, [2, 1, 0]), tolerance: 0, "transposed(-1, 0)")
        #expect(c.passed, "\(c)")
    }

    // MARK: Slice and pad

    @Test(arguments: [0, 1, 2, -1])
    func sliceMatchesIndexArithmetic(axis: Int) {
        let x: Tensor<Float> = randomTensor([3, 5, 4], seed: 9)
        let a = axis < 0 ? axis + 3 : axis
        let range = 1..<(x.shape[a] - 1)
        let y = x.sliced(along: axis, range)
        var expectedShape = x.shape; expectedShape[a] = range.count
        let expected = makeTensor(shape: expectedShape) { i in
            var j = i; j[a] += range.lowerBound
            return x[j[0], j[1], j[2]]
        }
        let c = compare(y, expected, tolerance: 0, "slice axis \(axis) \(range)")
        #expect(c.passed, "\(c)")
    }

    /// `pad` is the adjoint of `slice`: ⟨slice(x), y⟩ = ⟨x, pad(y)⟩, to 1e-12 in Double.
    @Test(arguments: [0, 1, 2])
    func padIsTheAdjointOfSlice(axis: Int) {
        let x: Tensor<Double> = randomTensor([3, 5, 4], seed: 10)
        let range = 1..<3
        var yShape = x.shape; yShape[axis] = range.count
        let y: Tensor<Double> = randomTensor(yShape, seed: 11)
        let left = naiveDot(x.sliced(along: axis, range), y)
        let padded = y.padded(along: axis, before: range.lowerBound, after: x.shape[axis] - range.upperBound)
        #expect(padded.shape == x.shape)
        let right = naiveDot(x, padded)
        let c = compare(left, right, tolerance: 1e-12, "⟨slice x, y⟩ vs ⟨x, pad y⟩ along \(axis)")
        #expect(c.passed, "\(c)")
    }

    @Test func padFillsWithValue() {
        let x = Tensor<Float>(rows: [[1, 2], [3, 4]])
        let p = x.padded(along: 1, before: 1, after: 2, value: -1)
        #expect(p.shape == [2, 5])
        #expect(p.scalars == [-1, 1, 2, -1, -1, -1, 3, 4, -1, -1])
        let q = x.padded(along: 0, before: 0, after: 1)
        #expect(q.scalars == [1, 2, 3, 4, 0, 0])
    }

    // MARK: Concatenate and stack

    @Test(arguments: [0, 1, 2, -1])
    func concatenateMatchesIndexArithmetic(axis: Int) {
        let a = axis < 0 ? axis + 3 : axis
        let sizes = [1, 3, 2]
        let parts: [Tensor<Float>] = sizes.enumerated().map { n, size in
            var shape = [2, 3, 4]; shape[a] = size
            return randomTensor(shape, seed: UInt64(20 + n))
        }
        let joined = Tensor.concatenated(parts, along: axis)
        var shape = [2, 3, 4]; shape[a] = sizes.reduce(0, +)
        let expected = makeTensor(shape: shape) { i in
            var j = i, part = 0
            while j[a] >= sizes[part] { j[a] -= sizes[part]; part += 1 }
            return parts[part][j[0], j[1], j[2]]
        }
        let c = compare(joined, expected, tolerance: 0, "concatenate along \(axis)")
        #expect(c.passed, "\(c)")
    }

    @Test func concatenatingSlicesRestoresTheTensor() {
        let x: Tensor<Double> = randomTensor([4, 6], seed: 30)
        let parts = [x.sliced(along: 1, 0..<2), x.sliced(along: 1, 2..<3), x.sliced(along: 1, 3..<6)]
        #expect(Tensor.concatenated(parts, along: 1) == x)
    }

    @Test(arguments: [0, 1, 2, -1])
    func stackAddsANewAxis(axis: Int) {
        let parts: [Tensor<Float>] = (0..<3).map { randomTensor([2, 4], seed: UInt64(40 + $0)) }
        let s = Tensor.stacked(parts, along: axis)
        let a = axis < 0 ? axis + 3 : axis
        var shape = [2, 4]; shape.insert(3, at: a)
        #expect(s.shape == shape)
        let expected = makeTensor(shape: shape) { i in
            var j = i; let which = j.remove(at: a)
            return parts[which][j[0], j[1]]
        }
        let c = compare(s, expected, tolerance: 0, "stack along \(axis)")
        #expect(c.passed, "\(c)")
    }

    @Test func concatenateMismatchedShapesTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor.concatenated([Tensor<Float>.zeros(shape: [2, 3]), Tensor<Float>.zeros(shape: [3, 3])], along: 1)
        }
    }

    // MARK: Broadcast and its adjoint

    @Test(arguments: [
        ShapePair(a: [3, 1], b: [2, 3, 4]), ShapePair(a: [4], b: [3, 4]), ShapePair(a: [], b: [2, 2]),
        ShapePair(a: [1, 4], b: [5, 4]), ShapePair(a: [2, 1, 3], b: [2, 5, 3]), ShapePair(a: [2, 3], b: [2, 3]),
    ])
    func broadcastedRepeatsElements(_ pair: ShapePair) {
        let x: Tensor<Double> = randomTensor(pair.a, seed: 50)
        let y = x.broadcasted(to: pair.b)
        let s = x.scalars
        let expected = makeTensor(shape: pair.b) { i in s[ravel(broadcastSourceIndex(i, operand: pair.a, output: pair.b), pair.a)] }
        let c = compare(y, expected, tolerance: 0, "broadcast \(pair.a) to \(pair.b)")
        #expect(c.passed, "\(c)")
    }

    /// `summed(toShape:)` is the adjoint of `broadcasted(to:)`: ⟨bcast x, y⟩ = ⟨x, sum y⟩, and it
    /// equals a naive accumulation.
    @Test(arguments: [
        ShapePair(a: [3, 1], b: [2, 3, 4]), ShapePair(a: [4], b: [3, 4]), ShapePair(a: [], b: [2, 2]),
        ShapePair(a: [1, 4], b: [5, 4]), ShapePair(a: [2, 1, 3], b: [2, 5, 3]), ShapePair(a: [1, 1], b: [3, 4]),
        ShapePair(a: [2, 3], b: [2, 3]),
    ])
    func summedToShapeIsTheAdjointOfBroadcast(_ pair: ShapePair) {
        let y: Tensor<Double> = randomTensor(pair.b, seed: 51)
        let reduced = y.summed(toShape: pair.a)
        var expected = [Double](repeating: 0, count: pair.a.reduce(1, *))
        for (f, v) in y.scalars.enumerated() {
            expected[ravel(broadcastSourceIndex(unravel(f, pair.b), operand: pair.a, output: pair.b), pair.a)] += v
        }
        var c = compare(reduced, Tensor(shape: pair.a, scalars: expected), tolerance: 1e-12, "summed \(pair.b) to \(pair.a)")
        #expect(c.passed, "\(c)")

        let x: Tensor<Double> = randomTensor(pair.a, seed: 52)
        c = compare(naiveDot(x.broadcasted(to: pair.b), y), naiveDot(x, reduced), tolerance: 1e-12, "adjoint")
        #expect(c.passed, "\(c)")
    }
}
