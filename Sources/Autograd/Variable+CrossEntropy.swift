import TensorCore

extension Variable {
    /// Softmax cross-entropy per row, fused: `ℓ[r] = logsumexp(z[r]) − z[r, labels[r]]`, `[rows]`.
    ///
    /// ```
    /// ∂ℓ[r]/∂z[r] = softmax(z[r]) − onehot(labels[r])
    /// ```
    /// The forward pass reads the logits once and the backward pass writes their gradient once
    /// (``Tensor/crossEntropyGradient(labels:scale:)``); that gradient is itself a recorded
    /// primitive whose rule is composed of differentiable operations, so second derivatives
    /// (Hessian–vector products through a loss) stay exact. The composition
    /// `−logSoftmax(z).gather(labels)` is its test oracle.
    public func crossEntropy(labels: [Int]) -> Variable {
        let logits = self
        return Variable.record(value.crossEntropy(labels: labels), name: "crossEntropy", inputs: [logits]) { c in
            [Variable.crossEntropyGradient(logits: logits, labels: labels, scale: c.cotangent)]
        }
    }

    /// `(softmax(z) − onehot(labels)) ⊙ scale[:, None]`, differentiable in `z` and `scale`.
    static func crossEntropyGradient(logits: Variable, labels: [Int], scale: Variable) -> Variable {
        let value = logits.value.crossEntropyGradient(labels: labels, scale: scale.value)
        return record(value, name: "crossEntropyGradient", inputs: [logits, scale]) { c in
            let u = c.cotangent
            let p = logits.softmax(alongAxis: 1)
            let column = scale.reshaped(to: [scale.scalarCount, 1])
            var result: [Variable?] = [nil, nil]
            if c.needs[0] {
                // ∂/∂z of Σ u ⊙ p ⊙ s: the softmax Jacobian applied to u ⊙ s.
                let us = u * column
                result[0] = p * (us - (us * p).sum(alongAxes: [1], keepingDimensions: true))
            }
            if c.needs[1] {
                // ∂/∂s[r] = Σ_c u[r, c] (p[r, c] − onehot[r, c]).
                let picked = u.gather(along: 1, indices: labels).reshaped(to: [labels.count])
                result[1] = (u * p).sum(alongAxes: [1]) - picked
            }
            return result
        }
    }
}
