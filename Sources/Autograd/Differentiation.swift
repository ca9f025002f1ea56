import TensorCore

/// Function transforms in the vocabulary of JAX and torch.func: primals, tangents, cotangents.
///
/// Each takes a function of ``Variable``s, runs it on fresh leaves at the given primal points,
/// and differentiates the recorded graph.
public enum Differentiation {
    /// The value of `f` and its gradient at each primal.
    public static func valueWithGradient<Scalar>(
        at primals: [Tensor<Scalar>], of f: ([Variable<Scalar>]) -> Variable<Scalar>
    ) -> (value: Tensor<Scalar>, gradients: [Tensor<Scalar>]) {
        let leaves = primals.map { Variable($0, requiresGradient: true) }
        let y = withGradients { f(leaves) }
        precondition(y.scalarCount == 1, "valueWithGradient needs a scalar function, got shape \(y.shape)")
        return (y.value, gradients(of: y, at: leaves).map(\.value))
    }

    /// The gradient of a scalar function of one tensor.
    public static func gradient<Scalar>(at x: Tensor<Scalar>, of f: (Variable<Scalar>) -> Variable<Scalar>) -> Tensor<Scalar> {
        valueWithGradient(at: [x]) { f($0[0]) }.gradients[0]
    }

    /// The vector–Jacobian product: the value of `f` and `(∂f/∂primals)ᵀ · cotangent`.
    public static func vjp<Scalar>(
        at primals: [Tensor<Scalar>], cotangent: Tensor<Scalar>, of f: ([Variable<Scalar>]) -> Variable<Scalar>
    ) -> (value: Tensor<Scalar>, cotangents: [Tensor<Scalar>]) {
        let leaves = primals.map { Variable($0, requiresGradient: true) }
        let y = withGradients { f(leaves) }
        precondition(cotangent.shape == y.shape, "vjp cotangent shape \(cotangent.shape) differs from output shape \(y.shape)")
        return (y.value, gradients(of: y, at: leaves, seed: Variable(cotangent)).map(\.value))
    }

    /// The Jacobian–vector product: the value of `f` and `(∂f/∂primals) · tangents`.
    ///
    /// Computed with two reverse passes (the double-vjp trick): u ↦ Jᵀu is linear in u, so its
    /// vector–Jacobian product with the tangents is J·t.
    public static func jvp<Scalar>(
        at primals: [Tensor<Scalar>], tangents: [Tensor<Scalar>], of f: ([Variable<Scalar>]) -> Variable<Scalar>
    ) -> (value: Tensor<Scalar>, tangent: Tensor<Scalar>) {
        precondition(primals.count == tangents.count, "jvp needs one tangent per primal")
        for (p, t) in zip(primals, tangents) {
            precondition(p.shape == t.shape, "jvp tangent shape \(t.shape) differs from primal shape \(p.shape)")
        }
        let leaves = primals.map { Variable($0, requiresGradient: true) }
        return withGradients {
            let y = f(leaves)
            let u = Variable(Tensor<Scalar>.zeros(shape: y.shape), requiresGradient: true)
            let jtu = gradients(of: y, at: leaves, seed: u, createGraph: true)
            var inner: Variable<Scalar>? = nil
            for (g, t) in zip(jtu, tangents) {
                let term = (g * Variable(t)).sum()
                inner = inner.map { $0 + term } ?? term
            }
            guard let inner else { return (y.value, Tensor.zeros(shape: y.shape)) }
            return (y.value, gradients(of: inner, at: [u])[0].value)
        }
    }

    /// The Hessian–vector product `∇²f(primals) · vector` of a scalar function.
    ///
    /// ```
    /// Hv = ∇(∇f · v)
    /// ```
    public static func hvp<Scalar>(
        at primals: [Tensor<Scalar>], vector: [Tensor<Scalar>], of f: ([Variable<Scalar>]) -> Variable<Scalar>
    ) -> [Tensor<Scalar>] {
        let leaves = primals.map { Variable($0, requiresGradient: true) }
        let y = withGradients { f(leaves) }
        return hessianVectorProduct(of: y, at: leaves, vector: vector)
    }

    /// The Hessian–vector product of an already recorded scalar with respect to recorded values
    /// (parameters, typically): the first reverse pass is recorded, the second differentiates it.
    public static func hessianVectorProduct<Scalar>(
        of y: Variable<Scalar>, at inputs: [Variable<Scalar>], vector: [Tensor<Scalar>]
    ) -> [Tensor<Scalar>] {
        precondition(y.scalarCount == 1, "hessianVectorProduct needs a scalar, got shape \(y.shape)")
        precondition(inputs.count == vector.count, "hessianVectorProduct needs one vector block per input")
        return withGradients {
            let g = gradients(of: y, at: inputs, createGraph: true)
            var inner: Variable<Scalar>? = nil
            for (gi, vi) in zip(g, vector) {
                precondition(gi.shape == vi.shape, "vector block shape \(vi.shape) differs from input shape \(gi.shape)")
                let term = (gi * Variable(vi)).sum()
                inner = inner.map { $0 + term } ?? term
            }
            guard let inner else { return [] }
            return gradients(of: inner, at: inputs).map(\.value)
        }
    }

    /// The dense Hessian of a scalar function of one tensor, as an [n, n] matrix over its
    /// flattened elements (n Hessian–vector products; for small n only).
    public static func hessian<Scalar>(at x: Tensor<Scalar>, of f: (Variable<Scalar>) -> Variable<Scalar>) -> Tensor<Scalar> {
        let n = x.scalarCount
        let leaf = Variable(x, requiresGradient: true)
        return withGradients {
            let y = f(leaf)
            precondition(y.scalarCount == 1, "hessian needs a scalar function, got shape \(y.shape)")
            let g = gradients(of: y, at: [leaf], createGraph: true)[0].flattened()
            var rows: [Tensor<Scalar>] = []
            rows.reserveCapacity(n)
            for i in 0..<n {
                // Row i of H is ∂g_i/∂x; g_i = g · e_i.
                var e = Tensor<Scalar>.zeros(shape: [n]); e[i] = 1
                let gi = (g * Variable(e)).sum()
                rows.append(gradients(of: gi, at: [leaf])[0].value.flattened())
            }
            return Tensor.stacked(rows)
        }
    }

    /// The dense Jacobian [output count, input count] of `f` at `x` (one reverse pass per output).
    public static func jacobian<Scalar>(at x: Tensor<Scalar>, of f: (Variable<Scalar>) -> Variable<Scalar>) -> Tensor<Scalar> {
        let leaf = Variable(x, requiresGradient: true)
        let y = withGradients { f(leaf) }
        let m = y.scalarCount
        var rows: [Tensor<Scalar>] = []
        for i in 0..<m {
            var e = Tensor<Scalar>.zeros(shape: [m]); e[i] = 1
            rows.append(gradients(of: y, at: [leaf], seed: Variable(e.reshaped(to: y.shape)))[0].value.flattened())
        }
        return Tensor.stacked(rows)
    }
}
