import TensorCore

extension Variable {
    /// The slices at `indices` along `axis` (an embedding lookup along axis 0).
    public func indexSelect(along axis: Int, indices: [Int]) -> Variable {
        let old = shape
        return Variable.record(value.indexSelect(along: axis, indices: indices), name: "indexSelect", inputs: [self]) { c in
            [Variable.indexAdd(c.cotangent, along: axis, indices: indices, into: old)]
        }
    }

    /// Adds slice j of `source` into index `indices[j]` along `axis` of zeros of `shape`.
    public static func indexAdd(_ source: Variable, along axis: Int, indices: [Int], into shape: [Int]) -> Variable {
        record(Tensor.indexAdd(source.value, along: axis, indices: indices, into: shape), name: "indexAdd", inputs: [source]) { c in
            [c.cotangent.indexSelect(along: axis, indices: indices)]
        }
    }

    /// `out[o, j, i] = x[o, indices[o, j, i], i]` along `axis`.
    public func gather(along axis: Int, indices: [Int]) -> Variable {
        let old = shape
        return Variable.record(value.gather(along: axis, indices: indices), name: "gather", inputs: [self]) { c in
            [Variable.scatterAdd(c.cotangent, along: axis, indices: indices, into: old)]
        }
    }

    /// Adds `source[o, j, i]` into `[o, indices[o, j, i], i]` of zeros of `shape`.
    public static func scatterAdd(_ source: Variable, along axis: Int, indices: [Int], into shape: [Int]) -> Variable {
        record(Tensor.scatterAdd(source.value, along: axis, indices: indices, into: shape), name: "scatterAdd", inputs: [source]) { c in
            [c.cotangent.gather(along: axis, indices: indices)]
        }
    }
}
