extension Tensor {
    private func splitAxis(_ axis: Int) -> (outer: Int, count: Int, inner: Int) {
        (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    /// The slices at `indices` along `axis` (an embedding lookup along axis 0).
    ///
    /// The output has `indices.count` in place of `shape[axis]`.
    public func indexSelect(along axis: Int, indices: [Int]) -> Tensor {
        let axis = normalizedAxis(axis)
        let (outer, count, inner) = splitAxis(axis)
        for i in indices { precondition(i >= 0 && i < count, "index \(i) out of range 0..<\(count) along axis \(axis) of shape \(shape)") }
        var outShape = shape; outShape[axis] = indices.count
        let size = MemoryLayout<Scalar>.stride
        return Tensor(shape: outShape) { out in
            withUnsafeBufferPointer { src in
                for o in 0..<outer {
                    for (j, i) in indices.enumerated() {
                        MoveKernels.copy(
                            elementSize: size, src.baseAddress! + (o * count + i) * inner,
                            out + (o * indices.count + j) * inner, count: inner)
                    }
                }
            }
        }
    }

    /// Adds the slices of `source` into zeros of shape `shape`, slice j going to index `indices[j]`
    /// along `axis`; repeated indices accumulate. The adjoint of ``indexSelect(along:indices:)``.
    public static func indexAdd(_ source: Tensor, along axis: Int, indices: [Int], into shape: [Int]) -> Tensor {
        var result = Tensor.zeros(shape: shape)
        let axis = result.normalizedAxis(axis)
        let (outer, count, inner) = result.splitAxis(axis)
        var expected = shape; expected[axis] = indices.count
        precondition(source.shape == expected, "indexAdd: source shape \(source.shape) should be \(expected)")
        for i in indices { precondition(i >= 0 && i < count, "index \(i) out of range 0..<\(count) along axis \(axis) of shape \(shape)") }
        if inner == 1 {
            // Single elements (max pooling's backward pass): a plain loop in the concrete type,
            // not one BLAS call per element.
            result.withUnsafeMutableBufferPointer { dst in
                source.withUnsafeBufferPointer { src in
                    func add<T: BinaryFloatingPoint>(_ s: UnsafePointer<T>, _ d: UnsafeMutablePointer<T>) {
                        for o in 0..<outer {
                            let from = s + o * indices.count, to = d + o * count
                            for (j, i) in indices.enumerated() { to[i] += from[j] }
                        }
                    }
                    let s = UnsafeRawPointer(src.baseAddress!), d = UnsafeMutableRawPointer(dst.baseAddress!)
                    if Scalar.self == Float.self {
                        add(s.assumingMemoryBound(to: Float.self), d.assumingMemoryBound(to: Float.self))
                    } else {
                        add(s.assumingMemoryBound(to: Double.self), d.assumingMemoryBound(to: Double.self))
                    }
                }
            }
            return result
        }
        result.withUnsafeMutableBufferPointer { dst in
            source.withUnsafeBufferPointer { src in
                for o in 0..<outer {
                    for (j, i) in indices.enumerated() {
                        Scalar.scaleAddKernel(
                            src.baseAddress! + (o * indices.count + j) * inner,
                            dst.baseAddress! + (o * count + i) * inner, alpha: 1, count: inner)
                    }
                }
            }
        }
        return result
    }

    /// Picks one element per position along `axis`: `out[o, j, i] = x[o, indices[o, j, i], i]`.
    ///
    /// - Parameter indices: row-major, of the output's shape, which is this shape with
    ///   `indices.count / (outer × inner)` in place of `shape[axis]`.
    public func gather(along axis: Int, indices: [Int]) -> Tensor {
        let axis = normalizedAxis(axis)
        let (outer, count, inner) = splitAxis(axis)
        precondition(
            outer * inner > 0 && indices.count % (outer * inner) == 0,
            "gather: \(indices.count) indices do not fit shape \(shape) along axis \(axis)")
        let k = indices.count / (outer * inner)
        var outShape = shape; outShape[axis] = k
        return Tensor(shape: outShape) { out in
            withUnsafeBufferPointer { src in
                for o in 0..<outer {
                    for j in 0..<k {
                        for i in 0..<inner {
                            let position = (o * k + j) * inner + i
                            let index = indices[position]
                            precondition(index >= 0 && index < count, "gather index \(index) out of range 0..<\(count) along axis \(axis)")
                            out[position] = src[(o * count + index) * inner + i]
                        }
                    }
                }
            }
        }
    }

    /// Adds `source[o, j, i]` into `out[o, indices[o, j, i], i]` of a zero tensor of `shape`; the
    /// adjoint of ``gather(along:indices:)``.
    public static func scatterAdd(_ source: Tensor, along axis: Int, indices: [Int], into shape: [Int]) -> Tensor {
        var result = Tensor.zeros(shape: shape)
        let axis = result.normalizedAxis(axis)
        let (outer, count, inner) = result.splitAxis(axis)
        let k = indices.count / Swift.max(1, outer * inner)
        var expected = shape; expected[axis] = k
        precondition(
            source.shape == expected && indices.count == source.scalarCount,
            "scatterAdd: source shape \(source.shape) should be \(expected) with one index per element")
        result.withUnsafeMutableBufferPointer { dst in
            source.withUnsafeBufferPointer { src in
                for o in 0..<outer {
                    for j in 0..<k {
                        for i in 0..<inner {
                            let position = (o * k + j) * inner + i
                            let index = indices[position]
                            precondition(index >= 0 && index < count, "scatterAdd index \(index) out of range 0..<\(count) along axis \(axis)")
                            dst[(o * count + index) * inner + i] += src[position]
                        }
                    }
                }
            }
        }
        return result
    }

    /// One-hot rows: shape [indices.count, classCount].
    public static func oneHot(_ indices: [Int], classCount: Int) -> Tensor {
        var t = Tensor.zeros(shape: [indices.count, classCount])
        t.withUnsafeMutableBufferPointer { p in
            for (r, c) in indices.enumerated() {
                precondition(c >= 0 && c < classCount, "one-hot index \(c) out of range 0..<\(classCount)")
                p[r * classCount + c] = 1
            }
        }
        return t
    }
}
