import Foundation
import Testing
import TensorCore
import _TestSupport

/// A unary operation with its closed form in Double and the inputs it is defined on.
struct UnaryCase: Sendable, CustomTestStringConvertible {
    let name: String
    let op: UnaryOperation
    let positiveOnly: Bool
    let oracle: @Sendable (Double) -> Double
    var testDescription: String { name }

    static let all: [UnaryCase] = [
        UnaryCase(name: "negate", op: .negate, positiveOnly: false) { -$0 },
        UnaryCase(name: "exp", op: .exp, positiveOnly: false) { Foundation.exp($0) },
        UnaryCase(name: "log", op: .log, positiveOnly: true) { Foundation.log($0) },
        UnaryCase(name: "tanh", op: .tanh, positiveOnly: false) { Foundation.tanh($0) },
        UnaryCase(name: "sqrt", op: .sqrt, positiveOnly: true) { $0.squareRoot() },
        UnaryCase(name: "abs", op: .abs, positiveOnly: false) { Swift.abs($0) },
        UnaryCase(name: "reciprocal", op: .reciprocal, positiveOnly: true) { 1 / $0 },
        UnaryCase(name: "square", op: .square, positiveOnly: false) { $0 * $0 },
        UnaryCase(name: "relu", op: .relu, positiveOnly: false) { Swift.max($0, 0) },
        UnaryCase(name: "sigmoid", op: .sigmoid, positiveOnly: false) { 1 / (1 + Foundation.exp(-$0)) },
        UnaryCase(name: "sign", op: .sign, positiveOnly: false) { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) },
        UnaryCase(name: "step", op: .step, positiveOnly: false) { $0 > 0 ? 1 : 0 },
        UnaryCase(name: "isFinite", op: .isFinite, positiveOnly: false) { _ in 1 },
    ]
}

/// Two operand shapes to broadcast.
struct ShapePair: Sendable, CustomTestStringConvertible {
    let a: [Int], b: [Int]
    var testDescription: String { "\(a) with \(b)" }

    static let broadcasting: [ShapePair] = [
        ShapePair(a: [3, 4], b: [3, 4]),  // same shape
        ShapePair(a: [3, 4], b: []),  // scalar on the right
        ShapePair(a: [], b: [3, 4]),  // scalar on the left
        ShapePair(a: [3, 4], b: [4]),  // row vector
        ShapePair(a: [4], b: [3, 4]),
        ShapePair(a: [3, 1], b: [1, 4]),  // column against row
        ShapePair(a: [3, 1], b: [3, 4]),  // column against matrix
        ShapePair(a: [2, 3, 4], b: [4]),  // rank 3 against rank 1
        ShapePair(a: [2, 3, 4], b: [3, 1]),
        ShapePair(a: [2, 1, 4], b: [3, 1]),
        ShapePair(a: [5, 1, 3], b: [1, 6, 1]),
        ShapePair(a: [1, 1, 2], b: [2, 3, 1]),
        ShapePair(a: [2, 3, 1, 4], b: [3, 5, 1]),
        ShapePair(a: [1], b: [7]),
        ShapePair(a: [2, 0, 3], b: [3]),  // empty output
    ]
}

/// The binary operation on one pair of elements, written out in Swift.
func scalarOracle<T: TensorScalar>(_ op: BinaryOperation, _ a: T, _ b: T) -> T {
    switch op {
    case .add: return a + b
    case .subtract: return a - b
    case .multiply: return a * b
    case .divide: return a / b
    case .power: return T(Foundation.pow(Double(a), Double(b)))
    case .maximum: return Swift.max(a, b)
    case .minimum: return Swift.min(a, b)
    case .equal: return a == b ? 1 : 0
    case .notEqual: return a != b ? 1 : 0
    case .less: return a < b ? 1 : 0
    case .lessEqual: return a <= b ? 1 : 0
    case .greater: return a > b ? 1 : 0
    case .greaterEqual: return a >= b ? 1 : 0
    }
}

/// `op(a, b)` element by element with the broadcast worked out by index arithmetic.
func naiveElementwise<T: TensorScalar>(_ op: BinaryOperation, _ a: Tensor<T>, _ b: Tensor<T>) -> Tensor<T> {
    let shape = naiveBroadcastShape(a.shape, b.shape)
    let sa = a.scalars, sb = b.scalars
    return makeTensor(shape: shape) { index in
        let ia = ravel(broadcastSourceIndex(index, operand: a.shape, output: shape), a.shape)
        let ib = ravel(broadcastSourceIndex(index, operand: b.shape, output: shape), b.shape)
        return scalarOracle(op, sa[ia], sb[ib])
    }
}

let allBinaryOperations: [BinaryOperation] = [
    .add, .subtract, .multiply, .divide, .power, .maximum, .minimum,
    .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual,
]

@Suite("Tensor elementwise")
struct TensorElementwiseTests {
    // MARK: Unary

    private func checkUnary<T: TensorScalar>(_ c: UnaryCase, _: T.Type, tolerance: Double) {
        var values: [Double] = [-30, -3, -1.5, -0.25, 0, 0.25, 1, 2.5, 4, 30]
        var g = testGenerator(5)
        values += (0..<40).map { _ in 6 * g.nextUniform(Double.self) - 3 }
        if c.positiveOnly { values = values.map { Swift.abs($0) + 0.125 } }
        let x = Tensor<T>(shape: [values.count / 10, 10], scalars: values.map { T($0) })
        let observed = x.applying(c.op)
        let expected = Tensor<Double>(shape: x.shape, scalars: x.scalars.map { c.oracle(Double($0)) })
        let result = compare(observed, expected, tolerance: tolerance, "\(c.name) \(T.self)")
        #expect(result.passed, "\(result)")
    }

    /// Float to 2e-7 in the Frobenius norm (the functions are correctly rounded to about 1 ulp);
    /// Double to 1e-15.
    @Test(arguments: UnaryCase.all)
    func unaryOperationMatchesClosedForm(_ c: UnaryCase) {
        checkUnary(c, Float.self, tolerance: 2e-7)
        checkUnary(c, Double.self, tolerance: 1e-15)
    }

    @Test func namedUnaryMethodsApplyTheirOperation() {
        let x = Tensor<Double>([0.5, 1, 2, 4])
        #expect(x.exp() == x.applying(.exp))
        #expect(x.log() == x.applying(.log))
        #expect(x.tanh() == x.applying(.tanh))
        #expect(x.squareRoot().scalars == [Double(0.5).squareRoot(), 1, Double(2).squareRoot(), 2])
        #expect((-x).magnitude() == x)
        #expect(x.reciprocal().scalars == [2, 1, 0.5, 0.25])
        #expect(x.squared().scalars == [0.25, 1, 4, 16])
        #expect((x - 1.5).relu().scalars == [0, 0, 0.5, 2.5])
        #expect((x - 1).sign().scalars == [-1, 0, 1, 1])
        #expect((x - 1).step().scalars == [0, 0, 1, 1])
        #expect(x.sigmoid() == x.applying(.sigmoid))
    }

    @Test func sigmoidSaturatesWithoutOverflow() {
        let x = Tensor<Float>([-1000, -100, 0, 100, 1000])
        let y = x.sigmoid()
        #expect(y.isFinite, "\(y)")
        #expect(y[0] == 0 && y[2] == 0.5 && y[3] == 1 && y[4] == 1, "\(y)")
        #expect(y[1] > 0 && y[1] < 1e-30, "sigmoid(-100) ≈ 3.7e-44 must be a tiny positive number, got \(y[1])")
    }

    @Test func finiteMaskMarksNaNAndInfinity() {
        let x = Tensor<Double>([1, .nan, -.infinity, 0, .infinity, -2])
        #expect(x.finiteMask().scalars == [1, 0, 0, 1, 0, 1])
    }

    // MARK: Binary with broadcasting

    private func checkBinary<T: TensorScalar>(_ pair: ShapePair, _: T.Type) {
        // Small integers make ties (for comparisons, maximum, minimum) frequent and keep +, −, × exact.
        let a: Tensor<T> = integerTensor(pair.a, from: [-3, -2, -1, 0, 1, 2, 3], seed: 1)
        let b: Tensor<T> = integerTensor(pair.b, from: [-3, -2, -1, 1, 2, 3], seed: 2)
        for op in allBinaryOperations {
            // pow needs a positive base; the oracle rounds Double pow, so allow an ulp there.
            let base = op == .power ? a.magnitude() + 0.5 : a
            let observed = Tensor.elementwise(op, base, b)
            let expected = naiveElementwise(op, base, b)
            #expect(observed.shape == expected.shape, "\(op) \(pair.a) \(pair.b)")
            let tolerance = op == .power ? 1e-6 : 0
            let c = compare(observed, expected, tolerance: tolerance, "\(op) \(T.self) \(pair.a) with \(pair.b)")
            #expect(c.passed, "\(c)")
        }
    }

    /// Every binary operation against an element-by-element oracle; exact except pow.
    @Test(arguments: ShapePair.broadcasting)
    func binaryOperationBroadcastsLikeNumPy(_ pair: ShapePair) {
        checkBinary(pair, Float.self)
        checkBinary(pair, Double.self)
    }

    @Test func operatorsMatchTheirOperations() {
        let a: Tensor<Double> = randomTensor([3, 4], seed: 1)
        let b: Tensor<Double> = randomTensor([4], seed: 2).magnitude() + 0.5
        let pairs: [(Tensor<Double>, BinaryOperation)] = [
            (a + b, .add), (a - b, .subtract), (a * b, .multiply), (a / b, .divide),
            (Tensor.pow(b, a), .power), (Tensor.maximum(a, b), .maximum), (Tensor.minimum(a, b), .minimum),
            (a .== b, .equal), (a .!= b, .notEqual), (a .< b, .less), (a .<= b, .lessEqual),
            (a .> b, .greater), (a .>= b, .greaterEqual),
        ]
        for (observed, op) in pairs {
            let expected = op == .power ? naiveElementwise(op, b, a) : naiveElementwise(op, a, b)
            let c = compare(observed, expected, tolerance: 1e-15, "operator for \(op)")
            #expect(c.passed, "\(c)")
        }
    }

    @Test func scalarOperandsOnEitherSide() {
        let x = Tensor<Float>([1, 2, 4, -8])
        #expect((x + 1).scalars == [2, 3, 5, -7])
        #expect((x - 1).scalars == [0, 1, 3, -9])
        #expect((x * 2).scalars == [2, 4, 8, -16])
        #expect((x / 2).scalars == [0.5, 1, 2, -4])
        #expect((1 + x).scalars == [2, 3, 5, -7])
        #expect((1 - x).scalars == [0, -1, -3, 9])
        #expect((2 * x).scalars == [2, 4, 8, -16])
        #expect((8 / x).scalars == [8, 4, 2, -1])
        #expect((x .== 2).scalars == [0, 1, 0, 0])
        #expect((x .< 2).scalars == [1, 0, 0, 1])
        #expect((x .<= 2).scalars == [1, 1, 0, 1])
        #expect((x .> 2).scalars == [0, 0, 1, 0])
        #expect((x .>= 2).scalars == [0, 1, 1, 0])
        #expect((-x).scalars == [-1, -2, -4, 8])
    }

    @Test func raisedToScalarExponent() {
        let x = Tensor<Double>([0.5, 1, 2, 3])
        for p in [0.0, 0.5, 1, 2, 3, -1.5] {
            let expected = Tensor<Double>(x.scalars.map { Foundation.pow($0, p) })
            let c = compare(x.raised(to: p), expected, tolerance: 1e-15, "x^\(p)")
            #expect(c.passed, "\(c)")
        }
    }

    @Test func maximumAndMinimumPropagateNaNFromFirstOperand() {
        let a = Tensor<Float>([.nan, 1]), b = Tensor<Float>([2, 3])
        #expect(Tensor.maximum(a, b)[0].isNaN)
        #expect(Tensor.minimum(a, b)[0].isNaN)
        #expect(Tensor.maximum(a, b)[1] == 3 && Tensor.minimum(a, b)[1] == 1)
    }

    // MARK: In-place

    @Test func inPlaceAddSameShapeAndBroadcast() {
        let x0: Tensor<Double> = randomTensor([3, 4], seed: 3)
        let y: Tensor<Double> = randomTensor([3, 4], seed: 4)
        let row: Tensor<Double> = randomTensor([4], seed: 5)

        var x = x0
        x.add(y, scaledBy: 2.5)
        var c = compare(x, naiveElementwise(.add, x0, naiveElementwise(.multiply, y, Tensor(2.5))), tolerance: 1e-15, "axpy")
        #expect(c.passed, "\(c)")

        x = x0
        x.add(row, scaledBy: -0.5)
        c = compare(x, naiveElementwise(.add, x0, naiveElementwise(.multiply, row, Tensor(-0.5))), tolerance: 1e-15, "broadcast add")
        #expect(c.passed, "\(c)")

        x = x0
        x += y
        c = compare(x, naiveElementwise(.add, x0, y), tolerance: 0, "+=")
        #expect(c.passed, "\(c)")
        x -= y
        c = compare(x, x0, tolerance: 1e-15, "-= undoes +=")
        #expect(c.passed, "\(c)")
        x *= 3
        c = compare(x, naiveElementwise(.multiply, x0, Tensor(3)), tolerance: 1e-15, "*=")
        #expect(c.passed, "\(c)")
    }

    @Test func inPlaceAddLeavesCopiesUnchanged() {
        let original = Tensor<Float>([1, 2, 3])
        var copy = original
        copy += Tensor([10, 10, 10])
        #expect(copy.scalars == [11, 12, 13])
        #expect(original.scalars == [1, 2, 3])
    }

    // MARK: Select

    @Test func selectPicksByConditionWithBroadcasting() {
        // Condition [3, 1] against a [3, 4] and a scalar b; -2 counts as true (non-zero).
        let condition = Tensor<Double>(shape: [3, 1], scalars: [1, 0, -2])
        let a: Tensor<Double> = randomTensor([3, 4], seed: 8)
        let b = Tensor<Double>(-7)
        let observed = Tensor.select(condition, a, b)
        let expected = makeTensor(shape: [3, 4]) { i in condition[i[0], 0] != 0 ? a[i[0], i[1]] : -7 }
        var c = compare(observed, expected, tolerance: 0, "select [3,1] [3,4] []")
        #expect(c.passed, "\(c)")

        // Full-shape condition, a [4], b [3, 1], output [2, 3, 4].
        let cond3: Tensor<Float> = integerTensor([2, 3, 4], from: [0, 1], seed: 9)
        let a3: Tensor<Float> = randomTensor([4], seed: 10)
        let b3: Tensor<Float> = randomTensor([3, 1], seed: 11)
        let observed3 = Tensor.select(cond3, a3, b3)
        let expected3 = makeTensor(shape: [2, 3, 4]) { i in cond3[i[0], i[1], i[2]] != 0 ? a3[i[2]] : b3[i[1], 0] }
        c = compare(observed3, expected3, tolerance: 0, "select [2,3,4] [4] [3,1]")
        #expect(c.passed, "\(c)")
    }

    @Test func selectWithComparisonMaskImplementsClamp() {
        let x: Tensor<Float> = randomTensor([50], seed: 12)
        let clamped = Tensor.select(x .> 0.5, Tensor(0.5), x)
        let expected = Tensor<Float>(x.scalars.map { Swift.min($0, 0.5) })
        let c = compare(clamped, expected, tolerance: 0, "clamp via select")
        #expect(c.passed, "\(c)")
    }

    // MARK: Large, multi-threaded inputs

    /// Above 1 << 16 elements the kernels split the work across threads. With an odd number of
    /// rows the split falls in the middle of a broadcast run, and the result must still equal a
    /// scalar loop bit for bit.
    @Test func largeElementwiseOperationsMatchScalarLoopExactly() {
        let shape = [41, 49, 61]  // 122 549 elements: half of them is not a whole number of rows
        let a: Tensor<Float> = randomTensor(shape, seed: 20)
        let column: Tensor<Float> = randomTensor([49, 1], seed: 21)
        let row: Tensor<Float> = randomTensor([61], seed: 23)
        let sa = a.scalars, sc = column.scalars, sr = row.scalars

        var expectedColumn = [Float](repeating: 0, count: sa.count)
        var expectedRow = [Float](repeating: 0, count: sa.count)
        for i in 0..<41 {
            for j in 0..<49 {
                for k in 0..<61 {
                    let f = (i * 49 + j) * 61 + k
                    expectedColumn[f] = sa[f] * sc[j]
                    expectedRow[f] = sa[f] - sr[k]
                }
            }
        }
        #expect((a * column).scalars == expectedColumn, "column-broadcast multiply differs from the scalar loop")
        #expect((a - row).scalars == expectedRow, "row-broadcast subtract differs from the scalar loop")

        let b: Tensor<Float> = randomTensor(shape, seed: 22)
        let sb = b.scalars
        #expect((a - b).scalars == zip(sa, sb).map { $0 - $1 }, "same-shape subtract")
        #expect(Tensor.maximum(a, b).scalars == zip(sa, sb).map { Swift.max($0, $1) }, "maximum")
        #expect((a .< b).scalars == zip(sa, sb).map { $0 < $1 ? 1 : 0 }, "less")
        // exp runs in the C kernels (FMA on some CPUs): the split result equals pieces small enough for one thread.
        let pieces = stride(from: 0, to: sa.count, by: 4000).flatMap { Tensor(Array(sa[$0..<min(sa.count, $0 + 4000)])).exp().scalars }
        #expect(a.exp().scalars == pieces, "exp")
        #expect(a.squared().scalars == sa.map { $0 * $0 }, "square")
        #expect(a.relu().scalars == sa.map { $0 > 0 ? $0 : 0 }, "relu")

        let selected = Tensor.select(a .> 0, a, b)
        #expect(selected.scalars == zip(sa, sb).map { $0 > 0 ? $0 : $1 }, "select")
        let selectedColumn = Tensor.select(a .> 0, column, a)
        let expectedSelect: [Float] = (0..<sa.count).map { f in sa[f] > 0 ? sc[(f / 61) % 49] : sa[f] }
        #expect(selectedColumn.scalars == expectedSelect, "select with a broadcast column")
    }

    @Test func incompatibleShapesTrap() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor<Float>.zeros(shape: [3, 4]) + Tensor<Float>.zeros(shape: [3])
        }
    }
}
