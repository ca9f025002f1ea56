import TensorCore

extension Variable {
    // MARK: Arithmetic with broadcasting

    /// Elementwise sum with broadcasting; each operand's cotangent is the output cotangent summed back to its shape.
    public static func + (a: Variable, b: Variable) -> Variable {
        let (sa, sb) = (a.shape, b.shape)
        return record(a.value + b.value, name: "add", inputs: [a, b]) { c in
            [
                c.needs[0] ? c.cotangent.summed(toShape: sa) : nil,
                c.needs[1] ? c.cotangent.summed(toShape: sb) : nil,
            ]
        }
    }

    /// Elementwise difference with broadcasting; the cotangents are `c` and `−c`, each summed back to its operand's shape.
    public static func - (a: Variable, b: Variable) -> Variable {
        let (sa, sb) = (a.shape, b.shape)
        return record(a.value - b.value, name: "subtract", inputs: [a, b]) { c in
            [
                c.needs[0] ? c.cotangent.summed(toShape: sa) : nil,
                c.needs[1] ? (-c.cotangent).summed(toShape: sb) : nil,
            ]
        }
    }

    /// Elementwise product with broadcasting; the cotangents are `c·b` and `c·a`, each summed back to its operand's shape.
    public static func * (a: Variable, b: Variable) -> Variable {
        record(a.value * b.value, name: "multiply", inputs: [a, b]) { c in
            [
                c.needs[0] ? (c.cotangent * b).summed(toShape: a.shape) : nil,
                c.needs[1] ? (c.cotangent * a).summed(toShape: b.shape) : nil,
            ]
        }
    }

    /// Elementwise quotient with broadcasting; the cotangents are `c/b` and `−c·a/b²`, each summed back to its operand's shape.
    public static func / (a: Variable, b: Variable) -> Variable {
        record(a.value / b.value, name: "divide", inputs: [a, b]) { c in
            [
                c.needs[0] ? (c.cotangent / b).summed(toShape: a.shape) : nil,
                c.needs[1] ? (-(c.cotangent * a) / (b * b)).summed(toShape: b.shape) : nil,
            ]
        }
    }

    /// Elementwise negation; the cotangent is `−c`.
    public static prefix func - (x: Variable) -> Variable {
        record(-x.value, name: "negate", inputs: [x]) { c in [-c.cotangent] }
    }

    /// Adds a constant scalar to every element.
    public static func + (a: Variable, b: Scalar) -> Variable { a + Variable(b) }
    /// Subtracts a constant scalar from every element.
    public static func - (a: Variable, b: Scalar) -> Variable { a - Variable(b) }
    /// Multiplies every element by a constant scalar, recorded as one `scale` operation whose cotangent is `c·b`.
    public static func * (a: Variable, b: Scalar) -> Variable {
        record(a.value * b, name: "scale", inputs: [a]) { c in [c.cotangent * b] }
    }
    /// Divides every element by a constant scalar, recorded as a multiplication by `1/b`.
    public static func / (a: Variable, b: Scalar) -> Variable { a * (1 / b) }
    /// Adds every element to a constant scalar.
    public static func + (a: Scalar, b: Variable) -> Variable { Variable(a) + b }
    /// Subtracts every element from a constant scalar: `a − b[i]`.
    public static func - (a: Scalar, b: Variable) -> Variable { Variable(a) - b }
    /// Multiplies a constant scalar by every element.
    public static func * (a: Scalar, b: Variable) -> Variable { b * a }
    /// Divides a constant scalar by every element: `a / b[i]`, differentiable in `b`.
    public static func / (a: Scalar, b: Variable) -> Variable { Variable(a) / b }

    /// Elementwise `a^b`, differentiable in both.
    ///
    /// ```
    /// ∂/∂a = b·a^(b−1),   ∂/∂b = a^b · log a
    /// ```
    public static func pow(_ a: Variable, _ b: Variable) -> Variable {
        record(Tensor.pow(a.value, b.value), name: "pow", inputs: [a, b], keepingOutput: true) { c in
            [
                c.needs[0] ? (c.cotangent * b * pow(a, b - 1)).summed(toShape: a.shape) : nil,
                c.needs[1] ? (c.cotangent * c.output * a.log()).summed(toShape: b.shape) : nil,
            ]
        }
    }

    /// Elementwise power with a constant exponent.
    public func raised(to exponent: Scalar) -> Variable {
        let x = self
        if exponent == 1 { return x }
        return Variable.record(value.raised(to: exponent), name: "raised", inputs: [x]) { c in
            [c.cotangent * (x.raised(to: exponent - 1) * exponent)]
        }
    }

    /// Elementwise maximum; the cotangent goes to `a` where a ≥ b, else to `b`.
    public static func maximum(_ a: Variable, _ b: Variable) -> Variable {
        let mask = a.value .>= b.value
        return record(Tensor.maximum(a.value, b.value), name: "maximum", inputs: [a, b]) { c in
            [
                c.needs[0] ? c.cotangent.masked(by: mask).summed(toShape: a.shape) : nil,
                c.needs[1] ? c.cotangent.masked(by: 1 - mask).summed(toShape: b.shape) : nil,
            ]
        }
    }

    /// Elementwise minimum; the cotangent goes to `a` where a ≤ b, else to `b`.
    public static func minimum(_ a: Variable, _ b: Variable) -> Variable {
        let mask = a.value .<= b.value
        return record(Tensor.minimum(a.value, b.value), name: "minimum", inputs: [a, b]) { c in
            [
                c.needs[0] ? c.cotangent.masked(by: mask).summed(toShape: a.shape) : nil,
                c.needs[1] ? c.cotangent.masked(by: 1 - mask).summed(toShape: b.shape) : nil,
            ]
        }
    }

    /// Multiplies by a constant 0/1 mask (broadcast to this shape's broadcast with the mask).
    public func masked(by mask: Tensor<Scalar>) -> Variable {
        self * Variable(mask)
    }

    /// `a` where `condition` is non-zero, else `b`; the condition is a constant.
    public static func select(_ condition: Tensor<Scalar>, _ a: Variable, _ b: Variable) -> Variable {
        return record(Tensor.select(condition, a.value, b.value), name: "select", inputs: [a, b]) { c in
            let zero = Variable(Tensor.zeros(shape: []))
            return [
                c.needs[0] ? select(condition, c.cotangent, zero).summed(toShape: a.shape) : nil,
                c.needs[1] ? select(condition, zero, c.cotangent).summed(toShape: b.shape) : nil,
            ]
        }
    }

    // MARK: Elementwise functions

    /// Elementwise e^x; the backward rule reuses the output, `c·e^x`.
    public func exp() -> Variable {
        Variable.record(value.exp(), name: "exp", inputs: [self], keepingOutput: true) { c in [c.cotangent * c.output] }
    }

    /// Elementwise natural logarithm; the cotangent is `c/x`.
    public func log() -> Variable {
        let x = self
        return Variable.record(value.log(), name: "log", inputs: [x]) { c in [c.cotangent / x] }
    }

    /// Elementwise hyperbolic tangent; the backward rule reuses the output, `c·(1 − tanh²x)`.
    public func tanh() -> Variable {
        Variable.record(value.tanh(), name: "tanh", inputs: [self], keepingOutput: true) { c in
            [c.cotangent * (1 - c.output.squared())]
        }
    }

    /// Elementwise square root; the backward rule reuses the output, `c / (2√x)`, infinite at 0.
    public func squareRoot() -> Variable {
        Variable.record(value.squareRoot(), name: "sqrt", inputs: [self], keepingOutput: true) { c in
            [c.cotangent * 0.5 / c.output]
        }
    }

    /// Elementwise x²; the cotangent is `2·c·x`.
    public func squared() -> Variable {
        let x = self
        return Variable.record(value.squared(), name: "square", inputs: [x]) { c in [c.cotangent * x * 2] }
    }

    /// Elementwise 1/x; the backward rule reuses the output, `−c/x²`.
    public func reciprocal() -> Variable {
        Variable.record(value.reciprocal(), name: "reciprocal", inputs: [self], keepingOutput: true) { c in
            [-(c.cotangent * c.output.squared())]
        }
    }

    /// Elementwise logistic function; the backward rule reuses the output, `c·σ(x)·(1 − σ(x))`.
    public func sigmoid() -> Variable {
        Variable.record(value.sigmoid(), name: "sigmoid", inputs: [self], keepingOutput: true) { c in
            [c.cotangent * c.output * (1 - c.output)]
        }
    }

    /// |x|; the derivative at 0 is taken as 0.
    public func magnitude() -> Variable {
        let sign = value.sign()
        return Variable.record(value.magnitude(), name: "abs", inputs: [self]) { c in [c.cotangent.masked(by: sign)] }
    }

    /// max(x, 0); the derivative at 0 is taken as 0.
    public func relu() -> Variable {
        let x = value
        return Variable.record(x.relu(), name: "relu", inputs: [self]) { c in [c.cotangent.masked(by: x.step())] }
    }
}
