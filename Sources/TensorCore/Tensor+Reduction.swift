extension Tensor {
    /// Reduces one axis with a kernel: shape [outer, count, inner] → [outer, inner].
    private func reduced(_ op: ReductionOperation, axis: Int) -> Tensor {
        let outer = shape[..<axis].reduce(1, *), count = shape[axis], inner = shape[(axis + 1)...].reduce(1, *)
        var outShape = shape; outShape[axis] = 1
        return Tensor(shape: outShape) { out in
            withUnsafeBufferPointer { Scalar.reduceKernel(op, $0.baseAddress!, out, outer: outer, count: count, inner: inner) }
        }
    }

    private func reduced(_ op: ReductionOperation, axes: [Int], keepingDimensions: Bool) -> Tensor {
        let axes = Set(axes.map { normalizedAxis($0) }).sorted()
        var result = self
        for axis in axes.reversed() where shape[axis] != 1 || op != .sum {
            result = result.reduced(op, axis: axis)
        }
        if keepingDimensions {
            var s = shape
            for a in axes { s[a] = 1 }
            return result.reshaped(to: s)
        }
        return result.reshaped(to: shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element))
    }

    /// Sum over `axes`.
    public func sum(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        reduced(.sum, axes: axes, keepingDimensions: keepingDimensions)
    }
    /// Sum of every element, as a scalar tensor.
    public func sum() -> Tensor {
        Tensor(withUnsafeBufferPointer { p in Scalar.sumKernel(p) })
    }
    /// Mean over `axes`.
    public func mean(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let n = Set(axes.map { normalizedAxis($0) }).map { shape[$0] }.reduce(1, *)
        return sum(alongAxes: axes, keepingDimensions: keepingDimensions) * (1 / Scalar(n))
    }
    /// Mean of every element, as a scalar tensor.
    public func mean() -> Tensor { sum() * (1 / Scalar(Swift.max(1, scalarCount))) }
    /// Maximum over `axes`.
    public func max(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        reduced(.max, axes: axes, keepingDimensions: keepingDimensions)
    }
    /// Minimum over `axes`.
    public func min(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        reduced(.min, axes: axes, keepingDimensions: keepingDimensions)
    }
    /// Maximum of every element.
    public func max() -> Tensor { flattened().max(alongAxes: [0]) }
    /// Minimum of every element.
    public func min() -> Tensor { flattened().min(alongAxes: [0]) }

    /// Moves `axis` to the end, applies a row-wise kernel over the last axis, and moves it back.
    private func alongLastAxis(_ axis: Int, keepLength: Bool, _ body: (Tensor, Int, Int) -> Tensor) -> Tensor {
        let axis = normalizedAxis(axis)
        var perm = Array(0..<rank)
        perm.remove(at: axis); perm.append(axis)
        let moved = permuted(perm)
        let columns = shape[axis], rows = scalarCount / Swift.max(1, columns)
        let out = body(moved, rows, columns)
        var movedShape = moved.shape
        if !keepLength { movedShape[rank - 1] = 1 }
        var inverse = [Int](repeating: 0, count: rank)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        return out.reshaped(to: movedShape).permuted(inverse)
    }

    /// `log Σ exp(x)` along `axis`, computed stably (the maximum is subtracted first).
    public func logSumExp(alongAxis axis: Int, keepingDimensions: Bool = false) -> Tensor {
        let result = alongLastAxis(axis, keepLength: false) { moved, rows, columns in
            Tensor(shape: [rows]) { out in
                moved.withUnsafeBufferPointer { Scalar.logSumExpKernel($0.baseAddress!, out, rows: rows, columns: columns) }
            }
        }
        return keepingDimensions ? result : result.squeezingShape(at: axis)
    }

    /// `exp(x) / Σ exp(x)` along `axis`.
    public func softmax(alongAxis axis: Int = -1) -> Tensor { rowwise(axis, log: false) }
    /// `x − log Σ exp(x)` along `axis`.
    public func logSoftmax(alongAxis axis: Int = -1) -> Tensor { rowwise(axis, log: true) }

    private func rowwise(_ axis: Int, log: Bool) -> Tensor {
        alongLastAxis(axis, keepLength: true) { moved, rows, columns in
            Tensor(shape: moved.shape) { out in
                moved.withUnsafeBufferPointer { Scalar.softmaxKernel($0.baseAddress!, out, rows: rows, columns: columns, log: log) }
            }
        }
    }

    /// Softmax cross-entropy per row, `logsumexp(x[r]) − x[r, labels[r]]`, in one pass.
    ///
    /// - Parameters:
    ///   - labels: one class per row of this `[rows, classes]` tensor.
    /// - Returns: `[rows]`.
    public func crossEntropy(labels: [Int]) -> Tensor {
        precondition(rank == 2 && shape[0] == labels.count, "crossEntropy: logits \(shape) need [\(labels.count), classes]")
        let (rows, columns) = (shape[0], shape[1])
        for l in labels { precondition(l >= 0 && l < columns, "crossEntropy: label \(l) out of range 0..<\(columns)") }
        return Tensor(shape: [rows]) { out in
            withUnsafeBufferPointer { x in
                labels.withUnsafeBufferPointer { Scalar.crossEntropyKernel(x.baseAddress!, labels: $0.baseAddress!, out, rows: rows, columns: columns) }
            }
        }
    }

    /// `(softmax(x[r]) − onehot(labels[r])) · scale[r]` per row: the gradient of ``crossEntropy(labels:)``
    /// weighted by `scale` (`[rows]`), in one pass.
    public func crossEntropyGradient(labels: [Int], scale: Tensor) -> Tensor {
        precondition(
            rank == 2 && shape[0] == labels.count && scale.shape == [shape[0]],
            "crossEntropyGradient: logits \(shape), \(labels.count) labels, scale \(scale.shape)")
        let (rows, columns) = (shape[0], shape[1])
        return Tensor(shape: shape) { out in
            withUnsafeBufferPointer { x in
                scale.withUnsafeBufferPointer { s in
                    labels.withUnsafeBufferPointer {
                        Scalar.crossEntropyGradientKernel(x.baseAddress!, labels: $0.baseAddress!, scale: s.baseAddress!, out, rows: rows, columns: columns)
                    }
                }
            }
        }
    }

    /// The index of the largest element along `axis` (the first one on ties), with that axis removed.
    public func argmax(alongAxis axis: Int = -1) -> [Int] {
        let axis = normalizedAxis(axis)
        let outer = shape[..<axis].reduce(1, *), count = shape[axis], inner = shape[(axis + 1)...].reduce(1, *)
        var result = [Int](repeating: 0, count: outer * inner)
        withUnsafeBufferPointer { p in
            for o in 0..<outer {
                for i in 0..<inner {
                    var best = 0, bestValue = p[o * count * inner + i]
                    for c in 1..<Swift.max(1, count) where p[(o * count + c) * inner + i] > bestValue {
                        best = c; bestValue = p[(o * count + c) * inner + i]
                    }
                    result[o * inner + i] = best
                }
            }
        }
        return result
    }
}

extension TensorScalar {
    /// The sum of a contiguous buffer with the kernel's eight-way accumulation.
    static func sumKernel(_ p: UnsafeBufferPointer<Self>) -> Self {
        var out: Self = 0
        reduceKernel(.sum, p.baseAddress!, &out, outer: 1, count: p.count, inner: 1)
        return out
    }
}
