extension Tensor {
    // MARK: Unary

    /// Applies an elementwise function.
    public func applying(_ op: UnaryOperation) -> Tensor {
        Tensor(shape: shape) { out in
            withUnsafeBufferPointer { Scalar.unaryKernel(op, $0.baseAddress!, out, count: scalarCount) }
        }
    }

    public func exp() -> Tensor { applying(.exp) }
    public func log() -> Tensor { applying(.log) }
    public func tanh() -> Tensor { applying(.tanh) }
    public func squareRoot() -> Tensor { applying(.sqrt) }
    public func magnitude() -> Tensor { applying(.abs) }
    public func reciprocal() -> Tensor { applying(.reciprocal) }
    public func squared() -> Tensor { applying(.square) }
    public func relu() -> Tensor { applying(.relu) }
    public func sigmoid() -> Tensor { applying(.sigmoid) }
    public func sign() -> Tensor { applying(.sign) }
    /// 1 where the element is positive, else 0.
    public func step() -> Tensor { applying(.step) }
    public func erf() -> Tensor { applying(.erf) }
    /// GELU with the exact normal CDF.
    public func gelu() -> Tensor { applying(.gelu) }
    /// GELU with the tanh approximation (GPT-2's `gelu_new`).
    public func geluTanh() -> Tensor { applying(.geluTanh) }
    /// 1 where the element is finite, else 0.
    public func finiteMask() -> Tensor { applying(.isFinite) }

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

    public static func + (a: Tensor, b: Tensor) -> Tensor { elementwise(.add, a, b) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { elementwise(.subtract, a, b) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { elementwise(.multiply, a, b) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { elementwise(.divide, a, b) }
    public static func + (a: Tensor, b: Scalar) -> Tensor { elementwise(.add, a, Tensor(b)) }
    public static func - (a: Tensor, b: Scalar) -> Tensor { elementwise(.subtract, a, Tensor(b)) }
    public static func * (a: Tensor, b: Scalar) -> Tensor { elementwise(.multiply, a, Tensor(b)) }
    public static func / (a: Tensor, b: Scalar) -> Tensor { elementwise(.divide, a, Tensor(b)) }
    public static func + (a: Scalar, b: Tensor) -> Tensor { elementwise(.add, Tensor(a), b) }
    public static func - (a: Scalar, b: Tensor) -> Tensor { elementwise(.subtract, Tensor(a), b) }
    public static func * (a: Scalar, b: Tensor) -> Tensor { elementwise(.multiply, Tensor(a), b) }
    public static func / (a: Scalar, b: Tensor) -> Tensor { elementwise(.divide, Tensor(a), b) }

    public static func += (a: inout Tensor, b: Tensor) { a.add(b) }
    public static func -= (a: inout Tensor, b: Tensor) { a.add(b, scaledBy: -1) }
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

    public static func .== (a: Tensor, b: Tensor) -> Tensor { elementwise(.equal, a, b) }
    public static func .!= (a: Tensor, b: Tensor) -> Tensor { elementwise(.notEqual, a, b) }
    public static func .< (a: Tensor, b: Tensor) -> Tensor { elementwise(.less, a, b) }
    public static func .<= (a: Tensor, b: Tensor) -> Tensor { elementwise(.lessEqual, a, b) }
    public static func .> (a: Tensor, b: Tensor) -> Tensor { elementwise(.greater, a, b) }
    public static func .>= (a: Tensor, b: Tensor) -> Tensor { elementwise(.greaterEqual, a, b) }
    public static func .== (a: Tensor, b: Scalar) -> Tensor { elementwise(.equal, a, Tensor(b)) }
    public static func .< (a: Tensor, b: Scalar) -> Tensor { elementwise(.less, a, Tensor(b)) }
    public static func .> (a: Tensor, b: Scalar) -> Tensor { elementwise(.greater, a, Tensor(b)) }
    public static func .<= (a: Tensor, b: Scalar) -> Tensor { elementwise(.lessEqual, a, Tensor(b)) }
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
