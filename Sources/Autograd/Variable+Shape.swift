import TensorCore

extension Variable {
    /// The same elements under another shape (one dimension may be -1 and is inferred); the cotangent is reshaped back.
    public func reshaped(to newShape: [Int]) -> Variable {
        let old = shape
        return Variable.record(value.reshaped(to: newShape), name: "reshape", inputs: [self]) { c in
            [c.cotangent.reshaped(to: old)]
        }
    }

    /// A rank-1 view of every element, `[scalarCount]`.
    public func flattened() -> Variable { reshaped(to: [scalarCount]) }
    /// Inserts a dimension of size 1 at `axis` (negative counts from the end of the new shape).
    public func expandingShape(at axis: Int) -> Variable { reshaped(to: value.expandingShape(at: axis).shape) }
    /// Removes the dimension of size 1 at `axis` (negative counts from the end).
    public func squeezingShape(at axis: Int) -> Variable { reshaped(to: value.squeezingShape(at: axis).shape) }

    /// Output axis i is input axis `permutation[i]`.
    public func permuted(_ permutation: [Int]) -> Variable {
        var inverse = [Int](repeating: 0, count: permutation.count)
        for (i, p) in permutation.enumerated() { inverse[p] = i }
        return Variable.record(value.permuted(permutation), name: "permute", inputs: [self]) { c in
            [c.cotangent.permuted(inverse)]
        }
    }

    /// Swaps the last two axes.
    public func transposed() -> Variable {
        precondition(rank >= 2, "transposed() needs rank ≥ 2, shape is \(shape)")
        var p = Array(0..<rank); p.swapAt(rank - 1, rank - 2)
        return permuted(p)
    }

    /// Swaps two axes.
    public func transposed(_ axis0: Int, _ axis1: Int) -> Variable {
        var p = Array(0..<rank); p.swapAt(value.normalizedAxis(axis0), value.normalizedAxis(axis1))
        return permuted(p)
    }

    /// The elements with index in `range` along `axis`; the cotangent is zero-padded back to the full length.
    public func sliced(along axis: Int, _ range: Range<Int>) -> Variable {
        let length = shape[value.normalizedAxis(axis)]
        return Variable.record(value.sliced(along: axis, range), name: "slice", inputs: [self]) { c in
            [c.cotangent.padded(along: axis, before: range.lowerBound, after: length - range.upperBound)]
        }
    }

    /// Zeros before and after along `axis`.
    public func padded(along axis: Int, before: Int, after: Int) -> Variable {
        let length = shape[value.normalizedAxis(axis)]
        return Variable.record(value.padded(along: axis, before: before, after: after), name: "pad", inputs: [self]) { c in
            [c.cotangent.sliced(along: axis, before..<(before + length))]
        }
    }

    /// Joins variables along `axis` (all other dimensions must agree); each part's cotangent is its slice of the output cotangent.
    public static func concatenated(_ parts: [Variable], along axis: Int) -> Variable {
        let value = Tensor.concatenated(parts.map(\.value), along: axis)
        let axis = value.normalizedAxis(axis)
        let lengths = parts.map { $0.shape[axis] }
        return record(value, name: "concatenate", inputs: parts) { c in
            var start = 0
            return lengths.enumerated().map { i, n in
                defer { start += n }
                return c.needs[i] ? c.cotangent.sliced(along: axis, start..<(start + n)) : nil
            }
        }
    }

    /// Stacks equally shaped variables along a new dimension inserted at `axis`: `n` parts of `shape` give `shape` with `n` inserted at `axis`.
    public static func stacked(_ parts: [Variable], along axis: Int = 0) -> Variable {
        concatenated(parts.map { $0.expandingShape(at: axis) }, along: axis)
    }

    /// Broadcasts to `newShape` (NumPy rules); the cotangent is summed back to the original shape. Returns `self` when the shapes already agree.
    public func broadcasted(to newShape: [Int]) -> Variable {
        if newShape == shape { return self }
        let old = shape
        return Variable.record(value.broadcasted(to: newShape), name: "broadcast", inputs: [self]) { c in
            [c.cotangent.summed(toShape: old)]
        }
    }

    /// Sums the axes that were broadcast to reach this shape from `target`; the adjoint of broadcasting.
    public func summed(toShape target: [Int]) -> Variable {
        if target == shape { return self }
        let old = shape
        return Variable.record(value.summed(toShape: target), name: "sumToShape", inputs: [self]) { c in
            [c.cotangent.broadcasted(to: old)]
        }
    }
}
