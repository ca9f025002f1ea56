/// Data movement that only copies elements (permutes, broadcasts) works on raw bit patterns, so
/// that generic tensor code gets specialised loops without a protocol requirement per kernel.
enum MoveKernels {
    /// `dst[permuted index] = src[index]`: `dst` has shape `shape[perm[i]]`.
    static func permute(elementSize: Int, _ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, shape: [Int], permutation: [Int]) {
        switch elementSize {
        case 4: permute(src.assumingMemoryBound(to: UInt32.self), dst.assumingMemoryBound(to: UInt32.self), shape, permutation)
        case 8: permute(src.assumingMemoryBound(to: UInt64.self), dst.assumingMemoryBound(to: UInt64.self), shape, permutation)
        default: preconditionFailure("unsupported element size \(elementSize)")
        }
    }

    private static func permute<E>(_ src: UnsafePointer<E>, _ dst: UnsafeMutablePointer<E>, _ shape: [Int], _ perm: [Int]) {
        let rank = shape.count
        let outShape = perm.map { shape[$0] }
        let srcStrides = Tensor<Float>.strides(of: shape)
        // Stride in the source of each output dimension.
        let strides = perm.map { srcStrides[$0] }
        let count = shape.reduce(1, *)
        if count == 0 { return }
        if rank == 2 && perm == [1, 0] {
            // Blocked transpose: both sides stay in cache.
            let (rows, cols) = (shape[0], shape[1])
            let block = 32
            Parallelism.forEachChunk(count: (rows + block - 1) / block, minimumChunk: Swift.max(1, (1 << 15) / (block * Swift.max(1, cols)))) { range in
                for rb in range {
                    let r0 = rb * block, r1 = Swift.min(rows, r0 + block)
                    var c0 = 0
                    while c0 < cols {
                        let c1 = Swift.min(cols, c0 + block)
                        for r in r0..<r1 { for c in c0..<c1 { dst[c * rows + r] = src[r * cols + c] } }
                        c0 = c1
                    }
                }
            }
            return
        }
        let inner = outShape[rank - 1], innerStride = strides[rank - 1]
        let outer = count / inner
        Parallelism.forEachChunk(count: outer, minimumChunk: Swift.max(1, (1 << 15) / Swift.max(1, inner))) { range in
            var digits = [Int](repeating: 0, count: rank)
            var rest = range.lowerBound
            for d in stride(from: rank - 2, through: 0, by: -1) { digits[d] = rest % outShape[d]; rest /= outShape[d] }
            for o in range {
                var offset = 0
                for d in 0..<(rank - 1) { offset &+= digits[d] &* strides[d] }
                let out = dst + o * inner
                if innerStride == 1 {
                    out.update(from: src + offset, count: inner)
                } else {
                    for i in 0..<inner { out[i] = src[offset &+ i &* innerStride] }
                }
                var d = rank - 2
                while d >= 0 {
                    digits[d] += 1
                    if digits[d] < outShape[d] { break }
                    digits[d] = 0
                    d -= 1
                }
            }
        }
    }

    /// Copies `count` elements of `elementSize` bytes.
    @inline(__always)
    static func copy(elementSize: Int, _ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, count: Int) {
        dst.copyMemory(from: src, byteCount: count * elementSize)
    }
}
