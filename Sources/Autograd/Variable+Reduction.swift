import TensorCore

extension Variable {
    /// The input shape with the reduced axes kept as 1.
    private func keptShape(_ axes: [Int]) -> [Int] {
        var s = shape
        for a in axes { s[value.normalizedAxis(a)] = 1 }
        return s
    }

    /// Sum over `axes`.
    public func sum(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Variable {
        let (old, kept) = (shape, keptShape(axes))
        return Variable.record(value.sum(alongAxes: axes, keepingDimensions: keepingDimensions), name: "sum", inputs: [self]) { c in
            [c.cotangent.reshaped(to: kept).broadcasted(to: old)]
        }
    }

    /// Sum of every element (a scalar).
    public func sum() -> Variable {
        let old = shape
        return Variable.record(value.sum(), name: "sumAll", inputs: [self]) { c in [c.cotangent.broadcasted(to: old)] }
    }

    /// Mean over `axes`.
    public func mean(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Variable {
        let n = Set(axes.map { value.normalizedAxis($0) }).map { shape[$0] }.reduce(1, *)
        return sum(alongAxes: axes, keepingDimensions: keepingDimensions) * (1 / Scalar(n))
    }

    /// Mean of every element (a scalar).
    public func mean() -> Variable { sum() * (1 / Scalar(Swift.max(1, scalarCount))) }

    /// Maximum over `axes`; the cotangent is shared equally among tied maxima.
    public func max(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Variable {
        extremum(value.max(alongAxes: axes, keepingDimensions: true), axes: axes, keepingDimensions: keepingDimensions, name: "max")
    }

    /// Minimum over `axes`; the cotangent is shared equally among tied minima.
    public func min(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Variable {
        extremum(value.min(alongAxes: axes, keepingDimensions: true), axes: axes, keepingDimensions: keepingDimensions, name: "min")
    }

    private func extremum(_ kept: Tensor<Scalar>, axes: [Int], keepingDimensions: Bool, name: String) -> Variable {
        let mask = value .== kept
        let share = mask / mask.sum(alongAxes: axes, keepingDimensions: true)
        let (old, keptShape) = (shape, kept.shape)
        let out =
            keepingDimensions
            ? kept
            : kept.reshaped(
                to: shape.enumerated()
                    .filter { !Set(axes.map { value.normalizedAxis($0) }).contains($0.offset) }.map(\.element))
        return Variable.record(out, name: name, inputs: [self]) { c in
            [c.cotangent.reshaped(to: keptShape).broadcasted(to: old).masked(by: share)]
        }
    }

    /// `log Σ exp(x)` along `axis`, stably.
    ///
    /// ```
    /// ∂/∂x = exp(x − logsumexp(x))  (the softmax)
    /// ```
    public func logSumExp(alongAxis axis: Int, keepingDimensions: Bool = false) -> Variable {
        let x = self
        let kept = keptShape([axis])
        let out = value.logSumExp(alongAxis: axis, keepingDimensions: keepingDimensions)
        return Variable.record(out, name: "logSumExp", inputs: [x], keepingOutput: true) { c in
            let lse = c.output.reshaped(to: kept)
            return [c.cotangent.reshaped(to: kept) * (x - lse).exp()]
        }
    }

    /// `x − log Σ exp(x)` along `axis`.
    ///
    /// ```
    /// ∂/∂x · g = g − softmax(x) · Σ g
    /// ```
    public func logSoftmax(alongAxis axis: Int = -1) -> Variable {
        Variable.record(value.logSoftmax(alongAxis: axis), name: "logSoftmax", inputs: [self], keepingOutput: true) { c in
            [c.cotangent - c.output.exp() * c.cotangent.sum(alongAxes: [axis], keepingDimensions: true)]
        }
    }

    /// `exp(x) / Σ exp(x)` along `axis`.
    ///
    /// ```
    /// ∂/∂x · g = y ⊙ (g − Σ g ⊙ y)
    /// ```
    public func softmax(alongAxis axis: Int = -1) -> Variable {
        Variable.record(value.softmax(alongAxis: axis), name: "softmax", inputs: [self], keepingOutput: true) { c in
            let y = c.output
            return [y * (c.cotangent - (c.cotangent * y).sum(alongAxes: [axis], keepingDimensions: true))]
        }
    }
}
