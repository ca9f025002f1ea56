/// Elementwise functions of one tensor, evaluated by ``TensorScalar/unaryKernel(_:_:_:count:)``.
public enum UnaryOperation: Sendable {
    case negate, exp, log, tanh, sqrt, abs, reciprocal, square, relu, sigmoid
    /// −1, 0 or 1.
    case sign
    /// 1 where x > 0, else 0 (the derivative of ReLU).
    case step
    /// 1 where x is finite, else 0.
    case isFinite
    /// The error function.
    case erf
    /// x·Φ(x) with the exact normal CDF Φ(x) = ½(1 + erf(x/√2)).
    case gelu
    /// The tanh approximation ½x(1 + tanh(√(2/π)(x + 0.044715x³))) (GPT-2's `gelu_new`).
    case geluTanh
    /// d/dx of ``gelu``: Φ(x) + x·φ(x).
    case geluDerivative
    /// d/dx of ``geluTanh``.
    case geluTanhDerivative
    /// d²/dx² of ``gelu``: φ(x)·(2 − x²).
    case geluSecondDerivative
    /// d²/dx² of ``geluTanh``.
    case geluTanhSecondDerivative
}

/// Elementwise functions of two tensors with broadcasting. Comparisons give 1 or 0.
public enum BinaryOperation: Sendable {
    case add, subtract, multiply, divide, power, maximum, minimum
    case equal, notEqual, less, lessEqual, greater, greaterEqual
}

/// Reductions along one axis, evaluated by ``TensorScalar/reduceKernel(_:_:_:outer:count:inner:)``.
public enum ReductionOperation: Sendable {
    case sum, max, min
}

/// How the elements of two broadcast operands line up with the output.
///
/// Dimensions are coalesced where both operands are contiguous across them, so a same-shape
/// operation is one dimension long and a bias added to a matrix is two. A stride of 0 marks a
/// broadcast dimension.
public struct BroadcastPlan: Sendable {
    /// The coalesced output shape (at least one dimension).
    public let shape: [Int]
    /// Element strides of operand `a` along each dimension of ``shape``; 0 where `a` is broadcast.
    public let aStrides: [Int]
    /// Element strides of operand `b` along each dimension of ``shape``; 0 where `b` is broadcast.
    public let bStrides: [Int]
    /// The number of output elements, the product of the uncoalesced output shape.
    public let count: Int

    /// The shape that two operand shapes broadcast to (NumPy rules), or nil when they do not.
    public static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = Swift.max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// Plans `out = op(a, b)` for operands of shapes `a` and `b` broadcast to `output`.
    public init(a: [Int], b: [Int], output: [Int]) {
        let rank = output.count
        func strides(_ s: [Int]) -> [Int] {
            var result = [Int](repeating: 0, count: rank)
            var step = 1
            for i in stride(from: rank - 1, through: 0, by: -1) {
                let j = i - (rank - s.count)
                let d = j >= 0 ? s[j] : 1
                result[i] = d == 1 ? 0 : step
                step *= d
            }
            return result
        }
        let sa = strides(a), sb = strides(b)
        // Coalesce adjacent dimensions i-1, i when, for both operands, stride[i-1] == stride[i] * dim[i].
        var shape: [Int] = [], outA: [Int] = [], outB: [Int] = []
        for i in 0..<rank where output[i] != 1 {
            if let last = shape.last,
                outA.last! == sa[i] * output[i],
                outB.last! == sb[i] * output[i]
            {
                // Merging keeps the inner stride; an outer stride that equals inner*dim is implied.
                shape[shape.count - 1] = last * output[i]
                outA[outA.count - 1] = sa[i]
                outB[outB.count - 1] = sb[i]
            } else {
                shape.append(output[i]); outA.append(sa[i]); outB.append(sb[i])
            }
        }
        if shape.isEmpty { shape = [1]; outA = [0]; outB = [0] }
        self.shape = shape
        self.aStrides = outA
        self.bStrides = outB
        self.count = output.reduce(1, *)
    }
}
