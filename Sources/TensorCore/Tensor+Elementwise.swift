extension Tensor {
    // MARK: Unary

    /// Applies an elementwise function.
    public func applying(_ op: UnaryOperation) -> Tensor {
        Tensor(shape: shape) { out in
            withUnsafeBufferPointer { Scalar.unaryKernel(op, $0.baseAddress!, out, count: scalarCount) }
        }
    }

    /// Elementwise e^x, same shape.
    public func exp() -> Tensor { applying(.exp) }
    /// Elementwise natural logarithm, same shape; −∞ at 0 and NaN below.
    public func log() -> Tensor { applying(.log) }
    /// Elementwise hyperbolic tangent, same shape.
    public func tanh() -> Tensor { applying(.tanh) }
    /// Elementwise square root, same shape; NaN for negative elements.
    public func squareRoot() -> Tensor { applying(.sqrt) }
    /// Elementwise absolute value |x|, same shape.
    public func magnitude() -> Tensor { applying(.abs) }
    /// Elementwise 1/x, same shape; ±∞ at ±0.
    public func reciprocal() -> Tensor { applying(.reciprocal) }
    /// Elementwise x², same shape.
    public func squared() -> Tensor { applying(.square) }
    /// Elementwise max(x, 0), same shape; a NaN element gives 0.
    public func relu() -> Tensor { applying(.relu) }
    /// Elementwise logistic function 1/(1 + e^{−x}), same shape, evaluated without overflow for large |x|.
    public func sigmoid() -> Tensor { applying(.sigmoid) }
    /// Elementwise sign: 1 for positive, −1 for negative, 0 for zero (and for NaN).
    public func sign() -> Tensor { applying(.sign) }
    /// 1 where the element is positive, else 0.
    public func step() -> Tensor { applying(.step) }
    /// Elementwise error function erf(x), same shape.
    public func erf() -> Tensor { applying(.erf) }
    /// GELU with the exact normal CDF.
    public func gelu() -> Tensor { applying(.gelu) }
    /// GELU with the tanh approximation (GPT-2's `gelu_new`).
    public func geluTanh() -> Tensor { applying(.geluTanh) }
    /// 1 where the element is finite, else 0.
    public func finiteMask() -> Tensor { applying(.isFinite) }

    /// Elementwise negation −x.
    public static prefix func - (x: Tensor) -> Tensor { x.applying(.negate) }

    // MARK: Binary with broadcasting

    /// Applies `op` to `a` and `b` broadcast against each other (NumPy rules).
    ///
    /// - Precondition: the shapes broadcast; the message names both.
    public static func elementwise(_ op: BinaryOperation, _ a: Tensor, _ b: Tensor) -> Tensor {
        guard let shape = BroadcastPlan.broadcastShape(a.shape, b.shape) else {
            preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast (\(op))")
        }
        let plan = BroadcastPlan(a: a.shape, b: b.shape, output: shape)
        return Tensor(shape: shape) { out in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    Scalar.binaryKernel(op, plan, pa.baseAddress!, pb.baseAddress!, out)
                }
            }
        }
    }

    /// Elementwise sum with broadcasting (NumPy rules).
    public static func + (a: Tensor, b: Tensor) -> Tensor { elementwise(.add, a, b) }
    /// Elementwise difference with broadcasting (NumPy rules).
    public static func - (a: Tensor, b: Tensor) -> Tensor { elementwise(.subtract, a, b) }
    /// Elementwise (Hadamard) product with broadcasting (NumPy rules); see ``matmul(_:_:transposeA:transposeB:)`` for the matrix product.
    public static func * (a: Tensor, b: Tensor) -> Tensor { elementwise(.multiply, a, b) }
    /// Elementwise quotient with broadcasting (NumPy rules).
    public static func / (a: Tensor, b: Tensor) -> Tensor { elementwise(.divide, a, b) }
    /// Adds a scalar to every element.
    public static func + (a: Tensor, b: Scalar) -> Tensor { elementwise(.add, a, Tensor(b)) }
    /// Subtracts a scalar from every element.
    public static func - (a: Tensor, b: Scalar) -> Tensor { elementwise(.subtract, a, Tensor(b)) }
    /// Multiplies every element by a scalar.
    public static func * (a: Tensor, b: Scalar) -> Tensor { elementwise(.multiply, a, Tensor(b)) }
    /// Divides every element by a scalar.
    public static func / (a: Tensor, b: Scalar) -> Tensor { elementwise(.divide, a, Tensor(b)) }
    /// Adds every element to a scalar: `a + b[i]`.
    public static func + (a: Scalar, b: Tensor) -> Tensor { elementwise(.add, Tensor(a), b) }
    /// Subtracts every element from a scalar: `a − b[i]`.
    public static func - (a: Scalar, b: Tensor) -> Tensor { elementwise(.subtract, Tensor(a), b) }
    /// Multiplies a scalar by every element.
    public static func * (a: Scalar, b: Tensor) -> Tensor { elementwise(.multiply, Tensor(a), b) }
    /// Divides a scalar by every element: `a / b[i]`.
    public static func / (a: Scalar, b: Tensor) -> Tensor { elementwise(.divide, Tensor(a), b) }

    /// Adds `b` in place (axpy when the shapes match); `b` may broadcast to `a`'s shape but must not change it.
    public static func += (a: inout Tensor, b: Tensor) { a.add(b) }
    /// Subtracts `b` in place (axpy with −1 when the shapes match); `b` may broadcast to `a`'s shape but must not change it.
    public static func -= (a: inout Tensor, b: Tensor) { a.add(b, scaledBy: -1) }
    /// Multiplies every element by a scalar; allocates a new buffer for the result.
    public static func *= (a: inout Tensor, b: Scalar) { a = a * b }

    /// `self += alpha * other` in place (BLAS axpy) when the shapes are equal.
    public mutating func add(_ other: Tensor, scaledBy alpha: Scalar = 1) {
        if other.shape == shape {
            let n = scalarCount
            other.withUnsafeBufferPointer { src in
                withUnsafeMutableBufferPointer { dst in
                    Scalar.scaleAddKernel(src.baseAddress!, dst.baseAddress!, alpha: alpha, count: n)
                }
            }
        } else {
            let result = alpha == 1 ? self + other : self + other * alpha
            precondition(
                result.shape == shape,
                "in-place add of shape \(other.shape) would change shape \(shape) to \(result.shape)")
            self = result
        }
    }

    /// Elementwise power `a^b`.
    public static func pow(_ a: Tensor, _ b: Tensor) -> Tensor { elementwise(.power, a, b) }
    /// Elementwise power with a scalar exponent.
    public func raised(to exponent: Scalar) -> Tensor {
        if exponent == 2 { return squared() }
        if exponent == 1 { return self }
        return Tensor.elementwise(.power, self, Tensor(exponent))
    }
    /// Elementwise maximum (NaN propagates from `a`).
    public static func maximum(_ a: Tensor, _ b: Tensor) -> Tensor { elementwise(.maximum, a, b) }
    /// Elementwise minimum (NaN propagates from `a`).
    public static func minimum(_ a: Tensor, _ b: Tensor) -> Tensor { elementwise(.minimum, a, b) }

    // MARK: Comparisons (1 where true, 0 where false)

    /// 1 where `a == b`, else 0, with broadcasting; NaN compares unequal to everything.
    public static func .== (a: Tensor, b: Tensor) -> Tensor { elementwise(.equal, a, b) }
    /// 1 where `a != b`, else 0, with broadcasting.
    public static func .!= (a: Tensor, b: Tensor) -> Tensor { elementwise(.notEqual, a, b) }
    /// 1 where `a < b`, else 0, with broadcasting.
    public static func .< (a: Tensor, b: Tensor) -> Tensor { elementwise(.less, a, b) }
    /// 1 where `a <= b`, else 0, with broadcasting.
    public static func .<= (a: Tensor, b: Tensor) -> Tensor { elementwise(.lessEqual, a, b) }
    /// 1 where `a > b`, else 0, with broadcasting.
    public static func .> (a: Tensor, b: Tensor) -> Tensor { elementwise(.greater, a, b) }
    /// 1 where `a >= b`, else 0, with broadcasting.
    public static func .>= (a: Tensor, b: Tensor) -> Tensor { elementwise(.greaterEqual, a, b) }
    /// 1 where an element equals the scalar `b`, else 0.
    public static func .== (a: Tensor, b: Scalar) -> Tensor { elementwise(.equal, a, Tensor(b)) }
    /// 1 where an element is less than the scalar `b`, else 0.
    public static func .< (a: Tensor, b: Scalar) -> Tensor { elementwise(.less, a, Tensor(b)) }
    /// 1 where an element is greater than the scalar `b`, else 0.
    public static func .> (a: Tensor, b: Scalar) -> Tensor { elementwise(.greater, a, Tensor(b)) }
    /// 1 where an element is at most the scalar `b`, else 0.
    public static func .<= (a: Tensor, b: Scalar) -> Tensor { elementwise(.lessEqual, a, Tensor(b)) }
    /// 1 where an element is at least the scalar `b`, else 0.
    public static func .>= (a: Tensor, b: Scalar) -> Tensor { elementwise(.greaterEqual, a, Tensor(b)) }

    /// Picks `a` where `condition` is non-zero and `b` elsewhere; all three broadcast together.
    public static func select(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        guard let ab = BroadcastPlan.broadcastShape(a.shape, b.shape),
            let shape = BroadcastPlan.broadcastShape(condition.shape, ab)
        else {
            preconditionFailure("select: shapes \(condition.shape), \(a.shape) and \(b.shape) do not broadcast")
        }
        let cond = condition.shape == shape ? condition : condition.broadcasted(to: shape)
        let plan = BroadcastPlan(a: a.shape, b: b.shape, output: shape)
        return Tensor(shape: shape) { out in
            cond.withUnsafeBufferPointer { pc in
                a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in
                        Scalar.selectKernel(plan, pc.baseAddress!, pa.baseAddress!, pb.baseAddress!, out)
                    }
                }
            }
        }
    }
}

infix operator .== : ComparisonPrecedence
infix operator .!= : ComparisonPrecedence
infix operator .< : ComparisonPrecedence
infix operator .<= : ComparisonPrecedence
infix operator .> : ComparisonPrecedence
infix operator .>= : ComparisonPrecedence
