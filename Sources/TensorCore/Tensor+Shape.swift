extension Tensor {
    /// The same elements under another shape; one dimension may be -1 and is then inferred.
    public func reshaped(to newShape: [Int]) -> Tensor {
        var newShape = newShape
        if let unknown = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != unknown }.map(\.element).reduce(1, *)
            precondition(
                known > 0 && scalarCount % known == 0,
                "cannot reshape \(shape) (\(scalarCount) elements) to \(newShape)")
            newShape[unknown] = scalarCount / known
        }
        precondition(
            newShape.reduce(1, *) == scalarCount && newShape.allSatisfy { $0 >= 0 },
            "cannot reshape \(shape) (\(scalarCount) elements) to \(newShape)")
        return Tensor(shape: newShape, storage: storage)
    }

    /// A rank-1 view of every element.
    public func flattened() -> Tensor { reshaped(to: [scalarCount]) }

    /// Inserts a dimension of size 1 at `axis`.
    public func expandingShape(at axis: Int) -> Tensor {
        let axis = axis < 0 ? axis + rank + 1 : axis
        precondition(axis >= 0 && axis <= rank, "axis \(axis) out of range for shape \(shape)")
        var s = shape; s.insert(1, at: axis)
        return reshaped(to: s)
    }

    /// Removes a dimension of size 1 at `axis`.
    public func squeezingShape(at axis: Int) -> Tensor {
        let axis = normalizedAxis(axis)
        precondition(shape[axis] == 1, "cannot squeeze axis \(axis) of shape \(shape)")
        var s = shape; s.remove(at: axis)
        return reshaped(to: s)
    }

    /// Turns a possibly negative axis into an index into `shape`.
    public func normalizedAxis(_ axis: Int) -> Int {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < rank, "axis \(axis) out of range for shape \(shape)")
        return a
    }

    /// Reorders the axes: output axis i is input axis `permutation[i]`.
    public func permuted(_ permutation: [Int]) -> Tensor {
        precondition(
            permutation.sorted() == Array(0..<rank),
            "permutation \(permutation) is not a permutation of the axes of shape \(shape)")
        if permutation == Array(0..<rank) { return self }
        let outShape = permutation.map { shape[$0] }
        return Tensor(shape: outShape) { out in
            withUnsafeBufferPointer { src in
                MoveKernels.permute(
                    elementSize: MemoryLayout<Scalar>.stride, UnsafeRawPointer(src.baseAddress!),
                    UnsafeMutableRawPointer(out), shape: shape, permutation: permutation)
            }
        }
    }

    /// Swaps the last two axes (the matrix transpose, batched).
    public func transposed() -> Tensor {
        precondition(rank >= 2, "transposed() needs rank ≥ 2, shape is \(shape)")
        var p = Array(0..<rank); p.swapAt(rank - 1, rank - 2)
        return permuted(p)
    }

    /// Swaps two axes.
    public func transposed(_ axis0: Int, _ axis1: Int) -> Tensor {
        var p = Array(0..<rank); p.swapAt(normalizedAxis(axis0), normalizedAxis(axis1))
        return permuted(p)
    }

    /// The elements with index in `range` along `axis`.
    public func sliced(along axis: Int, _ range: Range<Int>) -> Tensor {
        let axis = normalizedAxis(axis)
        precondition(
            range.lowerBound >= 0 && range.upperBound <= shape[axis],
            "slice \(range) out of bounds for axis \(axis) of shape \(shape)")
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        var outShape = shape; outShape[axis] = range.count
        let size = MemoryLayout<Scalar>.stride
        return Tensor(shape: outShape) { out in
            withUnsafeBufferPointer { src in
                for o in 0..<outer {
                    MoveKernels.copy(
                        elementSize: size, src.baseAddress! + (o * shape[axis] + range.lowerBound) * inner,
                        out + o * range.count * inner, count: range.count * inner)
                }
            }
        }
    }

    /// Zeros added before and after along `axis`; the adjoint of ``sliced(along:_:)``.
    public func padded(along axis: Int, before: Int, after: Int, value: Scalar = 0) -> Tensor {
        let axis = normalizedAxis(axis)
        precondition(before >= 0 && after >= 0, "padding must be non-negative, got \(before), \(after)")
        var outShape = shape; outShape[axis] += before + after
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        var result = Tensor.full(value, shape: outShape)
        let size = MemoryLayout<Scalar>.stride
        result.withUnsafeMutableBufferPointer { out in
            withUnsafeBufferPointer { src in
                for o in 0..<outer {
                    MoveKernels.copy(
                        elementSize: size, src.baseAddress! + o * shape[axis] * inner,
                        out.baseAddress! + (o * outShape[axis] + before) * inner, count: shape[axis] * inner)
                }
            }
        }
        return result
    }

    /// Joins tensors along `axis`; all other dimensions must agree.
    public static func concatenated(_ tensors: [Tensor], along axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concatenated needs at least one tensor")
        let first = tensors[0]
        let axis = first.normalizedAxis(axis)
        for t in tensors {
            var a = t.shape, b = first.shape
            precondition(a.count == b.count, "cannot concatenate shapes \(first.shape) and \(t.shape)")
            a[axis] = 0; b[axis] = 0
            precondition(a == b, "cannot concatenate shapes \(first.shape) and \(t.shape) along axis \(axis)")
        }
        var outShape = first.shape
        outShape[axis] = tensors.map { $0.shape[axis] }.reduce(0, +)
        let outer = first.shape[..<axis].reduce(1, *), inner = first.shape[(axis + 1)...].reduce(1, *)
        let size = MemoryLayout<Scalar>.stride
        return Tensor(shape: outShape) { out in
            var offset = 0
            for t in tensors {
                let n = t.shape[axis] * inner
                t.withUnsafeBufferPointer { src in
                    for o in 0..<outer {
                        MoveKernels.copy(elementSize: size, src.baseAddress! + o * n, out + o * outShape[axis] * inner + offset, count: n)
                    }
                }
                offset += n
            }
        }
    }

    /// Stacks tensors of equal shape along a new axis.
    public static func stacked(_ tensors: [Tensor], along axis: Int = 0) -> Tensor {
        concatenated(tensors.map { $0.expandingShape(at: axis) }, along: axis)
    }

    /// The elements repeated to a shape that this shape broadcasts to.
    public func broadcasted(to newShape: [Int]) -> Tensor {
        if newShape == shape { return self }
        precondition(
            BroadcastPlan.broadcastShape(shape, newShape) == newShape,
            "shape \(shape) does not broadcast to \(newShape)")
        // Adding a broadcast zero is a copy with this shape's strides set to 0 where it broadcasts.
        let plan = BroadcastPlan(a: shape, b: [], output: newShape)
        let zero = Tensor.zeros(shape: [])
        return Tensor(shape: newShape) { out in
            withUnsafeBufferPointer { pa in
                zero.withUnsafeBufferPointer { pz in
                    Scalar.binaryKernel(.add, plan, pa.baseAddress!, pz.baseAddress!, out)
                }
            }
        }
    }

    /// Sums over the dimensions that were broadcast to reach this shape from `target`.
    public func summed(toShape target: [Int]) -> Tensor {
        if target == shape { return self }
        precondition(
            BroadcastPlan.broadcastShape(target, shape) == shape,
            "shape \(target) does not broadcast to \(shape)")
        let lead = rank - target.count
        var axes = Array(0..<lead)
        for (i, d) in target.enumerated() where d == 1 && shape[lead + i] != 1 { axes.append(lead + i) }
        return sum(alongAxes: axes).reshaped(to: target)
    }
}
