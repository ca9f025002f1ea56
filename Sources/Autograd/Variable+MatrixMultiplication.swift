import TensorCore

extension Variable {
    /// Batched matrix product with optional transposes, as ``Tensor/matmul(_:_:transposeA:transposeB:)``.
    ///
    /// ```
    /// C = op(A) op(B)
    /// Ā = C̄ op(B)ᵀ (transposed back if A was),   B̄ = op(A)ᵀ C̄ (likewise)
    /// ```
    /// The backward products also pass their transposes to BLAS; a rank-2 operand shared by a
    /// batch gets its cotangent from one gemm over the flattened batch.
    public static func matmul(_ a: Variable, _ b: Variable, transposeA: Bool = false, transposeB: Bool = false) -> Variable {
        let value = Tensor.matmul(a.value, b.value, transposeA: transposeA, transposeB: transposeB)
        return record(value, name: "matmul", inputs: [a, b]) { c in
            let g = c.cotangent
            var ga: Variable? = nil, gb: Variable? = nil
            if c.needs[0] {
                if transposeA {
                    ga = matmul(b, g, transposeA: transposeB, transposeB: true).summed(toShape: a.shape)
                } else {
                    ga = matmul(g, b, transposeB: !transposeB).summed(toShape: a.shape)
                }
            }
            if c.needs[1] {
                if b.rank == 2 && a.rank > 2 && !transposeA {
                    // Shared weight: flatten the batch into rows, one gemm.
                    let a2 = a.reshaped(to: [-1, a.shape[a.rank - 1]]), g2 = g.reshaped(to: [-1, g.shape[g.rank - 1]])
                    gb = transposeB ? matmul(g2, a2, transposeA: true) : matmul(a2, g2, transposeA: true)
                } else if transposeB {
                    gb = matmul(g, a, transposeA: true, transposeB: transposeA).summed(toShape: b.shape)
                } else {
                    gb = matmul(a, g, transposeA: !transposeA).summed(toShape: b.shape)
                }
            }
            return [ga, gb]
        }
    }

    /// The dot product of two tensors of equal size, as a scalar.
    public static func dot(_ a: Variable, _ b: Variable) -> Variable { (a * b).sum() }
}
