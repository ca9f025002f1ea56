import TensorCore

extension Variable {
    /// The affine map of a Linear layer, `x Wᵀ + b`, fused: the bias is written into the output
    /// and one gemm adds the product (beta = 1), saving a pass over the output.
    ///
    /// - Parameters:
    ///   - x: `[..., in]`.
    ///   - weight: `[out, in]`.
    ///   - bias: `[out]` or nil.
    /// - Returns: `[..., out]`.
    ///
    /// The composition `matmul(x, weight, transposeB: true) + bias` is its test oracle.
    public static func linear(_ x: Variable, weight: Variable, bias: Variable?) -> Variable {
        let inputCount = weight.shape[1], outputCount = weight.shape[0]
        precondition(
            weight.rank == 2 && x.shape.last == inputCount,
            "linear: input \(x.shape) does not end in the weight's input size (weight \(weight.shape))")
        if let bias { precondition(bias.shape == [outputCount], "linear: bias \(bias.shape) should be [\(outputCount)]") }
        let rows = x.scalarCount / Swift.max(1, inputCount)
        let x2 = x.value.reshaped(to: [rows, inputCount])
        var y: Tensor<Scalar>
        if let bias {
            y = bias.value.broadcasted(to: [rows, outputCount])
            y.addMatrixProduct(x2, weight.value, transposeB: true, beta: 1)
        } else {
            y = Tensor.matmul(x2, weight.value, transposeB: true)
        }
        let outShape = Array(x.shape.dropLast()) + [outputCount]
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return record(y.reshaped(to: outShape), name: "linear", inputs: inputs) { c in
            let g = c.cotangent.reshaped(to: [rows, outputCount])
            var result: [Variable?] = [
                c.needs[0] ? matmul(g, weight).reshaped(to: x.shape) : nil,
                c.needs[1] ? matmul(g, x.reshaped(to: [rows, inputCount]), transposeA: true) : nil,
            ]
            if bias != nil { result.append(c.needs[2] ? g.sum(alongAxes: [0]) : nil) }
            return result
        }
    }
}
